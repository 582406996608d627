package api_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
)

// The tests below hold a token limited to one list to that list
// (DESIGN §4.10), over every operation of openapi.json.

const (
	listA   = "a@lists.example.org"    // alice's: the limited tokens' list
	listB   = "b@lists.example.org"    // bob's
	gateway = "desk@lists.example.org" // bob's gateway, with an archived conversation
	thread  = "<t1/x@example.com>"
	// heldText is an owner-held template that renders.
	heldText = "Subject: [{{.List}}] held\n\nA post was held.\n"
)

// limitedWalk is a fixture with something of every kind on list A, on
// list B and on the gateway, and a token limited to list A.
type limitedWalk struct {
	*fixture
	t       *testing.T
	account string // whose token is limited to A
	keys    map[string][]byte
	// path parameter values: the {list}s, and per list the other
	// parameters under it, by key (see paramKey)
	scopes []limitedScope
	// global are the values of parameters outside /lists/{list}, by key;
	// own marks a value that is list A's.
	global map[string][]limitedValue
	// deliveries of A (retried, then dropped) and of B
	deliveryA, deliveryB int64
	// bulkHold is A's held message the bulk decision discards.
	bulkHold string
}

// limitedScope is one {list} and what the parameters under it name.
type limitedScope struct {
	list   string
	own    bool              // list A, the token's own
	values map[string]string // by key
	// byOp overrides values for one operation (a held message each
	// action can take for itself).
	byOp map[string]map[string]string
}

// limitedValue is a value of a parameter outside /lists/{list}.
type limitedValue struct {
	value string
	own   bool // list A's own resource
}

// limitedOwnGlobal are the operations outside /lists/{list} that may be
// list A's own, and so work with A's token: who the token is, views
// filtered to A, and A's deliveries. Everything else outside
// /lists/{list} is refused.
var limitedOwnGlobal = map[string]bool{
	"GET /me": true, "GET /lists": true, "GET /queue": true, "GET /audit": true,
	"POST /queue/{id}/retry": true, "DELETE /queue/{id}": true,
}

// limitedOwnStatus is what an operation on list A's own resources
// answers, where it is not 2xx, and why.
var limitedOwnStatus = map[string]int{
	"DELETE /lists/{list}":                     http.StatusForbidden,           // only an unlimited admin deletes a list
	"GET /lists/{list}/conversations":          http.StatusUnprocessableEntity, // A is a list, not a gateway
	"GET /lists/{list}/conversations/{thread}": http.StatusUnprocessableEntity,
}

// limitedQuery are values for required query parameters, by name.
var limitedQuery = map[string]string{"q": "dave@example.org"}

// limitedOrder runs reads first and deletions last, so that what one
// operation removes on A is not what a later one needs.
var limitedOrder = []string{"GET", "PUT", "PATCH", "POST", "DELETE"}

