package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/oidctest"
	"github.com/sealpost/sealpost/internal/store"
)

// ssoFixture is the UI with single sign-on through a test provider;
// create makes accounts with that role for unknown verified addresses.
func ssoFixture(t *testing.T, create string) (*fixture, *oidctest.Provider) {
	f := newFixture(t)
	p := oidctest.New(t)
	f.auth.EnableOIDC(auth.OIDCOptions{Issuer: p.URL, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		RedirectURL: f.srv.URL + "/login/oidc/callback", Name: "Example ID", CreateRole: create})
	return f, p
}

// TestSingleSignOn: the sign-in page offers the provider; a person the
// provider signed in with a verified address is signed in to that
// address's account and lands where they were going; an unverified
// address, an address without an account, and a forged or tampered ID
// token sign nobody in.
func TestSingleSignOn(t *testing.T) {
	f, p := ssoFixture(t, "")
	cl := f.client()
	if page := cl.get("/login"); !strings.Contains(page.body, "Sign in with Example ID") {
		t.Fatalf("the sign-in page does not offer the provider:\n%s", page.body)
	}
	p.SignIn("Alice@Example.org", true)
	page := cl.get("/login/oidc?next=/account")
	if page.status != http.StatusOK || page.url != "/account" || !strings.Contains(page.body, "alice@example.org") {
		t.Fatalf("signed in through the provider: %d at %s\n%s", page.status, page.url, page.body)
	}
	entries, err := f.db.Audit(context.Background(), store.AuditQuery{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Action != "user.login" || !strings.Contains(entries[0].Detail, "single sign-on ("+p.URL+")") {
		t.Errorf("the sign-in is not audited as single sign-on: %+v", entries)
	}

	for name, c := range map[string]struct {
		email    string
		verified bool
		tamper   func(map[string]any)
		forge    bool
		want     string
	}{
		"unverified address": {email: "alice@example.org", want: "did not vouch for your email address"},
		"no account":         {email: "mallory@example.org", verified: true, want: "no account for mallory@example.org"},
		"forged signature":   {email: "alice@example.org", verified: true, forge: true, want: "could not be verified"},
		"wrong nonce":        {email: "alice@example.org", verified: true, tamper: func(c map[string]any) { c["nonce"] = "other" }, want: "could not be verified"},
		"other audience":     {email: "alice@example.org", verified: true, tamper: func(c map[string]any) { c["aud"] = "another-client" }, want: "could not be verified"},
		"other issuer":       {email: "alice@example.org", verified: true, tamper: func(c map[string]any) { c["iss"] = "https://evil.example" }, want: "could not be verified"},
		"expired":            {email: "alice@example.org", verified: true, tamper: func(c map[string]any) { c["exp"] = c["iat"].(int64) - 60 }, want: "could not be verified"},
	} {
		p.SignIn(c.email, c.verified)
		p.Tamper, p.Forge = c.tamper, c.forge
		cl := f.client()
		page := cl.get("/login/oidc")
		if page.status == http.StatusOK && !strings.HasPrefix(page.url, "/login") {
			t.Errorf("%s: signed in (%d at %s)", name, page.status, page.url)
			continue
		}
		if c.want != "" && (page.status != http.StatusForbidden || !strings.Contains(page.body, c.want)) {
			t.Errorf("%s: %d, want 403 saying %q\n%s", name, page.status, c.want, page.body)
		}
		if after := cl.get("/account"); !strings.HasPrefix(after.url, "/login") {
			t.Errorf("%s: /account afterwards at %s", name, after.url)
		}
	}
	p.Tamper, p.Forge = nil, false

	// A callback that did not start here (no state cookie, or another
	// state) signs nobody in.
	p.SignIn("alice@example.org", true)
	cl = f.client()
	if page := cl.get("/login/oidc/callback?code=x&state=y"); page.status != http.StatusForbidden || !strings.Contains(page.body, "Start it again") {
		t.Errorf("a callback without its start: %d\n%s", page.status, page.body)
	}
}

// TestSingleSignOnCreates: with create_accounts, a verified address
// without an account gets one, with the default role.
func TestSingleSignOnCreates(t *testing.T) {
	f, p := ssoFixture(t, store.RoleOwner)
	p.SignIn("carol@example.org", true)
	if page := f.client().get("/login/oidc"); page.status != http.StatusOK || page.url != "/" {
		t.Fatalf("a new address: %d at %s\n%s", page.status, page.url, page.body)
	}
	a, err := f.db.Account(context.Background(), "carol@example.org")
	if err != nil || a.Role != store.RoleOwner {
		t.Fatalf("carol's account: %+v, %v", a, err)
	}
	p.SignIn("dave@example.org", false)
	if page := f.client().get("/login/oidc"); page.status != http.StatusForbidden {
		t.Errorf("an unverified new address: %d", page.status)
	}
	if _, err := f.db.Account(context.Background(), "dave@example.org"); err == nil {
		t.Error("an account was made for an unverified address")
	}
}
