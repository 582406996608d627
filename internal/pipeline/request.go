package pipeline

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// ChallengeTTL is how long a member has to answer the challenge for a
// key they asked for.
const ChallengeTTL = 7 * 24 * time.Hour

// request handles mail to LIST-request. A member replaces their key by
// sending the new one, signed with the key the list holds for them; the
// new key becomes theirs when they answer the challenge Sealpost sends,
// encrypted to the new key, with a reply signed by the new key (proof of
// possession, as mailman-pgp does it). Other requests are held for the
// owner. Requests must be encrypted and signed like posts, and name
// LIST-request in their signed content.
func (p *Pipeline) request(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound) error {
	roster, err := p.roster(ctx, list)
	if err != nil {
		return err
	}
	pending, err := p.store.PendingKeys(ctx, list.ID, p.opt.Now())
	if err != nil {
		return err
	}
	members := p.withPending(list, roster, pending)
	msg, err := mime.Parse(in.Raw, p.opt.Limits)
	if err != nil {
		return p.unprocessable(ctx, log, list, in, 0, err)
	}
	o, content, reason, err := p.authenticate(list, roster, msg)
	if err != nil {
		return p.unprocessable(ctx, log, list, in, 0, err)
	}
	if reason != policy.OK {
		log.Info("request rejected", "reason", reason.String())
		return p.refuse(ctx, list, in, reason)
	}
	hdr := readHeaders(msg, content)
	dec := policy.Decide(policy.Input{
		List: mail.RoleAddress(list.Address, mail.RoleRequest), ListFingerprint: list.KeyFingerprint,
		Protection: o.protection, Status: o.status, Signer: o.signer,
		From: hdr.from.addr, MultipleFrom: hdr.multipleFrom, SignedRecipients: hdr.signedRecipients,
		IntendedRecipients: o.intended, ListName: list.Address, ListNames: listNames(content), Members: members,
		RequireBinding: list.Settings.RequireBinding,
	})
	if !dec.Authenticated() {
		if handled, err := p.subscribeByMail(ctx, log, list, msg, content, in); handled || err != nil {
			return err
		}
		log.Info("request rejected", "reason", dec.Reason.String(), "status", o.status.String(), "detail", o.reason)
		return p.refuse(ctx, list, in, dec.Reason)
	}
	out := store.Outcome{SpoolID: in.ID, ListID: list.ID, Replay: o.signatureMarks(), Unbound: dec.Unbound}
	email := dec.Sender.Email
	pk := pendingOf(pending, email)
	key := findKey(content)
	switch {
	case pk != nil && pk.Key.Fingerprint == o.signer.Fingerprint:
		if !hasToken(content.Raw, pk.TokenHash) {
			log.Info("request rejected", "reason", policy.BadConfirmation.String(), "sender", email)
			return p.refuse(ctx, list, in, policy.BadConfirmation)
		}
		err = p.confirmKey(ctx, list, pk, &out)
	case p.opt.Commands != nil && hasKeywords(content):
		return p.commands(ctx, log, list, in, dec, content, out)
	case key != nil:
		err = p.requestKey(ctx, list, email, key, in.ID, &out)
	default:
		return p.hold(ctx, list, in, "message to the -request address that asks for nothing Sealpost understands yet")
	}
	if err != nil {
		return err
	}
	err = p.commit(ctx, out)
	if errors.Is(err, store.ErrReplay) {
		log.Info("request rejected", "reason", policy.Replay.String(), "sender", email)
		return p.refuse(ctx, list, in, policy.Replay)
	}
	if err == nil {
		log.Info("request handled", "sender", email, "confirmed", out.Confirmed != nil, "challenge", out.Pending != nil)
	}
	return err
}

// authenticate opens msg and parses its authenticated content; reason
// is policy.OK unless the message must be refused.
func (p *Pipeline) authenticate(list *store.List, r *roster, msg *mime.Part) (*opened, *mime.Part, policy.Reason, error) {
	o, err := p.open(list, r, msg)
	var ee *engineError
	if errors.As(err, &ee) {
		return nil, nil, ee.reason, nil
	}
	if err != nil {
		return nil, nil, 0, err
	}
	if o.protection.Integrity == "" {
		return nil, nil, policy.NoIntegrity, nil
	}
	content, err := p.parseContent(o.content)
	if err != nil {
		return nil, nil, 0, err
	}
	if isEncrypted(content) {
		return nil, nil, policy.TooManyLayers, nil
	}
	return o, content, policy.OK, nil
}

// withPending adds the keys members asked for to the roster's signers,
// and returns the members with those keys' fingerprints as theirs, so
// that a challenge answered with the new key authenticates.
func (p *Pipeline) withPending(list *store.List, r *roster, pending []store.PendingKey) []policy.Member {
	members := make([]policy.Member, len(r.members))
	copy(members, r.members)
	for _, pk := range pending {
		k, err := p.publicKey(pk.Key.Fingerprint, pk.Key.Data)
		if err != nil {
			p.opt.Logger.Warn("pending key unusable", "list", list.Address, "member", pk.Email, "err", err)
			continue
		}
		r.pgpKeys = append(r.pgpKeys, k)
		for i := range members {
			if members[i].Email == pk.Email {
				members[i].Fingerprints = append(append([]string(nil), members[i].Fingerprints...), pk.Key.Fingerprint)
			}
		}
	}
	return members
}

func pendingOf(pending []store.PendingKey, email string) *store.PendingKey {
	for i := range pending {
		if pending[i].Email == email {
			return &pending[i]
		}
	}
	return nil
}

// maxAttachedKey bounds a key sent by mail.
const maxAttachedKey = 1 << 20

var armoredKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?s)-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----`)
})

// findKey returns the first OpenPGP public key in the content: an
// application/pgp-keys part, or an armored key block in a text part.
func findKey(part *mime.Part) []byte {
	if part.IsMultipart() {
		for _, c := range part.Children {
			if k := findKey(c); k != nil {
				return k
			}
		}
		return nil
	}
	if part.MediaType != "application/pgp-keys" && part.MediaType != "text/plain" {
		return nil
	}
	body, err := part.Decoded(maxAttachedKey)
	if err != nil {
		return nil
	}
	if part.MediaType == "application/pgp-keys" {
		return body
	}
	return armoredKey().Find(body)
}

// requestKey records the key a member sent as pending and writes the
// challenge, encrypted to that key. A key that cannot be used gets the
// member a notice saying why, encrypted to their current key.
func (p *Pipeline) requestKey(ctx context.Context, list *store.List, email string, data []byte, ref string, out *store.Outcome) error {
	key, problem := p.memberKeyFromMail(data, email)
	if problem != "" {
		subject, text, err := p.render(list, "key-refused", map[string]any{"Problem": problem})
		if err != nil {
			return err
		}
		ds, _, err := p.Announce(ctx, list, Announcement{To: []string{email}, Ref: ref, Subject: subject, Text: text})
		out.Deliveries = ds
		return err
	}
	return p.challenge(ctx, list, email, key, ref, out)
}

// ChallengeKey asks member email of list to prove they hold key's secret
// part: the returned outcome records the key as pending and carries the
// challenge, encrypted to the key. The key becomes the member's when
// they answer it. The caller commits the outcome.
func (p *Pipeline) ChallengeKey(ctx context.Context, list *store.List, email string, key *pgp.Key, ref string) (store.Outcome, error) {
	out := store.Outcome{ListID: list.ID}
	return out, p.challenge(ctx, list, email, key, ref, &out)
}

func (p *Pipeline) challenge(ctx context.Context, list *store.List, email string, key *pgp.Key, ref string, out *store.Outcome) error {
	token, err := newToken(p.opt.Rand)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(token))
	rec, _ := keyring.OpenPGPRecord(key, p.opt.Now())
	out.Pending = &store.PendingKey{ListID: list.ID, Email: email, Key: rec, TokenHash: sum[:],
		CreatedAt: p.opt.Now(), ExpiresAt: p.opt.Now().Add(ChallengeTTL)}
	subject, text, err := p.render(list, "key-challenge", map[string]any{"Fingerprint": crypto.FormatFingerprint(key.Fingerprint()),
		"Request": mail.RoleAddress(list.Address, mail.RoleRequest), "Code": token,
		"Expires": out.Pending.ExpiresAt.UTC().Format(time.DateOnly)})
	if err != nil {
		return err
	}
	ds, _, err := p.Announce(ctx, list, Announcement{To: []string{email}, Key: key, Ref: ref, Subject: subject, Text: text})
	out.Deliveries = append(out.Deliveries, ds...)
	return err
}

// memberKeyFromMail reads a key sent by mail, with the import filters
// (third-party certifications dropped), and checks it fits the member.
func (p *Pipeline) memberKeyFromMail(data []byte, email string) (*pgp.Key, string) {
	found, err := pgp.ReadKeys(data, pgp.ImportOptions{Now: p.opt.Now()})
	switch {
	case err != nil:
		return nil, "it is not an OpenPGP key"
	case len(found) != 1:
		return nil, fmt.Sprintf("the message carries %d keys; send exactly one", len(found))
	case found[0].Err != nil:
		return nil, found[0].Err.Error()
	case found[0].Key.HasSecret():
		return nil, "it is a secret key; send only your public key (and consider this secret key compromised)"
	}
	k := found[0].Key
	if err := keyring.CheckMemberKey(k.Info(p.opt.Now()), email, p.opt.Now()); err != nil {
		return nil, err.Error()
	}
	return k, ""
}

// confirmKey makes the pending key the member's, who answered its
// challenge, and tells them so, encrypted to the new key.
func (p *Pipeline) confirmKey(ctx context.Context, list *store.List, pk *store.PendingKey, out *store.Outcome) error {
	key, err := pgp.ParseKey(pk.Key.Data)
	if err != nil {
		return err
	}
	now := p.opt.Now()
	out.Confirmed = pk
	out.Harvest = []store.Harvested{{ListID: list.ID, Email: pk.Email,
		Key: store.MemberKey{Key: pk.Key, Source: store.SourceConfirmed, CreatedAt: now}}}
	subject, text, err := p.render(list, "key-confirmed", map[string]any{"Fingerprint": crypto.FormatFingerprint(key.Fingerprint())})
	if err != nil {
		return err
	}
	ds, _, err := p.Announce(ctx, list, Announcement{To: []string{pk.Email}, Key: key, Ref: out.SpoolID, Subject: subject, Text: text})
	out.Deliveries = ds
	return err
}

var tokenPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`SP-[A-Z2-7]{32}`) })

// hasToken reports whether content carries a code whose SHA-256 is sum.
func hasToken(content, sum []byte) bool { return tokenFor(content, sum) != "" }

// tokenFor returns the code in content whose SHA-256 is sum, or "".
func tokenFor(content, sum []byte) string {
	for _, t := range tokenPattern().FindAll(content, 16) {
		got := sha256.Sum256(t)
		if subtle.ConstantTimeCompare(got[:], sum) == 1 {
			return string(t)
		}
	}
	return ""
}

func newToken(rnd io.Reader) (string, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return "SP-" + base32.StdEncoding.EncodeToString(b), nil
}
