package pipeline

import (
	"context"
	"log/slog"

	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// rules are the list's policy options as the policy package takes them.
func rules(s store.ListSettings) policy.Rules {
	r := policy.Rules{AdminOnly: s.AdminOnly, AllowFromMismatch: s.AllowFromMismatch, NoSelfCopy: s.NoSelfCopy,
		SendPlaintext: s.SendPlaintext}
	for o, a := range s.Actions {
		if action, err := policy.ParseAction(policy.Outcome(o), a); err == nil {
			if r.Actions == nil {
				r.Actions = map[policy.Outcome]policy.Action{}
			}
			r.Actions[policy.Outcome(o)] = action
		}
	}
	return r
}

// act carries out the list's action for a post refused for reason.
func (p *Pipeline) act(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, reason policy.Reason, action policy.Action) error {
	switch action {
	case policy.Hold:
		log.Info("message held", "reason", reason.String())
		return p.hold(ctx, list, in, reason.TextFor(list.IsGateway()))
	case policy.Discard:
		log.Info("message discarded", "reason", reason.String())
		return p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID})
	}
	log.Info("message rejected", "reason", reason.String())
	return p.refuse(ctx, list, in, reason)
}

// turnDown handles a post that is not distributed: the list's action, or,
// when the owner is releasing a held post (release is its ID), an error
// saying why it cannot be; the hold then stays.
func (p *Pipeline) turnDown(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, release int64, reason policy.Reason, action policy.Action) error {
	if release == 0 {
		return p.act(ctx, log, list, in, reason, action)
	}
	log.Info("held message not released", "hold", release, "reason", reason.String())
	if err := p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID}); err != nil {
		return err
	}
	return &ReleaseError{Reason: reason}
}

// ReleaseError says why a held post cannot be released; Gateway is set
// for a gateway's held message, which is handed to a helpdesk rather than
// distributed.
type ReleaseError struct {
	Reason  policy.Reason
	Gateway bool
}

func (e *ReleaseError) Error() string {
	if e.Gateway {
		return "cannot be handed to the helpdesk even when released: " + e.Reason.TextFor(true)
	}
	return "cannot be distributed even when released: " + e.Reason.Describe()
}

// Release distributes a held post as the owner decides: every rule breach
// that may be accepted is accepted. A post that still cannot be
// distributed (altered, a replay, undecryptable) returns a *ReleaseError
// and stays held. The hold is removed in the transaction that queues the
// copies.
func (p *Pipeline) Release(ctx context.Context, list *store.List, h *store.Hold, ref string) (err error) {
	if list.IsGateway() {
		// A gateway holds only what it could not read at all; running
		// it again would hold it again.
		return &ReleaseError{Reason: policy.Unparseable, Gateway: true}
	}
	log := p.opt.Logger.With("msgid", ref, "list", list.Address, "hold", h.ID)
	h, err = p.sealer.OpenHold(h)
	if err != nil {
		return err
	}
	// Each release is a message of its own, not a retry of the one held.
	in, err := p.inbound(list, ref, h.EnvelopeFrom, h.Raw, digestOf("sealpost release "+ref+"\x00", h.Raw))
	if err != nil {
		return err
	}
	if _, err := p.store.Admit(ctx, in, p.opt.Now(), p.opt.ClaimLease); err != nil {
		return err
	}
	defer p.endAttempt(in, &err)
	return p.post(ctx, log, list, in, h.ID)
}

// tooBig reports whether in is over the list's own size limit.
func tooBig(list *store.List, in *store.Inbound) bool {
	return list.Settings.MaxMessageSize > 0 && int64(len(in.Raw)) > list.Settings.MaxMessageSize
}

// maxSize is the list's effective size limit: its own max_message_size,
// else the server's [smtp] max_message_bytes. DESIGN §4.8: a message's
// decrypted and decompressed content counts against it as the message
// does, so that a small post that inflates (RFC 9580 §5.6 compressed
// data) is refused as a large one would be, before it is expanded.
func (p *Pipeline) maxSize(list *store.List) int64 {
	if list.Settings.MaxMessageSize > 0 {
		return list.Settings.MaxMessageSize
	}
	return p.opt.Limits.MaxSize
}
