package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
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

// TestBounces: permanent failures reported to a member's VERP address are
// counted; at the threshold delivery stops and the owner is told;
// delays, and reports that name someone other than the VERP address's
// member, are not counted. A disabled member still posts, but gets no
// copies.
func TestBounces(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	l.rec.Settings.BounceThreshold = 2
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	bounce := func(ref, verpFor string, raw []byte) {
		t.Helper()
		err := f.p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: "", Rcpt: mail.VERP(team, verpFor), Raw: raw})
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
	bounce("b1", "bob@example.org", dsn("bob@example.org", "delayed", "4.4.1"))
	bounce("b2", "bob@example.org", dsn("alice@example.org", "failed", "5.1.1"))
	if n := count("bob@example.org") + count("alice@example.org"); n != 0 {
		t.Fatalf("%d bounces counted from a delay and a mismatched report", n)
	}
	bounce("b3", "bob@example.org", dsn("bob@example.org", "failed", "5.1.1"))
	if count("bob@example.org") != 1 || len(f.deliveries("b3")) != 0 {
		t.Fatalf("first bounce: %d counted, %d deliveries", count("bob@example.org"), len(f.deliveries("b3")))
	}
	// A non-DSN bounce from a mailer daemon to the VERP address counts too.
	bounce("b4", "bob@example.org", []byte("From: MAILER-DAEMON@mx.example.org\r\nSubject: failure\r\n\r\nUser unknown\r\n"))
	if ds := f.deliveries("b4"); len(ds) != 1 || ds[0].To != "owner@example.org" || !strings.Contains(string(ds[0].Data), "Delivery to bob@example.org stopped") {
		t.Fatalf("at the threshold: deliveries %+v, want the owner's notice", ds)
	}
	ms, _ := f.db.Members(ctx, l.rec.ID)
	if ms[1].Email != "bob@example.org" || ms[1].DisabledAt.IsZero() {
		t.Fatalf("bob not disabled: %+v", ms[1])
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
	copyToBob := store.Delivery{Ref: "c1", ListID: l.rec.ID, Kind: store.KindPost, From: mail.VERP(team, "bob@example.org"), To: "bob@example.org"}
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
