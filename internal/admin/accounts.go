package admin

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// MinPasswordLength is the shortest password an account may have.
const MinPasswordLength = 12

// tokenPrefix starts every API token, so that a token pasted where it
// does not belong is recognisable (and secret scanners can find it).
const tokenPrefix = "sealpost_"

// ErrUnauthenticated is returned for a sign-in or token that is wrong,
// whatever was wrong with it.
var ErrUnauthenticated = errors.New("unauthenticated")

// validRole checks a role name.
func validRole(role string) error {
	if role != store.RoleAdmin && role != store.RoleOwner {
		return fmt.Errorf("%w: role %q is not admin or owner", ErrInvalid, role)
	}
	return nil
}

func validPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("%w: a password needs at least %d characters", ErrInvalid, MinPasswordLength)
	}
	return nil
}

// NewPassword makes a random password, for an account created without
// one.
func (s *Service) NewPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b)), nil
}

// AddUser creates an account that may sign in to the admin UI: an admin
// manages everything, an owner the lists whose owner address is email.
// Only an admin may.
func (s *Service) AddUser(ctx context.Context, email, role, password string) (*store.Account, error) {
	if err := s.requireAdmin("add accounts"); err != nil {
		return nil, err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	if err := validRole(role); err != nil {
		return nil, err
	}
	if err := validPassword(password); err != nil {
		return nil, err
	}
	hash, err := hashPassword(s.rand, password)
	if err != nil {
		return nil, err
	}
	a := &store.Account{Email: addr, Role: role, PasswordHash: hash, CreatedAt: s.now(), UpdatedAt: s.now()}
	if err := s.st.CreateAccount(ctx, a); errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("%w: account %s", ErrExists, addr)
	} else if err != nil {
		return nil, err
	}
	return a, s.audit(ctx, "user.add", "", addr, "role "+role)
}

// Users returns every account. Only an admin may see them.
func (s *Service) Users(ctx context.Context) ([]store.Account, error) {
	if err := s.requireAdmin("see the accounts"); err != nil {
		return nil, err
	}
	return s.st.Accounts(ctx)
}

// account returns the account of email for the actor to do what to: the
// actor's own, or, for an admin, anyone's. An account is not one list's,
// so an actor limited to a list may not, not even to its own account
// (DESIGN §4.10): a token for one list that could change its account's
// password or make itself an unlimited token would be unlimited.
func (s *Service) account(ctx context.Context, email, what string) (*store.Account, error) {
	if err := s.requireUnlimited(what); err != nil {
		return nil, err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	if !s.actor.IsAdmin() && !strings.EqualFold(addr, s.actor.Email) {
		return nil, fmt.Errorf("%w: only an admin may manage other accounts", ErrForbidden)
	}
	a, err := s.st.Account(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no account %s", ErrNotFound, addr)
	}
	return a, err
}

// RemoveUser deletes an account with its tokens and sessions. Only an
// admin may.
func (s *Service) RemoveUser(ctx context.Context, email string) error {
	if err := s.requireAdmin("remove accounts"); err != nil {
		return err
	}
	a, err := s.account(ctx, email, "remove accounts")
	if err != nil {
		return err
	}
	if err := s.st.DeleteAccount(ctx, a.Email); err != nil {
		return err
	}
	return s.audit(ctx, "user.remove", "", a.Email, "")
}

// SetUser changes an account's role (when role is set; only an admin
// may) and password (when password is set; the account itself may too,
// but not with a token limited to a list). A new password signs the
// account out everywhere.
func (s *Service) SetUser(ctx context.Context, email, role, password string) error {
	a, err := s.account(ctx, email, "change an account's password or role")
	if err != nil {
		return err
	}
	var changed []string
	if role != "" && role != a.Role {
		if err := s.requireAdmin("change roles"); err != nil {
			return err
		}
		if err := validRole(role); err != nil {
			return err
		}
		a.Role = role
		changed = append(changed, "role "+role)
	}
	if password != "" {
		if err := validPassword(password); err != nil {
			return err
		}
		if a.PasswordHash, err = hashPassword(s.rand, password); err != nil {
			return err
		}
		changed = append(changed, "password")
	}
	if len(changed) == 0 {
		return nil
	}
	a.UpdatedAt = s.now()
	if err := s.st.UpdateAccount(ctx, a); err != nil {
		return err
	}
	if password != "" {
		if err := s.st.DeleteAccountSessions(ctx, a.ID); err != nil {
			return err
		}
	}
	return s.audit(ctx, "user.set", "", a.Email, strings.Join(changed, ", "))
}

// Login checks an account's password and returns the actor it signs in
// as, for an account a password alone signs in (SignIn says what else
// one needs). A wrong password and an unknown account are the same
// ErrUnauthenticated, and take as long.
func (s *Service) Login(ctx context.Context, email, password, via string) (Actor, error) {
	actor, step, err := s.SignIn(ctx, email, password, via)
	if err == nil && step != SignedIn {
		return Actor{}, ErrUnauthenticated
	}
	return actor, err
}

// SignIn checks an account's password and says what the sign-in needs
// next: nothing (SignedIn: it is recorded and audited), a two-factor code
// (NeedCode: VerifyCode completes it), or setting two-factor sign-in up
// first (NeedEnrol: Options.Require2FA asks it of this account). A wrong
// password and an unknown account are the same ErrUnauthenticated, and
// take as long.
func (s *Service) SignIn(ctx context.Context, email, password, via string) (Actor, SignInStep, error) {
	var a *store.Account
	addr, err := mail.Normalize(email)
	if err == nil {
		a, err = s.st.Account(ctx, addr)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Actor{}, "", err
		}
	}
	hash := dummyPasswordHash()
	if a != nil {
		hash = a.PasswordHash
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		return Actor{}, "", fmt.Errorf("account %s: %w", addr, err)
	}
	if a == nil || !ok {
		return Actor{}, "", ErrUnauthenticated
	}
	if passwordNeedsRehash(a.PasswordHash) {
		if a.PasswordHash, err = hashPassword(s.rand, password); err == nil {
			a.UpdatedAt = s.now()
			err = s.st.UpdateAccount(ctx, a)
		}
		if err != nil {
			return Actor{}, "", err
		}
	}
	actor := actorOf(a, via)
	if len(a.TOTPSecret) > 0 {
		return actor, NeedCode, nil
	}
	step := SignedIn
	if s.requires2FA(a.Role) {
		step = NeedEnrol
	}
	return actor, step, s.recordLogin(ctx, a, actor, "")
}

