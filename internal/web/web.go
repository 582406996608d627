// Package web is Sealpost's admin UI: server-rendered HTML pages for the
// people who run lists and helpdesk gateways — the dashboard, lists and
// their members, held messages, the keyring, the outbound queue, the
// audit log, accounts and API tokens — and one public page, where a
// member offers a new key of their own.
//
// It is an interface layer only: every page and action runs a use case
// of package admin, acting for the signed-in account (admin.Service.As),
// so that what an account may see and do is decided there, as for the
// command line and the REST API. Package auth signs people in and keeps
// their sessions; every form that changes something carries the
// session's CSRF token.
//
// Pages are html/template, the style sheet and the little script there
// is are embedded, and nothing is loaded from anywhere else: the pages
// are served with a Content-Security-Policy that allows only Sealpost's
// own files, no inline script or style. Forms follow Post/Redirect/Get,
// with a one-shot message (a short-lived cookie) shown on the next page;
// a form the use case refuses (admin.ErrInvalid, admin.ErrExists) is
// shown again with the reason.
//
// It does not decide anything itself and never touches the store.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/obs"
	"github.com/sealpost/sealpost/internal/store"
)

// Options configure the admin UI.
type Options struct {
	// Admin runs the use cases, acting as the operator; the UI makes it
	// act for each request's account with Admin.As.
	Admin *admin.Service
	// Auth signs people in and identifies their sessions.
	Auth *auth.Auth
	// Notify wakes the outbound queue after something was queued or made
	// due (a released hold, a retried delivery, a challenge). May be nil.
	Notify  func()
	Logger  *slog.Logger
	Metrics *obs.Metrics // may be nil
}

// maxUpload bounds a request body: a form, or a key file with it.
const maxUpload = 16 << 20

// contentSecurityPolicy allows the pages Sealpost's own style sheet,
// script and images only, and forms to post back to Sealpost only.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Self-service limits (DESIGN §4: a public form must not become a way to
// send mail at will): offers per client address and per list and
// address, counting every request.
const (
	selfServiceWindow  = time.Hour
	selfServicePerIP   = 10
	selfServicePerAddr = 3
	// confirmPerIP bounds the confirmation codes one client tries (one
	// code cannot be guessed: 160 random bits).
	confirmPerIP = 30
)

// server is the admin UI.
type server struct {
	opt      Options
	pages    map[string]pageTemplate
	assets   map[string]asset
	selfIP   *auth.Limiter
	selfAddr *auth.Limiter
	// subIP and subAddr limit the subscription page (subscribe.go).
	subIP   *auth.Limiter
	subAddr *auth.Limiter
	// confirmIP limits the codes tried per client.
	confirmIP *auth.Limiter
	// table, when set, collects the routes (Routes).
	table *[]Route
	// resetIP and resetAddr limit the requests for password reset links.
	resetIP, resetAddr *auth.Limiter
}

// Handler returns the admin UI, to be mounted at "/". The REST API,
// health checks, metrics and the Web Key Directory are the caller's.
func Handler(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := newServer(opt)
	mux := http.NewServeMux()
	s.routes(mux)
	return headers(mux)
}

// newServer is the UI's server, its routes not yet registered.
func newServer(opt Options) *server {
	assets := loadAssets()
	return &server{opt: opt, pages: parsePages(funcs(assets)), assets: assets,
		selfIP:    opt.Auth.Limiter("self-service per client", selfServicePerIP, selfServiceWindow),
		selfAddr:  opt.Auth.Limiter("self-service per address", selfServicePerAddr, selfServiceWindow),
		subIP:     opt.Auth.Limiter("subscription per client", selfServicePerIP, selfServiceWindow),
		subAddr:   opt.Auth.Limiter("subscription per address", selfServicePerAddr, selfServiceWindow),
		confirmIP: opt.Auth.Limiter("confirmation codes per client", confirmPerIP, selfServiceWindow),
		resetIP:   opt.Auth.Limiter("password reset per client", resetPerIP, selfServiceWindow),
		resetAddr: opt.Auth.Limiter("password reset per address", resetPerAddr, selfServiceWindow)}
}

