package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// WarnAgainAfter is how long the expiry check waits before warning about
// the same key again.
const WarnAgainAfter = 7 * 24 * time.Hour

// ExpiryRun reports one run of WarnExpiring.
type ExpiryRun struct {
	Members []KeyFinding // members sent an encrypted warning
	Owners  int          // owners sent a summary
}

// WarnExpiring tells every member whose key expires within days, in a
// message encrypted to that key, to send a fresh one, and sends each
// list's owner one summary of the list's expiring and unusable keys
// (its own included). A key is warned about at most once a week. The
// warnings are queued in one transaction per list. A server job: only
// an admin (the operator) may run it.
func (s *Service) WarnExpiring(ctx context.Context, days int) (ExpiryRun, error) {
	var run ExpiryRun
	if err := s.requireAdmin("send key expiry reminders for every list"); err != nil {
		return run, err
	}
	if s.flow == nil {
		return run, errors.New("admin: no flow configured")
	}
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return run, err
	}
	for i := range lists {
		warned, owner, err := s.warnList(ctx, &lists[i], days)
		if err != nil {
			return run, fmt.Errorf("list %s: %w", lists[i].Address, err)
		}
		run.Members = append(run.Members, warned...)
		if owner {
			run.Owners++
		}
	}
	return run, nil
}

func (s *Service) warnList(ctx context.Context, l *store.List, days int) ([]KeyFinding, bool, error) {
	findings, err := s.CheckKeys(ctx, l.Address, days)
	if err != nil || len(findings) == 0 {
		return nil, false, err
	}
	last, err := s.st.KeyWarnings(ctx, l.ID)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	ref, err := newRef(s.rand)
	if err != nil {
		return nil, false, err
	}
	out := store.Outcome{ListID: l.ID}
	var fresh, warned []KeyFinding
	for _, f := range findings {
		email := f.Holder
		if email == "list" {
			email = ""
		}
		w := store.KeyWarning{ListID: l.ID, Email: email, Fingerprint: f.Fingerprint}
		if at, ok := last[w]; ok && now.Sub(at) < WarnAgainAfter {
			continue
		}
		w.At = now
		out.Warned = append(out.Warned, w)
		fresh = append(fresh, f)
		if email == "" || f.Status != keyring.Usable {
			continue // an unusable key cannot carry a warning; the owner hears of it
		}
		request := mail.RoleAddress(l.Address, mail.RoleRequest)
		if l.IsGateway() {
			request = l.Address // a gateway has no -request address
		}
		subject, text, err := renderNotice(l, "key-expiring", map[string]any{"Expires": f.Expires.UTC().Format(time.DateOnly),
			"Fingerprint": crypto.FormatFingerprint(f.Fingerprint), "Request": request})
		if err != nil {
			return nil, false, err
		}
		ds, _, err := s.flow.Announce(ctx, l, pipeline.Announcement{To: []string{email}, Ref: ref, Subject: subject, Text: text})
		if err != nil {
			return nil, false, err
		}
		out.Deliveries = append(out.Deliveries, ds...)
		if len(ds) > 0 {
			warned = append(warned, f)
		}
	}
	if len(fresh) == 0 {
		return nil, false, nil
	}
	owner := l.Owner != ""
	if owner {
		var keys []map[string]any
		for _, f := range fresh {
			expires := ""
			if !f.Expires.IsZero() {
				expires = f.Expires.UTC().Format(time.DateOnly)
			}
			holder := f.Holder
			if holder == "list" && l.IsGateway() {
				holder = "gateway" // its own key
			}
			keys = append(keys, map[string]any{"Holder": holder, "Fingerprint": f.Fingerprint, "Status": f.Status.String(), "Expires": expires})
		}
		subject, text, err := renderNotice(l, "owner-keys-summary", map[string]any{"Days": days, "Keys": keys})
		if err != nil {
			return nil, false, err
		}
		d, err := s.flow.Notice(ctx, l, l.Owner, subject, text, ref)
		if err != nil {
			return nil, false, err
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	return warned, owner, s.st.Commit(ctx, out)
}
