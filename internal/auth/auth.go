package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/obs"
	"github.com/sealpost/sealpost/internal/store"
)

// Store keeps the sessions of signed-in browsers and the counts of the
// sign-in limits.
type Store interface {
	AttemptStore
	CreateSession(ctx context.Context, se *store.Session) error
	Session(ctx context.Context, hash string, now time.Time) (*store.Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// Options configure an Auth.
type Options struct {
	// SecureCookies marks the session cookie Secure (sent over HTTPS
	// only) always. Without it, the cookie is Secure when the request
	// came over HTTPS: directly, or through a reverse proxy on the same
	// host that says so (X-Forwarded-Proto: https from a loopback peer).
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts; 0 means 12 hours.
	SessionTTL time.Duration
	Now        func() time.Time
	Metrics    *obs.Metrics
}

// Login rate limits: failures per client address and per account within
// loginWindow. The account limit is higher, so that someone guessing at
// one account from many addresses is slowed without locking its owner
// out for long.
const (
	loginWindow       = 15 * time.Minute
	loginFailuresIP   = 10
	loginFailuresUser = 20
	// codeFailures: wrong two-factor codes per account (a million codes,
	// five guesses in a quarter of an hour).
	codeFailures = 5
)

// Auth identifies the person or program behind a request: by an API
// token (Authorization: Bearer) or a session cookie.
type Auth struct {
	admin   *admin.Service
	st      Store
	opt     Options
	byIP    *Limiter
	byEmail *Limiter
	byCode  *Limiter // two-factor codes, per account
	oidc    *OIDC    // single sign-on, when configured
}

// New returns an Auth that checks credentials with svc (acting as the
// operator) and keeps sessions in st.
func New(svc *admin.Service, st Store, opt Options) *Auth {
	if opt.SessionTTL == 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Auth{admin: svc, st: st, opt: opt,
		byIP:    NewLimiter(st, "sign-in per client", loginFailuresIP, loginWindow, opt.Now),
		byEmail: NewLimiter(st, "sign-in per account", loginFailuresUser, loginWindow, opt.Now),
		byCode:  NewLimiter(st, "two-factor code per account", codeFailures, loginWindow, opt.Now)}
}

// Limiter returns a limit counted in the same store as the sign-in
// limits, for another public form (see NewLimiter).
func (a *Auth) Limiter(scope string, max int, window time.Duration) *Limiter {
	return NewLimiter(a.st, scope, max, window, a.opt.Now)
}

// Identity is who made a request.
type Identity struct {
	Actor admin.Actor
	// Session is the browser session, or nil for an API token. Requests
	// that change something with a session must carry its CSRF token.
	Session *store.Session
}

// CSRF returns the token the session's forms must carry ("" for a token).
func (id *Identity) CSRF() string {
	if id == nil || id.Session == nil {
		return ""
	}
	return id.Session.CSRF
}

// CookieName is the session cookie's name.
const CookieName = "sealpost_session"

// secure reports whether r came over HTTPS, so that the cookie must be
// Secure.
func (a *Auth) secure(r *http.Request) bool {
	if a.opt.SecureCookies || r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback() && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Identify returns who made r: the holder of its bearer token or of its
// session cookie, acting via via (admin.ViaAPI or admin.ViaWeb).
// admin.ErrUnauthenticated means neither is valid; a request with a bad
// bearer token is not tried with its cookie. A session halfway through
// signing in (waiting for a two-factor code, or for two-factor sign-in to
// be set up) is not valid here: only IdentifyStage takes it.
func (a *Auth) Identify(r *http.Request, via string) (*Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, admin.ErrUnauthenticated
		}
		actor, err := a.admin.TokenActor(r.Context(), strings.TrimSpace(secret), via)
		if err != nil {
			return nil, err
		}
		return &Identity{Actor: actor}, nil
	}
	return a.IdentifyStage(r, via, "")
}

// IdentifyStage returns who holds r's session cookie when the session is
// at stage ("" signed in, store.SessionCode, store.SessionEnrol), for the
// pages of that step of signing in.
func (a *Auth) IdentifyStage(r *http.Request, via, stage string) (*Identity, error) {
	ctx := r.Context()
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, admin.ErrUnauthenticated
	}
	se, err := a.st.Session(ctx, hashSecret(c.Value), a.opt.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, admin.ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	if se.Stage != stage {
		return nil, admin.ErrUnauthenticated
	}
	actor, err := a.admin.AccountActor(ctx, se.AccountID, via)
	if err != nil {
		return nil, err
	}
	return &Identity{Actor: actor, Session: se}, nil
}

// Stage is the stage of r's session ("" when it has none or is signed
// in): where the sign-in page sends a browser that is halfway.
func (a *Auth) Stage(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return ""
	}
	se, err := a.st.Session(r.Context(), hashSecret(c.Value), a.opt.Now())
	if err != nil {
		return ""
	}
	return se.Stage
}

