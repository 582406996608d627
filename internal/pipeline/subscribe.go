package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// SubscriptionTTL is how long a person has to answer the challenge of a
// request to join or leave a list; ApprovalTTL how long an answered
// request waits for an owner's decision.
const (
	SubscriptionTTL = 3 * 24 * time.Hour
	ApprovalTTL     = 30 * 24 * time.Hour
)

// ConfirmPath is the page, under Options.PublicURL, where a person
// confirms a request to join or leave a list with its code.
const ConfirmPath = "/subscribe/confirm"

// ChallengeSubscription asks sub.Email to confirm a request to join list
// (store.ActionSubscribe: key is the key or certificate they offer, and
// the challenge is encrypted to it) or to leave it
// (store.ActionUnsubscribe: key is nil, and the challenge goes to the key
// the list holds for them). It fills in sub's code, state and times; the
// returned outcome records sub and carries the challenge, for the caller
// to commit. Nothing leaves unencrypted: a key nobody can encrypt to is
// an error.
func (p *Pipeline) ChallengeSubscription(ctx context.Context, list *store.List, sub *store.Subscription, key *store.MemberKey, ref string) (store.Outcome, error) {
	token, err := newToken(p.opt.Rand)
	if err != nil {
		return store.Outcome{}, err
	}
	sum := sha256.Sum256([]byte(token))
	now := p.opt.Now()
	sub.State, sub.TokenHash, sub.CreatedAt, sub.ExpiresAt, sub.AnsweredAt = store.StateChallenged, sum[:], now, now.Add(SubscriptionTTL), time.Time{}
	data := map[string]any{"Code": token, "Expires": sub.ExpiresAt.UTC().Format(time.DateOnly), "Link": p.confirmLink(token)}
	a := Announcement{Ref: ref}
	name := "unsubscribe-challenge"
	if sub.Action == store.ActionSubscribe {
		name = "subscribe-challenge"
		data["Fingerprint"] = crypto.FormatFingerprint(sub.Fingerprint)
		data["Moderated"] = list.Settings.Subscribe == store.SubscribeModerate
		data["Request"] = ""
		if sub.Engine == store.EngineOpenPGP {
			data["Request"] = requestAddress(list) // answerByMail
		}
		if a.direct, err = p.newcomer(ctx, list, sub.Email, key); err != nil {
			return store.Outcome{}, err
		}
	} else {
		a.To = []string{sub.Email}
	}
	if a.Subject, a.Text, err = p.render(list, name, data); err != nil {
		return store.Outcome{}, err
	}
	ds, _, err := p.Announce(ctx, list, a)
	if err != nil {
		return store.Outcome{}, err
	}
	if len(ds) != 1 {
		return store.Outcome{}, fmt.Errorf("pipeline: %s has no key the challenge can be encrypted to", sub.Email)
	}
	return store.Outcome{ListID: list.ID, Deliveries: ds, Subscription: sub}, nil
}

// confirmLink is the link to confirm a request with token, or "" when
// Sealpost's web address is not known.
func (p *Pipeline) confirmLink(token string) string {
	if p.opt.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(p.opt.PublicURL, "/") + ConfirmPath + "?code=" + url.QueryEscape(token)
}

// subscribePage is the list's public page, where members may leave (""
// when Sealpost's web address is not known).
func (p *Pipeline) subscribePage(list *store.List) string {
	if p.opt.PublicURL == "" || list.IsGateway() {
		return ""
	}
	return strings.TrimRight(p.opt.PublicURL, "/") + "/subscribe?list=" + url.QueryEscape(list.Address)
}

// newcomer is the recipient of a message to email, not (yet) a member of
// list, encrypted to key as the list would encrypt to a member holding
// it; an error when the list could not use key.
func (p *Pipeline) newcomer(ctx context.Context, list *store.List, email string, key *store.MemberKey) (*directRecipient, error) {
	rev, err := p.revocations(ctx, list, nil, nil)
	if err != nil {
		return nil, err
	}
	r := p.rosterOf(list, []store.Member{{ListID: list.ID, Email: email, Keys: []store.MemberKey{*key}}}, rev)
	to := r.to[email]
	if to.pgp == nil && to.cert == nil {
		return nil, fmt.Errorf("pipeline: the list cannot encrypt to %s's key: %s", email, to.status)
	}
	return &directRecipient{email: email, to: to}, nil
}

// SubscriptionNotices tell the owners that sub, answered, waits for their
// decision (the list is moderated), encrypted to each where the list
// knows their key.
func (p *Pipeline) SubscriptionNotices(ctx context.Context, list *store.List, sub *store.Subscription, ref string) ([]store.Delivery, error) {
	owners, err := p.owners(ctx, list, false)
	if err != nil || len(owners) == 0 {
		return nil, err
	}
	subject, text, err := p.render(list, "owner-subscription", map[string]any{"Email": sub.Email,
		"Fingerprint": crypto.FormatFingerprint(sub.Fingerprint), "Expires": sub.ExpiresAt.UTC().Format(time.DateOnly)})
	if err != nil {
		return nil, err
	}
	return p.noticesTo(ctx, list, nil, owners, subject, text, ref)
}

// SubscriptionDeclined tells the person of sub that the owners declined
// it, with their reason, encrypted to the key they offered.
func (p *Pipeline) SubscriptionDeclined(ctx context.Context, list *store.List, sub *store.Subscription, key *store.MemberKey, reason, ref string) ([]store.Delivery, error) {
	to, err := p.newcomer(ctx, list, sub.Email, key)
	if err != nil {
		return nil, err
	}
	subject, text, err := p.render(list, "subscription-declined", map[string]any{"Reason": reason})
	if err != nil {
		return nil, err
	}
	ds, _, err := p.Announce(ctx, list, Announcement{direct: to, Ref: ref, Subject: subject, Text: text})
	return ds, err
}