// Route is one page or action of the UI, for the tests that walk them
// all.
type Route struct {
	Pattern string // "POST /subscribe"
	Public  bool   // served without a session
}

// Routes returns every page and action Handler(opt) serves (not the
// static files).
func Routes(opt Options) []Route {
	s := newServer(opt)
	s.table = &[]Route{}
	s.routes(http.NewServeMux())
	return *s.table
}

// note records a route in the table Routes returns.
func (s *server) note(pattern string, public bool) {
	if s.table != nil {
		*s.table = append(*s.table, Route{Pattern: pattern, Public: public})
	}
}

// routes registers every page and action.
func (s *server) routes(mux *http.ServeMux) {
	s.public(mux, "GET /login", loginPage)
	s.public(mux, "POST /login", login)
	s.public(mux, "GET /login/code", codePage)
	s.public(mux, "POST /login/code", enterCode)
	s.public(mux, "POST /login/cancel", cancelSignIn)
	s.public(mux, "GET /login/oidc", startSSO)
	s.public(mux, "GET /login/oidc/callback", finishSSO)
	s.public(mux, "GET /self-service", selfServicePage)
	s.public(mux, "POST /self-service", selfService)
	s.public(mux, "GET /subscribe", subscribePage)
	s.public(mux, "POST /subscribe", subscribe)
	s.public(mux, "GET /subscribe/key.asc", subscribeKey)
	s.public(mux, "GET /subscribe/confirm", confirmPage)
	s.public(mux, "POST /subscribe/confirm", confirm)
	s.public(mux, "GET /login/reset", resetPage)
	s.public(mux, "POST /login/reset", requestReset)
	s.public(mux, "GET /login/reset/{token}", resetLinkPage)
	s.public(mux, "POST /login/reset/{token}", resetPassword)
	mux.Handle("GET /static/{name}", s.opt.Metrics.Instrument("GET /static/{name}", http.HandlerFunc(s.static)))

	s.page(mux, "GET /{$}", dashboard)
	s.page(mux, "GET /lists", listsPage)
	s.page(mux, "GET /lists/new", newListPage)
	s.action(mux, "POST /lists", createList, newListPage)
	s.page(mux, "GET /lists/{list}", listPage)
	s.action(mux, "POST /lists/{list}/roles", addListRole, listPage)
	s.action(mux, "POST /lists/{list}/key/rotate", rotateListKey, listPage)
	s.action(mux, "POST /lists/{list}/certificate", replaceCertificate, listPage)
	s.action(mux, "POST /lists/{list}/roles/{email}/remove", removeListRole, listPage)
	s.action(mux, "POST /lists/{list}/subscriptions/{email}/{decision}", decideSubscription, listPage)
	s.page(mux, "GET /lists/{list}/key.asc", listKeyFile)
	s.page(mux, "GET /lists/{list}/fingerprint.txt", listFingerprintFile)
	s.page(mux, "GET /lists/{list}/certificate.pem", listCertFile)
	s.action(mux, "POST /lists/{list}/members", addMember, listPage)
	s.action(mux, "POST /lists/{list}/members/{email}/remove", removeMember, listPage)
	s.action(mux, "POST /lists/{list}/members/{email}/format", setMember, listPage)
	// A member's row: their settings, a further key (file or pasted).
	s.action(mux, "POST /lists/{list}/members/{email}/set", setMember, listPage)
	s.action(mux, "POST /lists/{list}/members/{email}/keys", addMemberKey, listPage)
	s.action(mux, "POST /lists/{list}/options", setOptions, listPage)
	s.action(mux, "POST /lists/{list}/delete", deleteList, listPage)

	s.holdRoutes(mux)

	s.page(mux, "GET /lists/{list}/archive", archivePage)
	s.page(mux, "GET /lists/{list}/archive/{thread}", conversationPage)
	s.page(mux, "GET /lists/{list}/archive/{thread}/mbox", mboxFile)

	s.keyRoutes(mux)

	s.page(mux, "GET /queue", queuePage)
	s.action(mux, "POST /queue/{id}/retry", retryDelivery, queuePage)
	s.action(mux, "POST /queue/{id}/drop", dropDelivery, queuePage)

	s.page(mux, "GET /audit", auditPage)

	s.page(mux, "GET /account", accountPage)
	s.action(mux, "POST /account/password", changePassword, accountPage)
	s.action(mux, "POST /account/tokens", createToken, accountPage)
	s.action(mux, "POST /account/tokens/{id}/revoke", revokeToken, accountPage)
	s.pageAt(mux, "GET /account/two-factor", store.SessionEnrol, twoFactorPage)
	s.actionAt(mux, "POST /account/two-factor", store.SessionEnrol, enableTwoFactor, twoFactorPage)
	s.action(mux, "POST /account/two-factor/off", disableTwoFactor, twoFactorPage)

	s.page(mux, "GET /users", usersPage)
	s.action(mux, "POST /users", addUser, usersPage)
	s.action(mux, "POST /users/{email}/remove", removeUser, usersPage)

	s.action(mux, "POST /logout", logout, nil)
	s.page(mux, "/", notFound)
}

