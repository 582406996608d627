package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// post handles a message to a list's post address.
// release is the ID of the hold the owner is releasing, or 0.
func (p *Pipeline) post(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, release int64) error {
	rs := rules(list.Settings)
	if release != 0 {
		rs = rs.Releasing()
	}
	turnDown := func(reason policy.Reason, action policy.Action) error {
		return p.turnDown(ctx, log, list, in, release, reason, action)
	}
	if tooBig(list, in) {
		return turnDown(policy.TooLarge, rs.ActionFor(policy.TooLarge))
	}
	roster, err := p.roster(ctx, list)
	if err != nil {
		return err
	}
	msg, err := mime.Parse(in.Raw, p.opt.Limits)
	if err != nil {
		return p.unprocessable(ctx, log, list, in, release, err)
	}
	o, err := p.open(list, roster, msg)
	var ee *engineError
	switch {
	case errors.As(err, &ee) && errors.Is(err, pgp.ErrNotEncrypted) && rs.ActionFor(policy.NotEncrypted) == policy.Accept:
		// The list takes unencrypted posts; who signed still counts.
		o, err = p.openClearAny(roster, msg), nil
	case errors.As(err, &ee):
		log.Info("message not opened", "err", err)
		return turnDown(ee.reason, rs.ActionFor(ee.reason))
	case err != nil:
		return err
	}
	if o.refusal != policy.OK {
		// A signature refused for how it was made, not a sign of
		// tampering (a post in clear; encrypted ones are refused above).
		log.Info("message rejected", "reason", o.refusal.String(), "detail", o.reason)
		return turnDown(o.refusal, rs.ActionFor(o.refusal))
	}
	if o.protection.Encrypted && o.protection.Integrity == "" {
		// DESIGN §4.1: unauthenticated plaintext (CBC EnvelopedData whose
		// inner signature did not verify) is not even parsed.
		log.Info("message rejected", "reason", policy.NoIntegrity.String(), "detail", o.reason)
		return turnDown(policy.NoIntegrity, policy.Reject)
	}
	// From here on o.content is authenticated (integrity checked); the
	// policy decides whether its signature makes it distributable.
	content, err := p.parseContent(o.content)
	if err != nil {
		return p.unprocessable(ctx, log, list, in, release, err)
	}
	// From here the content is read through content only; o lives on
	// (signer, marks) and must not keep a large post's decrypted bytes
	// alive once content is done with them.
	o.content = nil
	if isEncrypted(content) {
		// One layer of encryption (DESIGN §4.8): a member could not
		// read a copy that is still encrypted to the list.
		log.Info("message rejected", "reason", policy.TooManyLayers.String())
		return turnDown(policy.TooManyLayers, policy.Reject)
	}
	hdr := readHeaders(msg, content)
	hdr.protection = o.protection
	certified, err := p.certify(ctx, list, o, hdr.from.addr, roster)
	if err != nil {
		return err
	}
	dec := policy.Decide(policy.Input{
		List: list.Address, ListFingerprint: list.KeyFingerprint,
		Protection: o.protection, Status: o.status, Signer: o.signer, Certified: certified,
		From: hdr.from.addr, MultipleFrom: hdr.multipleFrom, SignedRecipients: hdr.signedRecipients,
		IntendedRecipients: o.intended, ListName: list.Address, ListNames: listNames(content), Members: roster.members,
		RequireBinding: list.Settings.RequireBinding, Rules: rs,
	})
	if !dec.Accepted() {
		log.Info("message not accepted", "reason", dec.Reason.String(), "status", o.status.String(), "detail", o.reason)
		return turnDown(dec.Reason, dec.Action)
	}
	marks := o.signatureMarks()
	plan, problems, err := p.planKeywords(ctx, list, roster, content, dec)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		// Nothing is distributed; the sender is told why.
		log.Info("post with keywords not distributed", "sender", dec.Sender.Email, "problems", len(problems))
		return p.keywordTrouble(ctx, log, list, in, roster, dec, marks, problems)
	}
	hdr.from = shownSender(dec, o.signer, hdr.from)
	deliveries, body, err := p.wrap(ctx, list, roster, content, hdr, dec, o.signer, in.ID, plan)
	if err != nil {
		return err
	}
	harvest := append(p.harvest(list, o, dec), p.autocryptKey(list, roster, o, hdr, dec)...)
	err = p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Replay: marks, Unbound: dec.Unbound,
		Deliveries: deliveries, Body: body, Harvest: harvest, Released: release})
	if errors.Is(err, store.ErrReplay) {
		return turnDown(policy.Replay, rs.ActionFor(policy.Replay))
	}
	if err != nil {
		return err
	}
	if dec.Authenticated() {
		log.Info("post distributed", "sender", dec.Sender.Email, "copies", len(dec.Send), "nokey", len(dec.NoKey))
	} else {
		log.Info("post distributed unauthenticated, as the list's actions allow", "reason", dec.Reason.String(),
			"copies", len(dec.Send), "nokey", len(dec.NoKey))
	}
	return nil
}

