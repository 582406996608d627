package app_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
)

// returnPath is the Return-Path of an outbox message: its envelope sender.
func returnPath(msg []byte) string {
	for _, line := range strings.Split(string(msg), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Return-Path: "); ok {
			return strings.Trim(v, "<>")
		}
		if line == "" {
			break
		}
	}
	return ""
}

// withoutProof is copy (an outbox message) without the header field
// that names its envelope sender, as someone who never received it would
// write it.
func withoutProof(copy []byte) []byte {
	var out []string
	for _, line := range strings.SplitAfter(string(copy), "\r\n") {
		if !strings.HasPrefix(line, "X-Sealpost-Bounce: ") {
			out = append(out, line)
		}
	}
	return []byte(strings.Join(out, ""))
}

// bounceOver makes the report a receiving mail server sends, with a null
// envelope sender, to envelopeSender when copy (an outbox message) could
// not be delivered to rcpt: an RFC 3464 DSN written by Sealpost's own
// writer, or, when dsn is false, a plain note as some mailers still send.
func bounceOver(t *testing.T, s *server, envelopeSender, rcpt string, copy []byte, dsn bool) error {
	t.Helper()
	raw := []byte("From: MAILER-DAEMON@mx.example.org\r\nTo: " + envelopeSender + "\r\nSubject: failure\r\n\r\nUser unknown: " + rcpt + "\r\n")
	if dsn {
		header, _, _ := strings.Cut(string(copy), "\r\n\r\n")
		var err error
		raw, err = mail.DSN{ReportingMTA: "mx.example.org", To: envelopeSender, Date: time.Now(),
			Explanation: "Your message could not be delivered.\n",
			Recipients: []mail.DSNRecipient{{Recipient: rcpt, Action: "failed", Status: "5.1.1",
				Diagnostic: "smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected"}},
			Headers: []byte(header + "\r\n\r\n")}.Bytes(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
	}
	return s.send(t, "", []string{envelopeSender}, raw)
}

// TestBouncesOverSMTP: the attack of issue 14 over the SMTP listener.
// Forged bounces — DSNs naming a member and plain null-sender bounces,
// to the member's old-form VERP address (no copy went out from it), to
// the bare bounce address (returning the copy without the field that
// proves whose it was, as one who never received it would), to a wrong
// token and to another member's token — are taken (250) and change
// nothing, however many arrive: the member gets the next post and the
// owner hears nothing. Real bounces of a copy Sealpost really delivered
// still count, to its envelope sender or to the bare bounce address
// with the copy's header returned: at the threshold the member's
// delivery stops and the owner is told.
func TestBouncesOverSMTP(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	ctx := context.Background()
	const threshold = 3
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{fmt.Sprintf("bounce_threshold=%d", threshold)}); err != nil {
		t.Fatal(err)
	}
	posts := 0
	// post sends a fresh post by alice and returns the copies that reach
	// the outbox by recipient.
	post := func(want int) map[string][]byte {
		t.Helper()
		s.clearOutbox(t)
		posts++
		inner := append(entity(alice.addr), fmt.Sprintf("Post number %d.\r\n", posts)...)
		armored := alice.gpg.MustRun(inner, "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
		if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, armored)); err != nil {
			t.Fatalf("post %d refused: %v", posts, err)
		}
		msgs := s.outbox(t, want)
		time.Sleep(100 * time.Millisecond) // anything else would have arrived by now
		msgs = s.outbox(t, want)
		copies := map[string][]byte{}
		for _, m := range msgs {
			copies[deliveredTo(m)] = m
		}
		if len(copies) != want {
			t.Fatalf("post %d: copies for %d recipients, want %d", posts, len(copies), want)
		}
		return copies
	}
	bobDisabled := func() bool {
		t.Helper()
		m, err := s.app.Admin.Member(ctx, team, "bob@example.org")
		if err != nil {
			t.Fatal(err)
		}
		return !m.DisabledAt.IsZero()
	}

	first := post(2)
	aliceVERP, bobVERP := returnPath(first["alice@example.org"]), returnPath(first["bob@example.org"])
	aliceToken := strings.TrimSuffix(strings.TrimPrefix(aliceVERP, "team-bounce+alice=example.org="), "@lists.example.org")

	s.clearOutbox(t)
	for _, rcpt := range []string{
		"team-bounce+bob=example.org@lists.example.org", // the old form: no copy went out from it
		"team-bounce@lists.example.org",
		"team-bounce+bob=example.org=" + strings.Repeat("a", mail.VERPTokenLen) + "@lists.example.org",
		"team-bounce+bob=example.org=" + aliceToken + "@lists.example.org",
	} {
		for i := range 8 {
			if err := bounceOver(t, s, rcpt, "bob@example.org", withoutProof(first["bob@example.org"]), i%2 == 0); err != nil {
				t.Fatalf("forged bounce to %s: %v, want 250 (taken and dropped)", rcpt, err)
			}
		}
		if bobDisabled() {
			t.Fatalf("forged bounces to %s switched bob's copies off", rcpt)
		}
	}
	if !strings.HasPrefix(bobVERP, "team-bounce+bob=example.org=") || len(bobVERP) != len("team-bounce+bob=example.org=@lists.example.org")+mail.VERPTokenLen {
		t.Fatalf("bob's copy comes from %q, want his VERP address with a token", bobVERP)
	}
	second := post(2) // bob gets the next post; no owner's notice came
	if second["bob@example.org"] == nil {
		t.Fatal("bob lost the next post")
	}

	// Real reports of the copy Sealpost sent to bob.
	s.clearOutbox(t)
	for i := range threshold {
		rcpt := returnPath(second["bob@example.org"])
		if i == 2 {
			rcpt = "team-bounce@lists.example.org"
		}
		if err := bounceOver(t, s, rcpt, "bob@example.org", second["bob@example.org"], i != 1); err != nil {
			t.Fatalf("real bounce %d: %v", i, err)
		}
		if disabled := bobDisabled(); disabled != (i == threshold-1) {
			t.Fatalf("after %d real bounces bob disabled = %v, want %v", i+1, disabled, i == threshold-1)
		}
	}
	notice := s.outbox(t, 1)
	if deliveredTo(notice[0]) != "owner@example.org" || !strings.Contains(string(notice[0]), "bob@example.org") {
		t.Errorf("at the threshold the outbox holds a message for %s, want the owner's notice about bob", deliveredTo(notice[0]))
	}
	if third := post(1); third["alice@example.org"] == nil {
		t.Error("after bob was disabled the only copy is not alice's")
	}
}
