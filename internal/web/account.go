package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/store"
)

// wrongCredentials is the one answer to a failed sign-in, whatever was
// wrong: it tells nothing about which accounts exist.
const wrongCredentials = "Wrong email address or password."

type loginData struct {
	Next  string
	Email string
	// SSO names the identity provider of single sign-on, when there is
	// one: the sign-in page offers it.
	SSO string
}

// localPath returns next when it is a path on this site, else "/": a
// sign-in must not send the browser elsewhere (an open redirect).
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

func loginPage(q *request) error {
	next := localPath(q.r.URL.Query().Get("next"))
	if id, err := q.s.opt.Auth.Identify(q.r, admin.ViaWeb); err == nil && id.Session != nil {
		http.Redirect(q.w, q.r, next, http.StatusSeeOther)
		return nil
	}
	if stage := q.s.opt.Auth.Stage(q.r); stage != "" {
		// Halfway through signing in: on to the next step.
		http.Redirect(q.w, q.r, stagePage(stage, next), http.StatusSeeOther)
		return nil
	}
	return q.render("login", "Sign in", "", loginData{Next: next, Email: q.form.Get("email"), SSO: q.ssoName()})
}

// ssoName is the identity provider's name, or "" without single sign-on.
func (q *request) ssoName() string {
	if o := q.s.opt.Auth.OIDC(); o != nil {
		return o.Name()
	}
	return ""
}

// startSSO sends the browser to the identity provider.
func startSSO(q *request) error {
	o := q.s.opt.Auth.OIDC()
	if o == nil {
		return admin.ErrNotFound
	}
	return o.Start(q.w, q.r, localPath(q.r.URL.Query().Get("next")))
}

// finishSSO takes the identity provider's answer.
func finishSSO(q *request) error {
	o := q.s.opt.Auth.OIDC()
	if o == nil {
		return admin.ErrNotFound
	}
	_, next, err := o.Finish(q.w, q.r)
	var refused *auth.ErrSSO
	switch {
	case err == nil:
		http.Redirect(q.w, q.r, localPath(next), http.StatusSeeOther)
		return nil
	case errors.As(err, &refused):
		if refused.Err != nil {
			q.s.opt.Logger.Warn("web: single sign-on refused", "err", err)
		}
		q.status, q.flash = http.StatusForbidden, &flash{Error: true, Text: refused.Reason}
		return q.render("login", "Sign in", "", loginData{Next: "/", SSO: q.ssoName()})
	}
	return err
}

func login(q *request) error {
	if err := q.publicForm(); err != nil {
		return err
	}
	defer q.cleanup()
	f := q.r.PostForm
	next := localPath(f.Get("next"))
	id, err := q.s.opt.Auth.Login(q.w, q.r, strings.TrimSpace(f.Get("email")), f.Get("password"))
	var rl *auth.RateLimited
	switch {
	case err == nil:
		http.Redirect(q.w, q.r, stagePage(id.Session.Stage, next), http.StatusSeeOther)
		return nil
	case errors.Is(err, admin.ErrUnauthenticated):
		q.status, q.flash = http.StatusUnauthorized, &flash{Error: true, Text: wrongCredentials}
	case errors.As(err, &rl):
		q.tooMany(rl.RetryAfter, sentence(rl.Error()))
	default:
		return err
	}
	return q.render("login", "Sign in", "", loginData{Next: next, Email: f.Get("email"), SSO: q.ssoName()})
}

func logout(q *request) (*done, error) {
	if err := q.s.opt.Auth.Logout(q.w, q.r); err != nil {
		return nil, err
	}
	return &done{"/login", "You are signed out."}, nil
}

// accountData is the signed-in account's page.
type accountData struct {
	Tokens    []admin.TokenView
	Lists     []string
	TwoFactor *admin.TwoFactor
}