// headers sets what every response of the UI carries: the CSP, no
// sniffing, no framing, no referrer, and no caching of pages.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// request is one request to a page or action.
type request struct {
	s   *server
	w   http.ResponseWriter
	r   *http.Request
	id  *auth.Identity // nil on the public pages
	svc *admin.Service // acting for id's account; for no one on public pages
	// form holds the values of a refused form, shown again; status is
	// the status of the page then.
	form   url.Values
	status int
	flash  *flash
	// fieldErrors are why a refused form refused each field, by name.
	fieldErrors map[string]string
}

// pageFunc renders a page (or sends a file).
type pageFunc func(q *request) error

// actionFunc runs a form's use case. On success it returns where to go
// next and what to tell the person there; with a nil *done it wrote the
// response itself.
type actionFunc func(q *request) (*done, error)

// done is where an action sends the browser, with a message.
type done struct {
	to  string
	msg string
}

// public registers a page that needs no session.
func (s *server) public(mux *http.ServeMux, pattern string, fn pageFunc) {
	s.note(pattern, true)
	mux.Handle(pattern, s.opt.Metrics.Instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &request{s: s, w: w, r: r, svc: s.opt.Admin.As(admin.Actor{Via: admin.ViaWeb})}
		q.run(fn)
	})))
}

// page registers a page that needs a session.
func (s *server) page(mux *http.ServeMux, pattern string, fn pageFunc) {
	s.pageAt(mux, pattern, "", fn)
}

// pageAt is page, open also to a session at stage (store.SessionEnrol:
// the pages that set two-factor sign-in up); "" is none.
func (s *server) pageAt(mux *http.ServeMux, pattern, stage string, fn pageFunc) {
	s.note(pattern, false)
	mux.Handle(pattern, s.opt.Metrics.Instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := s.signedIn(w, r, stage)
		if !ok {
			return
		}
		if err := q.checkList(); err != nil {
			q.fail(err)
			return
		}
		q.run(fn)
	})))
}

// action registers a form's target: it needs a session and the session's
// CSRF token. A form the use case refuses is shown again by formPage.
func (s *server) action(mux *http.ServeMux, pattern string, fn actionFunc, formPage pageFunc) {
	s.actionAt(mux, pattern, "", fn, formPage)
}

// actionAt is action, open also to a session at stage (see pageAt).
func (s *server) actionAt(mux *http.ServeMux, pattern, stage string, fn actionFunc, formPage pageFunc) {
	s.note(pattern, false)
	mux.Handle(pattern, s.opt.Metrics.Instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := s.signedIn(w, r, stage)
		if !ok {
			return
		}
		if err := q.readForm(); err != nil {
			q.fail(err)
			return
		}
		defer q.cleanup()
		if err := s.opt.Auth.CheckCSRF(r, q.id); err != nil {
			q.fail(err)
			return
		}
		if err := q.checkList(); err != nil {
			q.fail(err)
			return
		}
		d, err := fn(q)
		switch {
		case err == nil && d == nil:
		case err == nil:
			q.redirect(d.to, d.msg)
		case formPage != nil && refusal(err):
			q.form, q.status, q.flash = r.PostForm, http.StatusUnprocessableEntity, &flash{Error: true, Text: userMessage(err)}
			q.run(formPage)
		default:
			q.fail(err)
		}
	})))
}