// ErrCSRF is returned for a request that changes something with a
// session cookie but without the session's CSRF token, or that comes
// from another site.
var ErrCSRF = errors.New("the request did not come from Sealpost's own pages (CSRF check failed); reload the page and try again")

// crossOrigin refuses unsafe requests that browsers say come from another
// origin (Sec-Fetch-Site, Origin).
var crossOrigin = http.NewCrossOriginProtection()

// CheckCSRF checks an unsafe request (anything but GET, HEAD, OPTIONS)
// made by id: it must not come from another origin, and with a session it
// must carry the session's CSRF token, in the X-CSRF-Token header or the
// form field "csrf". Requests with a bearer token need no CSRF token: a
// browser never adds one by itself.
func (a *Auth) CheckCSRF(r *http.Request, id *Identity) error {
	if safeMethod(r.Method) {
		return nil
	}
	if err := crossOrigin.Check(r); err != nil {
		return ErrCSRF
	}
	if id == nil || id.Session == nil {
		return nil
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		// Reading the form reads the body: bound it, uploads included.
		r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
		got = r.PostFormValue("csrf")
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRF)) != 1 {
		return ErrCSRF
	}
	return nil
}

// CheckOrigin refuses an unsafe request that browsers say comes from
// another origin: for forms that have no session yet (sign-in, member
// self-service).
func CheckOrigin(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	if crossOrigin.Check(r) != nil {
		return ErrCSRF
	}
	return nil
}

// MaxFormBytes bounds a form's body (a key file upload with its fields).
const MaxFormBytes = 17 << 20

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// RateLimited is returned by Login when too many sign-ins failed.
type RateLimited struct{ RetryAfter time.Duration }

func (e *RateLimited) Error() string {
	return "Too many failed sign-ins. Try again in " + Wait(e.RetryAfter) + "."
}

// Wait says roughly how long a wait is, for people: "a minute", "12
// minutes", "an hour", "3 hours".
func Wait(d time.Duration) string {
	switch m := int(d.Round(time.Minute).Minutes()); {
	case m <= 1:
		return "a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	case m < 90:
		return "an hour"
	default:
		return fmt.Sprintf("%d hours", (m+30)/60)
	}
}

