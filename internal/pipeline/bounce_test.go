package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// dsn is an RFC 3464 report that rcpt failed (or was delayed) with status.
func dsn(rcpt, action, status string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: x\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nAction: " + action + "\r\nStatus: " + status + "\r\n\r\n" +
		"--b--\r\n")
}

// longMember's VERP address would be longer than RFC 5321 §4.5.3.1.1
// allows, so their copies go out from the short form with the token alone.
const longMember = "a.member.with.a.rather.long.name@department.example.org"

// TestBounces: permanent failures reported to the envelope sender of a
// member's copy (their VERP address with its token) are counted; at the
// threshold delivery stops and the owner is told; delays, reports that
// name someone other than the VERP address's member, and another
// member's token are not counted. A disabled member still posts, but
// gets no copies.
func TestBounces(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org", longMember)
	ctx := context.Background()
	l.rec.Settings.BounceThreshold = 2
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	// The envelope senders of the copies Sealpost really queued.
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "p0"); err != nil {
		t.Fatal(err)
	}
	sender := map[string]string{}
	for _, d := range f.deliveries("p0") {
		sender[d.To] = d.From
		if d.From != f.verp(d.To) {
			t.Errorf("copy for %s sent from %s, want %s", d.To, d.From, f.verp(d.To))
		}
	}
	bounce := func(ref, rcpt string, raw []byte) {
		t.Helper()
		err := f.p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: "", Rcpt: rcpt, Raw: raw})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	count := func(email string) int {
		n, err := f.db.Bounces(ctx, l.rec.ID, email, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bob := sender["bob@example.org"]
	_, aliceToken, _ := strings.Cut(strings.TrimSuffix(sender["alice@example.org"], "@lists.example.org"), "=example.org=")
	bounce("b1", bob, dsn("bob@example.org", "delayed", "4.4.1"))
	bounce("b2", bob, forwardedDSN("bob@example.org", "delivered", "bob@elsewhere.example"))
	bounce("b2t", "team-bounce+bob=example.org="+aliceToken+"@lists.example.org", dsn("bob@example.org", "failed", "5.1.1"))
	if n := count("bob@example.org") + count("alice@example.org"); n != 0 || aliceToken == "" {
		t.Fatalf("%d bounces counted from a delay, a report that bob's own copy was delivered and alice's token %q on bob's address", n, aliceToken)
	}
	// Bob's mail is forwarded: the report names where it failed, and the
	// VERP address says whose copy it was.
	bounce("b3", bob, dsn("bob@elsewhere.example", "failed", "5.1.1"))
	if count("bob@example.org") != 1 || len(f.deliveries("b3")) != 0 {
		t.Fatalf("first bounce: %d counted, %d deliveries", count("bob@example.org"), len(f.deliveries("b3")))
	}
	// A non-DSN bounce from a mailer daemon to the VERP address counts too.
	bounce("b4", bob, daemonBounce)
	if ds := f.deliveries("b4"); len(ds) != 1 || ds[0].To != "owner@example.org" || !strings.Contains(string(ds[0].Data), "Delivery to bob@example.org stopped") {
		t.Fatalf("at the threshold: deliveries %+v, want the owner's notice", ds)
	}
	checkBounceAudit(t, f, "bob@example.org", "2 bounces within 10 days (last status unknown)")
	// The short form names the member by the token alone.
	if long := sender[longMember]; !strings.HasPrefix(long, "team-bounce+") || strings.Contains(long, "=") {
		t.Errorf("copy for %s sent from %s, want the short form", longMember, long)
	}
	bounce("b5", sender[longMember], dsn(longMember, "failed", "5.1.1"))
	bounce("b6", sender[longMember], daemonBounce)
	if n := count(longMember); n != 2 {
		t.Errorf("bounces to the short form: %d counted, want 2", n)
	}
	ms, _ := f.db.Members(ctx, l.rec.ID)
	disabled := map[string]bool{}
	for _, m := range ms {
		disabled[m.Email] = !m.DisabledAt.IsZero()
	}
	if !disabled["bob@example.org"] || !disabled[longMember] || disabled["alice@example.org"] {
		t.Fatalf("disabled after bounces: %v, want bob and %s", disabled, longMember)
	}
	// Bob still posts; only alice gets a copy.
	if err := f.process(l, f.post(l, postSpec{signer: f.member("bob@example.org"), from: "bob@example.org"}), "p1"); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries("p1"); len(ds) != 1 || ds[0].To != "alice@example.org" {
		t.Errorf("copies after disabling: %+v", ds)
	}
}

// TestAutomatedMailDropped: vacation replies, bulk mail, reports and the
// list's own copies coming back are dropped (250, nothing sent, nothing
// held), even when they are valid posts; Auto-Submitted: no is a person.
func TestAutomatedMailDropped(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	for i, extra := range []string{
		"Auto-Submitted: auto-replied\r\n",
		"Precedence: bulk\r\n",
		"X-Loop: team@lists.example.org\r\n",
		"List-Id: <team.lists.example.org>\r\n",
		"X-Autoreply: yes\r\n",
		"X-Autorespond: Bob is away\r\n",
		"Precedence: auto_reply\r\n",
	} {
		ref := "auto" + string(rune('a'+i))
		raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", extraOuter: extra})
		if err := f.process(l, raw, ref); err != nil {
			t.Fatalf("%q: %v", extra, err)
		}
		if ds := f.deliveries(ref); len(ds) != 0 {
			t.Errorf("%q: %d deliveries, want none", extra, len(ds))
		}
	}
	if hs, _ := f.db.Holds(ctx, l.rec.ID); len(hs) != 0 {
		t.Errorf("automated mail held: %d", len(hs))
	}
	if err := f.process(l, dsn("alice@example.org", "failed", "5.1.1"), "report"); err != nil || len(f.deliveries("report")) != 0 {
		t.Errorf("a report to the post address: %v, %d deliveries", err, len(f.deliveries("report")))
	}
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", extraOuter: "Auto-Submitted: no\r\n"})
	if err := f.process(l, raw, "person"); err != nil || len(f.deliveries("person")) != 2 {
		t.Errorf("Auto-Submitted: no: %v, %d deliveries", err, len(f.deliveries("person")))
	}
}

// TestCopyFailed: a copy the queue gives up on counts as a bounce of its
// member; notices (not copies) do not.
func TestCopyFailed(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	l.rec.Settings.BounceThreshold = 2
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	copyToBob := store.Delivery{Ref: "c1", ListID: l.rec.ID, Kind: store.KindPost, From: f.verp("bob@example.org"), To: "bob@example.org"}
	notice := store.Delivery{Ref: "c2", ListID: l.rec.ID, Kind: store.KindNotice, From: "", To: "bob@example.org"}
	for _, d := range []store.Delivery{notice, copyToBob, copyToBob} {
		if err := f.p.CopyFailed(ctx, d, "550 5.1.1 <bob@example.org>: Recipient address rejected"); err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := f.db.Members(ctx, l.rec.ID)
	if ms[1].DisabledAt.IsZero() || !strings.Contains(ms[1].DisabledReason, "5.1.1") {
		t.Errorf("bob after two failed copies: %+v", ms[1])
	}
	checkBounceAudit(t, f, "bob@example.org", "2 bounces within 10 days (last status 5.1.1)")
}

// TestSendKey: LIST-sendkey answers the envelope sender with the list's
// public key; an automated message gets nothing.
func TestSendKey(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	ctx := context.Background()
	send := func(ref, from, extra string) []store.Delivery {
		t.Helper()
		err := f.p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: from, Rcpt: "team-sendkey@lists.example.org",
			Raw: []byte("From: " + from + "\r\n" + extra + "Subject: key please\r\n\r\nhi\r\n")})
		if err != nil {
			t.Fatal(err)
		}
		return f.deliveries(ref)
	}
	ds := send("k1", "someone@example.net", "")
	if len(ds) != 1 || ds[0].To != "someone@example.net" || ds[0].From != "" {
		t.Fatalf("deliveries = %+v", ds)
	}
	msg, err := mime.Parse(ds[0].Data, mime.Limits{})
	if err != nil || len(msg.Children) != 2 {
		t.Fatalf("answer: %v", err)
	}
	body, _ := msg.Children[1].Decoded(1 << 20)
	if k, err := pgp.ParseKey(body); err != nil || k.Fingerprint() != l.key.Fingerprint() || k.HasSecret() {
		t.Errorf("attached key: %v", err)
	}
	if ds := send("k2", "robot@example.net", "Auto-Submitted: auto-replied\r\n"); len(ds) != 0 {
		t.Errorf("an automated request got %d answers", len(ds))
	}
}

