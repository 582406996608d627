package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
	"github.com/sealpost/sealpost/internal/web"
)

const password = "correct horse battery staple"

const (
	listA = "a@lists.example.org" // alice's
	listB = "b@lists.example.org" // bob's
)

// fixture is the admin UI over a real store and a real pipeline: an
// admin, two owners with a list each.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	svc    *admin.Service
	auth   *auth.Auth
	db     *sqlstore.DB
	sealer *keyring.Sealer
	// notified counts the UI's wake-ups of the outbound queue.
	notified *atomic.Int64
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the service's and the sign-in's
// options changed by opts first (a clock, a sign-in policy).
func newFixtureWith(t *testing.T, opts func(*admin.Options, *auth.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{7}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	flow := pipeline.New(db, sealer, pipeline.Options{Logger: logger})
	ao, uo := admin.Options{Flow: flow, Database: "postgres://sealpost@db.example.org/sealpost"}, auth.Options{}
	if opts != nil {
		opts(&ao, &uo)
	}
	svc := admin.New(db, sealer, ao)
	a := auth.New(svc, db, uo)
	notified := new(atomic.Int64)
	if os.Getenv("ZZ_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h := web.Handler(web.Options{Admin: svc, Auth: a, Logger: logger, Notify: func() { notified.Add(1) }})
	f := &fixture{t: t, svc: svc, auth: a, db: db, sealer: sealer, notified: notified, srv: httptest.NewServer(h)}
	t.Cleanup(f.srv.Close)
	for _, u := range []struct{ email, role string }{
		{"admin@example.org", store.RoleAdmin}, {"alice@example.org", store.RoleOwner}, {"bob@example.org", store.RoleOwner},
	} {
		if _, err := svc.AddUser(ctx, u.email, u.role, password); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []struct{ addr, owner string }{{listA, "alice@example.org"}, {listB, "bob@example.org"}} {
		if _, err := svc.CreateList(ctx, l.addr, l.owner, "", pgp.Ed25519); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// client is a browser: a cookie jar, and the CSRF token of its session.
type client struct {
	f    *fixture
	c    *http.Client
	csrf string
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	c := *f.srv.Client()
	c.Jar = jar
	return &client{f: f, c: &c}
}

// noFollow is a client that does not follow redirects, sharing cl's
// cookies.
func (cl *client) noFollow() *http.Client {
	c := *cl.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// page is one response, read whole.
type page struct {
	status int
	header http.Header
	body   string
	url    string // where the client ended, after redirects
}

func read(t *testing.T, resp *http.Response, err error) page {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b), resp.Request.URL.RequestURI()}
}

func (cl *client) get(path string) page {
	cl.f.t.Helper()
	resp, err := cl.c.Get(cl.f.srv.URL + path)
	return read(cl.f.t, resp, err)
}

// post sends a form with the session's CSRF token (unless form has its
// own "csrf") and follows the redirect.
func (cl *client) post(path string, form url.Values) page {
	cl.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && cl.csrf != "" {
		form.Set("csrf", cl.csrf)
	}
	resp, err := cl.c.PostForm(cl.f.srv.URL+path, form)
	return read(cl.f.t, resp, err)
}

// postFile sends a multipart form with a file in field "key".
func (cl *client) postFile(path string, fields map[string]string, key []byte) page {
	cl.f.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if cl.csrf != "" {
		w.WriteField("csrf", cl.csrf)
	}
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if key != nil {
		fw, _ := w.CreateFormFile("key", "key.asc")
		fw.Write(key)
	}
	w.Close()
	resp, err := cl.c.Post(cl.f.srv.URL+path, w.FormDataContentType(), &b)
	return read(cl.f.t, resp, err)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in through the form and keeps the session's CSRF token.
func (cl *client) login(email string) page {
	cl.f.t.Helper()
	p := cl.post("/login", url.Values{"email": {email}, "password": {password}})
	if p.status != http.StatusOK {
		cl.f.t.Fatalf("login %s: %d %s", email, p.status, p.body)
	}
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		cl.f.t.Fatalf("no CSRF token on the page after signing in:\n%s", p.body)
	}
	cl.csrf = m[1]
	return p
}

func (f *fixture) signedIn(email string) *client {
	cl := f.client()
	cl.login(email)
	return cl
}

func memberKey(t *testing.T, addr string) []byte {
	t.Helper()
	k, err := pgp.GenerateKey("", addr, pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k.Armored()
}

// row returns the table row whose attribute attr is value, or "".
func row(body, attr, value string) string {
	start := strings.Index(body, `<tr `+attr+`="`+value+`"`)
	if start < 0 {
		return ""
	}
	end := strings.Index(body[start:], "</tr>")
	if end < 0 {
		return body[start:]
	}
	return body[start : start+end]
}

// TestSignIn: a wrong password and an unknown account get the same
// answer; signing in shows the account's own lists only and goes where
// next= asked, if that is on this site.
func TestSignIn(t *testing.T) {
	f := newFixture(t)
	cl := f.client()
	wrong := cl.post("/login", url.Values{"email": {"alice@example.org"}, "password": {"not the password"}})
	unknown := cl.post("/login", url.Values{"email": {"nobody@example.org"}, "password": {password}})
	for name, p := range map[string]page{"wrong password": wrong, "unknown account": unknown} {
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong email address or password.") {
			t.Errorf("%s: %d, want 401 with the one message:\n%s", name, p.status, p.body)
		}
	}
	if got := cl.get("/"); got.url != "/login" {
		t.Errorf("after failed sign-ins the dashboard is at %s, want the sign-in page", got.url)
	}

	p := cl.login("alice@example.org")
	if p.url != "/" || !strings.Contains(p.body, "Dashboard") {
		t.Fatalf("after signing in: %s\n%s", p.url, p.body)
	}
	if !strings.Contains(p.body, `data-list="`+listA+`"`) || strings.Contains(p.body, listB) {
		t.Errorf("alice's dashboard should list %s only", listA)
	}
	if strings.Contains(p.body, `href="/users"`) || strings.Contains(p.body, `href="/lists/new"`) {
		t.Error("an owner's navigation shows Users or New list")
	}
	if p := f.signedIn("admin@example.org").get("/"); !strings.Contains(p.body, `href="/users"`) || !strings.Contains(p.body, listB) {
		t.Error("the admin's dashboard lacks Users or bob's list")
	}

	for next, want := range map[string]string{
		"/lists/" + listA + "/holds": "/lists/" + listA + "/holds",
		"//evil.example/x":           "/",
		"https://evil.example/":      "/",
		`/\evil.example`:             "/",
		"":                           "/",
	} {
		c := f.client().noFollow()
		resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"email": {"alice@example.org"}, "password": {password}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("next=%q: %d to %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

// TestSessionRequired: a page without a session sends the browser to
// the sign-in page, which comes back to it.
func TestSessionRequired(t *testing.T) {
	f := newFixture(t)
	cl := f.client()
	for _, path := range []string{"/", "/lists/" + listA, "/queue", "/keys", "/audit", "/account", "/users", "/nonsense"} {
		resp, err := cl.noFollow().Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("%s without a session: %d to %q", path, resp.StatusCode, loc)
		}
	}
	p := cl.get("/lists/" + listA + "/holds")
	if !strings.HasPrefix(p.url, "/login?next=") {
		t.Fatalf("ended at %s", p.url)
	}
	// Signing in from there lands on the page asked for.
	next := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatalf("the sign-in form does not carry next:\n%s", p.body)
	}
	p = cl.post("/login", url.Values{"email": {"alice@example.org"}, "password": {password}, "next": {next[1]}})
	if p.url != "/lists/"+listA+"/holds" {
		t.Errorf("after signing in: %s", p.url)
	}
	// A POST without a session changes nothing.
	if p := f.client().post("/lists/"+listA+"/options", url.Values{"name": {"Mine"}, "csrf": {"x"}}); p.url != "/login" {
		t.Errorf("a POST without a session ended at %s", p.url)
	}
}

// TestCSRF: a form without the session's CSRF token is refused and
// changes nothing.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	cl := f.signedIn("alice@example.org")
	for name, token := range map[string][]string{"no token": nil, "wrong token": {"x" + cl.csrf}, "empty": {""}} {
		form := url.Values{"name": {"Stolen"}}
		if token != nil {
			form["csrf"] = token
		} else {
			form["csrf"] = nil
			delete(form, "csrf")
			cl2 := *cl
			cl2.csrf = ""
			p := cl2.post("/lists/"+listA+"/options", form)
			if p.status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, p.status)
			}
			continue
		}
		if p := cl.post("/lists/"+listA+"/options", form); p.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, p.status)
		}
	}
	if l, _ := f.svc.List(context.Background(), listA); l.Name != "" {
		t.Fatalf("a refused form renamed the list to %q", l.Name)
	}
	p := cl.post("/lists/"+listA+"/options", url.Values{"name": {"Team A"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Saved name.") {
		t.Errorf("with the token: %d\n%s", p.status, p.body)
	}
	if l, _ := f.svc.List(context.Background(), listA); l.Name != "Team A" {
		t.Errorf("name is %q", l.Name)
	}
}

// TestLoginRateLimit: the 11th failed sign-in from one address is
// refused with 429, even with the right password, and so it is at
// another node sharing the database (or this one restarted): the counts
// are the store's.
func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	cl := f.client()
	for i := range 10 {
		p := cl.post("/login", url.Values{"email": {fmt.Sprintf("u%d@example.org", i)}, "password": {"wrong"}})
		if p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, p.status)
		}
	}
	p := cl.post("/login", url.Values{"email": {"alice@example.org"}, "password": {password}})
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many failed sign-ins") {
		t.Errorf("11th attempt: %d\n%s", p.status, p.body)
	}
	other := f.otherNode().client()
	p = other.post("/login", url.Values{"email": {"alice@example.org"}, "password": {password}})
	if p.status != http.StatusTooManyRequests {
		t.Errorf("11th attempt at another node: %d\n%s", p.status, p.body)
	}
}

