package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
)

// queuedTo counts the deliveries in the queue, in any state, addressed
// to addr.
func queuedTo(t *testing.T, s *server, addr string) int {
	t.Helper()
	qs, err := s.app.Admin.Queue(context.Background(), "", nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		if q.To == addr {
			n++
		}
	}
	return n
}

// gatewayOption returns the value of the gateway's option name.
func gatewayOption(t *testing.T, s *server, name string) string {
	t.Helper()
	gw, err := s.app.Admin.Gateway(context.Background(), support)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range admin.GatewayOptions() {
		if o.Name == name {
			return o.Value(gw)
		}
	}
	t.Fatalf("no gateway option %s", name)
	return ""
}

// writeEncrypted is m's mail to the gateway with key fpr: inner (a
// complete entity with its header fields) signed by m, with m's key
// attached, and encrypted, as gpg makes it.
func writeEncrypted(t *testing.T, m *member, fpr, inner string) []byte {
	t.Helper()
	boundary := "k-" + m.fpr[:8]
	i := strings.Index(inner, "Content-Type:")
	entity := inner[:i] + "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary + "\r\n" +
		inner[i:] + "\r\n--" + boundary + "\r\nContent-Type: application/pgp-keys\r\n\r\n" + string(m.gpg.Export(m.fpr)) +
		"\r\n--" + boundary + "--\r\n"
	armored := m.gpg.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", fpr, "-u", m.fpr).Stdout
	ct, body := pgp.EncryptedBody(armored, "outer")
	return append([]byte("From: "+m.addr+"\r\nTo: "+support+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// reportOf checks that msg is a delivery status notification in the
// ticket and returns its per-recipient blocks by address.
func reportOf(t *testing.T, msg []byte) map[string]mail.DSNRecipient {
	t.Helper()
	out := map[string]mail.DSNRecipient{}
	for _, r := range mail.ParseDSN(dsnReport(t, msg)) {
		out[r.Recipient] = r
	}
	if got := fieldValues(t, msg, "Auto-Submitted"); len(got) != 1 || got[0] != "auto-replied" {
		t.Errorf("report Auto-Submitted = %q", got)
	}
	return out
}

// TestRefusedReplyInTicket: issue 16 item 2, over real sockets with real
// gpg. An encrypted ticket from alice names carol (no key) in its
// protected Cc; the helpdesk answers alice, Cc carol and mallory (a
// stranger to the conversation). Alice gets the reply encrypted, carol a
// notice; the report about carol and mallory reaches the helpdesk's
// deliver_to with the reply's Subject (ticket tag included) and
// In-Reply-To, from the null sender, and nothing goes to the reply's
// envelope sender. The helpdesk sending the report on (as RT does to its
// privileged watchers, In-Reply-To the report) makes no second report.
func TestRefusedReplyInTicket(t *testing.T) {
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	ctx := context.Background()
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	alice := customer(t, s, "alice@example.net", false)
	const question = "CANARY-report-question"
	if err := s.send(t, alice.addr, []string{support}, writeEncrypted(t, alice, gw.KeyFingerprint,
		"From: Alice <alice@example.net>\r\nTo: "+support+"\r\nCc: carol@example.net\r\nSubject: My printer\r\n"+
			"Message-ID: <alice-1@example.net>\r\nContent-Type: text/plain\r\n\r\n"+question+"\r\n")); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if got := desk.next(t); !bytes.Contains(got.data, []byte(question)) {
		t.Fatalf("the helpdesk did not get alice's ticket:\n%s", got.data)
	}

	const answer = "CANARY-report-answer"
	s.clearOutbox(t)
	rcpts := []string{alice.addr, "carol@example.net", "mallory@example.net"}
	if err := submit(t, s, password, "root@helpdesk.example.org", rcpts,
		[]byte("From: Support <"+support+">\r\nTo: alice@example.net\r\nCc: carol@example.net, mallory@example.net\r\n"+
			"Subject: [example.org #1] My printer\r\nMessage-ID: <rt-1@helpdesk.example.org>\r\n"+
			"In-Reply-To: <alice-1@example.net>\r\nReferences: <alice-1@example.net>\r\nPrecedence: bulk\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+answer+"\r\n")); err != nil {
		t.Fatalf("submission refused: %v", err)
	}
	got := desk.next(t)
	if got.from != "" || len(got.to) != 1 || got.to[0] != support {
		t.Errorf("the report went %q -> %v, want <> -> %s", got.from, got.to, support)
	}
	if bytes.Contains(got.data, []byte(answer)) {
		t.Error("the report carries the reply's content")
	}
	subject := fieldValues(t, got.data, "Subject")
	inReplyTo := fieldValues(t, got.data, "In-Reply-To")
	if len(subject) != 1 || subject[0] != "Reply not sent: [example.org #1] My printer" ||
		len(inReplyTo) != 1 || inReplyTo[0] != "<rt-1@helpdesk.example.org>" {
		t.Errorf("report Subject %q, In-Reply-To %q: not the reply's ticket", subject, inReplyTo)
	}
	report := reportOf(t, got.data)
	if len(report) != 2 || report["carol@example.net"].Status != "5.7.4" || report["mallory@example.net"].Status != "5.7.1" {
		t.Errorf("report recipients %+v, want carol 5.7.4 (no key), mallory 5.7.1 (a stranger)", report)
	}
	r := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
	if !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(answer)) {
		t.Errorf("alice did not get the reply encrypted:\n%s", r.Report())
	}
	if notice := s.waitFor(t, "carol@example.net"); bytes.Contains(notice, []byte(answer)) {
		t.Error("carol's notice carries the reply")
	}
	if n := queuedTo(t, s, "root@helpdesk.example.org"); n != 0 {
		t.Errorf("%d deliveries queued to the reply's envelope sender", n)
	}
	if n := queuedTo(t, s, "mallory@example.net"); n != 0 {
		t.Errorf("the stranger was sent %d messages", n)
	}

	// The helpdesk sends the report in the ticket on to a watcher,
	// through the gateway, answering the report (RT's
	// RedistributeAutoGeneratedMessages): refused, but no second report.
	reportID := fieldValues(t, got.data, "Message-Id")[0]
	before := queuedTo(t, s, support)
	if err := submit(t, s, password, "root@helpdesk.example.org", []string{"watcher@example.com"},
		[]byte("From: Support <"+support+">\r\nTo: watcher@example.com\r\nSubject: [example.org #1] Reply not sent: My printer\r\n"+
			"Message-ID: <rt-2@helpdesk.example.org>\r\nIn-Reply-To: "+reportID+"\r\nReferences: <rt-1@helpdesk.example.org> "+reportID+"\r\n"+
			"Precedence: bulk\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nforwarded report\r\n")); err != nil {
		t.Fatalf("submission refused: %v", err)
	}
	if after := queuedTo(t, s, support); after != before {
		t.Errorf("the forwarded report made %d more reports", after-before)
	}
	// An agent's ordinary reply in the same ticket is reported again.
	if err := submit(t, s, password, "root@helpdesk.example.org", []string{"carol@example.net"},
		[]byte("From: Support <"+support+">\r\nTo: carol@example.net\r\nSubject: [example.org #1] My printer\r\n"+
			"Message-ID: <rt-3@helpdesk.example.org>\r\nIn-Reply-To: <alice-1@example.net>\r\nReferences: "+reportID+" <alice-1@example.net>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nagain\r\n")); err != nil {
		t.Fatalf("submission refused: %v", err)
	}
	if again := desk.next(t); !strings.Contains(strings.Join(fieldValues(t, again.data, "Subject"), ""), "[example.org #1]") {
		t.Errorf("the second report:\n%s", again.data)
	}
}

// verifyClearCopy checks that msg is a PGP/MIME signed copy holding text,
// with a signature gpg verifies as the gateway's (key gwKey).
func verifyClearCopy(t *testing.T, gwKey []byte, gwFpr string, msg []byte, text string) {
	t.Helper()
	p, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.MediaType != "multipart/signed" || len(p.Children) != 2 || !bytes.Contains(p.Children[0].Raw, []byte(text)) {
		t.Fatalf("not a signed copy of the reply: %s", mime.Tree(p))
	}
	g := gpgtest.New(t)
	g.Import(gwKey)
	dir := t.TempDir()
	data, sig := filepath.Join(dir, "signed"), filepath.Join(dir, "signed.asc")
	if err := os.WriteFile(data, p.Children[0].Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sig, p.Children[1].Body, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := g.Run(nil, "--verify", sig, data); !r.Verified(gwFpr) {
		t.Errorf("gpg does not verify the gateway's signature:\n%s", r.Report())
	}
}

// TestGatewayStaff: issue 16 item 3, over real sockets with real gpg, the
// helpdesk reading a Maildir. Staff (staff=*@example.org,bob@example.net)
// are never strangers and never asked for a key: with a key on file they
// get the reply encrypted; without one, by default (staff_without_key=
// refuse) nothing, and one report in the ticket; with
// staff_without_key=clear a signed copy in clear. Addresses that only
// look like staff are strangers. A reply to staff only does not make
// staff the conversation's correspondents.
func TestGatewayStaff(t *testing.T) {
	deskDir := filepath.Join(t.TempDir(), "helpdesk")
	s, gw := startGateway(t, deskDir)
	ctx := context.Background()
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.SetOptions(ctx, support, []string{"staff=*@Example.org, bob@example.net"}); err != nil {
		t.Fatal(err)
	}
	gwKey, _ := s.app.Admin.ListKey(ctx, support)
	kim := customer(t, s, "kim@example.org", true) // staff, key given by the administrator
	alice := customer(t, s, "alice@example.net", false)
	inDesk := 0
	nextInDesk := func(t *testing.T, marker string) []byte {
		t.Helper()
		inDesk++
		for _, m := range maildirMessages(t, deskDir, inDesk) {
			if bytes.Contains(m, []byte(marker)) {
				return m
			}
		}
		t.Fatalf("nothing with %q in the helpdesk's Maildir", marker)
		return nil
	}
	if err := s.send(t, alice.addr, []string{support}, writeEncrypted(t, alice, gw.KeyFingerprint,
		"From: alice@example.net\r\nTo: "+support+"\r\nSubject: Printer\r\nMessage-ID: <alice-s1@example.net>\r\n"+
			"Content-Type: text/plain\r\n\r\nalice-ticket\r\n")); err != nil {
		t.Fatal(err)
	}
	nextInDesk(t, "alice-ticket")

	staffReply := func(t *testing.T, id, answer string, rcpts ...string) {
		t.Helper()
		s.clearOutbox(t)
		err := submit(t, s, password, "rt@helpdesk.example.org", rcpts,
			[]byte("From: Support <"+support+">\r\nTo: "+strings.Join(rcpts, ", ")+"\r\nSubject: [example.org #2] Printer\r\n"+
				"Message-ID: <"+id+"@helpdesk.example.org>\r\nIn-Reply-To: <alice-s1@example.net>\r\n"+
				"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"+answer+"\r\n"))
		if err != nil {
			t.Fatalf("submission refused: %v", err)
		}
	}

	t.Run("refuse (default): staff with a key get it encrypted, staff without none, look-alikes are strangers", func(t *testing.T) {
		if staff, without := gatewayOption(t, s, "staff"), gatewayOption(t, s, "staff_without_key"); staff != "*@example.org,bob@example.net" ||
			without != "refuse" {
			t.Errorf("staff = %q, staff_without_key = %q", staff, without)
		}
		const answer = "CANARY-staff-refuse"
		staffReply(t, "st-1", answer, alice.addr, kim.addr, "joe@example.org", "evil@example.org.attacker.test", "x@sub.example.org")
		inTicket := nextInDesk(t, "st-1@helpdesk.example.org")
		if !bytes.HasPrefix(inTicket, []byte("Return-Path: <>\r\n")) {
			t.Errorf("the report is not from the null sender:\n%.200s", inTicket)
		}
		report := reportOf(t, inTicket)
		if len(report) != 3 || report["joe@example.org"].Status != "5.7.4" || !strings.Contains(report["joe@example.org"].Diagnostic, "staff") ||
			report["evil@example.org.attacker.test"].Status != "5.7.1" || report["x@sub.example.org"].Status != "5.7.1" {
			t.Errorf("report %+v: want joe refused as staff without a key, the look-alikes as strangers", report)
		}
		for _, m := range []*member{alice, kim} {
			r := m.gpg.Run(s.waitFor(t, m.addr), "--decrypt")
			if !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(answer)) {
				t.Errorf("%s did not get the reply encrypted:\n%s", m.addr, r.Report())
			}
		}
		for _, addr := range []string{"joe@example.org", "evil@example.org.attacker.test", "x@sub.example.org"} {
			if n := queuedTo(t, s, addr); n != 0 {
				t.Errorf("%s was sent %d messages (no copy, no notice)", addr, n)
			}
		}
	})

	t.Run("clear: staff without a key get a signed copy in clear, look-alikes still nothing", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"staff_without_key=clear"}); err != nil {
			t.Fatal(err)
		}
		const answer = "CANARY-staff-clear"
		staffReply(t, "st-2", answer, alice.addr, "bob@example.net", "evil@example.org.attacker.test")
		verifyClearCopy(t, gwKey, gw.KeyFingerprint, s.waitFor(t, "bob@example.net"), answer)
		report := reportOf(t, nextInDesk(t, "st-2@helpdesk.example.org"))
		if len(report) != 1 || report["evil@example.org.attacker.test"].Status != "5.7.1" {
			t.Errorf("report %+v: want only the look-alike, as a stranger", report)
		}
		if n := queuedTo(t, s, "evil@example.org.attacker.test"); n != 0 {
			t.Errorf("the look-alike was sent %d messages", n)
		}
	})

	t.Run("a reply to staff only does not make staff the conversation's correspondents", func(t *testing.T) {
		dave := customer(t, s, "dave@example.com", false)
		if err := s.send(t, dave.addr, []string{support}, []byte("From: dave@example.com\r\nTo: "+support+
			"\r\nSubject: plain\r\nMessage-ID: <dave-1@example.com>\r\n\r\ndave-clear\r\n")); err != nil {
			t.Fatal(err)
		}
		nextInDesk(t, "dave-clear")
		// The helpdesk tells its watcher about the new ticket.
		if err := submit(t, s, password, "rt@helpdesk.example.org", []string{"joe@example.org"},
			[]byte("From: Support <"+support+">\r\nTo: joe@example.org\r\nSubject: [example.org #3] plain\r\n"+
				"Message-ID: <st-3@helpdesk.example.org>\r\nIn-Reply-To: <dave-1@example.com>\r\n\r\nnew ticket\r\n")); err != nil {
			t.Fatal(err)
		}
		// Dave goes on, encrypted, in the same conversation.
		if err := s.send(t, dave.addr, []string{support}, writeEncrypted(t, dave, gw.KeyFingerprint,
			"From: dave@example.com\r\nTo: "+support+"\r\nSubject: Re: plain\r\nMessage-ID: <dave-2@example.com>\r\n"+
				"In-Reply-To: <st-3@helpdesk.example.org>\r\nContent-Type: text/plain\r\n\r\ndave-encrypted\r\n")); err != nil {
			t.Fatal(err)
		}
		nextInDesk(t, "dave-encrypted")
		s.clearOutbox(t)
		const answer = "CANARY-staff-dave"
		if err := submit(t, s, password, "rt@helpdesk.example.org", []string{dave.addr},
			[]byte("From: Support <"+support+">\r\nTo: dave@example.com\r\nSubject: [example.org #3] plain\r\n"+
				"Message-ID: <st-4@helpdesk.example.org>\r\nIn-Reply-To: <dave-2@example.com>\r\n\r\n"+answer+"\r\n")); err != nil {
			t.Fatal(err)
		}
		r := dave.gpg.Run(s.waitFor(t, dave.addr), "--decrypt")
		if !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(answer)) {
			t.Errorf("dave, refused as a stranger to his own conversation?\n%s", r.Report())
		}
	})

	t.Run("staff patterns are checked", func(t *testing.T) {
		for _, bad := range []string{"*@*", "*", "*@*.example.org", "bob*@example.org", "@example.org", "*@x@example.org", "example.org"} {
			if _, err := s.app.Admin.SetOptions(ctx, support, []string{"staff=" + bad}); err == nil {
				t.Errorf("staff=%s accepted", bad)
			}
		}
		if staff := gatewayOption(t, s, "staff"); !slices.Contains(strings.Split(staff, ","), "*@example.org") {
			t.Errorf("a refused value changed staff: %q", staff)
		}
	})
}