// forwardedDSN is an RFC 3464 report on a copy to rcpt forwarded to
// forward: rcpt's own block says action, the forward's failed.
func forwardedDSN(rcpt, action, forward string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: x\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered to one of the addresses.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nAction: " + action + "\r\nStatus: 2.0.0\r\n\r\n" +
		"Final-Recipient: rfc822; " + forward + "\r\nOriginal-Recipient: rfc822; " + rcpt + "\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--b--\r\n")
}

// checkBounceAudit checks that the audit log holds, as its newest entry
// of the list, bounce processing turning member's delivery off because
// of reason.
func checkBounceAudit(t *testing.T, f *fixture, member, reason string) {
	t.Helper()
	es, err := f.db.Audit(context.Background(), store.AuditQuery{Lists: []string{team}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Target == member {
			if e.Actor != pipeline.BounceActor || e.Via != "mail" || e.Action != "member.set" || e.Detail != "delivery=off: "+reason || e.At.IsZero() {
				t.Errorf("audit entry for %s: %+v, want bounce processing turning delivery off: %s", member, e, reason)
			}
			return
		}
	}
	t.Errorf("no audit entry for %s turned off by bounces, in %+v", member, es)
}

// daemonBounce is a bounce that is no DSN, as some mailers still send.
var daemonBounce = []byte("From: MAILER-DAEMON@mx.example.org\r\nSubject: failure\r\n\r\nUser unknown\r\n")

// TestForgedBouncesCountForNobody: bounces that do not prove they answer a
// copy Sealpost sent count for nobody, however many arrive (DESIGN
// §4.10): to the member's old-form VERP address when no copy went out
// from it, to the bare bounce address, or to a tokened address with a
// wrong token. The member keeps their copies and the owner hears nothing.
func TestForgedBouncesCountForNobody(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	l.rec.Settings.BounceThreshold = 2
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	forged := []string{
		"team-bounce+bob=example.org@lists.example.org",               // old form, no copy sent from it
		"team-bounce@lists.example.org",                               // the bare bounce address
		"team-bounce+bob=example.org=aaaaaaaaaaaaa@lists.example.org", // a wrong token
		"team-bounce+aaaaaaaaaaaaa@lists.example.org",                 // the short form, a wrong token
	}
	reports := []struct {
		from string
		raw  []byte
	}{
		{"", dsn("bob@example.org", "failed", "5.1.1")},
		{"MAILER-DAEMON@mx.example.org", dsn("bob@example.org", "failed", "5.2.1")},
		{"", daemonBounce},
		{"postmaster@mx.example.org", daemonBounce},
	}
	var refs []string
	for i, rcpt := range forged {
		for j, r := range reports {
			for k := range 8 {
				ref := fmt.Sprintf("forged-%d-%d-%d", i, j, k)
				refs = append(refs, ref)
				if err := f.p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: r.from, Rcpt: rcpt, Raw: r.raw}); err != nil {
					t.Errorf("%s to %s: %v, want taken and dropped", ref, rcpt, err)
				}
			}
		}
	}
	// A tag of no VERP form is no address of the list at all.
	if _, _, err := f.p.Resolve(ctx, "team-bounce+bob=example.org=abcdefghijklmnop@lists.example.org"); !errors.Is(err, pipeline.ErrUnknownList) {
		t.Errorf("a token of the wrong length: %v, want ErrUnknownList", err)
	}
	for _, who := range []string{"alice@example.org", "bob@example.org"} {
		if n, err := f.db.Bounces(ctx, l.rec.ID, who, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Errorf("%d bounces counted for %s (%v), want none", n, who, err)
		}
	}
	for _, ref := range refs {
		if ds := f.deliveries(ref); len(ds) != 0 {
			t.Fatalf("forged bounce %s was answered or told the owner: %d deliveries, first to %s", ref, len(ds), ds[0].To)
		}
	}
	ms, _ := f.db.Members(ctx, l.rec.ID)
	for _, m := range ms {
		if !m.DisabledAt.IsZero() {
			t.Errorf("%s disabled by forged bounces: %s", m.Email, m.DisabledReason)
		}
	}
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "p1"); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries("p1"); len(ds) != 2 {
		t.Errorf("copies of the next post: %d, want one for each member", len(ds))
	}
}