// recordLogin notes a's sign-in and audits it, with how (detail).
func (s *Service) recordLogin(ctx context.Context, a *store.Account, actor Actor, detail string) error {
	if err := s.st.RecordLogin(ctx, a.ID, s.now()); err != nil {
		return err
	}
	return s.As(actor).audit(ctx, "user.login", "", a.Email, detail)
}

func actorOf(a *store.Account, via string) Actor {
	return Actor{Email: a.Email, Role: a.Role, Via: via, AccountID: a.ID}
}

// AccountActor returns the actor of a signed-in account, by its ID.
func (s *Service) AccountActor(ctx context.Context, id int64, via string) (Actor, error) {
	a, err := s.st.AccountByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	return actorOf(a, via), nil
}

// TokenView is an API token as its owner sees it (never its secret).
type TokenView struct {
	store.Token
	List string // the one list it may act on, or ""
}

// CreateToken makes an API token for the account of email (the actor's
// own, or anyone's for an admin; never for an actor limited to a list),
// named name, limited to list when list is set. It returns the token's
// secret, which is shown this once: only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, email, name, list string) (string, *TokenView, error) {
	a, err := s.account(ctx, email, "make API tokens")
	if err != nil {
		return "", nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, fmt.Errorf("%w: a token needs a name (up to 100 characters) that says what it is for", ErrInvalid)
	}
	t := &store.Token{AccountID: a.ID, Name: name, CreatedAt: s.now()}
	if list != "" {
		// The token's account must be able to manage the list.
		l, err := s.As(actorOf(a, s.actor.Via)).List(ctx, list)
		if errors.Is(err, ErrForbidden) && s.actor.IsAdmin() {
			return "", nil, fmt.Errorf("%w: %s is not an admin and does not own %s (or there is no such list)", ErrInvalid, a.Email, list)
		} else if err != nil {
			return "", nil, err
		}
		t.ListID, list = l.ID, l.Address
	}
	b := make([]byte, 20)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", nil, err
	}
	secret := tokenPrefix + strings.ToLower(base32.StdEncoding.EncodeToString(b))
	t.Hash = secretHash(secret)
	if err := s.st.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	return secret, &TokenView{Token: *t, List: list}, s.audit(ctx, "token.create", list, a.Email, fmt.Sprintf("token %d %q", t.ID, name))
}

// Tokens returns the API tokens of the account of email.
func (s *Service) Tokens(ctx context.Context, email string) ([]TokenView, error) {
	a, err := s.account(ctx, email, "see API tokens")
	if err != nil {
		return nil, err
	}
	ts, err := s.st.Tokens(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		v := TokenView{Token: t}
		if t.ListID != 0 {
			if l, err := s.st.ListByID(ctx, t.ListID); err == nil {
				v.List = l.Address
			} else {
				v.List = "(deleted list)"
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeToken deletes one API token of the account of email.
func (s *Service) RevokeToken(ctx context.Context, email string, id int64) error {
	a, err := s.account(ctx, email, "revoke API tokens")
	if err != nil {
		return err
	}
	if err := s.st.DeleteToken(ctx, a.ID, id); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s has no token %d", ErrNotFound, a.Email, id)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "token.revoke", "", a.Email, fmt.Sprintf("token %d", id))
}

// TokenActor returns the actor an API token acts as. A token that is
// unknown, or limited to a list that is gone, is ErrUnauthenticated.
func (s *Service) TokenActor(ctx context.Context, secret, via string) (Actor, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return Actor{}, ErrUnauthenticated
	}
	t, err := s.st.TokenByHash(ctx, secretHash(secret), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	a, err := s.st.AccountByID(ctx, t.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	actor := actorOf(a, via)
	if t.ListID != 0 {
		l, err := s.st.ListByID(ctx, t.ListID)
		if errors.Is(err, store.ErrNotFound) {
			return Actor{}, ErrUnauthenticated
		} else if err != nil {
			return Actor{}, err
		}
		actor.List = l.Address
	}
	return actor, nil
}