func newLimitedWalk(t *testing.T, account string) *limitedWalk {
	f := newFixture(t)
	w := &limitedWalk{fixture: f, t: t, account: account, keys: map[string][]byte{}}
	ctx := context.Background()
	for _, addr := range []string{"dave@example.org", "erin@example.org", "frank@example.org", "carol@example.org", "mallory@example.org"} {
		w.keys[addr] = memberKey(t, addr)
	}
	member := func(list, addr string) string {
		// Without the welcome: B's queue is to hold one copy, the walk's.
		if _, _, err := f.svc.AddMemberWith(ctx, list, addr, w.keys[addr], admin.MemberOptions{NoWelcome: true}); err != nil {
			t.Fatal(err)
		}
		m, err := f.svc.Member(ctx, list, addr)
		if err != nil || len(m.Keys) == 0 {
			t.Fatalf("member %s: %+v %v", addr, m, err)
		}
		return m.Keys[0].Fingerprint
	}
	daveKey, carolKey := member(listA, "dave@example.org"), member(listB, "carol@example.org")
	member(listA, "erin@example.org")
	a, err := f.svc.GenerateSMIMEIdentity(ctx, listA)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := f.svc.CreateGateway(ctx, gateway, "bob@example.org", "", pgp.Ed25519, "smtp://helpdesk.internal:25")
	if err != nil {
		t.Fatal(err)
	}
	w.archive(gw)
	holdsA := []string{w.hold(listA), w.hold(listA), w.hold(listA), w.hold(listA)}
	holdB := w.hold(listB)
	w.bulkHold = w.hold(listA)
	w.deliveryA, w.deliveryB = w.delivery(listA), w.delivery(listB)

	lists := map[string]*store.List{}
	for _, l := range []string{listA, listB, gateway} {
		lists[l], _ = f.svc.List(ctx, l)
	}
	for _, l := range []string{listA, listB} {
		if err := f.svc.AddListRole(ctx, l, "greta@example.org", store.ListModerator); err != nil {
			t.Fatal(err)
		}
	}
	// Two requests to join list A, answered and waiting for an owner: one
	// to approve, one to decline.
	for _, addr := range []string{"henry@example.org", "ivan@example.org"} {
		now := time.Now()
		if err := f.db.Commit(ctx, store.Outcome{ListID: lists[listA].ID, Subscription: &store.Subscription{ListID: lists[listA].ID,
			Email: addr, Action: store.ActionSubscribe, State: store.StateApproval, Key: memberKey(t, addr), Engine: store.EngineOpenPGP,
			Fingerprint: "0000", TokenHash: []byte(addr), Via: "web", CreatedAt: now, AnsweredAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	onList := func(member, hold string) map[string]string {
		return map[string]string{"members/{email}": member, "holds/{id}": hold, "templates/{lang}": "en",
			"{lang}/{name}": "owner-held", "conversations/{thread}": thread, "roles/{email}": "greta@example.org",
			"subscriptions/{email}": "henry@example.org"}
	}
	w.scopes = []limitedScope{
		{list: listA, own: true, values: onList("dave@example.org", holdsA[0]), byOp: map[string]map[string]string{
			"POST /lists/{list}/holds/{id}/release":           {"holds/{id}": holdsA[1]},
			"POST /lists/{list}/holds/{id}/reject":            {"holds/{id}": holdsA[2]},
			"POST /lists/{list}/holds/{id}/discard":           {"holds/{id}": holdsA[3]},
			"DELETE /lists/{list}/members/{email}":            {"members/{email}": "erin@example.org"},
			"POST /lists/{list}/subscriptions/{email}/reject": {"subscriptions/{email}": "ivan@example.org"},
		}},
		{list: listB, values: onList("carol@example.org", holdB)},
		{list: gateway, values: onList("carol@example.org", holdB)},
		{list: "nosuch@lists.example.org", values: onList("carol@example.org", holdB)},
	}
	limited, _, err := f.svc.CreateToken(ctx, account, "for a", listA)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["limited"] = limited
	// Another token of the account, and one of another account.
	other := "bob@example.org"
	ownTokens, _ := f.svc.Tokens(ctx, account)
	otherTokens, _ := f.svc.Tokens(ctx, other)
	var accounts []limitedValue
	for _, u := range []string{account, "admin@example.org", "alice@example.org", "bob@example.org"} {
		if !slices.ContainsFunc(accounts, func(v limitedValue) bool { return v.value == u }) {
			accounts = append(accounts, limitedValue{value: u})
		}
	}
	// A trust anchor every list trusts, which no limited token may remove.
	ca := openssltest.NewCA(t, openssltest.P256)
	if _, err := f.svc.AddGlobalTrustAnchors(ctx, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})); err != nil {
		t.Fatal(err)
	}
	w.global = map[string][]limitedValue{
		"trust-anchors/{fingerprint}": {{value: smime.Fingerprint(ca.Cert)}},
		"queue/{id}":                  {{value: fmt.Sprint(w.deliveryA), own: true}, {value: fmt.Sprint(w.deliveryB)}},
		"keys/{fingerprint}": {{value: daveKey}, {value: carolKey}, {value: lists[listA].KeyFingerprint},
			{value: lists[gateway].KeyFingerprint}, {value: smimeFingerprint(t, a)}},
		"users/{email}": accounts,
		"tokens/{id}":   {{value: fmt.Sprint(ownTokens[0].ID)}, {value: fmt.Sprint(otherTokens[0].ID)}},
	}
	return w
}

// smimeFingerprint is the keyring fingerprint of a list's certificate.
func smimeFingerprint(t *testing.T, l *store.List) string {
	t.Helper()
	rec, _, err := keyring.Describe(l.SMIMECert, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rec.Fingerprint
}

// hold puts a held message on list, as the pipeline would.
func (w *limitedWalk) hold(list string) string {
	w.t.Helper()
	ctx := context.Background()
	l, _ := w.svc.List(ctx, list)
	raw := "From: Mallory <mallory@example.net>\r\nTo: " + list + "\r\nSubject: held\r\n\r\nnot encrypted\r\n"
	if err := w.db.Commit(ctx, store.Outcome{ListID: l.ID, Hold: &store.Hold{ListID: l.ID, Ref: "held", EnvelopeFrom: "mallory@example.net",
		Reason: "not encrypted", Raw: []byte(raw), CreatedAt: time.Now()}}); err != nil {
		w.t.Fatal(err)
	}
	hs, _ := w.svc.Holds(ctx, list)
	return fmt.Sprint(hs[len(hs)-1].ID)
}

// delivery queues a copy on list and returns its ID.
func (w *limitedWalk) delivery(list string) int64 {
	w.t.Helper()
	ctx := context.Background()
	l, _ := w.svc.List(ctx, list)
	if err := w.db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{
		{Ref: "r-" + list, ListID: l.ID, Kind: store.KindPost, From: "bounce@lists.example.org", To: "someone@example.org", Data: []byte("ciphertext")},
	}}); err != nil {
		w.t.Fatal(err)
	}
	q, _ := w.svc.Queue(ctx, list, nil, 100)
	return q[len(q)-1].ID
}

// archive puts one conversation into the gateway's archive.
func (w *limitedWalk) archive(gw *store.List) {
	w.t.Helper()
	msg := "From: Carla <c@example.com>\r\nTo: " + gw.Address + "\r\nSubject: My invoice\r\n\r\nThe invoice is wrong.\r\n"
	sealed, err := w.sealer.Seal([]byte(msg), keyring.ArchiveLabel(gw.Address, "ref1", "in"))
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.db.Commit(context.Background(), store.Outcome{ListID: gw.ID,
		Thread:  &store.ThreadMark{Thread: thread, MessageIDs: []string{thread}, Encrypted: true, At: time.Now(), Tag: "[example.org #7]"},
		Archive: []store.Archived{{ListID: gw.ID, Thread: thread, Direction: "in", MessageID: thread, Ref: "ref1", Sealed: sealed, CreatedAt: time.Now()}}}); err != nil {
		w.t.Fatal(err)
	}
}

// docOperation is one operation of the served openapi.json.
type docOperation struct {
	method, path string
	op           map[string]any
	params       []map[string]any // the path item's and the operation's
}

func (o docOperation) String() string { return o.method + " " + o.path }

// servedOperations returns the operations of the OpenAPI document the API
// serves, reads first and deletions last.
func (w *limitedWalk) servedOperations() []docOperation {
	w.t.Helper()
	r := w.get("", api.Prefix+"/openapi.json")
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Parameters map[string]map[string]any }
	}
	if r.status != http.StatusOK {
		w.t.Fatalf("openapi.json: %d", r.status)
	}
	r.json(w.t, &doc)
	var out []docOperation
	for path, item := range doc.Paths {
		var shared []map[string]any
		if raw, ok := item["parameters"]; ok {
			json.Unmarshal(raw, &shared)
		}
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, method) {
				continue
			}
			var op map[string]any
			if err := json.Unmarshal(raw, &op); err != nil {
				w.t.Fatalf("%s %s: %v", method, path, err)
			}
			o := docOperation{method: strings.ToUpper(method), path: path, op: op}
			ps, _ := op["parameters"].([]any)
			for _, p := range append(slices.Clone(shared), toObjects(ps)...) {
				if ref, ok := p["$ref"].(string); ok {
					p = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
				}
				o.params = append(o.params, p)
			}
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b docOperation) int {
		if d := slices.Index(limitedOrder, a.method) - slices.Index(limitedOrder, b.method); d != 0 {
			return d
		}
		return strings.Compare(a.path, b.path)
	})
	return out
}