// TestOldFormBounceWindow: a bounce to a member's old-form VERP address
// (no token, as copies were sent before tokens) counts only while a copy
// really went out to that member from that address within the list's
// bounce window; a copy still waiting in the queue does not count.
func TestOldFormBounceWindow(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org", "carol@example.org")
	ctx := context.Background()
	l.rec.Settings.BounceDays = 10
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	sentAt := time.Now().Add(-time.Hour)
	oldForm := func(member string) string {
		local, domain, _ := strings.Cut(member, "@")
		return "team-bounce+" + local + "=" + domain + "@lists.example.org"
	}
	// Copies as the previous version queued them: bob's and carol's were
	// delivered, alice's is still pending.
	var old []store.Delivery
	for _, m := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		old = append(old, store.Delivery{Ref: "old-post", ListID: l.rec.ID, Kind: store.KindPost,
			From: oldForm(m), To: m, Data: []byte("ciphertext"), CreatedAt: sentAt})
	}
	if err := f.db.Commit(ctx, store.Outcome{ListID: l.rec.ID, Deliveries: old}); err != nil {
		t.Fatal(err)
	}
	var sent []store.Attempt
	for _, d := range f.deliveries("old-post") {
		if d.To != "alice@example.org" {
			sent = append(sent, store.Attempt{ID: d.ID, State: store.Sent, At: sentAt})
		}
	}
	if err := f.db.RecordAttempts(ctx, sent); err != nil {
		t.Fatal(err)
	}
	bounce := func(ref, member string, now time.Time) int {
		t.Helper()
		f.now = now
		if err := f.p.Process(ctx, pipeline.Message{Ref: ref, Rcpt: oldForm(member), Raw: dsn(member, "failed", "5.1.1")}); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		n, err := f.db.Bounces(ctx, l.rec.ID, member, sentAt.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := bounce("in-window", "bob@example.org", sentAt.Add(9*24*time.Hour)); n != 1 {
		t.Errorf("old-form bounce of a copy sent 9 days ago: %d counted, want 1", n)
	}
	if n := bounce("after-window", "carol@example.org", sentAt.Add(11*24*time.Hour)); n != 0 {
		t.Errorf("old-form bounce of a copy sent 11 days ago (window 10): %d counted, want 0", n)
	}
	if n := bounce("not-sent", "alice@example.org", sentAt.Add(time.Hour)); n != 0 {
		t.Errorf("old-form bounce of a copy never sent: %d counted, want 0", n)
	}
}
