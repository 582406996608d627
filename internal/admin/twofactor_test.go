package admin_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/otptest"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const tfPassword = "correct horse battery staple"

// twoFactorService is a service on a fresh store at a fixed clock, with
// the accounts alice (owner) and admin, requiring two-factor sign-in of
// require.
func twoFactorService(t *testing.T, require string) (*admin.Service, *sqlstore.DB, *clock) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{5}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 12, 7, 12, 0, 10, 0, time.UTC)}
	s := admin.New(db, sealer, admin.Options{Now: c.Now, Require2FA: require})
	for _, u := range []struct{ email, role string }{{"alice@example.org", store.RoleOwner}, {"admin@example.org", store.RoleAdmin}} {
		if _, err := s.AddUser(ctx, u.email, u.role, tfPassword); err != nil {
			t.Fatal(err)
		}
	}
	return s, db, c
}

// enable turns two-factor sign-in on for email with a code oathtool
// computes, and returns the secret and the recovery codes.
func enable(t *testing.T, s *admin.Service, c *clock, email string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	as := s.As(admin.Actor{Email: email, Role: store.RoleOwner, Via: admin.ViaWeb})
	key, err := as.NewTOTP(ctx, email, "")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := as.EnableTOTP(ctx, email, key.Secret(), otptest.Code(t, key.Secret(), c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return key.Secret(), codes
}

// TestTwoFactorSignIn: with two-factor sign-in on, the password alone
// does not sign in; the code an authenticator app shows does, once; a
// code from the wrong time, a made-up one and a replayed one do not; each
// recovery code works once.
func TestTwoFactorSignIn(t *testing.T) {
	ctx := context.Background()
	s, db, c := twoFactorService(t, "")
	actor, step, err := s.SignIn(ctx, "alice@example.org", tfPassword, admin.ViaWeb)
	if err != nil || step != admin.SignedIn {
		t.Fatalf("before: SignIn = %v, %q; want signed in", err, step)
	}
	secret, recovery := enable(t, s, c, "alice@example.org")
	if len(recovery) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(recovery))
	}
	a, err := db.Account(ctx, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a.TOTPSecret, []byte(secret)) {
		t.Fatal("the secret is stored in the clear")
	}
	if _, step, err = s.SignIn(ctx, "alice@example.org", tfPassword, admin.ViaWeb); err != nil || step != admin.NeedCode {
		t.Fatalf("after: SignIn = %v, %q; want NeedCode", err, step)
	}
	if _, err := s.Login(ctx, "alice@example.org", tfPassword, admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Fatalf("Login with the password alone: %v, want ErrUnauthenticated", err)
	}
	// The code that turned it on does not sign in.
	enrolCode := otptest.Code(t, secret, c.Now())
	if _, err := s.VerifyCode(ctx, actor.AccountID, enrolCode, admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Errorf("the code that turned it on signed in: %v", err)
	}
	c.advance(30 * time.Second)
	for name, code := range map[string]string{
		"from five minutes ago": otptest.Code(t, secret, c.Now().Add(-5*time.Minute)),
		"made up":               "000000",
		"not digits":            "abcdef",
		"empty":                 "",
	} {
		if code == otptest.Code(t, secret, c.Now()) {
			continue
		}
		if _, err := s.VerifyCode(ctx, actor.AccountID, code, admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
			t.Errorf("a code %s: %v, want ErrUnauthenticated", name, err)
		}
	}
	now := otptest.Code(t, secret, c.Now())
	got, err := s.VerifyCode(ctx, actor.AccountID, now[:3]+" "+now[3:], admin.ViaWeb)
	if err != nil || got.Email != "alice@example.org" {
		t.Fatalf("the current code (typed with a space): %v, %+v", err, got)
	}
	if _, err := s.VerifyCode(ctx, actor.AccountID, now, admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Errorf("the same code again: %v, want ErrUnauthenticated", err)
	}
	// One step late still counts (a slow typist), once.
	c.advance(30 * time.Second)
	if _, err := s.VerifyCode(ctx, actor.AccountID, otptest.Code(t, secret, c.Now().Add(-30*time.Second)), admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Errorf("the previous step's code, already used: %v", err)
	}
	if _, err := s.VerifyCode(ctx, actor.AccountID, otptest.Code(t, secret, c.Now()), admin.ViaWeb); err != nil {
		t.Errorf("the next step's code: %v", err)
	}
	// Recovery codes: upper case, without the dash, once each.
	code := strings.ToUpper(strings.ReplaceAll(recovery[3], "-", ""))
	if _, err := s.VerifyCode(ctx, actor.AccountID, code, admin.ViaWeb); err != nil {
		t.Fatalf("a recovery code: %v", err)
	}
	if _, err := s.VerifyCode(ctx, actor.AccountID, recovery[3], admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Errorf("a recovery code again: %v", err)
	}
	tf, err := s.TwoFactor(ctx, "alice@example.org")
	if err != nil || !tf.Enabled || tf.RecoveryLeft != 9 {
		t.Errorf("TwoFactor = %+v, %v; want on with 9 recovery codes left", tf, err)
	}
	entries, err := db.Audit(ctx, store.AuditQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var logins []string
	for _, e := range entries {
		if e.Action == "user.login" {
			logins = append(logins, e.Detail)
		}
	}
	if len(logins) != 4 || !strings.Contains(logins[0], "recovery code (9 left)") {
		t.Errorf("sign-ins audited: %q; want the first without a code and three with one, the last a recovery code", logins)
	}
}

// TestTwoFactorEnrol: only the account itself sets it up, with a code
// that proves its app has the secret; turning it off takes the password,
// or an admin.
func TestTwoFactorEnrol(t *testing.T) {
	ctx := context.Background()
	s, _, c := twoFactorService(t, "")
	alice := s.As(admin.Actor{Email: "alice@example.org", Role: store.RoleOwner, Via: admin.ViaWeb})
	adm := s.As(admin.Actor{Email: "admin@example.org", Role: store.RoleAdmin, Via: admin.ViaWeb})
	if _, err := adm.NewTOTP(ctx, "alice@example.org", ""); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("an admin set up alice's phone: %v, want ErrForbidden", err)
	}
	key, err := alice.NewTOTP(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.URL(), "otpauth://totp/Sealpost:alice@example.org?") {
		t.Errorf("the QR code's URL: %s", key.URL())
	}
	again, err := alice.NewTOTP(ctx, "alice@example.org", key.Secret())
	if err != nil || again.Secret() != key.Secret() {
		t.Errorf("the same secret again: %v, %v", again, err)
	}
	if _, err := alice.NewTOTP(ctx, "alice@example.org", "not base32!"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("a made-up secret: %v, want ErrInvalid", err)
	}
	if _, err := alice.EnableTOTP(ctx, "alice@example.org", key.Secret(), otptest.Code(t, key.Secret(), c.Now().Add(-time.Hour))); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("an old code turned it on: %v, want ErrInvalid", err)
	}
	if _, err := alice.EnableTOTP(ctx, "alice@example.org", key.Secret(), otptest.Code(t, key.Secret(), c.Now())); err != nil {
		t.Fatal(err)
	}
	if err := alice.DisableTOTP(ctx, "alice@example.org", "wrong password"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("off with a wrong password: %v, want ErrInvalid", err)
	}
	if err := alice.DisableTOTP(ctx, "admin@example.org", ""); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("alice turned off the admin's: %v, want ErrForbidden", err)
	}
	if err := adm.DisableTOTP(ctx, "alice@example.org", ""); err != nil {
		t.Fatalf("an admin's reset: %v", err)
	}
	if _, step, err := s.SignIn(ctx, "alice@example.org", tfPassword, admin.ViaWeb); err != nil || step != admin.SignedIn {
		t.Errorf("after the reset: %v, %q; want signed in with the password", err, step)
	}
}