// Login checks email and password, and on success starts a session: it
// sets the session cookie on w and returns the new identity. Failures
// are admin.ErrUnauthenticated, or *RateLimited after too many of them
// from the same address or for the same account.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request, email, password string) (*Identity, error) {
	ctx := r.Context()
	ip := ClientIP(r)
	account := strings.ToLower(strings.TrimSpace(email))
	for _, l := range []struct {
		lim *Limiter
		key string
	}{{a.byIP, ip}, {a.byEmail, account}} {
		ok, after, err := l.lim.Allow(ctx, l.key)
		if err != nil {
			return nil, err
		}
		if !ok {
			a.opt.Metrics.Login("limited")
			return nil, &RateLimited{RetryAfter: after}
		}
	}
	actor, step, err := a.admin.SignIn(ctx, email, password, admin.ViaWeb)
	if errors.Is(err, admin.ErrUnauthenticated) {
		a.opt.Metrics.Login("failed")
		if err := a.byIP.Fail(ctx, ip); err != nil {
			return nil, err
		}
		if err := a.byEmail.Fail(ctx, account); err != nil {
			return nil, err
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	if step == admin.NeedCode {
		// The account's failures are forgotten only when the code is
		// right too: a right password alone says nothing.
		a.opt.Metrics.Login("password")
		return a.startSession(w, r, actor, store.SessionCode, stageTTL)
	}
	if err := a.byEmail.Reset(ctx, account); err != nil {
		return nil, err
	}
	a.opt.Metrics.Login("ok")
	return a.startSession(w, r, actor, string(step), a.ttl(string(step)))
}

// stageTTL is how long a session halfway through signing in lasts.
const stageTTL = 10 * time.Minute

func (a *Auth) ttl(stage string) time.Duration {
	if stage != "" {
		return stageTTL
	}
	return a.opt.SessionTTL
}

// startSession starts a session of actor at stage, lasting ttl: it is
// recorded and its cookie set on w.
func (a *Auth) startSession(w http.ResponseWriter, r *http.Request, actor admin.Actor, stage string, ttl time.Duration) (*Identity, error) {
	secret, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	now := a.opt.Now()
	se := &store.Session{Hash: hashSecret(secret), AccountID: actor.AccountID, CSRF: csrf, Stage: stage, CreatedAt: now,
		ExpiresAt: now.Add(ttl)}
	if err := a.st.CreateSession(r.Context(), se); err != nil {
		return nil, err
	}
	http.SetCookie(w, a.cookie(r, secret, ttl))
	return &Identity{Actor: actor, Session: se}, nil
}

// SecondFactor completes a sign-in waiting for its two-factor code (a
// session at store.SessionCode): with the right code (or a recovery
// code) the halfway session ends and a signed-in one starts. Wrong codes
// are admin.ErrUnauthenticated, and count against the account: after
// codeFailures of them within loginWindow, *RateLimited.
func (a *Auth) SecondFactor(w http.ResponseWriter, r *http.Request, code string) (*Identity, error) {
	ctx := r.Context()
	id, err := a.IdentifyStage(r, admin.ViaWeb, store.SessionCode)
	if err != nil {
		return nil, err
	}
	key := strconv.FormatInt(id.Actor.AccountID, 10)
	ok, after, err := a.byCode.Allow(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		a.opt.Metrics.Login("limited")
		return nil, &RateLimited{RetryAfter: after}
	}
	actor, err := a.admin.VerifyCode(ctx, id.Actor.AccountID, code, admin.ViaWeb)
	if errors.Is(err, admin.ErrUnauthenticated) {
		a.opt.Metrics.Login("failed")
		if err := a.byCode.Fail(ctx, key); err != nil {
			return nil, err
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	if err := a.byCode.Reset(ctx, key); err != nil {
		return nil, err
	}
	if err := a.byEmail.Reset(ctx, strings.ToLower(actor.Email)); err != nil {
		return nil, err
	}
	a.opt.Metrics.Login("ok")
	return a.promote(w, r, id, actor)
}

// Promote ends a session that set two-factor sign-in up as it was
// required to (store.SessionEnrol) and starts a signed-in one.
func (a *Auth) Promote(w http.ResponseWriter, r *http.Request, id *Identity) (*Identity, error) {
	if id.Session == nil || id.Session.Stage != store.SessionEnrol {
		return id, nil
	}
	return a.promote(w, r, id, id.Actor)
}

// promote replaces id's session by a signed-in one of actor (a new
// secret: the halfway session's cookie signs nothing in).
func (a *Auth) promote(w http.ResponseWriter, r *http.Request, id *Identity, actor admin.Actor) (*Identity, error) {
	if err := a.st.DeleteSession(r.Context(), id.Session.Hash); err != nil {
		return nil, err
	}
	return a.startSession(w, r, actor, "", a.opt.SessionTTL)
}

// Logout ends the request's session, if any, and clears the cookie.
func (a *Auth) Logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, a.cookie(r, "", -1))
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	return a.st.DeleteSession(r.Context(), hashSecret(c.Value))
}

// cookie is the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's request carries it), Secure when the
// UI is served over HTTPS.
func (a *Auth) cookie(r *http.Request, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		Secure: a.secure(r), SameSite: http.SameSiteStrictMode}
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(ttl.Seconds())
	}
	return c
}

// ClientIP is the address a request came from, for rate limits and logs.
// Behind a reverse proxy on the same host (a loopback peer), it is the
// address the proxy names last in X-Forwarded-For: the one it saw.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if fwd, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
				return fwd.String()
			}
		}
	}
	return host
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
