package pipeline

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// post handles a message to a list's post address.
func (p *Pipeline) post(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound) error {
	listKey, err := p.listKey(list)
	if err != nil {
		return err
	}
	roster, err := p.roster(ctx, list)
	if err != nil {
		return err
	}
	msg, err := mime.Parse(in.Raw, p.opt.Limits)
	if err != nil {
		log.Info("message rejected", "reason", "unparseable", "err", err)
		return p.refuse(ctx, list, in, limitReason(err, policy.Unparseable))
	}
	u, err := pgp.Unwrap(msg, listKey, roster.keys, p.pgpOptions())
	if err != nil {
		log.Info("message rejected", "reason", "unwrap", "err", err)
		return p.refuse(ctx, list, in, unwrapReason(err))
	}
	// From here on u.Content is authenticated (integrity checked); the
	// policy decides whether its signature makes it distributable.
	content, err := mime.Parse(u.Content, p.opt.Limits)
	if err != nil {
		log.Info("message rejected", "reason", "inner content unparseable", "err", err)
		return p.refuse(ctx, list, in, limitReason(err, policy.Unparseable))
	}
	hdr := readHeaders(msg, content)
	dec := policy.Decide(policy.Input{
		List: list.Address, ListFingerprint: list.KeyFingerprint,
		Protection: u.Protection, Status: u.Status, Signer: u.Signer,
		From: hdr.from.addr, OuterFrom: hdr.outerFrom, MultipleFrom: hdr.multipleFrom, SignedRecipients: hdr.signedRecipients,
		IntendedRecipients: u.IntendedRecipients, Members: roster.members,
	})
	if !dec.Accepted() {
		log.Info("message rejected", "reason", dec.Reason.String(), "status", u.Status.String(), "detail", u.Reason)
		return p.refuse(ctx, list, in, dec.Reason)
	}
	deliveries, err := p.wrap(list, listKey, roster, content, hdr, dec, in.ID)
	if err != nil {
		return err
	}
	err = p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Replay: u.SignatureDigest, Deliveries: deliveries})
	if errors.Is(err, store.ErrReplay) {
		log.Info("message rejected", "reason", policy.Replay.String(), "sender", dec.Sender.Email)
		return p.refuse(ctx, list, in, policy.Replay)
	}
	if err != nil {
		return err
	}
	log.Info("post distributed", "sender", dec.Sender.Email, "copies", len(dec.Send), "nokey", len(dec.NoKey))
	return nil
}

func (p *Pipeline) pgpOptions() pgp.Options {
	return pgp.Options{Now: p.opt.Now, Rand: p.opt.Rand, MaxPlaintext: p.opt.Limits.MaxSize}
}

// roster is a list's members with their parsed keys.
type roster struct {
	members []policy.Member
	keys    []*pgp.Key
	byFpr   map[string]*pgp.Key
}

func (p *Pipeline) roster(ctx context.Context, list *store.List) (*roster, error) {
	ms, err := p.store.Members(ctx, list.ID)
	if err != nil {
		return nil, err
	}
	r := &roster{byFpr: make(map[string]*pgp.Key, len(ms))}
	now := p.opt.Now()
	for i := range ms {
		k, err := p.memberKey(&ms[i])
		if err != nil {
			// A stored key that no longer parses is unusable, not fatal:
			// that member gets a notice instead of the post.
			p.opt.Logger.Warn("member key unusable", "list", list.Address, "member", ms[i].Email, "err", err)
			r.members = append(r.members, policy.Member{Email: ms[i].Email})
			continue
		}
		info := k.Info(now)
		usable := info.CanEncrypt && !info.Revoked && !info.Expired(now)
		r.members = append(r.members, policy.Member{Email: ms[i].Email, Fingerprint: k.Fingerprint(), Usable: usable})
		r.keys = append(r.keys, k)
		r.byFpr[k.Fingerprint()] = k
	}
	return r, nil
}

// refuse commits the rejection — the spooled message removed, the owner
// told — and returns it.
func (p *Pipeline) refuse(ctx context.Context, list *store.List, in *store.Inbound, reason policy.Reason) error {
	notice, err := p.ownerNotice(list, in, "A message to the list was rejected", reason.Describe())
	if err != nil {
		return err
	}
	if err := p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Deliveries: notice}); err != nil {
		return err
	}
	return reject(reason)
}

// unwrapReason maps an engine error to a policy reason.
func unwrapReason(err error) policy.Reason {
	switch {
	case errors.Is(err, pgp.ErrNotEncrypted), errors.Is(err, pgp.ErrSymmetric):
		return policy.NotEncrypted
	case errors.Is(err, pgp.ErrIntegrity):
		return policy.NoIntegrity
	case errors.Is(err, pgp.ErrTooLarge):
		return policy.TooLarge
	}
	return policy.Undecryptable
}

func limitReason(err error, otherwise policy.Reason) policy.Reason {
	var le *mime.LimitError
	if errors.As(err, &le) {
		return policy.TooLarge
	}
	return otherwise
}
