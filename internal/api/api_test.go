package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

const password = "correct horse battery staple"

// fixture is the API over a real store and a real pipeline: an admin,
// two owners with a list each, and API tokens for all three.
type fixture struct {
	t      testing.TB
	srv    *httptest.Server
	svc    *admin.Service
	db     *sqlstore.DB
	sealer *keyring.Sealer
	tokens map[string]string // account → token
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "s.db")
	db, err := sqlstore.Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{7}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	flow := pipeline.New(db, sealer, pipeline.Options{Logger: slog.New(slog.DiscardHandler)})
	svc := admin.New(db, sealer, admin.Options{Flow: flow, Database: file})
	a := auth.New(svc, db, auth.Options{})
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", api.Handler(api.Options{Admin: svc, Auth: a}))
	// A sign-in form, as the admin UI has one, for the session tests.
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Login(w, r, r.PostFormValue("email"), r.PostFormValue("password"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, id.CSRF())
	})
	f := &fixture{t: t, srv: httptest.NewServer(mux), svc: svc, db: db, sealer: sealer, tokens: map[string]string{}}
	t.Cleanup(f.srv.Close)
	for _, u := range []struct{ email, role string }{
		{"admin@example.org", store.RoleAdmin}, {"alice@example.org", store.RoleOwner}, {"bob@example.org", store.RoleOwner},
	} {
		if _, err := svc.AddUser(ctx, u.email, u.role, password); err != nil {
			t.Fatal(err)
		}
		secret, _, err := svc.CreateToken(ctx, u.email, "test", "")
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[u.email] = secret
	}
	for _, l := range []struct{ addr, owner string }{{"a@lists.example.org", "alice@example.org"}, {"b@lists.example.org", "bob@example.org"}} {
		if _, err := svc.CreateList(ctx, l.addr, l.owner, "", pgp.Ed25519); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// response is one API response, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

// code returns the error code of an error response.
func (r response) code(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error response without code or message: %s", r.body)
	}
	return e.Error.Code
}

// do sends a request with the account's token ("" for none).
func (f *fixture) do(account, method, path string, body io.Reader, header map[string]string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if account != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[account])
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (f *fixture) get(account, path string) response { return f.do(account, "GET", path, nil, nil) }

