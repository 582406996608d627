package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// sendAndHangUp sends raw to rcpt and closes the connection right after
// the final dot, without reading the answer: a client whose connection
// broke before the 250 arrived.
func sendAndHangUp(t *testing.T, addr, from, rcpt string, raw []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %s: %v", code, err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("got %q, want %s", line, code)
			}
			if len(line) > 3 && line[3] == ' ' {
				return
			}
		}
	}
	expect("220")
	for _, step := range []struct{ cmd, code string }{
		{"EHLO client.example.org", "250"}, {"MAIL FROM:<" + from + ">", "250"}, {"RCPT TO:<" + rcpt + ">", "250"}, {"DATA", "354"},
	} {
		fmt.Fprintf(conn, "%s\r\n", step.cmd)
		expect(step.code)
	}
	body := strings.ReplaceAll(string(raw), "\r\n.", "\r\n..")
	if _, err := fmt.Fprintf(conn, "%s\r\n.\r\n", strings.TrimSuffix(body, "\r\n")); err != nil {
		t.Fatal(err)
	}
}

// queued returns the deliveries the list has queued, by kind.
func queued(t *testing.T, s *server, list string) map[string]int {
	t.Helper()
	qs, err := s.app.Admin.Queue(context.Background(), list, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, q := range qs {
		out[q.Kind]++
	}
	return out
}

// TestConcurrentDuplicatesDecidedOnce: issue 14 item 4. Eight connections
// send the same unencrypted message from an outsider at once: the message
// is decided once, every connection gets the same 550, the owner is told
// once, and nothing is held.
func TestConcurrentDuplicatesDecidedOnce(t *testing.T) {
	s := startServer(t)
	setupList(t, s, "alice@example.org", "bob@example.org")
	raw := []byte("From: outsider@example.net\r\nTo: " + team + "\r\nSubject: hello\r\nMessage-ID: <dup@example.net>\r\n\r\n" +
		strings.Repeat("Unencrypted text from an outsider. "+canary+"\r\n", 2000))
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = smtpCode(s.send(t, "outsider@example.net", []string{team}, raw)) })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 550 {
			t.Errorf("connection %d got %d, want 550 like the others", i, c)
		}
	}
	if holds, err := s.app.Admin.Holds(context.Background(), team); err != nil || len(holds) != 0 {
		t.Errorf("holds = %d (%v), want none", len(holds), err)
	}
	if q := queued(t, s, team); q[store.KindNotice] != 1 || q[store.KindPost] != 0 {
		t.Errorf("queued %v, want the owner's one notice", q)
	}
}

