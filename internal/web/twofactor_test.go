package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/otptest"
)

// testClock is a settable clock for the service and the sign-in.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// twoFactorFixture is the UI at a settable clock, requiring two-factor
// sign-in of require.
func twoFactorFixture(t *testing.T, require string) (*fixture, *testClock) {
	c := &testClock{now: time.Now().Truncate(30 * time.Second).Add(5 * time.Second)}
	f := newFixtureWith(t, func(ao *admin.Options, uo *auth.Options) {
		ao.Now, uo.Now, ao.Require2FA = c.Now, c.Now, require
	})
	return f, c
}

var (
	secretField   = regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`)
	recoveryCodes = regexp.MustCompile(`<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>`)
)

// turnOn sets two-factor sign-in up on cl's account page with a code
// oathtool computes, and returns the secret and the recovery codes shown.
func turnOn(t *testing.T, cl *client, c *testClock) (string, []string) {
	t.Helper()
	p := cl.get("/account/two-factor")
	m := secretField.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("the set-up page has no secret or QR code: %d\n%s", p.status, p.body)
	}
	secret := m[1]
	p = cl.post("/account/two-factor", url.Values{"secret": {secret}, "code": {otptest.Code(t, secret, c.Now().Add(-time.Hour))}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "not the code your app shows now") ||
		!strings.Contains(p.body, `value="`+secret+`"`) {
		t.Fatalf("a wrong code: %d, want 422 with the same secret again\n%s", p.status, p.body)
	}
	p = cl.post("/account/two-factor", url.Values{"secret": {secret}, "code": {otptest.Code(t, secret, c.Now())}})
	var codes []string
	for _, m := range recoveryCodes.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, m[1])
	}
	if p.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("turning it on: %d with %d recovery codes, want 200 and 10\n%s", p.status, len(codes), p.body)
	}
	return secret, codes
}

// signInWithCode signs in as email with the password, and reports the
// page that asks for the code.
func signInWithCode(t *testing.T, f *fixture, email string) (*client, page) {
	t.Helper()
	cl := f.client()
	p := cl.post("/login", url.Values{"email": {email}, "password": {password}})
	if !strings.HasPrefix(p.url, "/login/code") || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
		t.Fatalf("the password did not lead to the code page: %d at %s\n%s", p.status, p.url, p.body)
	}
	return cl, p
}

// TestTwoFactorWeb: an owner turns two-factor sign-in on in the UI; then
// the password alone leads only to the code page, a wrong or replayed
// code is refused, the app's code and a recovery code sign in, and five
// wrong codes lock the account's codes out for a while.
func TestTwoFactorWeb(t *testing.T) {
	f, c := twoFactorFixture(t, "")
	secret, recovery := turnOn(t, f.signedIn("alice@example.org"), c)

	cl, _ := signInWithCode(t, f, "alice@example.org")
	for _, path := range []string{"/", "/lists/" + listA, "/account", "/account/two-factor"} {
		if p := cl.get(path); !strings.HasPrefix(p.url, "/login/code") {
			t.Errorf("%s with the password alone: ended at %s, want the code page", path, p.url)
		}
	}
	if p := cl.post("/login/code", url.Values{"code": {"123456"}}); p.status != http.StatusUnauthorized ||
		!strings.Contains(p.body, "That code is not right") {
		t.Errorf("a wrong code: %d\n%s", p.status, p.body)
	}
	// The code that turned it on was used then.
	if p := cl.post("/login/code", url.Values{"code": {otptest.Code(t, secret, c.Now())}}); p.status != http.StatusUnauthorized {
		t.Errorf("the code that turned it on: %d, want 401", p.status)
	}
	c.advance(30 * time.Second)
	code := otptest.Code(t, secret, c.Now())
	p := cl.post("/login/code", url.Values{"code": {code}, "next": {"/account"}})
	if p.status != http.StatusOK || p.url != "/account" || !strings.Contains(p.body, "recovery codes left") {
		t.Fatalf("the app's code: %d at %s\n%s", p.status, p.url, p.body)
	}
	// Another browser with the same code: used already.
	other, _ := signInWithCode(t, f, "alice@example.org")
	if p := other.post("/login/code", url.Values{"code": {code}}); p.status != http.StatusUnauthorized {
		t.Errorf("the same code in another browser: %d, want 401", p.status)
	}
	if p := other.post("/login/code", url.Values{"code": {recovery[0]}}); p.status != http.StatusOK || p.url != "/" {
		t.Errorf("a recovery code: %d at %s", p.status, p.url)
	}
	// Five wrong codes, then even the right one waits.
	third, _ := signInWithCode(t, f, "alice@example.org")
	for range 5 {
		third.post("/login/code", url.Values{"code": {"000000"}})
	}
	c.advance(30 * time.Second)
	if p := third.post("/login/code", url.Values{"code": {otptest.Code(t, secret, c.Now())}}); p.status != http.StatusTooManyRequests {
		t.Errorf("after five wrong codes: %d, want 429", p.status)
	}
	// Sign in as someone else: the halfway session ends.
	if p := third.post("/login/cancel", nil); !strings.HasSuffix(p.url, "/login") || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("cancel: ended at %s", p.url)
	}
}

// TestTwoFactorRequiredWeb: with require_2fa = admins, an admin without
// it signs in to the set-up page and nothing else (no navigation, every
// other page sends them back), and is signed in once it is on; an owner
// signs in as before.
func TestTwoFactorRequiredWeb(t *testing.T) {
	f, c := twoFactorFixture(t, admin.Require2FAAdmins)
	adm := f.client()
	p := adm.post("/login", url.Values{"email": {"admin@example.org"}, "password": {password}, "next": {"/users"}})
	if !strings.HasPrefix(p.url, "/account/two-factor") || !strings.Contains(p.body, "Required for your account") ||
		strings.Contains(p.body, `href="/users"`) {
		t.Fatalf("an admin without two-factor sign-in: %d at %s\n%s", p.status, p.url, p.body)
	}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		adm.csrf = m[1]
	}
	for _, path := range []string{"/", "/users", "/account"} {
		if p := adm.get(path); !strings.HasPrefix(p.url, "/account/two-factor") {
			t.Errorf("%s before setting it up: ended at %s", path, p.url)
		}
	}
	if p := adm.post("/users", url.Values{"email": {"eve@example.org"}, "role": {"admin"}}); p.status == http.StatusOK && strings.Contains(p.body, "eve@example.org") {
		t.Errorf("an account was added before two-factor sign-in was set up")
	}
	turnOn(t, adm, c)
	if p := adm.get("/users"); p.status != http.StatusOK || p.url != "/users" {
		t.Errorf("/users after setting it up: %d at %s", p.status, p.url)
	}
	if p := f.signedIn("alice@example.org").get("/"); p.status != http.StatusOK || p.url != "/" {
		t.Errorf("an owner: %d at %s", p.status, p.url)
	}
}