// signedIn identifies the request's session, signed in or else at stage
// when stage is not ""; without one, it sends the browser to the sign-in
// page (which sends a session halfway to its next step) and reports false.
func (s *server) signedIn(w http.ResponseWriter, r *http.Request, stage string) (*request, bool) {
	q := &request{s: s, w: w, r: r}
	id, err := s.opt.Auth.Identify(r, admin.ViaWeb)
	if errors.Is(err, admin.ErrUnauthenticated) && stage != "" && r.Header.Get("Authorization") == "" {
		id, err = s.opt.Auth.IdentifyStage(r, admin.ViaWeb, stage)
	}
	if err == nil && id.Session == nil {
		err = admin.ErrUnauthenticated // the UI is for people; programs use the API
	}
	switch {
	case errors.Is(err, admin.ErrUnauthenticated):
		to := "/login"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			to += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil, false
	case err != nil:
		q.fail(err)
		return nil, false
	}
	q.id, q.svc = id, s.opt.Admin.As(id.Actor)
	return q, true
}

// checkList settles access to the list the path names first: someone who
// may not manage it learns nothing else about it.
func (q *request) checkList() error {
	list := q.r.PathValue("list")
	if list == "" {
		return nil
	}
	// Moderators reach the held messages' pages only.
	return q.svc.CheckList(q.r.Context(), list, strings.Contains(q.r.Pattern, "/holds"))
}

// publicForm reads the form posted to a page without a session (sign-in,
// its two-factor code): only from Sealpost's own pages (CheckOrigin), as
// readForm reads it. The caller defers cleanup.
func (q *request) publicForm() error {
	if err := auth.CheckOrigin(q.r); err != nil {
		return err
	}
	return q.readForm()
}

// readForm reads a posted form, multipart or not, bounded by maxUpload.
func (q *request) readForm() error {
	q.r.Body = http.MaxBytesReader(q.w, q.r.Body, maxUpload)
	var err error
	if strings.HasPrefix(q.r.Header.Get("Content-Type"), "multipart/form-data") {
		err = q.r.ParseMultipartForm(maxUpload + 1<<20) // all of it in memory: it is bounded
	} else {
		err = q.r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	} else if err != nil {
		return fmt.Errorf("%w: the form could not be read: %v", admin.ErrInvalid, err)
	}
	return nil
}

// errTooLarge is the error for a request body over maxUpload.
var errTooLarge = errors.New("too large")

// cleanup removes what reading a multipart form kept.
func (q *request) cleanup() {
	if q.r.MultipartForm != nil {
		q.r.MultipartForm.RemoveAll()
	}
}

// run runs a page, failing with its error.
func (q *request) run(fn pageFunc) {
	if err := fn(q); err != nil {
		q.fail(err)
	}
}

// list is the list address of the path, if it names one.
func (q *request) list() string { return q.r.PathValue("list") }

// isAdmin reports whether the signed-in account is an admin.
func (q *request) isAdmin() bool { return q.id != nil && q.id.Actor.IsAdmin() }

// redirect sends the browser to to (a local path) with a message.
func (q *request) redirect(to, msg string) {
	if msg != "" {
		setFlash(q.w, q.r, flash{Text: msg})
	}
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

// notify wakes the outbound queue.
func (q *request) notify() {
	if q.s.opt.Notify != nil {
		q.s.opt.Notify()
	}
}

// download sends data as a file to save.
func (q *request) download(contentType, filename string, data []byte) error {
	h := q.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", attachment(filename))
	q.w.Write(data)
	return nil
}

// listPath is the path of a list's page, or of one under it.
func listPath(list string, rest ...string) string {
	p := "/lists/" + url.PathEscape(list)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func notFound(q *request) error {
	return fmt.Errorf("%w: there is no page at this address", admin.ErrNotFound)
}