// TestRetryAfterLostAnswer: issue 14 item 5. A client that did not see
// the 250 sends the same message again: it gets 250 and nothing is sent
// twice, on every path (SMTP, the process pipe, a gateway). The same
// signature in another message is still a replay.
func TestRetryAfterLostAnswer(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org", "carol@example.org")
	alice := ms["alice@example.org"]
	// One signed entity (RFC 3156 §6.1), encrypted twice: two messages
	// with one signature.
	sig := alice.gpg.MustRun(entity(alice.addr), "--armor", "--detach-sign", "-u", alice.fpr).Stdout
	signed := "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n" +
		"--sig\r\n" + string(entity(alice.addr)) + "\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--sig--\r\n"
	post := wrap(alice.addr, alice.gpg.MustRun([]byte(signed), "--armor", "--encrypt", "-r", listFpr).Stdout)
	replay := wrap(alice.addr, alice.gpg.MustRun([]byte(signed), "--armor", "--encrypt", "-r", listFpr).Stdout)

	t.Run("SMTP", func(t *testing.T) {
		sendAndHangUp(t, s.addr, alice.addr, team, post)
		waitFor(t, "the first one is taken", func() bool { return queued(t, s, team)[store.KindPost] == len(ms) })
		if err := s.send(t, alice.addr, []string{team}, post); err != nil {
			t.Fatalf("the same message again: %v, want 250", err)
		}
		if q := queued(t, s, team); q[store.KindPost] != len(ms) {
			t.Fatalf("queued %v, want one copy per member (%d)", q, len(ms))
		}
		if err := s.send(t, alice.addr, []string{team}, replay); smtpCode(err) != 550 {
			t.Errorf("the signature in another message: %v, want 550", err)
		}
		if q := queued(t, s, team); q[store.KindPost] != len(ms) {
			t.Errorf("queued %v after the replay, want still one copy per member", q)
		}
	})

	t.Run("process", func(t *testing.T) {
		second := team2(t, s, ms)
		inner := strings.ReplaceAll(string(entity(alice.addr)), team, "team2@lists.example.org")
		raw := wrap(alice.addr, alice.gpg.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", second, "-u", alice.fpr).Stdout)
		raw = []byte(strings.Replace(string(raw), "To: "+team, "To: team2@lists.example.org", 1))
		ctx := context.Background()
		for i := range 2 { // the MTA runs the pipe again: the first run was killed after its commit
			if _, err := s.app.Process(ctx, "team2@lists.example.org", alice.addr, raw); err != nil {
				t.Fatalf("process run %d: %v, want accepted", i+1, err)
			}
		}
		if q := queued(t, s, "team2@lists.example.org"); q[store.KindPost] != len(ms) {
			t.Errorf("queued %v, want one copy per member (%d)", q, len(ms))
		}
	})
}

// TestGatewayRetryAfterLostAnswer: issue 14 item 5 at a gateway. A
// customer's server that did not see the 250 sends the same mail again:
// it gets 250, and the helpdesk gets the mail once.
func TestGatewayRetryAfterLostAnswer(t *testing.T) {
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	ctx := context.Background()
	carol := customer(t, s, "carol@example.net", true)
	inner := "From: carol@example.net\r\nTo: " + support + "\r\nSubject: help\r\nContent-Type: text/plain\r\n\r\nHelp. " + canary + "\r\n"
	ct, body := pgp.EncryptedBody(carol.gpg.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", carol.fpr).Stdout, "c")
	msg := append([]byte("From: carol@example.net\r\nTo: "+support+"\r\nSubject: ...\r\nMessage-ID: <carol-1@example.net>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
	sendAndHangUp(t, s.addr, "carol@example.net", support, msg)
	desk.next(t) // the first one was taken: its 250 was lost
	if err := s.send(t, "carol@example.net", []string{support}, msg); err != nil {
		t.Fatalf("the same mail again: %v, want 250", err)
	}
	if q := queued(t, s, support); q[store.KindHelpdesk] != 1 {
		t.Errorf("queued %v, want the mail for the helpdesk once", q)
	}
	// The helpdesk's reply, submitted again because its 250 was lost, is
	// sent once.
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	answer := reply("<answer-1@helpdesk.example.org>", "<carol-1@example.net>", "carol@example.net", "We are on it.")
	for i := range 2 {
		if err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"carol@example.net"}, answer); err != nil {
			t.Fatalf("submission %d: %v, want 250", i+1, err)
		}
	}
	if q := queued(t, s, support); q[store.KindReply] != 1 {
		t.Errorf("queued %v, want the reply once", q)
	}
}

// TestStructureLimitsRefusedUniformly: a message over a limit on its
// structure (MIME nesting, number of parts) gets the list's uniform 550,
// as docs/limits.md says; only size gets 552.
func TestStructureLimitsRefusedUniformly(t *testing.T) {
	s := startServer(t)
	setupList(t, s, "alice@example.org")
	deep := "From: alice@example.org\r\nTo: " + team + "\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
	for i := range 200 {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	deep += "Content-Type: text/plain\r\n\r\nx\r\n"
	wide := "From: alice@example.org\r\nTo: " + team + "\r\nSubject: wide\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"w\"\r\n\r\n" +
		strings.Repeat("--w\r\nContent-Type: text/plain\r\n\r\nx\r\n", 10000) + "--w--\r\n"
	for name, raw := range map[string]string{"depth 200": deep, "10,000 parts": wide} {
		err := s.send(t, "alice@example.org", []string{team}, []byte(raw))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
			t.Errorf("%s: %v, want the uniform 550 5.7.1", name, err)
		}
	}
}

// team2 makes a second list with the members of ms and returns its key's
// fingerprint, imported into each member's keyring.
func team2(t *testing.T, s *server, ms map[string]*member) string {
	t.Helper()
	ctx := context.Background()
	const addr = "team2@lists.example.org"
	l, err := s.app.Admin.CreateList(ctx, addr, "owner@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.app.Admin.ListKey(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		m.gpg.Import(key)
		if _, _, err := s.app.Admin.AddMemberWith(ctx, addr, m.addr, m.gpg.Export(m.fpr), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	return l.KeyFingerprint
}
