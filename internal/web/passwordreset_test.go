package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/testclock"
)

const (
	resetBase   = "https://sealpost.example.org"
	resetSender = "Sealpost <postmaster@example.org>"
	resetAnswer = "If an account has that address, a message with a link is on its way; the link works for one hour."
	newPassword = "a new and longer passphrase"
)

// resetLink finds a reset link in text.
var resetLink = regexp.MustCompile(regexp.QuoteMeta(resetBase) + `(/login/reset/[A-Za-z0-9_-]{43})\b`)

// resetFixture is the UI at a settable clock, sending reset links that
// start with resetBase; require is Options.Require2FA.
func resetFixture(t *testing.T, require string) (*fixture, *testclock.Clock) {
	// Now (the pipeline's clock is the real one): keys gpg made before
	// are valid at the clock's start.
	c := testclock.New(time.Now())
	f := newFixtureWith(t, func(ao *admin.Options, uo *auth.Options) {
		ao.Now, uo.Now, ao.Require2FA = c.Now, c.Now, require
		ao.ResetURL, ao.ResetSender = resetBase, resetSender
	})
	return f, c
}

// queued returns the deliveries queued to addr, each with its message
// as it is sent (opened, when it is sealed in the queue).
func (f *fixture) queued(addr string) []store.Delivery {
	f.t.Helper()
	ctx := context.Background()
	ds, err := f.db.Queue(ctx, store.DeliveryQuery{Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.Delivery
	for _, d := range ds {
		if d.To != addr {
			continue
		}
		full, err := f.db.Delivery(ctx, d.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		if full.Sealed {
			if bytes.Contains(full.Data, []byte("/login/reset/")) {
				f.t.Error("a sealed copy holds the link in clear")
			}
			if full.Data, err = f.sealer.Open(full.Data, keyring.DeliveryLabel(full.Ref, full.To)); err != nil {
				f.t.Fatal(err)
			}
		}
		out = append(out, *full)
	}
	return out
}

// TestPasswordResetByMail: alice, owner of list A with her gpg key on
// file there as a member, asks for a link. It comes from the list's
// -owner address, encrypted to her key and signed by the list's key
// (gpg decrypts and verifies it); the answer is the same as for an
// address without an account, for which nothing is sent. The link sets
// the password once: the old one fails, the new one signs in, every
// session of the account has ended, and it is audited.
func TestPasswordResetByMail(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Alice <alice@example.org>")
	time.Sleep(time.Second) // gpg's times are in seconds
	f, _ := resetFixture(t, "")
	ctx := context.Background()
	// Without the welcome: the queue is to hold the reset mail alone.
	if _, _, err := f.svc.AddMemberWith(ctx, listA, "alice@example.org", g.Export(fpr), admin.MemberOptions{NoWelcome: true}); err != nil {
		t.Fatal(err)
	}
	before := f.signedIn("alice@example.org") // a session the reset ends
	cl := f.client()
	if p := cl.get("/login"); !strings.Contains(p.body, `href="/login/reset"`) {
		t.Error("the sign-in page does not link the password reset")
	}
	if p := cl.get("/login/reset"); p.status != http.StatusOK || !strings.Contains(p.body, `name="email"`) {
		t.Fatalf("GET /login/reset: %d\n%s", p.status, p.body)
	}
	account := cl.post("/login/reset", url.Values{"email": {"alice@example.org"}})
	nobody := cl.post("/login/reset", url.Values{"email": {"nobody@example.org"}})
	for name, p := range map[string]page{"account": account, "no account": nobody} {
		if p.status != http.StatusOK || !strings.Contains(p.body, resetAnswer) {
			t.Errorf("%s: %d\n%s", name, p.status, p.body)
		}
	}
	if strip(account.body) != strip(nobody.body) {
		t.Error("the answers for an account and an unknown address differ")
	}
	if ds := f.queued("nobody@example.org"); len(ds) != 0 {
		t.Errorf("%d messages queued for an address without an account", len(ds))
	}
	ds := f.queued("alice@example.org")
	if len(ds) != 1 {
		t.Fatalf("%d messages queued for alice, want 1", len(ds))
	}
	msg := string(ds[0].Data)
	if !strings.Contains(msg, "From: \"Sealpost for "+listA+"\" <a-owner@lists.example.org>") ||
		!strings.Contains(msg, "multipart/encrypted") || ds[0].From != "" {
		t.Errorf("the reset mail is not from the list's -owner address, encrypted, with a null sender:\n%.1500s", msg)
	}
	if strings.Contains(msg, "/login/reset/") {
		t.Fatal("the link is in clear in an encrypted reset mail")
	}
	l, err := f.svc.List(ctx, listA)
	if err != nil {
		t.Fatal(err)
	}
	g.Import(l.PublicKey)
	r := g.Run(ds[0].Data, "--decrypt")
	if !r.Verified(l.KeyFingerprint) {
		t.Fatalf("gpg does not decrypt the reset mail and verify the list's signature:\n%s", r.Report())
	}
	m := resetLink.FindStringSubmatch(string(r.Stdout))
	if m == nil {
		t.Fatalf("no link in the decrypted mail:\n%s", r.Stdout)
	}
	link := m[1]

	if p := cl.get(link); p.status != http.StatusOK || !strings.Contains(p.body, `name="password2"`) {
		t.Fatalf("GET the link: %d\n%s", p.status, p.body)
	}
	// Refused passwords leave the link working.
	if p := cl.post(link, url.Values{"password": {newPassword}, "password2": {newPassword + "x"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "The two passwords differ") {
		t.Errorf("two different passwords: %d\n%s", p.status, p.body)
	}
	if p := cl.post(link, url.Values{"password": {"short"}, "password2": {"short"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, fmt.Sprintf("at least %d characters", admin.MinPasswordLength)) {
		t.Errorf("a short password: %d\n%s", p.status, p.body)
	}
	p := cl.post(link, url.Values{"password": {newPassword}, "password2": {newPassword}})
	if p.url != "/login" || !strings.Contains(p.body, "Your new password is set") {
		t.Fatalf("setting the password: %d at %s\n%s", p.status, p.url, p.body)
	}
	if p := cl.post("/login", url.Values{"email": {"alice@example.org"}, "password": {password}}); p.status != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", p.status)
	}
	if p := f.client().post("/login", url.Values{"email": {"alice@example.org"}, "password": {newPassword}}); p.status != http.StatusOK || p.url != "/" {
		t.Errorf("the new password: %d at %s", p.status, p.url)
	}
	if p := before.get("/account"); p.url != "/login?next=%2Faccount" {
		t.Errorf("a session from before the reset still works: at %s", p.url)
	}
	// Once only.
	if p := cl.get(link); p.status != http.StatusNotFound || !strings.Contains(p.body, "does not work any more") {
		t.Errorf("GET a used link: %d\n%s", p.status, p.body)
	}
	if p := cl.post(link, url.Values{"password": {"yet another passphrase"}, "password2": {"yet another passphrase"}}); p.status != http.StatusNotFound {
		t.Errorf("POST a used link: %d", p.status)
	}
	entries, err := f.svc.Audit(ctx, "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Target == "alice@example.org" {
			actions = append(actions, e.Action+": "+e.Detail)
		}
	}
	audit := strings.Join(actions, "\n")
	if !strings.Contains(audit, "account.password.reset: via mail link") ||
		!strings.Contains(audit, "account.password.reset.mail: link sent by mail, signed by "+listA) {
		t.Errorf("audit log of alice:\n%s", audit)
	}
}

// TestPasswordResetPlainKeepsTwoFactor: bob has no key on file: his link
// comes in plain text from the installation's sender, with nothing of
// the account but the link. His two-factor sign-in stays: after the
// reset, the new password leads to the code.
func TestPasswordResetPlainKeepsTwoFactor(t *testing.T) {
	f, c := resetFixture(t, "")
	bob := f.signedIn("bob@example.org")
	turnOn(t, bob, c)
	cl := f.client()
	cl.post("/login/reset", url.Values{"email": {"bob@example.org"}})
	ds := f.queued("bob@example.org")
	if len(ds) != 1 {
		t.Fatalf("%d messages queued for bob, want 1", len(ds))
	}
	if !ds[0].Sealed {
		t.Error("the plain reset mail is not sealed in the queue")
	}
	msg := string(ds[0].Data)
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	if !strings.Contains(head, "From: "+resetSender) || !strings.Contains(head, "Content-Type: text/plain") {
		t.Errorf("not plain text from the installation's sender:\n%s", head)
	}
	for _, leak := range []string{listB, "owner", "two-factor", "Owner"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the plain reset mail tells %q:\n%s", leak, msg)
		}
	}
	m := resetLink.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the mail:\n%s", body)
	}
	if p := cl.post(m[1], url.Values{"password": {newPassword}, "password2": {newPassword}}); p.url != "/login" {
		t.Fatalf("setting the password: %d at %s\n%s", p.status, p.url, p.body)
	}
	p := f.client().post("/login", url.Values{"email": {"bob@example.org"}, "password": {newPassword}})
	if !strings.HasPrefix(p.url, "/login/code") {
		t.Errorf("after the reset, signing in ends at %s, want the two-factor code", p.url)
	}
}

// TestPasswordResetExpires: a link does not work after its hour, nor
// once the password changed by another route.
func TestPasswordResetExpires(t *testing.T) {
	f, c := resetFixture(t, "")
	cl := f.client()
	link := func() string {
		t.Helper()
		cl.post("/login/reset", url.Values{"email": {"alice@example.org"}})
		ds := f.queued("alice@example.org")
		m := resetLink.FindStringSubmatch(string(ds[len(ds)-1].Data))
		if m == nil {
			t.Fatal("no link in the mail")
		}
		return m[1]
	}
	old := link()
	c.Advance(admin.ResetTTL + time.Second)
	if p := cl.get(old); p.status != http.StatusNotFound || !strings.Contains(p.body, "does not work any more") {
		t.Errorf("GET an expired link: %d", p.status)
	}
	if p := cl.post(old, url.Values{"password": {newPassword}, "password2": {newPassword}}); p.status != http.StatusNotFound {
		t.Errorf("POST an expired link: %d", p.status)
	}
	fresh := link()
	if err := f.svc.As(admin.Operator).SetUser(context.Background(), "alice@example.org", "", "changed by the admin"); err != nil {
		t.Fatal(err)
	}
	if p := cl.get(fresh); p.status != http.StatusNotFound {
		t.Errorf("GET a link after the password changed: %d", p.status)
	}
}

// TestPasswordResetLimits: three requests per address within the hour,
// ten per client; then 429 with Retry-After, and nothing more is sent.
func TestPasswordResetLimits(t *testing.T) {
	f, _ := resetFixture(t, "")
	cl := f.client()
	for i := range 3 {
		if p := cl.post("/login/reset", url.Values{"email": {"alice@example.org"}}); p.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.status)
		}
	}
	p := cl.post("/login/reset", url.Values{"email": {"Alice@Example.org"}})
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "try again") {
		t.Errorf("fourth request for alice: %d, Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	if n := len(f.queued("alice@example.org")); n != 3 {
		t.Errorf("%d mails to alice, want 3", n)
	}
	for i := range 6 {
		if p := cl.post("/login/reset", url.Values{"email": {fmt.Sprintf("u%d@example.org", i)}}); p.status != http.StatusOK {
			t.Fatalf("request %d from the client: %d", i+5, p.status)
		}
	}
	p = cl.post("/login/reset", url.Values{"email": {"bob@example.org"}})
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("11th request from the client: %d", p.status)
	}
	if n := len(f.queued("bob@example.org")); n != 0 {
		t.Errorf("a refused request sent bob %d mails", n)
	}
	// Refused from another site.
	req, _ := http.NewRequest("POST", f.srv.URL+"/login/reset", strings.NewReader("email=bob%40example.org"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := f.srv.Client().Do(req)
	if p := read(t, resp, err); p.status != http.StatusForbidden {
		t.Errorf("cross-site request: %d", p.status)
	}
}

// TestPasswordResetOperatorKey: the admin has a role on no list, and a
// key the operator imported into the keyring: the link comes from the
// installation's sender, encrypted to that key and unsigned (no list
// signs for the installation), and gpg decrypts it. A key that only a
// list's member holds is not taken for an account without that list:
// bob's link stays plain although alice's list holds a key for him.
func TestPasswordResetOperatorKey(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Admin <admin@example.org>")
	other := g.GenKey("Bob by Alice <bob@example.org>")
	time.Sleep(time.Second) // gpg's times are in seconds
	f, _ := resetFixture(t, "")
	ctx := context.Background()
	if _, err := f.svc.ImportKeys(ctx, "admin.asc", g.Export(fpr), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.AddMemberWith(ctx, listA, "bob@example.org", g.Export(other), admin.MemberOptions{NoWelcome: true}); err != nil {
		t.Fatal(err)
	}
	cl := f.client()
	cl.post("/login/reset", url.Values{"email": {"admin@example.org"}})
	cl.post("/login/reset", url.Values{"email": {"bob@example.org"}})
	ds := f.queued("admin@example.org")
	if len(ds) != 1 {
		t.Fatalf("%d messages queued for the admin, want 1", len(ds))
	}
	msg := string(ds[0].Data)
	if !strings.Contains(msg, "From: "+resetSender) || !strings.Contains(msg, "multipart/encrypted") || strings.Contains(msg, "/login/reset/") {
		t.Fatalf("not encrypted from the installation's sender:\n%.1200s", msg)
	}
	r := g.Run(ds[0].Data, "--decrypt")
	if r.ExitCode() != 0 || !r.HasStatus("DECRYPTION_OKAY") || resetLink.FindSubmatch(r.Stdout) == nil {
		t.Errorf("gpg does not decrypt the admin's reset mail to a link:\n%s\n%s", r.Report(), r.Stdout)
	}
	bob := f.queued("bob@example.org")
	if len(bob) != 1 || !strings.Contains(string(bob[0].Data), "Content-Type: text/plain") {
		t.Errorf("bob's link is not plain text: %d messages", len(bob))
	}
}