func accountPage(q *request) error {
	ctx := q.r.Context()
	ts, err := q.svc.Tokens(ctx, q.id.Actor.Email)
	if err != nil {
		return err
	}
	ls, err := q.svc.Lists(ctx)
	if err != nil {
		return err
	}
	tf, err := q.svc.TwoFactor(ctx, q.id.Actor.Email)
	if err != nil {
		return err
	}
	d := accountData{Tokens: ts, TwoFactor: tf}
	for _, l := range ls {
		d.Lists = append(d.Lists, l.Address)
	}
	return q.render("account", "Your account", "account", d)
}

func changePassword(q *request) (*done, error) {
	pw, again := q.r.PostFormValue("password"), ""
	for _, k := range []string{"password2", "confirm", "password_confirm", "password_again"} {
		if again = q.r.PostFormValue(k); again != "" {
			break
		}
	}
	switch {
	case pw == "":
		return nil, fmt.Errorf("%w: type the new password", admin.ErrInvalid)
	case pw != again:
		return nil, fmt.Errorf("%w: the two passwords differ; type the same new password twice", admin.ErrInvalid)
	}
	if err := q.svc.SetUser(q.r.Context(), q.id.Actor.Email, "", pw); err != nil {
		return nil, err
	}
	// A new password ends every session of the account, this one too.
	q.s.opt.Auth.Logout(q.w, q.r)
	return &done{"/login", "Your password is changed, and every sign-in with the old one has ended. Sign in with the new one."}, nil
}

// secretData is a page that shows a secret once.
type secretData struct {
	What   string // "token" or "password"
	Name   string
	List   string
	Secret string
}

func createToken(q *request) (*done, error) {
	name, list := q.r.PostFormValue("name"), q.r.PostFormValue("list")
	secret, t, err := q.svc.CreateToken(q.r.Context(), q.id.Actor.Email, name, list)
	if err != nil {
		return nil, err
	}
	return nil, q.render("secret", "New API token", "account", secretData{What: "token", Name: t.Name, List: t.List, Secret: secret})
}

func revokeToken(q *request) (*done, error) {
	id, err := q.pathID("id")
	if err != nil {
		return nil, err
	}
	if err := q.svc.RevokeToken(q.r.Context(), q.id.Actor.Email, id); err != nil {
		return nil, err
	}
	return &done{"/account", "Revoked the token: programs that use it are refused from now on."}, nil
}

type usersData struct {
	Users []store.Account
	Roles []string
}

func usersPage(q *request) error {
	us, err := q.svc.Users(q.r.Context())
	if err != nil {
		return err
	}
	return q.render("users", "Users", "users", usersData{Users: us, Roles: []string{store.RoleOwner, store.RoleAdmin}})
}

func addUser(q *request) (*done, error) {
	if err := q.svc.CheckAdmin("add accounts"); err != nil {
		return nil, err
	}
	email, role, pw := strings.TrimSpace(q.r.PostFormValue("email")), q.r.PostFormValue("role"), q.r.PostFormValue("password")
	made := pw == ""
	if made {
		var err error
		if pw, err = q.svc.NewPassword(); err != nil {
			return nil, err
		}
	}
	a, err := q.svc.AddUser(q.r.Context(), email, role, pw)
	if err != nil {
		return nil, err
	}
	if made {
		return nil, q.render("secret", "New account", "users", secretData{What: "password", Name: a.Email, Secret: pw})
	}
	return &done{"/users", fmt.Sprintf("Added the account %s (%s).", a.Email, a.Role)}, nil
}

func removeUser(q *request) (*done, error) {
	email := q.r.PathValue("email")
	if strings.EqualFold(email, q.id.Actor.Email) {
		return nil, fmt.Errorf("%w: you cannot remove your own account while signed in with it", admin.ErrInvalid)
	}
	if err := q.svc.RemoveUser(q.r.Context(), email); err != nil {
		return nil, err
	}
	return &done{"/users", fmt.Sprintf("Removed the account %s; its sessions and API tokens have ended.", strings.ToLower(email))}, nil
}
