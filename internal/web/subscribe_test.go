package web_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/clienttest"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
)

// challengeCode decrypts the one message queued for addr since the
// outbox was last taken, with gpg in g, and returns its code; it checks
// the message is signed by the list.
func (f *fixture) challengeCode(t *testing.T, g *gpgtest.GPG, list, addr string, seen map[int64]bool) string {
	t.Helper()
	text := f.newMessage(t, g, list, addr, seen)
	m := regexp.MustCompile(`Confirmation code: (SP-[A-Z2-7]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in the challenge:\n%s", text)
	}
	return m[1]
}

// newMessage decrypts the one message queued for addr since the outbox
// was last taken, with gpg in g, checks it is signed by the list and
// returns its text.
func (f *fixture) newMessage(t *testing.T, g *gpgtest.GPG, list, addr string, seen map[int64]bool) string {
	t.Helper()
	ds, err := f.svc.Queue(context.Background(), list, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var found [][]byte
	for _, d := range ds {
		if !seen[d.ID] && d.To == addr {
			full, err := f.db.Delivery(context.Background(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			found = append(found, full.Data)
		}
		seen[d.ID] = true
	}
	if len(found) != 1 {
		t.Fatalf("%d new messages to %s, want one", len(found), addr)
	}
	res := g.Run(found[0], "--decrypt")
	l, err := f.svc.List(context.Background(), list)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified(l.KeyFingerprint) {
		t.Fatalf("the message to %s does not decrypt to a message signed by the list:\n%s", addr, res.Report())
	}
	return string(res.Stdout)
}

// TestSubscribeByPage: a person joins a list through the public page
// with a key made by gpg, answers the challenge gpg decrypts, gets the
// welcome, and leaves
// the same way; the page answers alike for every list and address; a
// moderated list waits for an owner, who approves or declines.
func TestSubscribeByPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetOptions(ctx, listA, []string{"subscribe=confirm"}); err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	daveFpr := g.GenKey("Dave <dave@example.org>")
	daveKey := g.Export(daveFpr)
	listKey, err := f.svc.ListKey(ctx, listA)
	if err != nil {
		t.Fatal(err)
	}
	g.Import(listKey) // as the person would, from the page
	cl := f.client()
	seen := map[int64]bool{}

	if p := cl.get("/subscribe?list=" + listA); p.status != http.StatusOK || !strings.Contains(p.body, "Download") {
		t.Errorf("the page of a list that takes subscriptions: %d\n%s", p.status, p.body)
	}
	if p := cl.get("/subscribe?list=" + listB); p.status != http.StatusOK || strings.Contains(p.body, "Download") {
		t.Errorf("the page of a closed list shows it: %d", p.status)
	}
	join := func(list, email string, key []byte) page {
		t.Helper()
		return cl.postFile("/subscribe", map[string]string{"action": "join", "list": list, "email": email}, key)
	}
	answer := "If the list takes subscriptions and that address is not a member yet"
	dave := join(listA, "dave@example.org", daveKey)
	closed := join(listB, "dave@example.org", daveKey)
	nolist := join("nosuch@lists.example.org", "dave@example.org", daveKey)
	for name, p := range map[string]page{"open list": dave, "closed list": closed, "no such list": nolist} {
		if p.status != http.StatusOK || !strings.Contains(p.body, answer) {
			t.Errorf("%s: %d\n%s", name, p.status, p.body)
		}
	}
	if strip(dave.body) != strip(closed.body) || strip(dave.body) != strip(nolist.body) {
		t.Error("the answers differ between lists")
	}
	code := f.challengeCode(t, g, listA, "dave@example.org", seen)
	if ds, _ := f.svc.Queue(ctx, listB, nil, 10); len(ds) != 0 {
		t.Errorf("the closed list sent %d messages", len(ds))
	}

	// Opening the link changes nothing; the button confirms, once.
	if p := cl.get("/subscribe/confirm?code=" + code); p.status != http.StatusOK || !strings.Contains(p.body, code) {
		t.Errorf("the link's page: %d", p.status)
	}
	if _, err := f.svc.Member(ctx, listA, "dave@example.org"); err == nil {
		t.Fatal("dave is a member before confirming")
	}
	if p := cl.post("/subscribe/confirm", map[string][]string{"code": {code}}); p.status != http.StatusOK || !strings.Contains(p.body, "is now a member") {
		t.Fatalf("confirming: %d\n%s", p.status, p.body)
	}
	m, err := f.svc.Member(ctx, listA, "dave@example.org")
	if err != nil || len(m.Keys) != 1 || m.Keys[0].Fingerprint != daveFpr {
		t.Fatalf("dave after confirming: %+v, %v", m, err)
	}
	if text := f.newMessage(t, g, listA, "dave@example.org", seen); !strings.Contains(text, "Welcome to the list "+listA) {
		t.Errorf("dave's welcome after confirming:\n%s", text)
	}
	if p := cl.post("/subscribe/confirm", map[string][]string{"code": {code}}); p.status != http.StatusNotFound {
		t.Errorf("the code used again: %d", p.status)
	}
	// A member asking to join again gets the same answer, and nothing.
	if p := join(listA, "dave@example.org", daveKey); strip(p.body) != strip(dave.body) {
		t.Error("a member's request to join is answered differently")
	}

	// Leaving: the challenge goes to the key the list holds.
	leave := func(list, email string) page {
		t.Helper()
		return cl.post("/subscribe", map[string][]string{"action": {"leave"}, "list": {list}, "email": {email}})
	}
	bye, stranger := leave(listA, "dave@example.org"), leave(listA, "erin@example.org")
	if bye.status != http.StatusOK || strip(bye.body) != strip(stranger.body) {
		t.Errorf("leaving: %d; the answers for a member and a stranger differ: %v", bye.status, strip(bye.body) != strip(stranger.body))
	}
	code = f.challengeCode(t, g, listA, "dave@example.org", seen)
	if p := cl.post("/subscribe/confirm", map[string][]string{"code": {code}}); !strings.Contains(p.body, "has left") {
		t.Fatalf("confirming leaving: %d\n%s", p.status, p.body)
	}
	if _, err := f.svc.Member(ctx, listA, "dave@example.org"); err == nil {
		t.Error("dave is still a member")
	}

	// A moderated list: the answer makes a request for the owners.
	if _, err := f.svc.SetOptions(ctx, listA, []string{"subscribe=moderate"}); err != nil {
		t.Fatal(err)
	}
	frankFpr := g.GenKey("Frank <frank@example.org>")
	join(listA, "frank@example.org", g.Export(frankFpr))
	code = f.challengeCode(t, g, listA, "frank@example.org", seen)
	if p := cl.post("/subscribe/confirm", map[string][]string{"code": {code}}); !strings.Contains(p.body, "now waits for the list") {
		t.Fatalf("confirming on a moderated list: %d\n%s", p.status, p.body)
	}
	if _, err := f.svc.Member(ctx, listA, "frank@example.org"); err == nil {
		t.Fatal("frank is a member before an owner approved")
	}
	// The owner is told, in a notice signed by the list that gpg checks
	// (alice has no key on file, so it is signed only).
	ds, err := f.svc.Queue(ctx, listA, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	toldOwner := false
	for _, d := range ds {
		if !seen[d.ID] && d.To == "alice@example.org" {
			full, err := f.db.Delivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			r := clienttest.GPGRead(t, g, full.Data)
			toldOwner = r.GoodSignature && strings.Contains(r.Text, "frank@example.org asked to join") &&
				strings.Contains(r.Text, "sealpost subscription approve")
		}
	}
	if !toldOwner {
		t.Error("the owner was not told of frank's request in a notice signed by the list")
	}
	alice := f.svc.As(admin.Actor{Email: "alice@example.org", Role: store.RoleOwner, Via: admin.ViaWeb})
	subs, err := alice.Subscriptions(ctx, listA)
	if err != nil || len(subs) != 1 || subs[0].State != store.StateApproval || subs[0].Fingerprint != frankFpr {
		t.Fatalf("requests the owner sees: %+v, %v", subs, err)
	}
	if _, err := f.svc.As(admin.Actor{Email: "bob@example.org", Role: store.RoleOwner}).ApproveSubscription(ctx, listA, "frank@example.org"); err == nil {
		t.Error("the owner of another list approved")
	}
	if _, err := alice.ApproveSubscription(ctx, listA, "frank@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Member(ctx, listA, "frank@example.org"); err != nil {
		t.Errorf("frank after approval: %v", err)
	}
	if text := f.newMessage(t, g, listA, "frank@example.org", seen); !strings.Contains(text, "Welcome to the list "+listA) {
		t.Errorf("frank's welcome after approval:\n%s", text)
	}

	// Declined: the person is told why, encrypted to their key.
	erinFpr := g.GenKey("Erin <erin@example.org>")
	join(listA, "erin@example.org", g.Export(erinFpr))
	code = f.challengeCode(t, g, listA, "erin@example.org", seen)
	cl.post("/subscribe/confirm", map[string][]string{"code": {code}})
	if err := alice.RejectSubscription(ctx, listA, "erin@example.org", "This list is for the clinic's staff."); err != nil {
		t.Fatal(err)
	}
	ds, _ = f.svc.Queue(ctx, listA, nil, 100)
	var told bool
	for _, d := range ds {
		if !seen[d.ID] && d.To == "erin@example.org" {
			full, err := f.db.Delivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			res := g.Run(full.Data, "--decrypt")
			told = strings.Contains(string(res.Stdout), "for the clinic's staff")
		}
	}
	if !told {
		t.Error("erin was not told why, encrypted")
	}
	if subs, _ := alice.Subscriptions(ctx, listA); len(subs) != 0 {
		t.Errorf("requests left: %+v", subs)
	}
	// Three requests for dave on the list this hour: the fourth waits.
	if p := join(listA, "dave@example.org", daveKey); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("a fourth request for one address: %d", p.status)
	}
}

// TestSubscriptionsOnListPage: the owner sees a request waiting for them
// on the list's page and approves it there; a moderator of the list
// cannot.
func TestSubscriptionsOnListPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetOptions(ctx, listA, []string{"subscribe=moderate"}); err != nil {
		t.Fatal(err)
	}
	l, err := f.svc.List(ctx, listA)
	if err != nil {
		t.Fatal(err)
	}
	now := f.svc.Now()
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Subscription: &store.Subscription{ListID: l.ID, Email: "henry@example.org",
		Action: store.ActionSubscribe, State: store.StateApproval, Key: memberKey(t, "henry@example.org"), Engine: store.EngineOpenPGP,
		Fingerprint: "00112233445566778899AABBCCDDEEFF00112233", TokenHash: []byte("h"), Via: "web", CreatedAt: now, AnsweredAt: now,
		ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/" + listA)
	if r := row(p.body, "data-subscription", "henry@example.org"); !strings.Contains(r, "Approve") {
		t.Fatalf("the owner's list page does not offer to approve henry:\n%s", r)
	}
	if p := alice.post("/lists/"+listA+"/subscriptions/henry@example.org/approve", nil); !strings.Contains(p.body, "is now a member") {
		t.Fatalf("approving: %d", p.status)
	}
	if _, err := f.svc.Member(ctx, listA, "henry@example.org"); err != nil {
		t.Errorf("henry after approval: %v", err)
	}
}

// TestSubscribeWithCertificate: a person joins an S/MIME list with their
// certificate; the challenge is S/MIME, opened by openssl with their key,
// and its code makes the certificate theirs on the list.
func TestSubscribeWithCertificate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetOptions(ctx, listA, []string{"subscribe=confirm", "outgoing_format=smime"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GenerateSMIMEIdentity(ctx, listA); err != nil {
		t.Fatal(err)
	}
	o := openssltest.New(t)
	erin := openssltest.NewCA(t, openssltest.RSA2048).Issue("erin@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("erin.pem", erin.Cert)
	o.WriteKey("erin.key", erin.Key)
	cl := f.client()
	cl.postFile("/subscribe", map[string]string{"action": "join", "list": listA, "email": "erin@example.org"},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: erin.Cert.Raw}))
	ds, err := f.svc.Queue(ctx, listA, nil, 10)
	if err != nil || len(ds) != 1 || ds[0].To != "erin@example.org" {
		t.Fatalf("queued: %+v, %v; want one challenge to erin", ds, err)
	}
	full, err := f.db.Delivery(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	o.Write("challenge.eml", full.Data)
	dec := o.MustRun(nil, "cms", "-decrypt", "-in", "challenge.eml", "-recip", "erin.pem", "-inkey", "erin.key")
	code := regexp.MustCompile(`Confirmation code: (SP-[A-Z2-7]+)`).FindSubmatch(dec.Stdout)
	if code == nil {
		t.Fatalf("openssl finds no code in the challenge:\n%s", dec.Stdout)
	}
	if p := cl.post("/subscribe/confirm", map[string][]string{"code": {string(code[1])}}); !strings.Contains(p.body, "is now a member") {
		t.Fatalf("confirming: %d", p.status)
	}
	m, err := f.svc.Member(ctx, listA, "erin@example.org")
	if err != nil || len(m.Keys) != 1 || m.Keys[0].Engine != store.EngineSMIME {
		t.Fatalf("erin after confirming: %+v, %v", m, err)
	}
}