func toObjects(vs []any) []map[string]any {
	var out []map[string]any
	for _, v := range vs {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// paramKey names a path parameter by the segment before it and itself
// ("members/{email}", "{lang}/{name}"), since the same name means
// different things on different paths ({id} of a hold, a delivery, a
// token).
func paramKey(path string, loc []int) string {
	before := strings.TrimSuffix(path[:loc[0]], "/")
	return before[strings.LastIndex(before, "/")+1:] + "/" + path[loc[0]:loc[1]]
}

// limitedRequest is one request of the walk and what it must get.
type limitedRequest struct {
	path   string
	own    bool              // list A's own resource
	what   string            // the values, for messages
	values map[string]string // by key
}

// requests fills the operation's path parameters with every combination
// of values the walk has for them. An operation with a parameter the
// walk has no value for fails the test, naming the parameter.
func (w *limitedWalk) requests(o docOperation) []limitedRequest {
	w.t.Helper()
	locs := pathParam.FindAllStringIndex(o.path, -1)
	if len(locs) > 0 && paramKey(o.path, locs[0]) == "lists/{list}" {
		var out []limitedRequest
		for _, sc := range w.scopes {
			path, ok := o.path[:locs[0][0]]+url.PathEscape(sc.list), true
			last, values := locs[0][1], map[string]string{}
			for _, loc := range locs[1:] {
				key := paramKey(o.path, loc)
				v, found := sc.byOp[o.String()][key]
				if !found {
					v, found = sc.values[key]
				}
				if !found {
					w.t.Errorf("%s: the test has no value for %s on list %s: add one to limitedScope.values", o, key, sc.list)
					ok = false
				}
				path += o.path[last:loc[0]] + url.PathEscape(v)
				last, values[key] = loc[1], v
			}
			if ok {
				out = append(out, limitedRequest{path: path + o.path[last:], own: sc.own, what: "{list}=" + sc.list, values: values})
			}
		}
		return out
	}
	// Outside /lists/{list}: every combination of the global values.
	reqs := []limitedRequest{{path: "", own: true}}
	last := 0
	for _, loc := range locs {
		key := paramKey(o.path, loc)
		vs, found := w.global[key]
		if !found || len(vs) == 0 {
			w.t.Errorf("%s: the test has no value for %s: add values to limitedWalk.global", o, key)
			return nil
		}
		var next []limitedRequest
		for _, r := range reqs {
			for _, v := range vs {
				next = append(next, limitedRequest{path: r.path + o.path[last:loc[0]] + url.PathEscape(v.value), own: r.own && v.own,
					what: strings.TrimSpace(r.what + " " + key + "=" + v.value)})
			}
		}
		reqs, last = next, loc[1]
	}
	for i := range reqs {
		reqs[i].path += o.path[last:]
		reqs[i].own = reqs[i].own && limitedOwnGlobal[o.String()]
	}
	return reqs
}

// query returns the operation's required query parameters; one the walk
// has no value for fails the test.
func (w *limitedWalk) query(o docOperation) string {
	q := url.Values{}
	for _, p := range o.params {
		if p["in"] != "query" || p["required"] != true {
			continue
		}
		name, _ := p["name"].(string)
		v, ok := limitedQuery[name]
		if !ok {
			w.t.Errorf("%s: the test has no value for the required query parameter %s: add one to limitedQuery", o, name)
		}
		q.Set(name, v)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// body is what the walk sends to an operation: what makes it succeed on
// A's own resources, and an attempt at the same on anything else; {}
// for the operations that take no body.
func (w *limitedWalk) body(o docOperation, rq limitedRequest) (io.Reader, map[string]string) {
	jsonBody := func(v any) (io.Reader, map[string]string) {
		b, _ := json.Marshal(v)
		return bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}
	}
	newMember := "mallory@example.org"
	if rq.own {
		newMember = "frank@example.org"
	}
	switch o.String() {
	case "POST /lists":
		return jsonBody(map[string]string{"address": "c@lists.example.org"})
	case "PATCH /lists/{list}":
		return jsonBody(map[string]any{"options": map[string]string{"name": "Taken over"}})
	case "POST /lists/{list}/members":
		return multipartKey(w.t, newMember, w.keys[newMember]), multipartType
	case "PATCH /lists/{list}/members/{email}":
		return jsonBody(map[string]string{"format": "inline"})
	case "POST /lists/{list}/key/rotate":
		return jsonBody(map[string]any{"grace_days": 7})
	case "POST /lists/{list}/certificate":
		return jsonBody(map[string]any{"generate": true})
	case "POST /lists/{list}/roles":
		return jsonBody(map[string]string{"email": newMember, "role": "moderator"})
	case "POST /lists/{list}/members/{email}/keys":
		// A further key of the member the path names.
		return bytes.NewReader(memberKey(w.t, rq.values["members/{email}"])), map[string]string{"Content-Type": "application/pgp-keys"}
	case "POST /lists/{list}/holds":
		id, _ := strconv.ParseInt(w.bulkHold, 10, 64)
		return jsonBody(map[string]any{"action": "discard", "ids": []int64{id}})
	case "PUT /lists/{list}/templates/{lang}/{name}":
		return jsonBody(map[string]string{"text": heldText})
	case "POST /keys":
		return bytes.NewReader(w.keys["mallory@example.org"]), map[string]string{"Content-Type": "application/pgp-keys"}
	case "POST /users":
		return jsonBody(map[string]string{"email": "eve@example.org", "role": "admin", "password": "a brand new password"})
	case "PATCH /users/{email}":
		return jsonBody(map[string]string{"password": "a brand new password"})
	case "POST /users/{email}/tokens":
		return jsonBody(map[string]string{"name": "escalate"})
	}
	return jsonBody(map[string]any{})
}

// documents403 reports whether the operation documents a 403 response.
func documents403(o docOperation) bool {
	rs, _ := o.op["responses"].(map[string]any)
	_, ok := rs["403"]
	return ok
}

// walk sends every operation of openapi.json with the limited token and
// checks the answers.
func (w *limitedWalk) walk() {
	t := w.t
	ops := w.servedOperations()
	if len(ops) < len(api.Routes()) {
		t.Fatalf("openapi.json has %d operations, the API %d routes", len(ops), len(api.Routes()))
	}
	undocumented := map[string]bool{}
	for _, o := range ops {
		if sec, ok := o.op["security"].([]any); ok && len(sec) == 0 {
			continue // needs no credentials (the document itself, /healthz, /metrics): nothing to authorise
		}
		reqs := w.requests(o)
		if len(reqs) == 0 {
			t.Errorf("%s: no request made", o)
		}
		for _, rq := range reqs {
			body, header := w.body(o, rq)
			r := w.do("limited", o.method, api.Prefix+rq.path+w.query(o), body, header)
			switch want, special := limitedOwnStatus[o.String()]; {
			case !rq.own:
				if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
					t.Errorf("%s's token limited to %s: %s (%s): %d %s, want 403 forbidden", w.account, listA, o, rq.what, r.status, r.body)
				}
			case special:
				if r.status != want {
					t.Errorf("%s's token limited to %s: %s on its own list (%s): %d %s, want %d", w.account, listA, o, rq.what, r.status, r.body, want)
				}
			case r.status < 200 || r.status > 299:
				t.Errorf("%s's token limited to %s: %s on its own list (%s): %d %s, want it to work", w.account, listA, o, rq.what, r.status, r.body)
			}
			if r.status == http.StatusForbidden && !documents403(o) && !undocumented[o.String()] {
				undocumented[o.String()] = true
				t.Errorf("%s answers 403 but openapi.json does not document it", o)
			}
		}
	}
}

// unchanged checks that the walk changed nothing that is not list A's:
// every change is audited, so the audit log after start holds list A's
// changes only; and the accounts, tokens and passwords are as they were.
func (w *limitedWalk) unchanged(auditBefore int64, tokensBefore map[string]int) {
	t := w.t
	ctx := context.Background()
	es, err := w.svc.Audit(ctx, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ID > auditBefore && e.List != listA {
			t.Errorf("the limited token changed something outside %s: %+v", listA, e)
		}
	}
	us, _ := w.svc.Users(ctx)
	if len(us) != 3 {
		t.Errorf("accounts after the walk: %+v", us)
	}
	for _, u := range us {
		if want := map[string]string{"admin@example.org": store.RoleAdmin}[u.Email]; u.Role != cmp.Or(want, store.RoleOwner) {
			t.Errorf("%s has role %s now", u.Email, u.Role)
		}
		if _, err := w.svc.Login(ctx, u.Email, password, "web"); err != nil {
			t.Errorf("%s's password no longer works: %v", u.Email, err)
		}
		if ts, _ := w.svc.Tokens(ctx, u.Email); len(ts) != tokensBefore[u.Email] {
			t.Errorf("%s has %d tokens, had %d", u.Email, len(ts), tokensBefore[u.Email])
		}
	}
	for _, l := range []string{listB, gateway} {
		if l, _ := w.svc.List(ctx, l); l.Name != "" {
			t.Errorf("%s renamed to %q", l.Address, l.Name)
		}
	}
	if ms, _ := w.svc.Members(ctx, listB); len(ms) != 1 || len(ms[0].Keys) != 1 {
		t.Errorf("B's members: %+v", ms)
	}
	if hs, _ := w.svc.Holds(ctx, listB); len(hs) != 1 {
		t.Errorf("B's held messages: %d", len(hs))
	}
	if q, _ := w.svc.Queue(ctx, listB, nil, 10); len(q) != 1 || q[0].State != store.Pending {
		t.Errorf("B's queue: %+v", q)
	}
	if ls, _ := w.svc.Lists(ctx); len(ls) != 3 {
		t.Errorf("lists after the walk: %d", len(ls))
	}
}

// TestLimitedTokenWalk: for every operation in openapi.json, a token
// limited to list A, of an admin and of A's owner, gets 403 forbidden on
// everything that is not list A's own (another list, a gateway, a list
// that does not exist, accounts including its own, tokens, the keyring,
// another list's delivery), and works on list A's own. The walk reads
// the served document, so a route added to it is walked too, and a path
// parameter the test has no value for fails it.
func TestLimitedTokenWalk(t *testing.T) {
	for _, account := range []string{"admin@example.org", "alice@example.org"} {
		t.Run(strings.Split(account, "@")[0], func(t *testing.T) {
			w := newLimitedWalk(t, account)
			ctx := context.Background()
			es, _ := w.svc.Audit(ctx, "", 0, 1)
			tokens := map[string]int{}
			for _, u := range []string{"admin@example.org", "alice@example.org", "bob@example.org"} {
				ts, _ := w.svc.Tokens(ctx, u)
				tokens[u] = len(ts)
			}
			w.walk()
			w.unchanged(es[0].ID, tokens)

			// The views show A only.
			var lists []struct{ Address string }
			w.get("limited", api.Prefix+"/lists").json(t, &lists)
			if len(lists) != 1 || lists[0].Address != listA {
				t.Errorf("GET /lists: %+v", lists)
			}
			var entries []struct{ List string }
			w.get("limited", api.Prefix+"/audit").json(t, &entries)
			for _, e := range entries {
				if e.List != listA {
					t.Errorf("GET /audit shows %+v", e)
				}
			}
			var items []struct{ List string }
			w.get("limited", api.Prefix+"/queue?state=pending&state=failed&state=sent").json(t, &items)
			for _, d := range items {
				if d.List != listA {
					t.Errorf("GET /queue shows %+v", d)
				}
			}
			var me struct{ Email, List string }
			w.get("limited", api.Prefix+"/me").json(t, &me)
			if me.Email != account || me.List != listA {
				t.Errorf("GET /me: %+v", me)
			}
			// Query parameters name no other list either.
			for _, path := range []string{"/queue?list=" + listB, "/audit?list=" + listB, "/audit?list=" + gateway} {
				if r := w.get("limited", api.Prefix+path); r.status != http.StatusForbidden {
					t.Errorf("GET %s: %d %s, want 403", path, r.status, r.body)
				}
			}
			if r := w.do("limited", "POST", api.Prefix+"/keys?list="+listA, bytes.NewReader(w.keys["mallory@example.org"]),
				map[string]string{"Content-Type": "application/pgp-keys"}); r.status != http.StatusForbidden {
				t.Errorf("POST /keys?list=A: %d %s, want 403", r.status, r.body)
			}
		})
	}
}

// TestLimitedTokenReproductions are the three findings of issue 14 item
// 2, each against the running API: a token limited to one list took over
// its account. Each is refused and changes nothing.
func TestLimitedTokenReproductions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	limit := func(account string) string {
		secret, _, err := f.svc.CreateToken(ctx, account, "for a", listA)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[account+" limited"] = secret
		return account + " limited"
	}
	tokenCount := func(account string) int {
		ts, err := f.svc.Tokens(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	alice := limit("alice@example.org")
	adm := limit("admin@example.org")

	// 1. A list-limited token mints an unlimited token for its account.
	for _, who := range []struct{ token, account string }{{alice, "alice@example.org"}, {adm, "admin@example.org"}} {
		before := tokenCount(who.account)
		r := f.sendJSON(who.token, "POST", api.Prefix+"/users/"+who.account+"/tokens", map[string]string{"name": "escalate"})
		if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Errorf("%s mints a token: %d %s, want 403", who.token, r.status, r.body)
		}
		if strings.Contains(string(r.body), "sealpost_") {
			t.Errorf("%s got a token secret: %s", who.token, r.body)
		}
		if n := tokenCount(who.account); n != before {
			t.Errorf("%s: %d tokens after, %d before", who.account, n, before)
		}
		if r := f.get(who.token, api.Prefix+"/users/"+who.account+"/tokens"); r.status != http.StatusForbidden {
			t.Errorf("%s lists its account's tokens: %d, want 403", who.token, r.status)
		}
	}

	// 2. A list-limited token changes its account's password, which ends
	// every session.
	session, _ := f.login("alice@example.org")
	r := f.sendJSON(alice, "PATCH", api.Prefix+"/users/alice@example.org", map[string]string{"password": "taken over by a token"})
	if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Errorf("alice's limited token sets her password: %d %s, want 403", r.status, r.body)
	}
	if _, err := f.svc.Login(ctx, "alice@example.org", password, "web"); err != nil {
		t.Errorf("alice's password no longer works: %v", err)
	}
	if _, err := f.svc.Login(ctx, "alice@example.org", "taken over by a token", "web"); err == nil {
		t.Error("the token's password works")
	}
	if resp, err := session.Get(f.srv.URL + api.Prefix + "/lists"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("alice's session after the attempt: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// 3. An admin's list-limited token mints a token, which lists every
	// account and makes a new admin. Whatever token the attempt yields,
	// and the limited token itself, is tried.
	tries := []string{adm}
	r = f.sendJSON(adm, "POST", api.Prefix+"/users/admin@example.org/tokens", map[string]string{"name": "escalate"})
	if r.status != http.StatusForbidden {
		t.Errorf("the admin's limited token mints a token: %d %s, want 403", r.status, r.body)
		var made struct{ Token string }
		if r.json(t, &made); made.Token != "" {
			f.tokens["minted"] = made.Token
			tries = append(tries, "minted")
		}
	}
	for _, token := range tries {
		if r := f.get(token, api.Prefix+"/users"); r.status != http.StatusForbidden || strings.Contains(string(r.body), "bob@example.org") {
			t.Errorf("%s lists the accounts: %d %s", token, r.status, r.body)
		}
		r = f.sendJSON(token, "POST", api.Prefix+"/users", map[string]string{"email": "eve@example.org", "role": "admin", "password": "a brand new password"})
		if r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Errorf("%s adds an admin: %d %s, want 403", token, r.status, r.body)
		}
		if r := f.sendJSON(token, "PATCH", api.Prefix+"/users/bob@example.org", map[string]string{"role": "admin"}); r.status != http.StatusForbidden {
			t.Errorf("%s makes bob an admin: %d %s, want 403", token, r.status, r.body)
		}
	}
	us, _ := f.svc.Users(ctx)
	var got []string
	for _, u := range us {
		got = append(got, u.Email+" "+u.Role)
	}
	if want := []string{"admin@example.org admin", "alice@example.org owner", "bob@example.org owner"}; !slices.Equal(got, want) {
		t.Errorf("accounts after the attempts: %v, want %v", got, want)
	}
	// The refusal says why, in words for a person.
	var e struct{ Error struct{ Message string } }
	f.sendJSON(adm, "POST", api.Prefix+"/users/admin@example.org/tokens", map[string]string{"name": "escalate"}).json(t, &e)
	if want := "you may act on " + listA + " only, so you may not make API tokens"; e.Error.Message != want {
		t.Errorf("the refusal says %q, want %q", e.Error.Message, want)
	}
}
