package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strings"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/store"
)

// Two-factor sign-in's pages: the code asked after a right password
// (/login/code), and the account's page that sets it up, shows the
// recovery codes once and turns it off (/account/two-factor). An account
// that must set it up (Options.Require2FA) can open that page and nothing
// else until it has.

// stagePage is where a sign-in at stage goes next, then on to next.
func stagePage(stage, next string) string {
	switch stage {
	case store.SessionCode:
		return "/login/code?next=" + url.QueryEscape(next)
	case store.SessionEnrol:
		return "/account/two-factor?next=" + url.QueryEscape(next)
	}
	return next
}

// wrongCode is the one answer to a code that does not sign in.
const wrongCode = "That code is not right, or was used already. Type the six digits your app shows now, or one of your recovery codes."

func codePage(q *request) error {
	next := localPath(q.r.URL.Query().Get("next"))
	if _, err := q.s.opt.Auth.IdentifyStage(q.r, admin.ViaWeb, store.SessionCode); err != nil {
		http.Redirect(q.w, q.r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil
	}
	return q.render("login-code", "Two-factor code", "", loginData{Next: next})
}

func enterCode(q *request) error {
	if err := q.publicForm(); err != nil {
		return err
	}
	defer q.cleanup()
	f := q.r.PostForm
	next := localPath(f.Get("next"))
	_, err := q.s.opt.Auth.SecondFactor(q.w, q.r, f.Get("code"))
	var rl *auth.RateLimited
	switch {
	case err == nil:
		http.Redirect(q.w, q.r, next, http.StatusSeeOther)
		return nil
	case errors.Is(err, admin.ErrUnauthenticated) && q.s.opt.Auth.Stage(q.r) != store.SessionCode:
		// The halfway session ended (or never was): from the start.
		http.Redirect(q.w, q.r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil
	case errors.Is(err, admin.ErrUnauthenticated):
		q.status, q.flash = http.StatusUnauthorized, &flash{Error: true, Text: wrongCode}
	case errors.As(err, &rl):
		q.tooMany(rl.RetryAfter, "Too many wrong codes. Try again in "+auth.Wait(rl.RetryAfter)+".")
	default:
		return err
	}
	return q.render("login-code", "Two-factor code", "", loginData{Next: next})
}

// cancelSignIn ends a sign-in halfway (or any session) and goes back to
// the start.
func cancelSignIn(q *request) error {
	if err := auth.CheckOrigin(q.r); err != nil {
		return err
	}
	if err := q.s.opt.Auth.Logout(q.w, q.r); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/login", http.StatusSeeOther)
	return nil
}

// twoFactorData is the account's two-factor page.
type twoFactorData struct {
	admin.TwoFactor
	// Halfway: the account must set it up before anything else.
	Halfway bool
	Next    string
	// Secret and QR set it up: the new secret to type, and the QR code
	// (a PNG data URL) that holds it for the app.
	Secret, SecretGroups string
	QR                   template.URL
	// Recovery are the recovery codes, shown once after it was turned on.
	Recovery []string
}

func twoFactorPage(q *request) error {
	ctx := q.r.Context()
	tf, err := q.svc.TwoFactor(ctx, q.id.Actor.Email)
	if err != nil {
		return err
	}
	d := twoFactorData{TwoFactor: *tf, Halfway: q.id.Session.Stage != "", Next: localPath(q.r.URL.Query().Get("next"))}
	if q.form != nil && q.form.Get("secret") != "" {
		d.Secret = q.form.Get("secret") // a refused code: the same secret again
	}
	if err := d.newSecret(q); err != nil {
		return err
	}
	return q.render("two-factor", "Two-factor sign-in", "account", d)
}

// newSecret fills in the secret to set up (a new one unless d has one)
// and its QR code.
func (d *twoFactorData) newSecret(q *request) error {
	key, err := q.svc.NewTOTP(q.r.Context(), q.id.Actor.Email, d.Secret)
	if err != nil {
		return err
	}
	d.Secret = key.Secret()
	var groups []string
	for i := 0; i < len(d.Secret); i += 4 {
		groups = append(groups, d.Secret[i:min(i+4, len(d.Secret))])
	}
	d.SecretGroups = strings.Join(groups, " ")
	img, err := key.Image(240, 240)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
	return nil
}

func enableTwoFactor(q *request) (*done, error) {
	f := q.r.PostForm
	codes, err := q.svc.EnableTOTP(q.r.Context(), q.id.Actor.Email, f.Get("secret"), f.Get("code"))
	if err != nil {
		return nil, err
	}
	next := localPath(f.Get("next"))
	if q.id.Session.Stage != "" {
		// It was required before anything else: now signed in.
		if q.id, err = q.s.opt.Auth.Promote(q.w, q.r, q.id); err != nil {
			return nil, err
		}
	}
	tf, err := q.svc.TwoFactor(q.r.Context(), q.id.Actor.Email)
	if err != nil {
		return nil, err
	}
	q.flash = &flash{Text: "Two-factor sign-in is on. Keep the recovery codes below somewhere safe: this is the only time they are shown."}
	return nil, q.render("two-factor", "Two-factor sign-in", "account", twoFactorData{TwoFactor: *tf, Recovery: codes, Next: next})
}

func disableTwoFactor(q *request) (*done, error) {
	if err := q.svc.DisableTOTP(q.r.Context(), q.id.Actor.Email, q.r.PostFormValue("password")); err != nil {
		return nil, err
	}
	return &done{"/account/two-factor", "Two-factor sign-in is off: your password alone signs you in."}, nil
}
