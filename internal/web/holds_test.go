package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/store"
)

// heldRaw is a post in clear with markup in its text and an HTML
// attachment, as a list that holds unencrypted posts keeps it.
const heldRaw = "From: Mallory <mallory@example.net>\r\nTo: " + listA + "\r\nSubject: look <b>here</b>\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi <script>alert('held')</script> there\r\n" +
	"--b\r\nContent-Type: text/html; name=\"page.html\"\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n" +
	"<html><script>alert('attached')</script></html>\r\n--b--\r\n"

// holdRaw holds raw on list as a list holds an unencrypted post.
func (f *fixture) holdRaw(list, ref, raw string) int64 {
	f.t.Helper()
	ctx := context.Background()
	l, err := f.svc.List(ctx, list)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Hold: &store.Hold{ListID: l.ID, Ref: ref, EnvelopeFrom: "mallory@example.net",
		Reason: "not encrypted", Raw: []byte(raw), CreatedAt: time.Now()}}); err != nil {
		f.t.Fatal(err)
	}
	hs, _ := f.svc.Holds(ctx, list)
	return hs[len(hs)-1].ID
}

// TestReadHoldPage: the owner opens a held message from the holds page
// and reads it, its text escaped, never run as HTML, its attachment
// named and not offered; the reading is in the audit log as hers; the
// owner of another list may not read it; she releases it from that view.
func TestReadHoldPage(t *testing.T) {
	f := newFixture(t)
	id := f.holdRaw(listA, "r1", heldRaw)
	alice := f.signedIn("alice@example.org")
	read := "/lists/" + listA + "/holds/" + fmt.Sprint(id)
	if r := row(alice.get("/lists/"+listA+"/holds").body, "data-hold", fmt.Sprint(id)); !strings.Contains(r, `href="`+read+`"`) ||
		!strings.Contains(r, `<input type="checkbox" name="id" value="`+fmt.Sprint(id)+`" form="bulk-holds"`) {
		t.Errorf("the hold's row has no Read link or checkbox:\n%s", r)
	}
	if p := f.signedIn("bob@example.org").get(read); p.status != http.StatusForbidden || strings.Contains(p.body, "alert") {
		t.Errorf("bob reads alice's hold: %d", p.status)
	}
	p := alice.get(read)
	if p.status != http.StatusOK {
		t.Fatalf("read: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{"Hi &lt;script&gt;alert(&#39;held&#39;)&lt;/script&gt; there", "look &lt;b&gt;here&lt;/b&gt;",
		"not signed", `<dd class="hold-reason">not encrypted</dd>`, "page.html", "text/html",
		`name="reason"`, `value="release"`, `value="reject"`, `value="discard"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the read page lacks %q:\n%s", want, p.body)
		}
	}
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<b>here") || strings.Contains(p.body, `href="page.html`) ||
		strings.Contains(p.body, "attached") {
		t.Errorf("the read page renders the held post's markup or offers its attachment:\n%s", p.body)
	}
	es, _ := f.svc.Audit(context.Background(), listA, 0, 10)
	reads := 0
	for _, e := range es {
		if e.Action == "hold.read" {
			reads++
			if e.Actor != "alice@example.org" || e.Via != admin.ViaWeb || e.Target != "hold "+fmt.Sprint(id) {
				t.Errorf("audit entry %+v", e)
			}
		}
	}
	if reads != 1 {
		t.Errorf("%d readings audited, want 1 (bob's refused one is not)", reads)
	}
	// A post that cannot be decrypted says so, and shows nothing else.
	broken := f.holdRaw(listA, "r2", "From: x@example.net\r\nTo: "+listA+"\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n"+
		"--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\n"+
		"-----BEGIN PGP MESSAGE-----\r\n\r\nbm90IGFuIE9wZW5QR1AgbWVzc2FnZQ==\r\n-----END PGP MESSAGE-----\r\n--e--\r\n")
	if p := alice.get("/lists/" + listA + "/holds/" + fmt.Sprint(broken)); p.status != http.StatusOK ||
		!strings.Contains(p.body, "Its content cannot be shown. The message could not be decrypted") || strings.Contains(p.body, "hold-text") {
		t.Errorf("an undecryptable hold: %d\n%s", p.status, p.body)
	}
	p = alice.post(read+"/release", url.Values{"action": {"release"}})
	if p.url != "/lists/"+listA+"/holds" || !strings.Contains(p.body, "Released") || row(p.body, "data-hold", fmt.Sprint(id)) != "" {
		t.Errorf("release from the read page: at %s\n%s", p.url, p.body)
	}
}

// TestHoldsBulk: several held messages ticked on the holds page are
// rejected in one POST, with a reason for their senders; one that is not
// there is reported and does not stop the others; without the CSRF token
// nothing is done; another list's owner may not.
func TestHoldsBulk(t *testing.T) {
	f := newFixture(t)
	one, two, three := f.hold(listA, "one"), f.hold(listA, "two"), f.hold(listA, "three")
	alice := f.signedIn("alice@example.org")
	form := func() url.Values {
		return url.Values{"id": {fmt.Sprint(one), fmt.Sprint(two), "99"}, "action": {"reject"}, "reason": {"Not for this list."}}
	}
	if p := alice.post("/lists/"+listA+"/holds", url.Values{"csrf": {"forged"}, "id": {fmt.Sprint(one)}, "action": {"discard"}}); p.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", p.status)
	}
	if p := f.signedIn("bob@example.org").post("/lists/"+listA+"/holds", form()); p.status != http.StatusForbidden {
		t.Errorf("bob decides alice's holds: %d", p.status)
	}
	p := alice.post("/lists/"+listA+"/holds", form())
	if p.url != "/lists/"+listA+"/holds" || !strings.Contains(p.body, fmt.Sprintf("Rejected #%d, #%d.", one, two)) ||
		!strings.Contains(p.body, "Not done: #99: ") {
		t.Errorf("bulk reject: at %s\n%s", p.url, p.body)
	}
	if row(p.body, "data-hold", fmt.Sprint(one)) != "" || row(p.body, "data-hold", fmt.Sprint(two)) != "" || row(p.body, "data-hold", fmt.Sprint(three)) == "" {
		t.Error("the rows left are not the one not chosen")
	}
	ds, _ := f.svc.Queue(context.Background(), listA, nil, 10)
	if len(ds) != 2 || ds[0].Kind != store.KindNotice || ds[1].Kind != store.KindNotice {
		t.Errorf("queued %+v; want a notice to each sender", ds)
	}
	if p := alice.post("/lists/"+listA+"/holds", url.Values{"id": {fmt.Sprint(three)}, "action": {"keep"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown decision: %d", p.status)
	}
}
