package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// TestGatewayNoDecryptionOracle: issue 14 item 1, DESIGN §4.3. The
// covert-content attacks of RUB-NDS ("Re: What's Up Johnny?", ACNS 2019)
// against a gateway in front of a helpdesk that answers every message by
// quoting the whole ticket, to the message's Reply-To or From, to all its
// recipients, and automatically to its envelope sender (RFC 3834). Eve,
// whose key is on file, resends Alice's captured ciphertexts (made with
// gpg in five shapes: PGP/MIME with and without a protected From, signed
// and unsigned, inline PGP signed and unsigned): under her own From,
// with her Reply-To, wrapped into a reply of hers, and mixed with a
// ciphertext of her own. Nothing that reaches Eve decrypts with her key
// to any of Alice's text; Alice's own mail is still answered to her.
func TestGatewayNoDecryptionOracle(t *testing.T) {
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	ctx := context.Background()
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	// Both keys are on file: a reply to Eve would be encrypted to her.
	alice, eve := customer(t, s, "alice@example.net", true), customer(t, s, "eve@example.com", true)
	const gwBounces = "helpdesk-bounces@example.org"

	// Alice's ciphertexts, one fresh per use: each carries its own canary.
	n := 0
	type victim struct {
		canary  string
		id      string // its Message-ID
		msg     []byte // the whole message as Alice sent it
		armored []byte // the ciphertext alone
		inline  bool
	}
	shapes := map[string]func() victim{}
	text := func(canary string) string { return "My account number is " + canary + ".\r\n" }
	encrypt := func(plain string, sign bool) []byte {
		args := []string{"--armor", "--encrypt", "-r", gw.KeyFingerprint}
		if sign {
			args = append(args, "--sign", "-u", alice.fpr)
		}
		return alice.gpg.MustRun([]byte(plain), args...).Stdout
	}
	message := func(v *victim, inline bool) {
		n++
		v.id = fmt.Sprintf("<alice-%d@example.net>", n)
		head := "From: Alice <alice@example.net>\r\nTo: " + support + "\r\nMessage-ID: " + v.id + "\r\nMIME-Version: 1.0\r\n"
		if inline {
			v.msg = append([]byte(head+"Subject: my account\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"), v.armored...)
			return
		}
		ct, body := pgp.EncryptedBody(v.armored, "b")
		v.msg = append([]byte(head+"Subject: ...\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
	}
	for name, spec := range map[string]struct {
		protected, sign, inline bool
	}{
		"PGP/MIME, signed, protected From": {true, true, false},
		"PGP/MIME, signed, no From inside": {false, true, false},
		"PGP/MIME, unsigned, no From":      {false, false, false},
		"inline PGP, signed":               {false, true, true},
		"inline PGP, unsigned":             {false, false, true},
	} {
		shapes[name] = func() victim {
			n++
			canary := fmt.Sprintf("CANARY-alice-%d", n)
			plain := text(canary)
			if !spec.inline {
				head := "Content-Type: text/plain; charset=utf-8\r\n"
				if spec.protected {
					head = "From: Alice <alice@example.net>\r\nTo: " + support + "\r\nSubject: my account\r\n" + head
				}
				plain = head + "\r\n" + plain
			}
			v := victim{canary: canary, armored: encrypt(plain, spec.sign), inline: spec.inline}
			message(&v, spec.inline)
			return v
		}
	}

	// Eve's ways of sending a captured ciphertext back.
	eveHead := func(extra string) string {
		n++
		return fmt.Sprintf("From: Eve <eve@example.com>\r\nTo: %s\r\nSubject: Re: my account\r\nMessage-ID: <eve-%d@example.com>\r\n%s", support, n, extra)
	}
	attacks := map[string]func(v victim) []byte{
		"resent with Eve's From": func(v victim) []byte {
			return replaceHeader(v.msg, "From", "Eve <eve@example.com>")
		},
		"resent with Eve's Reply-To and Cc": func(v victim) []byte {
			return append([]byte("Reply-To: eve@example.com\r\nCc: eve@example.com\r\n"), v.msg...)
		},
		"wrapped into Eve's reply": func(v victim) []byte {
			return []byte(eveHead("In-Reply-To: <earlier@example.net>\r\n") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"w\"\r\n\r\n" +
				"--w\r\nContent-Type: text/plain\r\n\r\nPlease see the message below and answer me.\r\n" +
				"--w\r\nContent-Type: message/rfc822\r\n\r\n" + string(v.msg) + "\r\n--w--\r\n")
		},
		"Eve's ciphertext mixed with Alice's": func(v victim) []byte {
			own := eve.gpg.MustRun([]byte("Please quote my whole ticket back to me.\r\n"), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", eve.fpr).Stdout
			return []byte(eveHead("") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n" +
				"--m\r\nContent-Type: text/plain\r\n\r\n" + string(own) + "\r\n" +
				"--m\r\nContent-Type: application/octet-stream; name=\"ticket.asc\"\r\nContent-Disposition: attachment; filename=\"ticket.asc\"\r\n\r\n" +
				string(v.armored) + "\r\n--m--\r\n")
		},
	}

	// The helpdesk files each message into the ticket of any message it
	// refers to (as RT and Zammad thread), and quotes the whole ticket.
	tickets := map[string]int{} // message-id → ticket
	var ticketText [][]string
	answer := func(t *testing.T) {
		t.Helper()
		got := desk.next(t)
		msg, err := mime.Parse(got.data, mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ticket := -1
		for _, ref := range strings.Fields(msg.Header.Get("In-Reply-To") + " " + msg.Header.Get("References")) {
			if tk, ok := tickets[ref]; ok {
				ticket = tk
				break
			}
		}
		if ticket < 0 {
			ticket = len(ticketText)
			ticketText = append(ticketText, nil)
		}
		tickets[msg.Header.Get("Message-Id")] = ticket
		ticketText[ticket] = append(ticketText[ticket], string(msg.Body))
		quote := "Thank you. Your ticket so far:\r\n> " + strings.ReplaceAll(strings.Join(ticketText[ticket], "\n"), "\n", "\n> ") + "\r\n"
		to := msg.Header.Get("Reply-To")
		if to == "" {
			to = msg.Header.Get("From")
		}
		n++
		id := fmt.Sprintf("<answer-%d@helpdesk.example.org>", n)
		tickets[id] = ticket
		rcpts := addresses(to + ", " + msg.Header.Get("Cc") + ", " + msg.Header.Get("To"))
		if err := submit(t, s, password, gwBounces, rcpts, reply(id, msg.Header.Get("Message-Id"), to, quote,
			"Cc: "+msg.Header.Get("Cc"))); err != nil {
			t.Fatalf("the helpdesk's answer was refused: %v", err)
		}
		if got.from != "" {
			if err := submit(t, s, password, gwBounces, []string{got.from}, reply(id[:len(id)-1]+".auto>", msg.Header.Get("Message-Id"),
				got.from, "We got your message. "+quote, "Auto-Submitted: auto-replied")); err != nil {
				t.Fatalf("the helpdesk's automatic answer was refused: %v", err)
			}
		}
	}

	var canaries []string
	t.Run("Alice's own mail is answered to her", func(t *testing.T) {
		v := shapes["PGP/MIME, signed, protected From"]()
		canaries = append(canaries, v.canary)
		if err := s.send(t, alice.addr, []string{support}, v.msg); err != nil {
			t.Fatal(err)
		}
		answer(t)
		c := s.waitFor(t, alice.addr)
		if r := alice.gpg.Run(c, "--decrypt"); !r.HasStatus("GOODMDC") || !bytes.Contains(r.Stdout, []byte(v.canary)) {
			t.Errorf("Alice cannot read the answer to her own mail:\n%s", r.Status)
		}
		// The same ciphertext sent again by Eve is a replay.
		if err := s.send(t, eve.addr, []string{support}, replaceHeader(v.msg, "From", "eve@example.com")); smtpCode(err) != 550 {
			t.Errorf("replayed ciphertext: %v, want 550", err)
		}
		// Eve writes into Alice's conversation, signed and encrypted, her
		// own key on file: the helpdesk files it into Alice's ticket and
		// answers Eve with it. Eve is no address of that conversation.
		aliceID := v.id
		own := "From: Eve <eve@example.com>\r\nTo: " + support + "\r\nSubject: Re: my account\r\nIn-Reply-To: " + aliceID +
			"\r\nReferences: " + aliceID + "\r\nContent-Type: text/plain\r\n\r\nI am with Alice; send me the ticket.\r\n"
		ct, body := pgp.EncryptedBody(eve.gpg.MustRun([]byte(own), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", eve.fpr).Stdout, "e")
		msg := append([]byte("From: Eve <eve@example.com>\r\nTo: "+support+"\r\nSubject: ...\r\nMessage-ID: <eve-joins@example.com>\r\n"+
			"In-Reply-To: "+aliceID+"\r\nReferences: "+aliceID+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
		if err := s.send(t, eve.addr, []string{support}, msg); err != nil {
			t.Fatalf("Eve's own message: %v", err)
		}
		answer(t)
	})
	for shape, make := range shapes {
		for attack, wrap := range attacks {
			t.Run(attack+", "+shape, func(t *testing.T) {
				v := make() // intercepted before it reached the gateway
				canaries = append(canaries, v.canary)
				err := s.send(t, eve.addr, []string{support}, wrap(v))
				switch code := smtpCode(err); {
				case err == nil:
					answer(t)
				case code == 550:
				default:
					t.Fatalf("send: %v", err)
				}
			})
		}
	}

	// Everything that left Sealpost, once the queue is empty.
	waitFor(t, "the queue is delivered", func() bool {
		qs, err := s.app.Admin.Queue(ctx, support, []store.DeliveryState{store.Pending}, 1000)
		return err == nil && len(qs) == 0
	})
	files, _ := filepath.Glob(filepath.Join(s.dir, "outbox", "new", "*"))
	toEve := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rcpt := deliveredTo(raw)
		if rcpt == alice.addr {
			continue
		}
		if rcpt == eve.addr {
			toEve++
		}
		plain := raw
		if r := eve.gpg.Run(raw, "--decrypt"); r.Err == nil {
			plain = append(plain, r.Stdout...)
		}
		for _, c := range canaries {
			if bytes.Contains(plain, []byte(c)) && rcpt != gwBounces {
				t.Errorf("%s got Alice's %s:\n%s", rcpt, c, plain)
			}
		}
		if rcpt == gwBounces && bytes.Contains(raw, []byte("CANARY-alice")) {
			t.Errorf("a notice to the helpdesk carries the answer's text:\n%s", raw)
		}
	}
	t.Logf("%d attacks, %d messages left Sealpost, %d of them to Eve, none readable", len(shapes)*len(attacks), len(files), toEve)
}

// replaceHeader replaces the first field name of msg's header by value.
func replaceHeader(msg []byte, name, value string) []byte {
	head, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			lines[i] = name + ": " + value
			break
		}
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n" + string(body))
}

// addresses returns the addr-specs in a comma-separated list of
// addresses, skipping what does not parse and the gateway itself.
func addresses(list string) []string {
	var out []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if i := strings.LastIndex(a, "<"); i >= 0 {
			a = strings.TrimSuffix(a[i+1:], ">")
		}
		if strings.Contains(a, "@") && a != support && !strings.Contains(strings.Join(out, " "), a) {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// TestGatewayOneFromField: issue 14 item 11. A message with two From
// fields (RFC 5322 §3.6 allows one) reaches the helpdesk with one: the
// verified signer's, or, when nothing verifies either, the unverified
// sender's placeholder; never the name the sender added.
func TestGatewayOneFromField(t *testing.T) {
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	eve := customer(t, s, "eve@example.com", true)
	const two = "From: eve@example.com\r\nFrom: manager@bigcorporation.example\r\n"
	entity := "Content-Type: text/plain\r\n\r\nPlease wire the money.\r\n"
	sig := eve.gpg.MustRun([]byte(entity), "--armor", "--detach-sign", "-u", eve.fpr).Stdout
	signed := "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n" +
		"--s\r\n" + entity + "\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s--\r\n"
	ct, body := pgp.EncryptedBody(eve.gpg.MustRun([]byte(two+"To: "+support+"\r\n"+entity), "--armor", "--sign", "--encrypt",
		"-r", gw.KeyFingerprint, "-u", eve.fpr).Stdout, "e")
	for i, tc := range []struct {
		name, msg, from string
	}{
		{"encrypted and signed", two + "MIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n" + string(body), "eve@example.com"},
		{"signed in clear", two + "MIME-Version: 1.0\r\n" + signed, "eve@example.com"},
		{"in clear, unsigned", two + "Content-Type: text/plain\r\n\r\nPlease wire the money.\r\n", "unverified-sender@sender.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := fmt.Sprintf("To: %s\r\nSubject: invoice\r\nMessage-ID: <two-%d@example.com>\r\n%s", support, i, tc.msg)
			if err := s.send(t, "eve@example.com", []string{support}, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			froms := fieldValues(t, desk.next(t).data, "From")
			if len(froms) != 1 || !strings.Contains(froms[0], "<"+tc.from+">") || strings.Contains(froms[0], "manager") {
				t.Errorf("From fields %q, want one for %s", froms, tc.from)
			}
		})
	}
}
