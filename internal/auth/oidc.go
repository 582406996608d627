package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sealpost/sealpost/internal/admin"
)

// Single sign-on with OpenID Connect: the sign-in page sends the browser
// to the organisation's identity provider (authorization code flow with
// PKCE, a state and a nonce), and the provider's ID token, verified
// against its published keys, names the account by its verified email
// address. The provider's own second factor stands for Sealpost's.

// OIDCOptions configure single sign-on.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL (its discovery document is
	// Issuer + "/.well-known/openid-configuration").
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this UI's callback, as registered with the
	// provider: https://HOST/login/oidc/callback.
	RedirectURL string
	// Name is the provider's name on the sign-in button.
	Name string
	// CreateRole, when set, makes an account with that role for a
	// verified address that has none; else such a sign-in is refused.
	CreateRole string
	// Client is the HTTP client that talks to the provider; nil is
	// http.DefaultClient with a timeout.
	Client *http.Client
}

// OIDC signs people in through an identity provider.
type OIDC struct {
	auth *Auth
	opt  OIDCOptions

	mu       sync.Mutex // guards the provider, found on first use
	provider *oidc.Provider
}

// EnableOIDC makes a sign single-on through the provider opt names; the
// provider is asked for its configuration at the first sign-in, not now
// (a provider that is down does not keep Sealpost from starting).
func (a *Auth) EnableOIDC(opt OIDCOptions) *OIDC {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if opt.Name == "" {
		opt.Name = "single sign-on"
	}
	a.oidc = &OIDC{auth: a, opt: opt}
	return a.oidc
}

// OIDC is single sign-on, or nil when it is not configured.
func (a *Auth) OIDC() *OIDC { return a.oidc }

// Name is the provider's name, for the sign-in button.
func (o *OIDC) Name() string { return o.opt.Name }

// config returns the OAuth 2 configuration and the ID token verifier,
// fetching the provider's discovery document the first time.
func (o *OIDC) config(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.opt.Client), o.opt.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("the identity provider %s did not answer as one: %w", o.opt.Issuer, err)
		}
		o.provider = p
	}
	cfg := &oauth2.Config{ClientID: o.opt.ClientID, ClientSecret: o.opt.ClientSecret, RedirectURL: o.opt.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email"}}
	return cfg, o.provider.Verifier(&oidc.Config{ClientID: o.opt.ClientID}), nil
}

// oidcCookie carries the sign-in's state, nonce, PKCE verifier and where
// to go after it, between the redirect to the provider and its answer.
// SameSite=Lax: the answer is a top-level navigation from the provider's
// site, which a Strict cookie would not come with.
const oidcCookie = "sealpost_oidc"

// oidcTTL is how long a sign-in at the provider may take.
const oidcTTL = 10 * time.Minute

// Start sends the browser to the provider to sign in, to come back to
// next.
func (o *OIDC) Start(w http.ResponseWriter, r *http.Request, next string) error {
	cfg, _, err := o.config(r.Context())
	if err != nil {
		return err
	}
	state, err := randomToken()
	if err != nil {
		return err
	}
	nonce, err := randomToken()
	if err != nil {
		return err
	}
	verifier := oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: strings.Join([]string{state, nonce, verifier, next}, "|"),
		Path: "/login/oidc", MaxAge: int(oidcTTL.Seconds()), HttpOnly: true, Secure: o.auth.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
	return nil
}

// ErrSSO is a single sign-on that did not sign in: Reason is for the
// person (nothing of the provider's answer but what they can act on),
// Err for the log, when there is more to say.
type ErrSSO struct {
	Reason string
	Err    error
}

func (e *ErrSSO) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *ErrSSO) Unwrap() error { return e.Err }

// unverified is the answer to a provider's answer that does not verify.
func unverified(err error) *ErrSSO {
	return &ErrSSO{Reason: "The identity provider's answer could not be verified, so it signs nobody in. Try again; if it happens again, tell an administrator.", Err: err}
}

// Finish takes the provider's answer (the callback's request), verifies
// its ID token and signs the account of its verified address in. It
// returns the new identity and where to go next.
func (o *OIDC) Finish(w http.ResponseWriter, r *http.Request) (*Identity, string, error) {
	ctx := r.Context()
	c, err := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/login/oidc", MaxAge: -1, HttpOnly: true, Secure: o.auth.secure(r),
		SameSite: http.SameSiteLaxMode})
	if err != nil {
		return nil, "", &ErrSSO{Reason: "The sign-in took too long or began elsewhere. Start it again."}
	}
	parts := strings.SplitN(c.Value, "|", 4)
	q := r.URL.Query()
	if len(parts) != 4 || q.Get("state") == "" || q.Get("state") != parts[0] {
		return nil, "", &ErrSSO{Reason: "The sign-in took too long or began elsewhere. Start it again."}
	}
	nonce, verifier, next := parts[1], parts[2], parts[3]
	if e := q.Get("error"); e != "" {
		return nil, "", &ErrSSO{Reason: "The identity provider did not sign you in (" + e + ")."}
	}
	cfg, verify, err := o.config(ctx)
	if err != nil {
		return nil, "", err
	}
	tok, err := cfg.Exchange(oidc.ClientContext(ctx, o.opt.Client), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", unverified(fmt.Errorf("exchanging the code: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", unverified(errors.New("the provider's answer has no ID token"))
	}
	idt, err := verify.Verify(ctx, raw)
	if err != nil {
		return nil, "", unverified(fmt.Errorf("the ID token: %w", err))
	}
	if idt.Nonce != nonce {
		return nil, "", unverified(errors.New("the ID token's nonce is not this sign-in's"))
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", unverified(fmt.Errorf("the ID token's claims: %w", err))
	}
	if claims.Email == "" || claims.Verified == nil || !*claims.Verified {
		return nil, "", &ErrSSO{Reason: "The identity provider did not vouch for your email address, so it cannot sign you in here."}
	}
	actor, err := o.auth.admin.SignInVerified(ctx, claims.Email, o.opt.CreateRole, o.opt.Issuer, admin.ViaWeb)
	if errors.Is(err, admin.ErrUnauthenticated) {
		o.auth.opt.Metrics.Login("failed")
		return nil, "", &ErrSSO{Reason: "There is no account for " + claims.Email + " here. Ask an administrator for one."}
	} else if err != nil {
		return nil, "", err
	}
	o.auth.opt.Metrics.Login("ok")
	id, err := o.auth.startSession(w, r, actor, "", o.auth.opt.SessionTTL)
	return id, next, err
}
