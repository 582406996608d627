package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// TestMembers: add a member by uploading their key, see the badge in
// their row, change their format, remove them.
func TestMembers(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	key := memberKey(t, "dave@example.org")
	p := alice.postFile("/lists/"+listA+"/members", map[string]string{"email": "Dave@Example.org"}, key)
	if p.status != http.StatusOK || p.url != "/lists/"+listA {
		t.Fatalf("add member: %d at %s\n%s", p.status, p.url, p.body)
	}
	r := row(p.body, "data-member", "dave@example.org")
	if !strings.Contains(r, `<span class="badge badge-valid" data-badge="valid">valid</span>`) {
		t.Fatalf("dave's row lacks the valid badge:\n%s", r)
	}
	k, _ := pgp.ParseKey(key)
	if !strings.Contains(r, `href="/keys/`+k.Fingerprint()+`"`) {
		t.Errorf("dave's row does not link his key %s:\n%s", k.Fingerprint(), r)
	}
	if !strings.Contains(p.body, "Added dave@example.org") {
		t.Error("no message after adding")
	}

	// Refused: the same member again, and a key that is not one.
	p = alice.postFile("/lists/"+listA+"/members", map[string]string{"email": "dave@example.org"}, key)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already a member") {
		t.Errorf("adding twice: %d", p.status)
	}
	p = alice.postFile("/lists/"+listA+"/members", map[string]string{"email": "erin@example.org", "form": "member"}, []byte("not a key"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `value="erin@example.org"`) {
		t.Errorf("a bad key: %d, or the form lost the address", p.status)
	}

	p = alice.post("/lists/"+listA+"/members/dave@example.org/format", url.Values{"format": {"inline"}})
	if r := row(p.body, "data-member", "dave@example.org"); !strings.Contains(r, `<option value="inline" selected>`) {
		t.Errorf("format not set:\n%s", r)
	}

	p = alice.post("/lists/"+listA+"/members/"+url.PathEscape("dave@example.org")+"/remove", nil)
	if p.status != http.StatusOK || row(p.body, "data-member", "dave@example.org") != "" {
		t.Errorf("remove: %d, row still there", p.status)
	}
	if ms, _ := f.svc.Members(context.Background(), listA); len(ms) != 0 {
		t.Errorf("members left: %d", len(ms))
	}
}

