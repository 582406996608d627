package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// Subscribing (a list's subscribe setting): a person asks to join a
// list, on the public page or by mail, offering their key; Sealpost
// sends a challenge to the address, encrypted to that key, and the
// person becomes a member only once they answer it (proof that they
// hold the key and read the mailbox) and, on a moderated list, once an
// owner approves. Leaving works the same way, with the challenge
// encrypted to the key the list holds for them. The requests need no
// account, so they tell nothing about who is a member of what: for a
// list that does not exist, takes no subscriptions, or an address that
// is already (or not) a member, they do nothing and report success.

// SubscriptionView is a request to join or leave a list as owners see it.
type SubscriptionView struct {
	Email       string    `json:"email"`
	Action      string    `json:"action"` // subscribe or unsubscribe
	State       string    `json:"state"`  // challenged (waiting for the person) or approval (for an owner)
	Engine      string    `json:"engine,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Via         string    `json:"via"`
	CreatedAt   time.Time `json:"created_at"`
	AnsweredAt  time.Time `json:"answered_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Confirmation is what answering a challenge did.
type Confirmation struct {
	List   string
	Email  string
	Action string
	// Awaiting is set when the request now waits for an owner's approval.
	Awaiting bool
}

// ErrUnknownCode is the answer to a confirmation code that matches no
// open request: never issued, used already, or expired.
var ErrUnknownCode = fmt.Errorf("%w: that confirmation code is not known: it may have been used already, or expired "+
	"(a code is good for %d days); ask again if you still want to", ErrNotFound, int(pipeline.SubscriptionTTL.Hours()/24))

// OfferSubscription is a person's request to join list as email with
// keyData, their OpenPGP key or S/MIME certificate: a challenge encrypted
// to it goes to email. Only a key that is unusable for email is refused
// (ErrInvalid); for anything else it returns nil, whether or not a
// challenge was sent (see above).
func (s *Service) OfferSubscription(ctx context.Context, list, email string, keyData []byte) error {
	_, addr, err := mail.ParseAddress(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	key, info, err := s.memberKey(keyData)
	if err != nil {
		return err
	}
	if err := keyring.CheckMemberKey(info, addr, s.now()); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	l, err := s.subscribable(ctx, list)
	if l == nil || err != nil {
		return err
	}
	if l.Settings.Subscribe != store.SubscribeConfirm && l.Settings.Subscribe != store.SubscribeModerate {
		return nil
	}
	if ms, err := s.st.MembersByEmail(ctx, l.ID, []string{addr}); err != nil || len(ms) > 0 {
		return err
	}
	sub := &store.Subscription{ListID: l.ID, Email: addr, Action: store.ActionSubscribe, Key: key.Data,
		Engine: key.Engine, Fingerprint: key.Fingerprint, Via: s.actor.Via}
	return s.sendChallenge(ctx, l, sub, &key)
}

// OfferUnsubscription is a request to remove email from list: a
// challenge goes to email, encrypted to the key the list holds for them.
// It works on every list, whatever its subscribe setting, and returns
// nil whether or not email is a member.
func (s *Service) OfferUnsubscription(ctx context.Context, list, email string) error {
	addr, err := mail.Normalize(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	l, err := s.subscribable(ctx, list)
	if l == nil || err != nil {
		return err
	}
	if ms, err := s.st.MembersByEmail(ctx, l.ID, []string{addr}); err != nil || len(ms) == 0 {
		return err
	}
	sub := &store.Subscription{ListID: l.ID, Email: addr, Action: store.ActionUnsubscribe, Via: s.actor.Via}
	return s.sendChallenge(ctx, l, sub, nil)
}

// subscribable returns the list at address if people may ask to join or
// leave it: nil, and no error, for a gateway or a list that does not
// exist.
func (s *Service) subscribable(ctx context.Context, address string) (*store.List, error) {
	laddr, err := mail.Normalize(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a list address", ErrInvalid, address)
	}
	l, err := s.st.ListByAddress(ctx, laddr)
	if errors.Is(err, store.ErrNotFound) || (err == nil && l.IsGateway()) {
		return nil, nil
	}
	return l, err
}

func (s *Service) sendChallenge(ctx context.Context, l *store.List, sub *store.Subscription, key *store.MemberKey) error {
	if s.flow == nil {
		return errors.New("admin: no flow configured")
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	out, err := s.flow.ChallengeSubscription(ctx, l, sub, key, ref)
	if err != nil {
		return err
	}
	if err := s.st.Commit(ctx, out); err != nil {
		return err
	}
	return s.audit(ctx, "subscription."+sub.Action+".asked", l.Address, sub.Email, "challenge sent ("+ref+")")
}

// ConfirmSubscription answers the challenge whose code is code: the
// person joins (or leaves) the list, or, on a moderated list, their
// request now waits for an owner. ErrUnknownCode when no open request
// has that code.
func (s *Service) ConfirmSubscription(ctx context.Context, code string) (*Confirmation, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	sum := sha256.Sum256([]byte(code))
	sub, err := s.st.SubscriptionByToken(ctx, sum[:], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownCode
	} else if err != nil {
		return nil, err
	}
	l, err := s.st.ListByID(ctx, sub.ListID)
	if err != nil {
		return nil, err
	}
	c := &Confirmation{List: l.Address, Email: sub.Email, Action: sub.Action}
	// The code, sent encrypted to the person's key, is the authority to
	// change this one membership: the person acts on this list alone, as
	// themselves in the audit log, through the same use cases an owner's
	// change goes through (the welcome, the checks of the key).
	self := s.As(Actor{Email: sub.Email, Role: store.RoleAdmin, List: l.Address, Via: s.actor.Via})
	switch {
	case sub.Action == store.ActionUnsubscribe:
		if err := self.RemoveMember(ctx, l.Address, sub.Email); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	case l.Settings.Subscribe == store.SubscribeModerate:
		c.Awaiting = true
		if sub.State == store.StateApproval {
			return c, nil // answered before
		}
		return c, s.awaitApproval(ctx, l, sub)
	case l.Settings.Subscribe == store.SubscribeConfirm:
		if _, _, err := self.AddMember(ctx, l.Address, sub.Email, sub.Key, false); err != nil && !errors.Is(err, ErrExists) {
			return nil, err
		}
	default:
		// The list stopped taking subscriptions since.
		return nil, ErrUnknownCode
	}
	if err := s.st.DeleteSubscription(ctx, l.ID, sub.Email, sub.Action); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return c, nil
}

// AnswerSubscription is ConfirmSubscription for an answer by mail
// (pipeline.Commands).
func (s *Service) AnswerSubscription(ctx context.Context, code string) error {
	_, err := s.As(Actor{Via: ViaMail}).ConfirmSubscription(ctx, code)
	return err
}

// awaitApproval marks sub answered and tells the list's owners it waits
// for them.
func (s *Service) awaitApproval(ctx context.Context, l *store.List, sub *store.Subscription) error {
	now := s.now()
	sub.State, sub.AnsweredAt, sub.ExpiresAt = store.StateApproval, now, now.Add(pipeline.ApprovalTTL)
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	ds, err := s.flow.SubscriptionNotices(ctx, l, sub, ref)
	if err != nil {
		return err
	}
	if err := s.st.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds, Subscription: sub}); err != nil {
		return err
	}
	return s.As(Actor{Email: sub.Email, Via: s.actor.Via}).audit(ctx, "subscription.subscribe.answered", l.Address, sub.Email,
		"waiting for an owner's approval")
}

// Subscriptions returns the list's open requests to join or leave, those
// waiting for an owner first.
func (s *Service) Subscriptions(ctx context.Context, list string) ([]SubscriptionView, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	subs, err := s.st.Subscriptions(ctx, l.ID, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]SubscriptionView, len(subs))
	for i, sub := range subs {
		out[i] = SubscriptionView{Email: sub.Email, Action: sub.Action, State: sub.State, Engine: sub.Engine,
			Fingerprint: sub.Fingerprint, Via: sub.Via, CreatedAt: sub.CreatedAt, AnsweredAt: sub.AnsweredAt, ExpiresAt: sub.ExpiresAt}
	}
	return out, nil
}

// awaiting returns email's answered request to join list, waiting for an
// owner.
func (s *Service) awaiting(ctx context.Context, l *store.List, email string) (*store.Subscription, error) {
	addr, err := mail.Normalize(email)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	subs, err := s.st.Subscriptions(ctx, l.ID, s.now())
	if err != nil {
		return nil, err
	}
	for i := range subs {
		if sub := &subs[i]; sub.Email == addr && sub.Action == store.ActionSubscribe && sub.State == store.StateApproval {
			return sub, nil
		}
	}
	return nil, fmt.Errorf("%w: no request of %s to join %s waits for approval", ErrNotFound, addr, l.Address)
}

// ApproveSubscription makes the person of an answered request to join a
// moderated list a member, with the key they offered.
func (s *Service) ApproveSubscription(ctx context.Context, list, email string) (*store.Member, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	sub, err := s.awaiting(ctx, l, email)
	if err != nil {
		return nil, err
	}
	m, _, err := s.AddMember(ctx, l.Address, sub.Email, sub.Key, false)
	if err != nil {
		return nil, err
	}
	if err := s.st.DeleteSubscription(ctx, l.ID, sub.Email, sub.Action); err != nil && !errors.Is(err, store.ErrNotFound) {
		return m, err
	}
	return m, s.audit(ctx, "subscription.approve", l.Address, sub.Email, "")
}

// RejectSubscription declines an answered request to join; the person is
// told, with reason when one is given, encrypted to the key they offered.
func (s *Service) RejectSubscription(ctx context.Context, list, email, reason string) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	sub, err := s.awaiting(ctx, l, email)
	if err != nil {
		return err
	}
	key, _, err := s.memberKey(sub.Key)
	if err != nil {
		return err
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	ds, err := s.flow.SubscriptionDeclined(ctx, l, sub, &key, strings.TrimSpace(reason), ref)
	if err != nil {
		return err
	}
	if err := s.st.DeleteSubscription(ctx, l.ID, sub.Email, sub.Action); err != nil {
		return err
	}
	if err := s.st.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds}); err != nil {
		return err
	}
	return s.audit(ctx, "subscription.reject", l.Address, sub.Email, reason)
}

// PublicList is what the public subscription page shows of a list that
// takes subscriptions.
type PublicList struct {
	Address     string
	Name        string
	Fingerprint string // of the list's OpenPGP key
	PublicKey   []byte // armored
	Moderated   bool
}

// PublicListInfo returns what anyone may see of the list at address on
// the subscription page: nil for a list that takes no subscriptions (or
// does not exist), which the page shows as it shows no list.
func (s *Service) PublicListInfo(ctx context.Context, address string) (*PublicList, error) {
	l, err := s.subscribable(ctx, address)
	if l == nil || err != nil || l.Settings.Subscribe == "" || l.Settings.Subscribe == store.SubscribeClosed {
		if errors.Is(err, ErrInvalid) {
			err = nil
		}
		return nil, err
	}
	k, err := pgp.ParseKey(l.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PublicList{Address: l.Address, Name: l.Name, Fingerprint: l.KeyFingerprint, PublicKey: k.Armored(),
		Moderated: l.Settings.Subscribe == store.SubscribeModerate}, nil
}
