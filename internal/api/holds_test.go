package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// encryptedHold holds on list a post that dave, a member, signed and
// encrypted to the list's key (OpenPGP made in code), as the pipeline
// holds a post; it returns its ID.
func (f *fixture) encryptedHold(t *testing.T, list string) int64 {
	t.Helper()
	ctx := context.Background()
	dave, err := pgp.GenerateKey("Dave", "dave@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.AddMember(ctx, list, "dave@example.org", dave.Armored(), false); err != nil {
		t.Fatal(err)
	}
	listKey, err := f.svc.ListKey(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	to, err := pgp.ParseKey(listKey)
	if err != nil {
		t.Fatal(err)
	}
	entity := "Content-Type: text/plain; charset=utf-8\r\nFrom: Dave <dave@example.org>\r\nTo: " + list +
		"\r\nSubject: inside\r\n\r\nThe held text, <i>as written</i>.\r\n"
	signed, err := pgp.Sign(dave, []byte(entity), pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(to, false)
	if err != nil {
		t.Fatal(err)
	}
	ct, body := pgp.EncryptedBody(armored, "b")
	raw := "From: dave@example.org\r\nTo: " + list + "\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n" + string(body)
	l, _ := f.svc.List(ctx, list)
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Hold: &store.Hold{ListID: l.ID, Ref: "r1", EnvelopeFrom: "dave@example.org",
		Reason: "Posts by members are held on this list.", Raw: []byte(raw), CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	hs, _ := f.svc.Holds(ctx, list)
	return hs[len(hs)-1].ID
}

// TestHoldContent: GET .../holds/{id}/content decrypts a held post for the
// list's owner: signer, reason, inner headers, text; each reading is in
// the audit log as the owner's via the API; the owner of another list
// gets 403 and no reading is recorded.
func TestHoldContent(t *testing.T) {
	f := newFixture(t)
	const list = "a@lists.example.org"
	id := f.encryptedHold(t, list)
	path := api.Prefix + "/lists/" + list + "/holds/" + strconv.FormatInt(id, 10) + "/content"
	if r := f.get("bob@example.org", path); r.status != http.StatusForbidden || strings.Contains(string(r.body), "held text") {
		t.Errorf("bob reads alice's hold: %d %s", r.status, r.body)
	}
	r := f.get("alice@example.org", path)
	var got struct {
		ID           int64  `json:"id"`
		Size         int    `json:"size"`
		Reason       string `json:"reason"`
		Encrypted    bool   `json:"encrypted"`
		Verified     bool   `json:"verified"`
		Signature    string `json:"signature"`
		Signer       string `json:"signer"`
		InnerHeaders []struct{ Name, Value string }
		Texts        []string `json:"texts"`
		Attachments  []any    `json:"attachments"`
	}
	r.json(t, &got)
	if r.status != http.StatusOK || got.ID != id || !got.Encrypted || !got.Verified || got.Signer == "" ||
		!strings.Contains(got.Signature, "member dave@example.org") || got.Reason != "Posts by members are held on this list." {
		t.Errorf("content: %d %+v", r.status, got)
	}
	if len(got.Texts) != 1 || got.Texts[0] != "The held text, <i>as written</i>.\n" || got.Attachments == nil || len(got.Attachments) != 0 {
		t.Errorf("texts %q, attachments %v", got.Texts, got.Attachments)
	}
	if !strings.Contains(string(r.body), `"inner_headers"`) || !strings.Contains(string(r.body), `"value": "inside"`) ||
		!strings.Contains(string(r.body), `"Subject": "..."`) || !strings.Contains(string(r.body), `"size": `+strconv.Itoa(got.Size)) || got.Size < 500 {
		t.Errorf("inner headers:\n%s", r.body)
	}
	es, _ := f.svc.Audit(context.Background(), list, 0, 20)
	var reads []store.AuditEntry
	for _, e := range es {
		if e.Action == "hold.read" {
			reads = append(reads, e)
		}
	}
	if len(reads) != 1 || reads[0].Actor != "alice@example.org" || reads[0].Via != admin.ViaAPI || reads[0].Target != "hold "+strconv.FormatInt(id, 10) {
		t.Errorf("audited readings: %+v", reads)
	}
}

// TestHoldDecisions: a reject with a reason for the sender, and one
// decision on several held messages in one request.
func TestHoldDecisions(t *testing.T) {
	f := newFixture(t)
	const list = "a@lists.example.org"
	one, two := f.encryptedHold(t, list), f.plainHold(t, list)
	base := api.Prefix + "/lists/" + list + "/holds"
	if r := f.sendJSON("alice@example.org", "POST", base+"/"+strconv.FormatInt(one, 10)+"/reject",
		map[string]string{"reason": strings.Repeat("x", admin.MaxRejectReason+1)}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a reason too long: %d %s", r.status, r.body)
	}
	if r := f.sendJSON("alice@example.org", "POST", base+"/"+strconv.FormatInt(one, 10)+"/reject",
		map[string]string{"reason": "Off topic."}); r.status != http.StatusNoContent {
		t.Errorf("reject with a reason: %d %s", r.status, r.body)
	}
	es, _ := f.svc.Audit(context.Background(), list, 0, 1)
	if len(es) != 1 || es[0].Action != "hold.reject" || !strings.Contains(es[0].Detail, "Off topic.") {
		t.Errorf("the rejection's audit entry: %+v", es)
	}
	r := f.sendJSON("alice@example.org", "POST", base, map[string]any{"action": "discard", "ids": []int64{two, one}})
	var got []struct {
		ID    int64  `json:"id"`
		Done  bool   `json:"done"`
		Error string `json:"error"`
	}
	r.json(t, &got)
	if r.status != http.StatusOK || len(got) != 2 || got[0].ID != two || !got[0].Done || got[1].Done || !strings.Contains(got[1].Error, "no held message") {
		t.Errorf("bulk discard: %d %+v", r.status, got)
	}
	if r := f.sendJSON("bob@example.org", "POST", base, map[string]any{"action": "discard", "ids": []int64{two}}); r.status != http.StatusForbidden {
		t.Errorf("bob decides alice's holds: %d", r.status)
	}
	if r := f.sendJSON("alice@example.org", "POST", base, map[string]any{"action": "keep", "ids": []int64{two}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown decision: %d %s", r.status, r.body)
	}
}

// plainHold holds an unencrypted post on list.
func (f *fixture) plainHold(t *testing.T, list string) int64 {
	t.Helper()
	ctx := context.Background()
	l, _ := f.svc.List(ctx, list)
	raw := "From: Mallory <mallory@example.net>\r\nTo: " + list + "\r\nSubject: held\r\n\r\nnot encrypted\r\n"
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.ID, Hold: &store.Hold{ListID: l.ID, Ref: "r2", EnvelopeFrom: "mallory@example.net",
		Reason: "not encrypted", Raw: []byte(raw), CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	hs, _ := f.svc.Holds(ctx, list)
	return hs[len(hs)-1].ID
}