// otherNode is the UI of a second node: its own Auth and handler, the
// same store.
func (f *fixture) otherNode() *fixture {
	a := auth.New(f.svc, f.db, auth.Options{})
	h := web.Handler(web.Options{Admin: f.svc, Auth: a, Logger: slog.New(slog.DiscardHandler)})
	g := *f
	g.srv = httptest.NewServer(h)
	f.t.Cleanup(g.srv.Close)
	return &g
}

// TestOwnerForbidden: alice may neither see nor change bob's list, nor
// a list that does not exist; the admin may.
func TestOwnerForbidden(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.AddMember(ctx, listB, "carol@example.org", memberKey(t, "carol@example.org"), false); err != nil {
		t.Fatal(err)
	}
	alice := f.signedIn("alice@example.org")
	for _, list := range []string{listB, "nosuch@lists.example.org"} {
		for _, path := range []string{"", "/holds", "/key.asc", "/fingerprint.txt", "/archive"} {
			p := alice.get("/lists/" + list + path)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not manage this list.") {
				t.Errorf("GET %s%s: %d", list, path, p.status)
			}
		}
		for _, path := range []string{"/options", "/members/carol@example.org/remove", "/delete", "/holds/1/release", "/members"} {
			p := alice.post("/lists/"+list+path, url.Values{"name": {"Mine now"}})
			if p.status != http.StatusForbidden || strings.Contains(p.body, "carol") {
				t.Errorf("POST %s%s: %d", list, path, p.status)
			}
		}
	}
	if l, _ := f.svc.List(ctx, listB); l.Name != "" {
		t.Errorf("alice renamed B to %q", l.Name)
	}
	if ms, _ := f.svc.Members(ctx, listB); len(ms) != 1 {
		t.Errorf("B has %d members", len(ms))
	}
	for _, path := range []string{"/users", "/lists/new"} {
		if p := alice.get(path); p.status != http.StatusForbidden {
			t.Errorf("alice: %s: %d", path, p.status)
		}
	}
	if p := alice.post("/lists", url.Values{"address": {"c@lists.example.org"}}); p.status != http.StatusForbidden {
		t.Errorf("alice creates a list: %d", p.status)
	}
	adm := f.signedIn("admin@example.org")
	if p := adm.get("/lists/" + listB); p.status != http.StatusOK || row(p.body, "data-member", "carol@example.org") == "" {
		t.Errorf("admin on B: %d", p.status)
	}
	if p := adm.get("/lists/nosuch@lists.example.org"); p.status != http.StatusNotFound {
		t.Errorf("admin on a missing list: %d, want 404", p.status)
	}
}