// TestTwoFactorRequired: Require2FA "admins" sends an admin without it
// to set it up, leaves owners alone, and keeps the admin from turning it
// off again; "all" asks it of everyone.
func TestTwoFactorRequired(t *testing.T) {
	ctx := context.Background()
	s, _, c := twoFactorService(t, admin.Require2FAAdmins)
	if _, step, err := s.SignIn(ctx, "admin@example.org", tfPassword, admin.ViaWeb); err != nil || step != admin.NeedEnrol {
		t.Errorf("admin without it: %v, %q; want NeedEnrol", err, step)
	}
	if _, step, err := s.SignIn(ctx, "alice@example.org", tfPassword, admin.ViaWeb); err != nil || step != admin.SignedIn {
		t.Errorf("owner: %v, %q; want signed in", err, step)
	}
	if _, err := s.Login(ctx, "admin@example.org", tfPassword, admin.ViaWeb); !errors.Is(err, admin.ErrUnauthenticated) {
		t.Errorf("Login skipped the required set-up: %v", err)
	}
	enable(t, s, c, "admin@example.org")
	adm := s.As(admin.Actor{Email: "admin@example.org", Role: store.RoleAdmin, Via: admin.ViaWeb})
	if err := adm.DisableTOTP(ctx, "admin@example.org", tfPassword); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("an admin turned off what is required of them: %v, want ErrInvalid", err)
	}
	all, _, _ := twoFactorService(t, admin.Require2FAAll)
	if _, step, err := all.SignIn(ctx, "alice@example.org", tfPassword, admin.ViaWeb); err != nil || step != admin.NeedEnrol {
		t.Errorf("all: owner %v, %q; want NeedEnrol", err, step)
	}
	if err := admin.CheckRequire2FA("everyone"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("CheckRequire2FA(everyone) = %v", err)
	}
}