// TestOptions: only changed options are saved; a bad value shows the
// form again with the reason and saves nothing.
func TestOptions(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/" + listA)
	for _, name := range []string{"subject_prefix", "hold_days", "receive_signed_only"} {
		if !strings.Contains(p.body, `name="`+name+`"`) {
			t.Errorf("the options form lacks %s", name)
		}
	}
	p = alice.post("/lists/"+listA+"/options", url.Values{"form": {"options"}, "subject_prefix": {"[a]"}, "hold_days": {"zero"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "hold_days") || !strings.Contains(p.body, `value="zero"`) {
		t.Errorf("a bad value: %d\n%s", p.status, p.body)
	}
	if l, _ := f.svc.List(context.Background(), listA); l.Settings.SubjectPrefix != "" {
		t.Error("a refused form saved something")
	}
	p = alice.post("/lists/"+listA+"/options", url.Values{"subject_prefix": {"[a]"}, "hold_days": {"14"}, "name": {""}})
	if !strings.Contains(p.body, "Saved subject_prefix.") {
		t.Errorf("saving: %d\n%s", p.status, p.body)
	}

	// A gateway's admin-only options are read-only for its owner.
	if _, err := f.svc.CreateGateway(context.Background(), "help@example.org", "alice@example.org", "", pgp.Ed25519, "smtp://helpdesk.internal:25"); err != nil {
		t.Fatal(err)
	}
	p = alice.get("/lists/help@example.org")
	if !regexp.MustCompile(`name="deliver_to" [^>]*readonly`).MatchString(p.body) {
		t.Error("deliver_to is not read-only for an owner")
	}
	p = alice.post("/lists/help@example.org/options", url.Values{"deliver_to": {"smtp://elsewhere.example:25"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "only an admin may change it") {
		t.Errorf("owner changes deliver_to: %d", p.status)
	}
}

// TestCreateList: an admin creates a list and a gateway through the form.
func TestCreateList(t *testing.T) {
	f := newFixture(t)
	adm := f.signedIn("admin@example.org")
	p := adm.post("/lists", url.Values{"address": {"c@lists.example.org"}, "owner": {"alice@example.org"}, "mode": {"list"},
		"key_algo": {"ed25519"}, "name": {"Team C"}})
	if p.status != http.StatusOK || p.url != "/lists/c@lists.example.org" || !strings.Contains(p.body, "Created the list") {
		t.Fatalf("create: %d at %s", p.status, p.url)
	}
	l, err := f.svc.List(context.Background(), "c@lists.example.org")
	if err != nil || l.Owner != "alice@example.org" || l.Name != "Team C" {
		t.Fatalf("list %+v: %v", l, err)
	}
	if !strings.Contains(p.body, crypto.FormatFingerprint(l.KeyFingerprint)) {
		t.Error("the list page does not show the key's fingerprint grouped")
	}
	p = adm.post("/lists", url.Values{"address": {"desk@example.org"}, "mode": {"gateway"}, "deliver_to": {"lmtp://127.0.0.1:24"}})
	if p.url != "/lists/desk@example.org" || !strings.Contains(p.body, "Archive") {
		t.Errorf("gateway: at %s", p.url)
	}
	p = adm.post("/lists", url.Values{"address": {listA}, "mode": {"list"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already exists") && !strings.Contains(p.body, listA) {
		t.Errorf("a duplicate: %d", p.status)
	}
	p = adm.post("/lists", url.Values{"address": {"e@lists.example.org"}, "key_algo": {"dsa"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `value="e@lists.example.org"`) {
		t.Errorf("a bad algorithm: %d", p.status)
	}
	p = adm.post("/lists/c@lists.example.org/delete", nil)
	if p.url != "/lists" || strings.Contains(p.body, `data-list="c@lists.example.org"`) {
		t.Errorf("delete: at %s", p.url)
	}
}

// TestKeyPage: a key's page shows its fingerprint; the downloads are
// the armored key and the fingerprint as text.
func TestKeyPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := memberKey(t, "dave@example.org")
	if _, _, err := f.svc.AddMember(ctx, listA, "dave@example.org", key, false); err != nil {
		t.Fatal(err)
	}
	k, _ := pgp.ParseKey(key)
	fpr := k.Fingerprint()
	alice := f.signedIn("alice@example.org")
	p := alice.get("/keys/" + fpr)
	if p.status != http.StatusOK || !strings.Contains(p.body, crypto.FormatFingerprint(fpr)) || !strings.Contains(p.body, "dave@example.org on "+listA) {
		t.Fatalf("key page: %d\n%s", p.status, p.body)
	}
	dl := alice.get("/keys/" + fpr + "/download")
	if dl.status != http.StatusOK || !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(dl.body, "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("download: %d %q", dl.status, dl.header.Get("Content-Disposition"))
	}
	if got, err := pgp.ParseKey([]byte(dl.body)); err != nil || got.Fingerprint() != fpr {
		t.Errorf("downloaded key: %v", err)
	}
	fp := alice.get("/keys/" + fpr + "/fingerprint.txt")
	if strings.TrimSpace(fp.body) != crypto.FormatFingerprint(fpr) || !strings.Contains(fp.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("fingerprint file %q", fp.body)
	}
	// The list's own key files.
	l, _ := f.svc.List(ctx, listA)
	if p := alice.get("/lists/" + listA + "/key.asc"); !strings.Contains(p.body, "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("list key: %d", p.status)
	}
	if p := alice.get("/lists/" + listA + "/fingerprint.txt"); strings.TrimSpace(p.body) != crypto.FormatFingerprint(l.KeyFingerprint) {
		t.Errorf("list fingerprint file %q", p.body)
	}
	// bob may not see dave's key: it is alice's list's business.
	if p := f.signedIn("bob@example.org").get("/keys/" + fpr); p.status != http.StatusNotFound {
		t.Errorf("bob sees dave's key: %d", p.status)
	}
	if p := alice.get("/keys?q=dave@example.org"); row(p.body, "data-key", fpr) == "" {
		t.Error("search does not find dave's key")
	}
}

// TestSelfService: the same answer for a member and for anyone else; a
// member gets a challenge; a bad key is refused with the reason; the
// form is rate-limited.
func TestSelfService(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Without the welcome: the queue is to hold the challenge alone.
	if _, _, err := f.svc.AddMemberWith(ctx, listA, "dave@example.org", memberKey(t, "dave@example.org"), admin.MemberOptions{NoWelcome: true}); err != nil {
		t.Fatal(err)
	}
	cl := f.client()
	if p := cl.get("/login"); !strings.Contains(p.body, `href="/self-service"`) {
		t.Error("the sign-in page does not link the self-service page")
	}
	answer := "If that address is a member of the list, a message to it is on its way."
	member := cl.postFile("/self-service", map[string]string{"list": listA, "email": "dave@example.org"}, memberKey(t, "dave@example.org"))
	stranger := cl.postFile("/self-service", map[string]string{"list": listA, "email": "eve@example.org"}, memberKey(t, "eve@example.org"))
	nolist := cl.postFile("/self-service", map[string]string{"list": "nosuch@lists.example.org", "email": "eve@example.org"}, memberKey(t, "eve@example.org"))
	for name, p := range map[string]page{"member": member, "non-member": stranger, "no such list": nolist} {
		if p.status != http.StatusOK || !strings.Contains(p.body, answer) {
			t.Errorf("%s: %d\n%s", name, p.status, p.body)
		}
	}
	if strip(member.body) != strip(stranger.body) {
		t.Error("the answers for a member and a non-member differ")
	}
	ds, err := f.svc.Queue(ctx, listA, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].To != "dave@example.org" {
		t.Errorf("queued: %+v, want one challenge to dave", ds)
	}

	p := cl.postFile("/self-service", map[string]string{"list": listA, "email": "dave@example.org"}, memberKey(t, "someone@example.org"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "someone@example.org") && !strings.Contains(p.body, "dave@example.org") {
		t.Errorf("a key for another address: %d\n%s", p.status, p.body)
	}
	// That was dave's second offer within the hour; the third passes,
	// the fourth is refused.
	cl.postFile("/self-service", map[string]string{"list": listA, "email": "dave@example.org"}, memberKey(t, "dave@example.org"))
	p = cl.postFile("/self-service", map[string]string{"list": listA, "email": "dave@example.org"}, memberKey(t, "dave@example.org"))
	if p.status != http.StatusTooManyRequests {
		t.Errorf("fourth offer for dave: %d", p.status)
	}
	// Refused from another site.
	req, _ := http.NewRequest("POST", f.srv.URL+"/self-service", strings.NewReader("list=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := f.srv.Client().Do(req)
	if p := read(t, resp, err); p.status != http.StatusForbidden {
		t.Errorf("cross-site self-service: %d", p.status)
	}
}

// strip removes what differs between two renderings of the same page.
func strip(body string) string {
	return regexp.MustCompile(`\?v=[0-9a-f]+`).ReplaceAllString(body, "")
}

// TestSelfServiceLimitPerClient: ten offers from one client, then 429.
func TestSelfServiceLimitPerClient(t *testing.T) {
	f := newFixture(t)
	cl := f.client()
	for i := range 10 {
		p := cl.postFile("/self-service", map[string]string{"list": listA, "email": fmt.Sprintf("u%d@example.org", i)}, []byte("x"))
		if p.status == http.StatusTooManyRequests {
			t.Fatalf("offer %d refused", i+1)
		}
	}
	p := cl.postFile("/self-service", map[string]string{"list": listA, "email": "z@example.org"}, []byte("x"))
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "try again") {
		t.Errorf("11th offer: %d", p.status)
	}
}

// TestUploadLimit: a body over 16 MiB is refused with a clear message.
func TestUploadLimit(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	p := alice.postFile("/lists/"+listA+"/members", map[string]string{"email": "dave@example.org"}, bytes.Repeat([]byte("x"), 17<<20))
	if p.status != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "16 MiB") {
		t.Errorf("17 MiB: %d", p.status)
	}
}

// TestAccount: an API token's secret is shown once; a new password ends
// the session.
func TestAccount(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	p := alice.post("/account/tokens", url.Values{"name": {"ci"}, "list": {listA}})
	secret := regexp.MustCompile(`sealpost_[a-z2-7]+`).FindString(p.body)
	if p.status != http.StatusOK || secret == "" || !strings.Contains(p.body, "it is not shown again") {
		t.Fatalf("new token: %d\n%s", p.status, p.body)
	}
	if a, err := f.svc.TokenActor(context.Background(), secret, admin.ViaAPI); err != nil || a.List != listA {
		t.Errorf("the token shown does not work: %+v %v", a, err)
	}
	p = alice.get("/account")
	if !strings.Contains(p.body, ">ci<") || strings.Contains(p.body, secret) {
		t.Error("the account page lacks the token, or shows its secret again")
	}
	if p := alice.post("/account/tokens", url.Values{"name": {"x"}, "list": {listB}}); p.status != http.StatusForbidden {
		t.Errorf("a token for bob's list: %d", p.status)
	}
	if p := alice.post("/account/password", url.Values{"password": {"a new long password"}, "password2": {"another"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("passwords that differ: %d", p.status)
	}
	p = alice.post("/account/password", url.Values{"password": {"a new long password"}, "password2": {"a new long password"}})
	if p.url != "/login" {
		t.Errorf("after a new password: at %s", p.url)
	}
	if _, err := f.svc.Login(context.Background(), "alice@example.org", "a new long password", admin.ViaWeb); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
}

// TestUsers: the admin adds an account; without a password one is made
// and shown once.
func TestUsers(t *testing.T) {
	f := newFixture(t)
	adm := f.signedIn("admin@example.org")
	p := adm.post("/users", url.Values{"email": {"carol@example.org"}, "role": {"owner"}, "password": {"short"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "12 characters") {
		t.Errorf("short password: %d", p.status)
	}
	p = adm.post("/users", url.Values{"email": {"carol@example.org"}, "role": {"owner"}})
	pw := regexp.MustCompile(`data-secret>([a-z2-7]+)<`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || pw == nil {
		t.Fatalf("made-up password: %d\n%s", p.status, p.body)
	}
	if _, err := f.svc.Login(context.Background(), "carol@example.org", pw[1], admin.ViaWeb); err != nil {
		t.Errorf("the password shown does not work: %v", err)
	}
	p = adm.post("/users/carol@example.org/remove", nil)
	if p.url != "/users" || row(p.body, "data-user", "carol@example.org") != "" {
		t.Errorf("remove: at %s", p.url)
	}
}

// hold puts a held message on list, as the pipeline would.
func (f *fixture) hold(list, subject string) int64 {
	f.t.Helper()
	return f.holdRaw(list, subject, "From: Mallory <mallory@example.net>\r\nTo: "+list+"\r\nSubject: "+subject+"\r\n\r\nnot encrypted\r\n")
}

// TestHolds: held messages show their outer headers as unverified; a
// moderator discards, rejects (the sender is told) or releases them.
func TestHolds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	one, two, three := f.hold(listA, "=?utf-8?q?Gr=C3=BC=C3=9Fe?="), f.hold(listA, "second"), f.hold(listA, "third")
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/" + listA + "/holds")
	r := row(p.body, "data-hold", fmt.Sprint(one))
	if !strings.Contains(r, "Grüße") || !strings.Contains(r, "Mallory &lt;mallory@example.net&gt;") || !strings.Contains(p.body, "as claimed, unverified") {
		t.Errorf("hold row:\n%s", r)
	}
	for _, a := range []string{"release", "reject", "discard"} {
		if !strings.Contains(r, `<button type="submit" name="action" value="`+a+`"`) {
			t.Errorf("no %s button", a)
		}
	}
	if p := alice.get("/"); !strings.Contains(p.body, `href="/lists/`+listA+`/holds">3</a>`) {
		t.Error("the dashboard does not count the held messages")
	}

	p = alice.post(fmt.Sprintf("/lists/%s/holds/%d/discard", listA, one), nil)
	if p.url != "/lists/"+listA+"/holds" || row(p.body, "data-hold", fmt.Sprint(one)) != "" || !strings.Contains(p.body, "Discarded") {
		t.Errorf("discard: at %s", p.url)
	}
	p = alice.post(fmt.Sprintf("/lists/%s/holds/%d", listA, two), url.Values{"action": {"reject"}})
	if row(p.body, "data-hold", fmt.Sprint(two)) != "" {
		t.Error("reject: the row is still there")
	}
	ds, _ := f.svc.Queue(ctx, listA, nil, 10)
	if len(ds) != 1 || ds[0].To != "mallory@example.net" || ds[0].Kind != store.KindNotice {
		t.Errorf("after reject, queued %+v; want a notice to the sender", ds)
	}
	if p := f.signedIn("bob@example.org").post(fmt.Sprintf("/lists/%s/holds/%d/release", listA, three), nil); p.status != http.StatusForbidden {
		t.Errorf("bob releases alice's hold: %d", p.status)
	}
	before := f.notified.Load()
	p = alice.post(fmt.Sprintf("/lists/%s/holds/%d/release", listA, three), nil)
	if p.status != http.StatusOK || row(p.body, "data-hold", fmt.Sprint(three)) != "" || !strings.Contains(p.body, "Released") {
		t.Errorf("release: %d\n%s", p.status, p.body)
	}
	if f.notified.Load() == before {
		t.Error("release did not wake the queue")
	}
	if p := alice.post(fmt.Sprintf("/lists/%s/holds/99/discard", listA), nil); p.status != http.StatusNotFound {
		t.Errorf("a hold that is not there: %d", p.status)
	}
}

// TestQueueActions: retry and drop a delivery, keeping the filters.
func TestQueueActions(t *testing.T) {
	f := newFixture(t)
	f.hold(listA, "x")
	hs, _ := f.svc.Holds(context.Background(), listA)
	if err := f.svc.RejectHold(context.Background(), listA, hs[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	ds, _ := f.svc.Queue(context.Background(), listA, nil, 10)
	id := ds[0].ID
	alice := f.signedIn("alice@example.org")
	p := alice.get("/queue?list=" + url.QueryEscape(listA))
	if row(p.body, "data-delivery", fmt.Sprint(id)) == "" {
		t.Fatalf("the queue does not show delivery %d", id)
	}
	if p := f.signedIn("bob@example.org").get("/queue"); row(p.body, "data-delivery", fmt.Sprint(id)) != "" {
		t.Error("bob sees alice's delivery")
	}
	if p := f.signedIn("bob@example.org").post(fmt.Sprintf("/queue/%d/drop", id), nil); p.status != http.StatusForbidden {
		t.Errorf("bob drops alice's delivery: %d", p.status)
	}
	p = alice.post(fmt.Sprintf("/queue/%d/retry", id), url.Values{"list": {listA}, "state": {"pending"}})
	if p.url != "/queue?list="+url.QueryEscape(listA)+"&state=pending" || !strings.Contains(p.body, "is due now") {
		t.Errorf("retry: at %s", p.url)
	}
	p = alice.post(fmt.Sprintf("/queue/%d/drop", id), nil)
	if p.url != "/queue" || row(p.body, "data-delivery", fmt.Sprint(id)) != "" {
		t.Errorf("drop: at %s", p.url)
	}
}

// TestQueuePurgedDelivery: a failed delivery whose message was removed
// after [queue] failed_keep_days is listed with that said and no Retry
// button, and a retry posted anyway is refused with the reason.
func TestQueuePurgedDelivery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, err := f.db.ListByAddress(ctx, listA)
	if err != nil {
		t.Fatal(err)
	}
	out := store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{{Ref: "r", ListID: l.ID, Kind: store.KindPost,
		From: "a-bounce@lists.example.org", To: "gone@example.net", Data: []byte("copy")}}}
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
	alice := f.signedIn("alice@example.org")
	r := row(alice.get("/queue?state=failed").body, "data-delivery", fmt.Sprint(id))
	if !strings.Contains(r, "Message removed on") || strings.Contains(r, "/retry") || !strings.Contains(r, "/drop") {
		t.Errorf("row of a purged delivery:\n%s", r)
	}
	p := alice.post(fmt.Sprintf("/queue/%d/retry", id), url.Values{"state": {"failed"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "message was removed") {
		t.Errorf("retry of a purged delivery: %d\n%s", p.status, p.body)
	}
}

// TestArchive: a gateway's conversation is shown as text, reading it is
// audited, and the mbox has it.
func TestArchive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gw, err := f.svc.CreateGateway(ctx, "help@example.org", "alice@example.org", "", pgp.Ed25519, "smtp://helpdesk.internal:25")
	if err != nil {
		t.Fatal(err)
	}
	const thread = "<t1/x@example.com>"
	msg := "From: Carla <c@example.com>\r\nTo: help@example.org\r\nSubject: My invoice\r\nDate: Mon, 23 Nov 2026 14:05:00 +0000\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nThe invoice <b>is</b> wrong =E2=80=93 please fix.\r\n"
	sealed, err := f.sealer.Seal([]byte(msg), keyring.ArchiveLabel(gw.Address, "ref1", "in"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Commit(ctx, store.Outcome{ListID: gw.ID, Thread: &store.ThreadMark{Thread: thread, MessageIDs: []string{thread}, Encrypted: true, At: time.Now(), Tag: "[example.org #7]"},
		Archive: []store.Archived{{ListID: gw.ID, Thread: thread, Direction: "in", MessageID: thread, Ref: "ref1", Sealed: sealed, CreatedAt: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/help@example.org/archive")
	link := "/lists/help@example.org/archive/" + url.PathEscape(thread)
	if !strings.Contains(p.body, `href="`+link+`"`) {
		t.Fatalf("the archive does not link the conversation %s:\n%s", link, p.body)
	}
	if !strings.Contains(p.body, "<td>[example.org #7]</td>") {
		t.Errorf("the archive does not show the conversation's ticket tag:\n%s", p.body)
	}
	p = alice.get(link)
	if p.status != http.StatusOK || !strings.Contains(p.body, "The invoice &lt;b&gt;is&lt;/b&gt; wrong – please fix.") || !strings.Contains(p.body, "My invoice") {
		t.Errorf("conversation: %d\n%s", p.status, p.body)
	}
	mbox := alice.get(link + "/mbox")
	if !strings.HasPrefix(mbox.body, "From ") || !strings.Contains(mbox.body, "Subject: My invoice") {
		t.Errorf("mbox: %.200s", mbox.body)
	}
	es, _ := f.svc.Audit(ctx, "help@example.org", 0, 10)
	if len(es) == 0 || es[0].Action != "archive.read" || es[0].Actor != "alice@example.org" || es[0].Via != admin.ViaWeb {
		t.Errorf("the reading is not audited: %+v", es)
	}
	if p := f.signedIn("bob@example.org").get(link); p.status != http.StatusForbidden {
		t.Errorf("bob reads alice's archive: %d", p.status)
	}
}

// TestDashboardNodes: the admin's dashboard has a Nodes card with each
// live node (host, pid, version, up since, last seen, the copies it
// holds), the database, and when the daily jobs last ran and where; a
// list owner's dashboard has no such card.
func TestDashboardNodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l, err := f.svc.List(ctx, listA)
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
	started := time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	for _, n := range []store.Node{{ID: "one-4711-ab", Hostname: "one.example.org", PID: 4711, Version: "1.4.2", StartedAt: started},
		{ID: "two-815-cd", Hostname: "two.example.org", PID: 815, Version: "1.4.2", StartedAt: started}} {
		if err := f.db.Heartbeat(ctx, n, now); err != nil {
			t.Fatal(err)
		}
	}
	f.db.SetNode("one-4711-ab")
	if ds, err := f.db.ClaimDue(ctx, now, time.Minute, "", 2); err != nil || len(ds) != 2 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	ran := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	if _, err := f.db.ClaimJob(ctx, "daily", "two-815-cd", ran, 24*time.Hour); err != nil {
		t.Fatal(err)
	}

	p := f.signedIn("admin@example.org").get("/")
	if !strings.Contains(p.body, "<h2>Nodes</h2>") || !strings.Contains(p.body, "database postgres://sealpost@db.example.org/sealpost") {
		t.Fatalf("the admin's dashboard has no Nodes card with the database:\n%s", p.body)
	}
	for id, want := range map[string][]string{
		"one-4711-ab": {"one.example.org", "4711", "1.4.2", "2026-12-01 08:30 UTC", "s ago", "2 copies"},
		"two-815-cd":  {"two.example.org", "815", "0 copies"},
	} {
		r := row(p.body, "data-node", id)
		for _, w := range want {
			if !strings.Contains(r, w) {
				t.Errorf("node %s's row has no %q:\n%s", id, w, r)
			}
		}
	}
	if r := row(p.body, "data-job", "daily"); !strings.Contains(r, "2026-12-07 03:00 UTC") || !strings.Contains(r, "two-815-cd") {
		t.Errorf("the daily job's row:\n%s", r)
	}

	p = f.signedIn("alice@example.org").get("/")
	if p.status != http.StatusOK || strings.Contains(p.body, "Nodes") || strings.Contains(p.body, "one-4711-ab") ||
		strings.Contains(p.body, "db.example.org") || strings.Contains(p.body, "data-job") {
		t.Errorf("a list owner's dashboard shows the nodes (%d):\n%s", p.status, p.body)
	}
}

// TestPostQuantumOnPages: the list page counts the members whose copies
// are post-quantum and tags their key; the key page says whether a key
// is post-quantum.
func TestPostQuantumOnPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pq, err := pgp.GenerateKey("", "pia@example.org", pgp.PQ, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for addr, key := range map[string][]byte{"pia@example.org": pq.Armored(), "dave@example.org": memberKey(t, "dave@example.org")} {
		if _, _, err := f.svc.AddMember(ctx, listA, addr, key, false); err != nil {
			t.Fatal(err)
		}
	}
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/" + listA)
	share := p.body[strings.Index(p.body, "data-post-quantum>")+len("data-post-quantum>"):]
	if share = share[:strings.Index(share, "<")]; share != "1 of 2 members (50%)" {
		t.Errorf("the list page's post-quantum share is %q, want 1 of 2 members (50%%)", share)
	}
	if strings.Contains(p.body, "data-classic-key") {
		t.Errorf("the page of a list without a post-quantum key offers a key without it")
	}
	if pia, dave := row(p.body, "data-member", "pia@example.org"), row(p.body, "data-member", "dave@example.org"); !strings.Contains(pia, ">post-quantum</span>") || strings.Contains(dave, "tag-pq") {
		t.Errorf("post-quantum tags: pia's row\n%s\ndave's row\n%s", pia, dave)
	}
	if _, err := f.svc.RotateListKey(ctx, listA, pgp.PQ, 0); err != nil {
		t.Fatal(err)
	}
	if p := alice.get("/lists/" + listA); !strings.Contains(p.body, "data-classic-key") || !strings.Contains(p.body, "ML-KEM (RFC 9980) encrypt posts") {
		t.Errorf("the page of a list with a post-quantum key does not say so or offer the key without it:\n%s", p.body)
	}
	if strings.Contains(alice.get("/lists/"+listA).body, "data-kem-cert") {
		t.Errorf("a list without an ML-KEM certificate shows one")
	}
	if _, err := f.svc.GenerateSMIMEIdentity(ctx, listA); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GenerateListKEM(ctx, listA); err != nil {
		t.Fatal(err)
	}
	if p := alice.get("/lists/" + listA); !strings.Contains(p.body, `<span class="tag tag-pq">ML-KEM-768</span>`) {
		t.Errorf("the list's ML-KEM certificate is not shown:\n%s", p.body)
	}
	if p := alice.get("/keys/" + pq.Fingerprint()); !strings.Contains(p.body, `<dd data-post-quantum><span class="tag tag-pq">yes</span> encrypted with ML-KEM`) {
		t.Errorf("pia's key page does not say post-quantum:\n%s", p.body)
	}
}