// TestPages: every page of an admin renders, with its headers.
func TestPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateGateway(ctx, "help@example.org", "", "", pgp.Ed25519, "smtp://helpdesk.internal:25"); err != nil {
		t.Fatal(err)
	}
	adm := f.signedIn("admin@example.org")
	pages := map[string]string{
		"/":                                 "Keys expiring soon or unusable",
		"/lists":                            listB,
		"/lists/new":                        "Key algorithm",
		"/lists/" + listA:                   "Add a member",
		"/lists/" + listA + "/holds":        "No messages are held for this list.",
		"/lists/help@example.org/archive":   "No conversations are archived.",
		"/queue":                            "The queue is empty",
		"/queue?state=failed&list=" + listA: "The queue is empty",
		"/keys":                             "Search",
		"/keys?q=" + listA:                  "/keys/",
		"/audit":                            "list.create",
		"/audit?list=" + listA:              "list.create",
		"/account":                          "Change your password",
		"/users":                            "alice@example.org",
	}
	for path, want := range pages {
		p := adm.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.body, want) {
			t.Errorf("%s: %d, without %q", path, p.status, want)
		}
		checkHeaders(t, path, p.header)
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
	}
	for path, status := range map[string]int{
		"/lists/" + listA + "/archive":      http.StatusNotFound, // a list keeps no archive
		"/nonsense":                         http.StatusNotFound,
		"/queue?state=sent":                 http.StatusUnprocessableEntity,
		"/keys/" + strings.Repeat("AB", 20): http.StatusNotFound,
	} {
		p := adm.get(path)
		if p.status != status {
			t.Errorf("%s: %d, want %d", path, p.status, status)
		}
		checkHeaders(t, path, p.header)
	}
	// The public pages and the static files carry the headers too.
	for _, path := range []string{"/login", "/self-service", "/login/reset"} {
		p := f.client().get(path)
		if p.status != http.StatusOK {
			t.Errorf("%s: %d", path, p.status)
		}
		checkHeaders(t, path, p.header)
	}
	css := regexp.MustCompile(`href="(/static/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(adm.get("/").body)
	if css == nil {
		t.Fatal("no versioned style sheet link")
	}
	for _, path := range []string{css[1], "/static/app.js", "/static/favicon.png"} {
		p := adm.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.header.Get("Cache-Control"), "max-age") {
			t.Errorf("%s: %d, Cache-Control %q", path, p.status, p.header.Get("Cache-Control"))
		}
		checkHeaders(t, path, p.header)
	}
}

func checkHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", path, csp, want)
		}
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", path)
	}
}

// TestLogout: signing out ends the session; its cookie no longer works.
func TestLogout(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	u, _ := url.Parse(f.srv.URL)
	cookies := alice.c.Jar.Cookies(u)
	p := alice.post("/logout", nil)
	if p.url != "/login" || !strings.Contains(p.body, "You are signed out.") {
		t.Errorf("logout: at %s", p.url)
	}
	// The old cookie, replayed.
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	c := alice.noFollow()
	c.Jar = nil
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the old session cookie still works: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestNoExternalURLs: no template or asset refers to another host: the
// pages load nothing from anywhere but Sealpost.
func TestNoExternalURLs(t *testing.T) {
	bad := regexp.MustCompile(`(?i)https?://|(src|href|action)\s*=\s*["']?//|url\(\s*["']?//|@import`)
	n := 0
	for _, dir := range []string{"templates", "static"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n++
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if m := bad.Find(b); m != nil {
				t.Errorf("%s refers to another host: %q", path, m)
			}
			for _, inline := range []string{"<script>", " style=", "<style", "onclick=", "onsubmit=", "onchange=", "javascript:"} {
				if strings.Contains(string(b), inline) {
					t.Errorf("%s has inline script or style (%q), which the CSP refuses", path, inline)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 5 {
		t.Fatalf("scanned only %d files", n)
	}
}
