package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// Holds returns the list's held messages, oldest first, opened for the
// moderator: each is the message as it arrived (ciphertext, unless it
// arrived unencrypted), kept sealed under the master key.
func (s *Service) Holds(ctx context.Context, list string) ([]store.Hold, error) {
	l, err := s.holdList(ctx, list)
	if err != nil {
		return nil, err
	}
	hs, err := s.st.Holds(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	return s.openHolds(hs)
}

// HoldsPage is Holds from offset, at most limit of them, and how many
// the list holds in all: only the page is read.
func (s *Service) HoldsPage(ctx context.Context, list string, offset, limit int) ([]store.Hold, int, error) {
	l, err := s.holdList(ctx, list)
	if err != nil {
		return nil, 0, err
	}
	hs, total, err := s.st.HoldsPage(ctx, l.ID, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	hs, err = s.openHolds(hs)
	return hs, total, err
}

// openHolds opens held messages for the moderator.
func (s *Service) openHolds(hs []store.Hold) ([]store.Hold, error) {
	for i := range hs {
		h, err := s.sealer.OpenHold(&hs[i])
		if err != nil {
			return nil, err
		}
		hs[i] = *h
	}
	return hs, nil
}

// Hold returns one held message of the list, opened for the moderator.
func (s *Service) Hold(ctx context.Context, list string, id int64) (*store.List, *store.Hold, error) {
	l, err := s.holdList(ctx, list)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.st.Hold(ctx, l.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s has no held message %d", ErrNotFound, l.Address, id)
	}
	if err != nil {
		return nil, nil, err
	}
	h, err = s.sealer.OpenHold(h)
	return l, h, err
}

// ReleaseHold distributes a held post: the rule it broke is waived (an
// unsigned post goes out marked unsigned, and so on). A post that cannot
// be distributed at all (altered, a replay, not readable) stays held and
// the error says why.
func (s *Service) ReleaseHold(ctx context.Context, list string, id int64) error {
	l, h, err := s.Hold(ctx, list, id)
	if err != nil {
		return err
	}
	if s.flow == nil {
		return errors.New("admin: no flow configured")
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	err = s.flow.Release(ctx, l, h, ref)
	var re *pipeline.ReleaseError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: held message %d %v", ErrInvalid, id, err)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "hold.release", l.Address, holdTarget(id), h.Reason)
}

// holdTarget names a held message in the audit log.
func holdTarget(id int64) string { return "hold " + strconv.FormatInt(id, 10) }

// RejectHold drops a held message and tells its envelope sender, if it
// had one, that the list's moderator did not accept it; nothing of the
// message is in the notice. reason, when not empty, is the moderator's
// own text for the sender, quoted in the notice as theirs (plain text,
// at most MaxRejectReason characters).
func (s *Service) RejectHold(ctx context.Context, list string, id int64, reason string) error {
	reason, err := rejectReason(reason)
	if err != nil {
		return err
	}
	l, h, err := s.Hold(ctx, list, id)
	if err != nil {
		return err
	}
	var notices []store.Delivery
	if h.EnvelopeFrom != "" && s.flow != nil {
		owner := mail.RoleAddress(l.Address, mail.RoleOwner)
		if l.IsGateway() {
			owner = l.Address // a gateway has no -owner address; its own address reaches the helpdesk
		}
		subject, text, err := renderNotice(l, "hold-rejected", map[string]any{"Held": h.CreatedAt.UTC().Format(time.RFC1123Z),
			"Ref": h.Ref, "Owner": owner, "Reason": quoteReason(reason)})
		if err != nil {
			return err
		}
		d, err := s.flow.Notice(ctx, l, h.EnvelopeFrom, subject, text, h.Ref)
		if err != nil {
			return err
		}
		notices = append(notices, d)
	}
	if err := s.st.DropHold(ctx, l.ID, id, notices); err != nil {
		return err
	}
	detail := h.Reason
	if reason != "" {
		detail += "; reason given to the sender: " + reason
	}
	return s.audit(ctx, "hold.reject", l.Address, holdTarget(id), detail)
}

// DiscardHold drops a held message without telling anyone.
func (s *Service) DiscardHold(ctx context.Context, list string, id int64) error {
	l, h, err := s.Hold(ctx, list, id)
	if err != nil {
		return err
	}
	if err := s.st.DropHold(ctx, l.ID, id, nil); err != nil {
		return err
	}
	return s.audit(ctx, "hold.discard", l.Address, holdTarget(id), h.Reason)
}

// HoldHeaders returns the outer (unencrypted, unauthenticated) From, To,
// Subject and Date of a held message, for the moderator to recognise it;
// the content stays encrypted.
func HoldHeaders(h *store.Hold) map[string]string {
	out := map[string]string{}
	msg, err := mime.Parse(h.Raw, mime.Limits{})
	if err != nil {
		return out
	}
	for _, k := range []string{"From", "To", "Subject", "Date"} {
		if v := msg.Header.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// ExpireHolds drops every held message that waited longer than its
// list's hold_days and sends each list's owner one summary. It returns
// how many it dropped. A server job: only an admin (the operator) may
// run it.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	if err := s.requireAdmin("expire held messages on every list"); err != nil {
		return 0, err
	}
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return 0, err
	}
	dropped := 0
	for i := range lists {
		l := &lists[i]
		days := l.Settings.HoldDays
		if days <= 0 {
			days = store.DefaultHoldDays
		}
		hs, err := s.st.Holds(ctx, l.ID)
		if err != nil {
			return dropped, err
		}
		cutoff := s.now().AddDate(0, 0, -days)
		var old []store.Hold
		for _, h := range hs {
			if h.CreatedAt.Before(cutoff) {
				old = append(old, h)
			}
		}
		if len(old) == 0 {
			continue
		}
		var notices []store.Delivery
		if l.Owner != "" && s.flow != nil {
			var holds []map[string]any
			for _, h := range old {
				sender := h.EnvelopeFrom
				if sender == "" {
					sender = "(no sender)"
				}
				holds = append(holds, map[string]any{"ID": h.ID, "Held": h.CreatedAt.UTC().Format(time.DateOnly), "Sender": sender, "Reason": h.Reason})
			}
			subject, text, err := renderNotice(l, "owner-holds-expired", map[string]any{"Days": days, "Holds": holds})
			if err != nil {
				return dropped, err
			}
			d, err := s.flow.Notice(ctx, l, l.Owner, subject, text, old[0].Ref)
			if err != nil {
				return dropped, err
			}
			notices = append(notices, d)
		}
		for j, h := range old {
			var with []store.Delivery
			if j == len(old)-1 {
				with = notices // the summary goes with the last one dropped
			}
			if err := s.st.DropHold(ctx, l.ID, h.ID, with); err != nil && !errors.Is(err, store.ErrNotFound) {
				return dropped, err
			}
			dropped++
		}
	}
	return dropped, nil
}