// requestAddress is LIST-request, where a challenge may be answered by
// mail.
func requestAddress(list *store.List) string { return mail.RoleAddress(list.Address, mail.RoleRequest) }

// subscribeByMail takes a request to join list by mail: X-SUBSCRIBE to
// LIST-request from someone who is not a member, with their OpenPGP key
// attached (or pasted), encrypted to the list and signed with that key,
// From the address the key names. It is answered like the public page:
// a challenge to the address, encrypted to the key. handled is false
// when the message is not such a request (or the list takes none), and
// it is refused as before, alike for every reason.
func (p *Pipeline) subscribeByMail(ctx context.Context, log *slog.Logger, list *store.List, msg, content *mime.Part, in *store.Inbound) (handled bool, err error) {
	if s := list.Settings.Subscribe; s != store.SubscribeConfirm && s != store.SubscribeModerate {
		return false, nil
	}
	if !asksToSubscribe(content) {
		return p.answerByMail(ctx, log, list, msg, content, in)
	}
	data := findKey(content)
	if data == nil {
		return false, nil
	}
	from := readHeaders(msg, content).from.addr
	key, problem := p.memberKeyFromMail(data, from)
	if problem != "" {
		return false, nil
	}
	// The signature must be the offered key's.
	o := p.openSignedBy(list, msg, key)
	if o == nil {
		return false, nil
	}
	if ms, err := p.store.MembersByEmail(ctx, list.ID, []string{from}); err != nil || len(ms) > 0 {
		return false, err
	}
	rec, _ := keyring.OpenPGPRecord(key, p.opt.Now())
	mk := store.MemberKey{Key: rec, Source: store.SourcePinned, CreatedAt: p.opt.Now()}
	sub := &store.Subscription{ListID: list.ID, Email: from, Action: store.ActionSubscribe, Key: rec.Data,
		Engine: store.EngineOpenPGP, Fingerprint: key.Fingerprint(), Via: "mail"}
	out, err := p.ChallengeSubscription(ctx, list, sub, &mk, in.ID)
	if err != nil {
		return true, err
	}
	out.SpoolID, out.Replay = in.ID, o.signatureMarks()
	out.Unbound = !slices.Contains(listNames(content), list.Address) && !slices.Contains(listNames(content), requestAddress(list))
	err = p.commit(ctx, out)
	if errors.Is(err, store.ErrReplay) {
		log.Info("request rejected", "reason", policy.Replay.String(), "sender", from)
		return true, p.refuse(ctx, list, in, policy.Replay)
	}
	if err == nil {
		log.Info("subscription asked by mail", "sender", from)
	}
	return true, err
}

// openSignedBy opens msg again with key as the only signer the list
// knows: the message, encrypted to the list with integrity protection,
// when key made its good signature; nil otherwise.
func (p *Pipeline) openSignedBy(list *store.List, msg *mime.Part, key *pgp.Key) *opened {
	o, err := p.open(list, &roster{pgpKeys: []*pgp.Key{key}}, msg)
	if err != nil || o.status != crypto.StatusGood || o.signer == nil || o.signer.Fingerprint != key.Fingerprint() ||
		o.protection.Integrity == "" || !o.protection.Encrypted {
		return nil
	}
	return o
}

// asksToSubscribe reports whether content's keywords are X-SUBSCRIBE for
// the sender alone (no address, or none but X-LIST-NAME beside it).
func asksToSubscribe(content *mime.Part) bool {
	kws, _ := mail.ParseKeywords(requestText(content))
	asked := false
	for _, kw := range kws {
		switch {
		case kw.Name == "SUBSCRIBE" && len(kw.Args) == 0:
			asked = true
		case kw.Name == "LIST-NAME":
		default:
			return false
		}
	}
	return asked
}

// answerByMail takes the answer to a challenge of a request to join:
// mail to LIST-request, encrypted to the list and signed with the key
// offered, from its address, quoting the code. handled is false when
// the message is no such answer.
func (p *Pipeline) answerByMail(ctx context.Context, log *slog.Logger, list *store.List, msg, content *mime.Part, in *store.Inbound) (handled bool, err error) {
	if p.opt.Commands == nil {
		return false, nil
	}
	from := readHeaders(msg, content).from.addr
	subs, err := p.store.Subscriptions(ctx, list.ID, p.opt.Now())
	if err != nil {
		return false, err
	}
	var sub *store.Subscription
	for i := range subs {
		if s := &subs[i]; s.Email == from && s.Action == store.ActionSubscribe && s.Engine == store.EngineOpenPGP {
			sub = s
		}
	}
	if sub == nil {
		return false, nil
	}
	key, err := p.publicKey(sub.Fingerprint, sub.Key)
	if err != nil {
		return false, nil
	}
	o := p.openSignedBy(list, msg, key)
	if o == nil {
		return false, nil
	}
	signed, err := p.parseContent(o.content)
	if err != nil {
		return false, nil
	}
	code := tokenFor(signed.Raw, sub.TokenHash)
	if code == "" {
		return false, nil
	}
	if err := p.opt.Commands.AnswerSubscription(ctx, code); err != nil {
		return true, err
	}
	out := store.Outcome{SpoolID: in.ID, ListID: list.ID, Replay: o.signatureMarks(), Unbound: true}
	if err := p.commit(ctx, out); err != nil && !errors.Is(err, store.ErrReplay) {
		return true, err
	}
	log.Info("subscription answered by mail", "sender", from)
	return true, nil
}
