package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sealpost/sealpost/internal/oidctest"
	"github.com/sealpost/sealpost/internal/otptest"
)

// TestSignInInBrowser signs in to the admin UI in headless Chromium the
// three ways there are: with a password, then setting up two-factor
// sign-in from the account page (the key read off the page, the code
// computed by oathtool as a phone would) and signing in again with a
// code; and through single sign-on, at an OpenID Connect provider running
// in the test.
func TestSignInInBrowser(t *testing.T) {
	const password = "a browser test password"
	data := t.TempDir()
	provider := oidctest.New(t)
	provider.SignIn("alice@example.org", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf("[http]\nlisten = %q\n[oidc]\nissuer = %q\nclient_id = %q\nclient_secret = %q\nredirect_url = %q\nname = \"Example ID\"\n",
		httpAddr, provider.URL, provider.ClientID, provider.ClientSecret, "http://"+httpAddr+"/login/oidc/callback")
	if err := os.WriteFile(filepath.Join(data, "sealpost.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := writeFile(t, data, "alice.pw", []byte(password+"\n"))
	sealpost(t, data, nil, "user", "add", "alice@example.org", "--role", "owner", "--password-file", pw).want(t, exitOK)
	srv := startServe(t, data)
	b := newBrowser(t, srv.httpAddr(t))

	// signIn signs in on the sign-in page (where signing out ends) and
	// waits for what comes next to be shown (sel): the navigation must be
	// over before the test opens another page.
	signIn := func(sel string) {
		b.do("sign in with the password", chromedp.SendKeys(`#email`, "alice@example.org"), chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form[action="/login"] button[type=submit]`), chromedp.WaitVisible(sel))
	}
	signOut := func() {
		b.do("sign out", chromedp.Click(`form[action="/logout"] button[type=submit]`), chromedp.WaitVisible(`#password`))
	}

	b.open("/login")
	signIn(`main.main`)
	b.open("/account/two-factor")
	b.do("the set-up page", chromedp.WaitVisible(`img[alt^="QR code"]`))
	secret := strings.ReplaceAll(b.text(`[data-secret]`), " ", "")
	b.screenshot("two-factor")
	b.do("turn it on with the app's code", chromedp.SendKeys(`#code`, otptest.Code(t, secret, time.Now())),
		chromedp.Click(`form[action="/account/two-factor"] button[type=submit]`), chromedp.WaitVisible(`[data-recovery-codes]`))
	if codes := b.text(`[data-recovery-codes] ul`); strings.Count(codes, "-") != 10 {
		t.Errorf("the recovery codes shown: %q", codes)
	}
	b.open("/account")
	signOut()

	signIn(`#code`)
	b.screenshot("login-code")
	// The code of the next 30 seconds: the current one may be the one
	// that turned it on, which counts once.
	b.do("sign in with the next code", chromedp.SendKeys(`#code`, otptest.Code(t, secret, time.Now().Add(30*time.Second))),
		chromedp.Click(`form[action="/login/code"] button[type=submit]`), chromedp.WaitReady(`main.main`))
	if me := b.text(`.sidebar`); !strings.Contains(me, "alice@example.org") {
		t.Errorf("signed in with a code, the sidebar says: %q", me)
	}
	signOut()

	b.do("sign in through the provider", chromedp.Click(`a[data-sso]`), chromedp.WaitReady(`main.main`))
	if me := b.text(`.sidebar`); !strings.Contains(me, "alice@example.org") {
		t.Errorf("signed in through the provider, the sidebar says: %q", me)
	}
}
