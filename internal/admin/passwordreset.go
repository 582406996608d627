package admin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// Password reset by mail (issue 20): someone who forgot the password of
// an account asks for a link at the account's address; the link sets a
// new password once, within ResetTTL. Who sends the link, and how, is
// pipeline.AccountMail's rule: the first list the account has a role on
// for which a key of the address is on file sends it encrypted to that
// key and signed (owner roles before moderator roles, then by address);
// else, with a key the operator imported for the address, it is
// encrypted and unsigned from Options.ResetSender; else it is plain
// text, the link and nothing else, from Options.ResetSender. Two-factor
// sign-in stays as it was: the link replaces the password only.

// ResetTTL is how long a password reset link works.
const ResetTTL = time.Hour

// resetTokenBytes is the size of a reset link's secret.
const resetTokenBytes = 32

// ErrResetLink is the error for a reset link that does not work (any
// more): unknown, used, expired, or void since the password changed.
var ErrResetLink = fmt.Errorf("%w: this link to set a new password does not work any more: it works once, "+
	"for an hour, and not after the password changed. Ask for a new one", ErrNotFound)

// RequestPasswordReset sends a link that sets a new password to the
// account of email, when there is one. It needs no account, so it tells
// nothing about which accounts exist: for an address without one it does
// nothing and returns nil. Only an address that is no address is
// ErrInvalid. The mail goes through the outbound queue.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	addr, err := mail.Normalize(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	a, err := s.st.Account(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if s.flow == nil || s.resetURL == "" {
		return errors.New("admin: password reset by mail: no message flow, or no web address ([http] public_url or listen) for the link")
	}
	token, hash, err := newResetToken(s.rand)
	if err != nil {
		return err
	}
	now := s.now()
	r := store.PasswordReset{TokenHash: hash, AccountID: a.ID, Stamp: store.PasswordStamp(a.PasswordHash),
		CreatedAt: now, ExpiresAt: now.Add(ResetTTL)}
	lists, err := s.rolesLists(ctx, addr)
	if err != nil {
		return err
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	d, sent, err := s.flow.AccountMail(ctx, pipeline.AccountMail{To: addr, Lists: lists, Sender: s.resetSender,
		Template: "password-reset", Ref: ref, Data: map[string]any{
			"Link": strings.TrimSuffix(s.resetURL, "/") + "/login/reset/" + token, "Expires": r.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")}})
	if err != nil {
		return err
	}
	if err := s.st.AddPasswordReset(ctx, r); err != nil {
		return err
	}
	if err := s.st.Commit(ctx, store.Outcome{Deliveries: []store.Delivery{d}}); err != nil {
		return err
	}
	self := s.As(Actor{Email: addr, Role: a.Role, Via: s.actor.Via, AccountID: a.ID})
	return self.audit(ctx, "account.password.reset.mail", "", addr, describeSent(sent))
}

// describeSent says, for the audit log, how a reset link went.
func describeSent(sent pipeline.AccountMailSent) string {
	switch {
	case sent.List != "":
		return "link sent by mail, signed by " + sent.List + ", encrypted to " + crypto.FormatFingerprint(sent.Key)
	case sent.Key != "":
		return "link sent by mail, encrypted to " + crypto.FormatFingerprint(sent.Key)
	}
	return "link sent by mail in plain text (no key on file)"
}

// rolesLists returns the lists on which addr has a role, owner roles
// (by list role, or as the list's owner address) first, each group by
// address.
func (s *Service) rolesLists(ctx context.Context, addr string) ([]*store.List, error) {
	roles, err := s.st.RolesOf(ctx, addr)
	if err != nil {
		return nil, err
	}
	all, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	var owned, moderated []*store.List
	for i := range all {
		l := &all[i]
		switch {
		case strings.EqualFold(l.Owner, addr) || roles[l.ID] == store.ListOwner:
			owned = append(owned, l)
		case roles[l.ID] == store.ListModerator:
			moderated = append(moderated, l)
		}
	}
	byAddress := func(a, b *store.List) int { return strings.Compare(a.Address, b.Address) }
	slices.SortFunc(owned, byAddress)
	slices.SortFunc(moderated, byAddress)
	return append(owned, moderated...), nil
}

// CheckPasswordReset reports whether a reset link's token still works
// (ErrResetLink when not), without using it.
func (s *Service) CheckPasswordReset(ctx context.Context, token string) error {
	_, err := s.st.PasswordReset(ctx, resetTokenHash(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrResetLink
	}
	return err
}

// ResetPassword sets the password of the account whose reset link token
// is, using the link up: it works once, and every session of the account
// ends (as after any new password). The password rules are SetUser's; a
// password they refuse leaves the link working. A link that does not
// work is ErrResetLink.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	// A link that does not work costs no password hashing.
	if err := s.CheckPasswordReset(ctx, token); err != nil {
		return err
	}
	hash, err := hashPassword(s.rand, password)
	if err != nil {
		return err
	}
	a, err := s.st.UsePasswordReset(ctx, resetTokenHash(token), s.now(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return ErrResetLink
	} else if err != nil {
		return err
	}
	self := s.As(Actor{Email: a.Email, Role: a.Role, Via: s.actor.Via, AccountID: a.ID})
	return self.audit(ctx, "account.password.reset", "", a.Email, "via mail link; every session ended")
}

// newResetToken makes a reset link's secret (URL-safe) and its hash.
func newResetToken(rnd io.Reader) (token, hash string, err error) {
	b := make([]byte, resetTokenBytes)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, resetTokenHash(token), nil
}

// resetTokenHash is the hex SHA-256 of a reset link's secret, as kept.
func resetTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