func (f *fixture) sendJSON(account, method, path string, v any) response {
	b, _ := json.Marshal(v)
	return f.do(account, method, path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"})
}

var wildcard = regexp.MustCompile(`\{[a-z]+\}`)

// fill puts values into a route's wildcards.
func fill(pattern string, values map[string]string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = wildcard.ReplaceAllStringFunc(path, func(w string) string { return url.PathEscape(values[w[1:len(w)-1]]) })
	return method, path
}

// TestAuthenticationRequired: every endpoint refuses a request without a
// token, with a wrong one, or with the cookie of a session halfway
// through signing in (the admin's password was right, the two-factor
// code is still due or two-factor sign-in is still to be set up), as 401
// with the stable code.
func TestAuthenticationRequired(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	adm, err := f.db.Account(ctx, "admin@example.org")
	if err != nil {
		t.Fatal(err)
	}
	halfway := map[string]string{}
	for _, stage := range []string{store.SessionCode, store.SessionEnrol} {
		secret := "halfway-" + stage
		sum := sha256.Sum256([]byte(secret))
		now := time.Now()
		if err := f.db.CreateSession(ctx, &store.Session{Hash: hex.EncodeToString(sum[:]), AccountID: adm.ID, CSRF: "c",
			Stage: stage, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		halfway[stage] = secret
	}
	values := map[string]string{"list": "a@lists.example.org", "email": "alice@example.org", "id": "1", "lang": "en",
		"name": "owner-held", "thread": "<x@y>", "fingerprint": "ABCDEF0123456789"}
	for _, pattern := range api.Routes() {
		method, path := fill(pattern, values)
		for _, auth := range []map[string]string{nil, {"Authorization": "Bearer sealpost_wrong"}, {"Authorization": "Basic YTpi"},
			{"Cookie": auth.CookieName + "=forged"},
			{"Cookie": auth.CookieName + "=" + halfway[store.SessionCode]},
			{"Cookie": auth.CookieName + "=" + halfway[store.SessionEnrol]}} {
			r := f.do("", method, path, strings.NewReader("{}"), auth)
			if r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
				t.Errorf("%s with %v: %d %s, want 401 unauthenticated", pattern, auth, r.status, r.body)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", pattern)
			}
		}
	}
	if r := f.get("", api.Prefix+"/openapi.json"); r.status != http.StatusOK {
		t.Errorf("openapi.json without authentication: %d", r.status)
	}
}

// TestOwnerForbiddenOnOtherList: the owner of list A gets 403 on every
// endpoint of list B, and on a list that does not exist; the admin gets
// what B has, and 404 for the missing one.
func TestOwnerForbiddenOnOtherList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bobKey := memberKey(t, "carol@example.org")
	if _, _, err := f.svc.AddMember(ctx, "b@lists.example.org", "carol@example.org", bobKey, false); err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{"b@lists.example.org", "nosuch@lists.example.org"} {
		values := map[string]string{"list": list, "email": "carol@example.org", "id": "1", "lang": "en", "name": "owner-held",
			"thread": "<x@y>"}
		for _, pattern := range api.Routes() {
			if !strings.Contains(pattern, "{list}") {
				continue
			}
			method, path := fill(pattern, values)
			r := f.do("alice@example.org", method, path, strings.NewReader(`{"options": {"name": "mine now"}}`),
				map[string]string{"Content-Type": "application/json"})
			if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
				t.Errorf("alice: %s on %s: %d %s, want 403 forbidden", pattern, list, r.status, r.body)
			}
		}
	}
	if r := f.get("admin@example.org", api.Prefix+"/lists/nosuch@lists.example.org"); r.status != http.StatusNotFound {
		t.Errorf("admin: missing list: %d, want 404", r.status)
	}
	var members []struct{ Email, Badge string }
	f.get("admin@example.org", api.Prefix+"/lists/b@lists.example.org/members").json(t, &members)
	if len(members) != 1 || members[0].Email != "carol@example.org" || members[0].Badge != admin.BadgeValid {
		t.Errorf("admin sees B's members as %+v", members)
	}
	// Nothing changed on B.
	if l, _ := f.svc.List(ctx, "b@lists.example.org"); l.Name != "" {
		t.Errorf("alice renamed B to %q", l.Name)
	}

	// Listings show alice her own list only.
	var lists []struct{ Address string }
	f.get("alice@example.org", api.Prefix+"/lists").json(t, &lists)
	if len(lists) != 1 || lists[0].Address != "a@lists.example.org" {
		t.Errorf("alice sees lists %+v", lists)
	}
	// The keyring: carol's key is B's business.
	if r := f.get("alice@example.org", api.Prefix+"/keys?q=carol@example.org"); r.status != http.StatusNotFound {
		t.Errorf("alice finds carol's key: %d %s", r.status, r.body)
	}
	if r := f.get("bob@example.org", api.Prefix+"/keys?q=carol@example.org"); r.status != http.StatusOK {
		t.Errorf("bob cannot find his member's key: %d %s", r.status, r.body)
	}
	// Admin-only endpoints.
	for _, pattern := range []string{"GET /users", "POST /lists", "POST /keys", "GET /users/bob@example.org/tokens"} {
		method, path, _ := strings.Cut(pattern, " ")
		r := f.do("alice@example.org", method, api.Prefix+path, strings.NewReader(`{"address": "c@lists.example.org"}`),
			map[string]string{"Content-Type": "application/json"})
		if r.status != http.StatusForbidden {
			t.Errorf("alice: %s: %d %s, want 403", pattern, r.status, r.body)
		}
	}
	// Her own tokens are hers to see.
	if r := f.get("alice@example.org", api.Prefix+"/users/alice@example.org/tokens"); r.status != http.StatusOK {
		t.Errorf("alice's own tokens: %d %s", r.status, r.body)
	}
	// The audit log shows alice what happened on her lists only.
	var entries []struct{ List, Action string }
	f.get("alice@example.org", api.Prefix+"/audit").json(t, &entries)
	if len(entries) == 0 {
		t.Fatal("alice sees no audit entries at all (A's creation is one)")
	}
	for _, e := range entries {
		if e.List != "a@lists.example.org" {
			t.Errorf("alice sees audit entry %+v", e)
		}
	}
}