// shownSender is who the copies of a post say sent it. For an
// authenticated post: the signing member, under the name their key gives
// them (DESIGN §4.2); never a name from the From field, which the sender
// writes freely and which could name another member or another address
// (issue 14 item 9). A post the list's actions let through
// unauthenticated shows its From address only.
func shownSender(dec policy.Decision, signer *crypto.Signer, from address) address {
	if !dec.Authenticated() {
		return address{addr: from.addr}
	}
	addr := dec.Sender.Email
	return address{name: mail.DisplayName(signer.Name(addr), addr), addr: addr}
}

// harvest keeps the certificate an accepted S/MIME post was signed with,
// with the capabilities the sender's client announced: a member certified
// through a trust anchor gets it as a new key, so that members who only
// ever sent signed mail can receive encrypted mail (Sympa's harvesting);
// for a pinned certificate only the capabilities are refreshed.
func (p *Pipeline) harvest(list *store.List, o *opened, dec policy.Decision) []store.Harvested {
	if o.smime == nil || !dec.Authenticated() {
		return nil
	}
	// For a stored certificate the insert turns into an update of its
	// capabilities (the key's source stays as it was).
	rec, _ := keyring.CertificateRecord(o.smime.Signer)
	return []store.Harvested{{ListID: list.ID, Email: dec.Sender.Email, Key: store.MemberKey{
		Key: rec, Source: store.SourceHarvested, CreatedAt: p.opt.Now(),
		Capabilities: strings.Join(smime.CapabilityNames(o.smime.Capabilities), ","),
	}}}
}

func (p *Pipeline) pgpOptions() pgp.Options {
	return pgp.Options{Now: p.opt.Now, Rand: p.opt.Rand, MaxPlaintext: p.opt.Limits.MaxSize, NoSaltNotation: true}
}

// refuse commits the rejection — the spooled message removed with the
// decision kept for its retries, the owner told — and returns it.
func (p *Pipeline) refuse(ctx context.Context, list *store.List, in *store.Inbound, reason policy.Reason) error {
	notice, err := p.ownerNotice(ctx, list, in, "owner-rejected", reason.TextFor(list.IsGateway()))
	if err != nil {
		return err
	}
	if err := p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Refused: reason.String(), Deliveries: notice}); err != nil {
		return err
	}
	return p.rejection(list, reason)
}

// unprocessable handles a message that is not MIME Sealpost can read (or
// decrypts to such): one over a limit is refused; any other is held as
// received (ciphertext) and the owner told, so nothing is lost.
func (p *Pipeline) unprocessable(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, release int64, err error) error {
	var le *mime.LimitError
	if errors.As(err, &le) {
		log.Info("message over a limit", "err", err)
		reason := policy.OverLimit
		if le.Limit == mime.LimitSize {
			reason = policy.TooLarge
		}
		return p.turnDown(ctx, log, list, in, release, reason, rules(list.Settings).ActionFor(reason))
	}
	if release != 0 {
		return p.turnDown(ctx, log, list, in, release, policy.Unparseable, policy.Hold)
	}
	log.Warn("message held: not readable as MIME", "err", err)
	return p.hold(ctx, list, in, policy.Unparseable.TextFor(list.IsGateway()))
}

// autocryptKey keeps the OpenPGP key an accepted post announces in its
// Autocrypt header (Autocrypt Level 1 §2.1), when the list imports them,
// the header names the sender, and it cannot have been injected: it is
// inside the signed content, or it announces the key that signed. A key
// the member already has is merged with it, so that the few packets an
// Autocrypt header carries do not replace a fuller copy.
func (p *Pipeline) autocryptKey(list *store.List, r *roster, o *opened, h headers, dec policy.Decision) []store.Harvested {
	if !list.Settings.AutocryptImport || h.autocrypt == "" || !dec.Authenticated() || o.signer == nil {
		return nil
	}
	addr, data, err := mail.ParseAutocrypt(h.autocrypt)
	if err != nil || addr != dec.Sender.Email {
		return nil
	}
	key, err := pgp.ParseKey(data)
	if err != nil {
		return nil
	}
	info := key.Info(p.opt.Now())
	if keyring.CheckMemberKey(info, addr, p.opt.Now()) != nil ||
		(!h.autocryptSigned && !strings.EqualFold(info.Fingerprint, o.signer.Fingerprint)) {
		return nil
	}
	for _, known := range r.pgpKeys {
		if known.Fingerprint() == key.Fingerprint() {
			key, _ = pgp.Merge(known, key)
			break
		}
	}
	rec, _ := keyring.OpenPGPRecord(key, p.opt.Now())
	return []store.Harvested{{ListID: list.ID, Email: addr, Key: store.MemberKey{
		Key: rec, Source: store.SourceAutocrypt, CreatedAt: p.opt.Now(),
	}}}
}