// TestTokenLimitedToList: a token made for one list acts on it only,
// even for an admin account.
func TestTokenLimitedToList(t *testing.T) {
	f := newFixture(t)
	secret, _, err := f.svc.CreateToken(context.Background(), "admin@example.org", "ci for a", "a@lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["limited"] = secret
	if r := f.get("limited", api.Prefix+"/lists/a@lists.example.org"); r.status != http.StatusOK {
		t.Errorf("limited token on its list: %d %s", r.status, r.body)
	}
	if r := f.get("limited", api.Prefix+"/lists/b@lists.example.org"); r.status != http.StatusForbidden {
		t.Errorf("limited token on another list: %d, want 403", r.status)
	}
	if r := f.sendJSON("limited", "POST", api.Prefix+"/lists", map[string]string{"address": "c@lists.example.org"}); r.status != http.StatusForbidden {
		t.Errorf("limited token creates a list: %d, want 403", r.status)
	}
	var lists []struct{ Address string }
	f.get("limited", api.Prefix+"/lists").json(t, &lists)
	if len(lists) != 1 {
		t.Errorf("limited token sees %+v", lists)
	}
	// A token is refused once revoked.
	ts, _ := f.svc.Tokens(context.Background(), "admin@example.org")
	for _, tk := range ts {
		if tk.Name == "ci for a" {
			if r := f.do("admin@example.org", "DELETE", fmt.Sprintf("%s/users/admin@example.org/tokens/%d", api.Prefix, tk.ID), nil, nil); r.status != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}
	}
	if r := f.get("limited", api.Prefix+"/lists/a@lists.example.org"); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.status)
	}
}

// login signs in through the form and returns a client with the session
// cookie and the session's CSRF token.
func (f *fixture) login(email string) (*http.Client, string) {
	f.t.Helper()
	c := f.srv.Client()
	jar := &cookieJar{}
	c.Jar = jar
	resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	return c, string(b)
}

// TestCSRF: with a session cookie, a request that changes something needs
// the session's CSRF token and must not come from another site; a read
// does not; a bearer token needs none.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c, csrf := f.login("alice@example.org")
	patch := func(header map[string]string) response {
		req, _ := http.NewRequest("PATCH", f.srv.URL+api.Prefix+"/lists/a@lists.example.org", strings.NewReader(`{"options": {"name": "Team A"}}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, resp.Header, b}
	}
	for name, h := range map[string]map[string]string{
		"no token":                  nil,
		"wrong token":               {"X-CSRF-Token": "x" + csrf},
		"right token, cross-site":   {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
		"right token, other origin": {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
	} {
		if r := patch(h); r.status != http.StatusForbidden || r.code(t) != "csrf" {
			t.Errorf("%s: %d %s, want 403 csrf", name, r.status, r.body)
		}
	}
	if l, _ := f.svc.List(context.Background(), "a@lists.example.org"); l.Name != "" {
		t.Fatalf("a refused request changed the list: name %q", l.Name)
	}
	if r := patch(map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"}); r.status != http.StatusOK {
		t.Errorf("with the session's token: %d %s", r.status, r.body)
	}
	if resp, err := c.Get(f.srv.URL + api.Prefix + "/lists"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a read with the session: %v %v", resp.StatusCode, err)
	}
	if r := f.sendJSON("alice@example.org", "PATCH", api.Prefix+"/lists/a@lists.example.org", map[string]any{"options": map[string]string{"name": "T"}}); r.status != http.StatusOK {
		t.Errorf("bearer token without CSRF token: %d %s", r.status, r.body)
	}
}

// TestErrorCodes: each kind of failure has its status and stable code.
func TestErrorCodes(t *testing.T) {
	f := newFixture(t)
	const adm = "admin@example.org"
	cases := []struct {
		name   string
		r      response
		status int
		code   string
	}{
		{"unknown endpoint", f.get(adm, api.Prefix+"/nonsense"), 404, "not_found"},
		{"wrong method", f.do(adm, "PUT", api.Prefix+"/lists", nil, nil), 405, "method_not_allowed"},
		{"duplicate list", f.sendJSON(adm, "POST", api.Prefix+"/lists", map[string]string{"address": "a@lists.example.org"}), 409, "exists"},
		{"bad address", f.sendJSON(adm, "POST", api.Prefix+"/lists", map[string]string{"address": "not an address"}), 422, "invalid"},
		{"unknown field", f.sendJSON(adm, "POST", api.Prefix+"/lists", map[string]string{"adress": "c@lists.example.org"}), 422, "invalid"},
		{"unknown option", f.sendJSON(adm, "PATCH", api.Prefix+"/lists/a@lists.example.org", map[string]any{"options": map[string]string{"colour": "red"}}), 422, "invalid"},
		{"not JSON", f.do(adm, "POST", api.Prefix+"/lists", strings.NewReader("address=x"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type"},
		{"too large", f.do(adm, "POST", api.Prefix+"/lists", strings.NewReader(`{"name": "`+strings.Repeat("x", 2<<20)+`"}`), map[string]string{"Content-Type": "application/json"}), 413, "too_large"},
		{"missing member", f.get(adm, api.Prefix+"/lists/a@lists.example.org/members/nobody@example.org"), 404, "not_found"},
		{"missing hold", f.get(adm, api.Prefix+"/lists/a@lists.example.org/holds/99"), 404, "not_found"},
		{"bad hold id", f.get(adm, api.Prefix+"/lists/a@lists.example.org/holds/x"), 404, "not_found"},
		{"missing delivery", f.do(adm, "POST", api.Prefix+"/queue/99/retry", nil, nil), 404, "not_found"},
		{"bad key", f.do(adm, "POST", api.Prefix+"/lists/a@lists.example.org/members", multipartKey(t, "dave@example.org", []byte("not a key")), multipartType), 422, "invalid"},
		{"short password", f.sendJSON(adm, "POST", api.Prefix+"/users", map[string]string{"email": "e@example.org", "role": "owner", "password": "short"}), 422, "invalid"},
	}
	for _, c := range cases {
		if c.r.status != c.status || c.r.code(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, c.r.status, c.r.body, c.status, c.code)
		}
		if c.r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, c.r.header.Get("Content-Type"))
		}
	}
}

var multipartType = map[string]string{"Content-Type": "multipart/form-data; boundary=sealpost-test-boundary"}

// multipartKey is the body of an "add member" form, with its
// Content-Type in a fixed boundary.
func multipartKey(t *testing.T, email string, key []byte) io.Reader {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.SetBoundary("sealpost-test-boundary")
	w.WriteField("email", email)
	fw, _ := w.CreateFormFile("key", "key.asc")
	fw.Write(key)
	w.Close()
	return &b
}

func memberKey(t testing.TB, addr string) []byte {
	t.Helper()
	k, err := pgp.GenerateKey("", addr, pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k.Armored()
}

// TestMembersAndKeys: add a member by uploading a key file, see the
// badge, download the key and its fingerprint file; the audit log names
// who did it.
func TestMembersAndKeys(t *testing.T) {
	f := newFixture(t)
	const alice = "alice@example.org"
	key := memberKey(t, "dave@example.org")
	r := f.do(alice, "POST", api.Prefix+"/lists/a@lists.example.org/members", multipartKey(t, "Dave@Example.org", key), multipartType)
	if r.status != http.StatusCreated {
		t.Fatalf("add member: %d %s", r.status, r.body)
	}
	var m struct {
		Email, Badge string
		Keys         []struct{ Fingerprint, Badge, Source string }
	}
	r.json(t, &m)
	if m.Email != "dave@example.org" || m.Badge != "valid" || len(m.Keys) != 1 || m.Keys[0].Source != store.SourcePinned {
		t.Fatalf("member %+v", m)
	}
	fpr := m.Keys[0].Fingerprint
	dl := f.get(alice, api.Prefix+"/keys/"+fpr+"/download")
	if dl.status != 200 || dl.header.Get("Content-Type") != "application/pgp-keys" || !bytes.Contains(dl.body, []byte("BEGIN PGP PUBLIC KEY BLOCK")) {
		t.Errorf("download: %d %s %.60s", dl.status, dl.header.Get("Content-Type"), dl.body)
	}
	if k, err := pgp.ParseKey(dl.body); err != nil || k.Fingerprint() != fpr {
		t.Errorf("downloaded key does not parse to %s: %v", fpr, err)
	}
	fp := f.get(alice, api.Prefix+"/keys/"+fpr+"/fingerprint")
	if !strings.HasPrefix(fp.header.Get("Content-Type"), "text/plain") || strings.ReplaceAll(strings.TrimSpace(string(fp.body)), " ", "") != fpr ||
		!strings.Contains(fp.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("fingerprint file: %q %q %q", fp.header.Get("Content-Type"), fp.header.Get("Content-Disposition"), fp.body)
	}
	// A second key as a bare body.
	key2 := memberKey(t, "dave@example.org")
	r = f.do(alice, "POST", api.Prefix+"/lists/a@lists.example.org/members/dave@example.org/keys", bytes.NewReader(key2),
		map[string]string{"Content-Type": "application/pgp-keys"})
	if r.status != http.StatusCreated {
		t.Errorf("add key: %d %s", r.status, r.body)
	}
	var entries []struct{ Actor, Via, Action, Target string }
	f.get(alice, api.Prefix+"/audit?list=a@lists.example.org").json(t, &entries)
	var actions []string
	for _, e := range entries {
		if e.Actor == alice && e.Via == "api" {
			actions = append(actions, e.Action+" "+e.Target)
		}
	}
	for _, want := range []string{"member.add dave@example.org", "member.key.add dave@example.org"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log lacks %q: %v", want, actions)
		}
	}
	if r := f.do(alice, "DELETE", api.Prefix+"/lists/a@lists.example.org/members/dave@example.org", nil, nil); r.status != http.StatusNoContent {
		t.Errorf("remove member: %d %s", r.status, r.body)
	}
}

// TestQueuePurged: a delivery whose message was removed after its
// retention is listed with size 0 and purged_at, and a retry of it is
// refused (422) with the reason.
func TestQueuePurged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, _ := f.svc.List(ctx, "b@lists.example.org")
	out := store.Outcome{ListID: b.ID, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: b.ID, Kind: store.KindPost, From: "b-bounce@lists.example.org", To: "carol@example.org", Data: []byte("ciphertext")}}}
	if err := f.db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	id := out.Deliveries[0].ID
	then := time.Now().Add(-20 * 24 * time.Hour)
	if err := f.db.RecordAttempts(ctx, []store.Attempt{{ID: id, State: store.Failed, Error: "550 5.1.1 no such user", At: then}}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.PurgeDeliveryData(ctx, store.Failed, time.Now().Add(-14*24*time.Hour), time.Now(), 10); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	var items []struct {
		ID       int64
		State    string
		Size     int
		PurgedAt *string `json:"purged_at"`
	}
	f.get("bob@example.org", api.Prefix+"/queue?state=failed").json(t, &items)
	if len(items) != 1 || items[0].ID != id || items[0].Size != 0 || items[0].PurgedAt == nil {
		t.Fatalf("bob's queue: %+v", items)
	}
	r := f.do("bob@example.org", "POST", fmt.Sprintf("%s/queue/%d/retry", api.Prefix, id), nil, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "message was removed") {
		t.Errorf("retry of a purged delivery: %d %s", r.status, r.body)
	}
}

// cookieJar keeps the session cookie, whatever the test server's host.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }

// TestQueue: an owner sees and retries or drops the deliveries of their
// own lists only; each action is in the audit log.
func TestQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, _ := f.svc.List(ctx, "b@lists.example.org")
	if err := f.db.Commit(ctx, store.Outcome{ListID: b.ID, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: b.ID, Kind: store.KindPost, From: "b-bounce@lists.example.org", To: "carol@example.org", Data: []byte("ciphertext")},
		{Ref: "r1", ListID: b.ID, Kind: store.KindPost, From: "b-bounce@lists.example.org", To: "dan@example.org", Data: []byte("ciphertext")},
	}}); err != nil {
		t.Fatal(err)
	}
	var items []struct {
		ID          int64
		List, To    string
		State       string
		NextAttempt *string `json:"next_attempt"`
		Size        int
	}
	f.get("alice@example.org", api.Prefix+"/queue").json(t, &items)
	if len(items) != 0 {
		t.Errorf("alice sees B's queue: %+v", items)
	}
	f.get("bob@example.org", api.Prefix+"/queue").json(t, &items)
	if len(items) != 2 || items[0].List != "b@lists.example.org" || items[0].State != "pending" || items[0].Size != len("ciphertext") || items[0].NextAttempt == nil {
		t.Fatalf("bob's queue: %+v", items)
	}
	id := items[0].ID
	if r := f.do("alice@example.org", "POST", fmt.Sprintf("%s/queue/%d/retry", api.Prefix, id), nil, nil); r.status != http.StatusForbidden {
		t.Errorf("alice retries B's delivery: %d", r.status)
	}
	if r := f.do("alice@example.org", "DELETE", fmt.Sprintf("%s/queue/%d", api.Prefix, id), nil, nil); r.status != http.StatusForbidden {
		t.Errorf("alice drops B's delivery: %d", r.status)
	}
	if r := f.do("bob@example.org", "POST", fmt.Sprintf("%s/queue/%d/retry", api.Prefix, id), nil, nil); r.status != http.StatusNoContent {
		t.Errorf("bob retries: %d %s", r.status, r.body)
	}
	if r := f.do("bob@example.org", "DELETE", fmt.Sprintf("%s/queue/%d", api.Prefix, id), nil, nil); r.status != http.StatusNoContent {
		t.Errorf("bob drops: %d %s", r.status, r.body)
	}
	f.get("admin@example.org", api.Prefix+"/queue?state=pending&state=failed").json(t, &items)
	if len(items) != 1 || items[0].To != "dan@example.org" {
		t.Errorf("after the drop the queue holds %+v", items)
	}
	var entries []struct{ Actor, Action, Target string }
	f.get("bob@example.org", api.Prefix+"/audit").json(t, &entries)
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	for _, want := range []string{fmt.Sprintf("bob@example.org queue.retry delivery %d", id), fmt.Sprintf("bob@example.org queue.drop delivery %d", id)} {
		if !slices.Contains(got, want) {
			t.Errorf("audit lacks %q: %v", want, got)
		}
	}
}

// TestStatus: GET /status shows an admin the database, the live nodes
// with the copies each holds, every queue state and the job runs; a list
// owner gets 403.
func TestStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, err := f.svc.List(ctx, "a@lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "a-bounce@lists.example.org", To: "carol@example.org", Data: []byte("c")},
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "a-bounce@lists.example.org", To: "dave@example.org", Data: []byte("c")},
	}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := f.db.Heartbeat(ctx, store.Node{ID: "one-10-ab", Hostname: "one", PID: 10, Version: "v1", SMTP: "127.0.0.1:2525",
		StartedAt: now.Add(-time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	f.db.SetNode("one-10-ab")
	if ds, err := f.db.ClaimDue(ctx, now, time.Minute, "", 1); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	if _, err := f.db.ClaimJob(ctx, "daily", "one-10-ab", now, 24*time.Hour); err != nil {
		t.Fatal(err)
	}

	r := f.get("admin@example.org", api.Prefix+"/status")
	var st struct {
		Database string `json:"database"`
		Nodes    []struct {
			ID, Hostname, Version, SMTP string
			PID                         int64
			StartedAt                   string `json:"started_at"`
			Holds                       int    `json:"holds"`
		} `json:"nodes"`
		Queue map[string]int `json:"queue"`
		Jobs  []struct {
			Name, Node string
			LastRun    string `json:"last_run"`
		} `json:"jobs"`
	}
	r.json(t, &st)
	if r.status != http.StatusOK || !strings.HasSuffix(st.Database, "s.db") {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].ID != "one-10-ab" || st.Nodes[0].Hostname != "one" || st.Nodes[0].PID != 10 ||
		st.Nodes[0].SMTP != "127.0.0.1:2525" || st.Nodes[0].Holds != 1 || st.Nodes[0].StartedAt == "" {
		t.Errorf("nodes: %s", r.body)
	}
	if want := map[string]int{"pending": 2, "failed": 0, "sent": 0}; !maps.Equal(st.Queue, want) {
		t.Errorf("queue %v, want %v", st.Queue, want)
	}
	if len(st.Jobs) != 1 || st.Jobs[0].Name != "daily" || st.Jobs[0].Node != "one-10-ab" || st.Jobs[0].LastRun == "" {
		t.Errorf("jobs: %s", r.body)
	}
	if r := f.get("alice@example.org", api.Prefix+"/status"); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Errorf("a list owner: %d %s, want 403 forbidden", r.status, r.body)
	}
}

// TestModeratorAPI: an owner names a moderator through the API; the
// moderator's token reads the list's held messages and gets 403 on every
// other route of the list; a further owner gets what the owner gets.
func TestModeratorAPI(t *testing.T) {
	f := newFixture(t)
	const a = "a@lists.example.org"
	r := f.do("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/roles", strings.NewReader(`{"email": "bob@example.org", "role": "moderator"}`),
		map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"role": "moderator"`) {
		t.Fatalf("naming bob moderator: %d %s", r.status, r.body)
	}
	if r := f.get("bob@example.org", api.Prefix+"/lists/"+a+"/holds"); r.status != http.StatusOK {
		t.Errorf("the moderator's holds: %d %s", r.status, r.body)
	}
	for _, path := range []string{"", "/members", "/options", "/roles", "/templates"} {
		if r := f.get("bob@example.org", api.Prefix+"/lists/"+a+path); r.status != http.StatusForbidden {
			t.Errorf("the moderator's GET %s: %d, want 403", path, r.status)
		}
	}
	r = f.do("bob@example.org", "POST", api.Prefix+"/lists/"+a+"/roles", strings.NewReader(`{"email": "bob@example.org", "role": "owner"}`),
		map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusForbidden {
		t.Errorf("the moderator made himself owner: %d %s", r.status, r.body)
	}
	r = f.do("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/roles", strings.NewReader(`{"email": "bob@example.org", "role": "owner"}`),
		map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusCreated {
		t.Fatalf("making bob an owner: %d %s", r.status, r.body)
	}
	if r := f.get("bob@example.org", api.Prefix+"/lists/"+a+"/members"); r.status != http.StatusOK {
		t.Errorf("a further owner's members: %d %s", r.status, r.body)
	}
	if r := f.do("alice@example.org", "DELETE", api.Prefix+"/lists/"+a+"/roles/bob@example.org", nil, nil); r.status != http.StatusNoContent {
		t.Errorf("taking bob's role away: %d %s", r.status, r.body)
	}
	if r := f.get("bob@example.org", api.Prefix+"/lists/"+a+"/holds"); r.status != http.StatusForbidden {
		t.Errorf("bob's holds after his role was taken away: %d", r.status)
	}
}

// TestPaging: a list's members and its held messages come a page at a
// time (cut by the store), in the same order as all at once, with the
// total and a link to the next page that leads through them all; a
// limit out of bounds is 422.
func TestPaging(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const a = "a@lists.example.org"
	for i := range 7 {
		addr := fmt.Sprintf("m%d@example.org", i)
		if _, _, err := f.svc.AddMember(ctx, a, addr, memberKey(t, addr), false); err != nil {
			t.Fatal(err)
		}
	}
	var all []struct{ Email string }
	r := f.get("alice@example.org", api.Prefix+"/lists/"+a+"/members")
	r.json(t, &all)
	if len(all) != 7 || r.header.Get("X-Total-Count") != "7" || r.header.Get("Link") != "" {
		t.Fatalf("all at once: %d members, total %q, link %q", len(all), r.header.Get("X-Total-Count"), r.header.Get("Link"))
	}
	paged := f.walkPages(t, api.Prefix+"/lists/"+a+"/members?limit=3", 3, 7)
	for i, m := range all {
		if i >= len(paged) || paged[i] != m.Email {
			t.Fatalf("paged %q, all at once %v", paged, all)
		}
	}
	if len(paged) != 7 {
		t.Errorf("paged through %d members, want 7", len(paged))
	}
	// Held messages too, oldest first.
	l, _ := f.svc.List(ctx, a)
	var ids []string
	for i := range 5 {
		h := &store.Hold{ListID: l.ID, Ref: fmt.Sprint("r", i), EnvelopeFrom: "x@example.org", Reason: "held", Raw: []byte("x"), CreatedAt: time.Now()}
		if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Hold: h}); err != nil {
			t.Fatal(err)
		}
	}
	hs, _ := f.svc.Holds(ctx, a)
	for _, h := range hs {
		ids = append(ids, fmt.Sprint(h.ID))
	}
	if got := f.walkPages(t, api.Prefix+"/lists/"+a+"/holds?limit=2", 2, 5); strings.Join(got, " ") != strings.Join(ids, " ") {
		t.Errorf("paged holds %v, all %v", got, ids)
	}
	for _, q := range []string{"limit=0", "limit=501", "offset=-1", "limit=x"} {
		if r := f.get("alice@example.org", api.Prefix+"/lists/"+a+"/members?"+q); r.status != http.StatusUnprocessableEntity {
			t.Errorf("?%s: %d, want 422", q, r.status)
		}
	}
}

// walkPages follows the pages of a collection from path (each of at most
// limit items, total in all, by the headers) through the Link headers,
// and returns each item's email or id, in order.
func (f *fixture) walkPages(t *testing.T, path string, limit, total int) []string {
	t.Helper()
	var out []string
	for pages := 0; path != ""; pages++ {
		if pages > total {
			t.Fatal("the pages do not end")
		}
		r := f.get("alice@example.org", path)
		var page []struct {
			Email string
			ID    int64
		}
		r.json(t, &page)
		if len(page) > limit || r.header.Get("X-Total-Count") != fmt.Sprint(total) {
			t.Fatalf("%s: %d items, total %q", path, len(page), r.header.Get("X-Total-Count"))
		}
		for _, it := range page {
			if it.Email != "" {
				out = append(out, it.Email)
			} else {
				out = append(out, fmt.Sprint(it.ID))
			}
		}
		path = ""
		if link := r.header.Get("Link"); link != "" {
			start, end := strings.Index(link, "<"), strings.Index(link, ">")
			if start < 0 || end < start || !strings.HasSuffix(link, `rel="next"`) {
				t.Fatalf("Link %q", link)
			}
			path = link[start+1 : end]
		}
	}
	return out
}

// TestChangeListKeysAPI: an owner rotates the list key with grace days,
// and gives the list a certificate from a PKCS#12 file openssl made (a
// wrong password refused), each answered with what changed.
func TestChangeListKeysAPI(t *testing.T) {
	f := newFixture(t)
	const a = "a@lists.example.org"
	var rot struct {
		Old          string    `json:"old_fingerprint"`
		New          string    `json:"new_fingerprint"`
		DecryptUntil time.Time `json:"decrypt_until"`
	}
	r := f.sendJSON("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/key/rotate", map[string]any{"grace_days": 10})
	r.json(t, &rot)
	if r.status != http.StatusOK || rot.Old == rot.New || rot.DecryptUntil.Sub(time.Now().Add(10*24*time.Hour)).Abs() > time.Hour {
		t.Fatalf("rotation: %d %s", r.status, r.body)
	}
	if r := f.sendJSON("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/key/rotate", map[string]any{"grace_days": 366}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("366 grace days: %d, want 422", r.status)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue(a, openssltest.RSA2048, openssltest.LeafOptions{})
	p12 := openssltest.New(t).PKCS12(leaf.Cert, leaf.Key, "secret")
	if r := f.sendJSON("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/certificate", map[string]any{"pkcs12": p12, "password": "wrong"}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a wrong PKCS#12 password: %d %s", r.status, r.body)
	}
	var cert struct{ Fingerprint string }
	r = f.sendJSON("alice@example.org", "POST", api.Prefix+"/lists/"+a+"/certificate", map[string]any{"pkcs12": p12, "password": "secret"})
	r.json(t, &cert)
	if r.status != http.StatusOK || cert.Fingerprint != smime.Fingerprint(leaf.Cert) {
		t.Errorf("the PKCS#12 certificate: %d %s", r.status, r.body)
	}
	if r := f.sendJSON("bob@example.org", "POST", api.Prefix+"/lists/"+a+"/key/rotate", map[string]any{}); r.status != http.StatusForbidden {
		t.Errorf("bob rotates alice's list key: %d", r.status)
	}
}
