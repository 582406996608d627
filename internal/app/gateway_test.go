package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/smtpserver"
	"github.com/sealpost/sealpost/internal/store"
)

const support = "support@example.org"

// helpdesk is a fake helpdesk: an SMTP sink on loopback that keeps what
// it is handed.
type helpdesk struct {
	addr     string
	refuse   bool   // answer every message 550
	refuseTo string // answer messages to this recipient 550
	mu       sync.Mutex
	got      []sunk
	more     chan struct{}
}

type sunk struct {
	from string
	to   []string
	data []byte
}

func startHelpdesk(t *testing.T) *helpdesk {
	t.Helper()
	h := &helpdesk{more: make(chan struct{}, 100)}
	srv := smtpserver.New(h, smtpserver.Options{Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	h.addr = ln.Addr().String()
	return h
}

func (h *helpdesk) Recipient(context.Context, *smtpserver.Envelope, string) error { return nil }

func (h *helpdesk) Deliver(_ context.Context, env *smtpserver.Envelope, raw []byte) error {
	h.mu.Lock()
	if h.refuse || (h.refuseTo != "" && len(env.To) > 0 && env.To[0] == h.refuseTo) {
		h.mu.Unlock()
		return &smtpserver.Error{Code: 550, Enhanced: [3]int{5, 1, 1}, Message: "no such queue"}
	}
	h.got = append(h.got, sunk{env.From, env.To, raw})
	h.mu.Unlock()
	h.more <- struct{}{}
	return nil
}

// next waits for the next message the helpdesk gets.
func (h *helpdesk) next(t *testing.T) sunk {
	t.Helper()
	select {
	case <-h.more:
	case <-time.After(15 * time.Second):
		t.Fatal("the helpdesk got nothing")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[len(h.got)-1]
}

// startGateway starts Sealpost with a submission listener and the
// gateway support@ in front of the helpdesk at deliverTo (smtp://... or
// a Maildir).
func startGateway(t *testing.T, deliverTo string) (*server, *store.List) {
	t.Helper()
	s := startServerWithConfig(t, "[submission]\nlisten = \"127.0.0.1:0\"\n")
	gw, err := s.app.Admin.CreateGateway(context.Background(), support, "admin@example.org", "Support", pgp.Ed25519, deliverTo)
	if err != nil {
		t.Fatal(err)
	}
	return s, gw
}

// startSMIMEGateway starts a gateway in front of a fresh test helpdesk,
// with an S/MIME identity as well as its OpenPGP key, and returns the
// gateway's certificate (PEM) too.
func startSMIMEGateway(t *testing.T) (*helpdesk, *server, *store.List, []byte) {
	t.Helper()
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	ctx := context.Background()
	if _, err := s.app.Admin.GenerateSMIMEIdentity(ctx, support); err != nil {
		t.Fatal(err)
	}
	gwCert, err := s.app.Admin.ListCert(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	return desk, s, gw, gwCert
}

// customer is someone who writes to the gateway from their own GnuPG
// home, with the gateway's key imported; their key is on file at the
// gateway when pinned (the administrator pinned it).
func customer(t *testing.T, s *server, addr string, pinned bool) *member {
	t.Helper()
	ctx := context.Background()
	gwKey, err := s.app.Admin.ListKey(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr := g.GenKey(addr + " <" + addr + ">")
	g.Import(gwKey)
	if pinned {
		if _, _, err := s.app.Admin.AddMemberWith(ctx, support, addr, g.Export(fpr), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	return &member{addr: addr, fpr: fpr, gpg: g}
}

// submit sends a reply through the submission listener, authenticated
// as the gateway with password (none: unauthenticated).
func submit(t *testing.T, s *server, password, envFrom string, rcpts []string, raw []byte) error {
	t.Helper()
	var auth sasl.Client
	if password != "" {
		auth = sasl.NewPlainClient("", support, password)
	}
	return smtpSend(t, s.app.SubmissionAddr().String(), auth, envFrom, rcpts, raw)
}

// fieldValues returns every value of the header field name in msg's
// header.
func fieldValues(t *testing.T, msg []byte, name string) []string {
	t.Helper()
	p, err := mime.ParseHeader(msg, mime.Limits{})
	if err != nil {
		t.Fatalf("helpdesk got a message that does not parse: %v", err)
	}
	return p.Header.Values(name)
}

func reply(id, inReplyTo, to, body string, extra ...string) []byte {
	h := "From: Support Team <" + support + ">\r\nTo: " + to + "\r\nSubject: Re: your request\r\nMessage-ID: " + id + "\r\n"
	if inReplyTo != "" {
		h += "In-Reply-To: " + inReplyTo + "\r\nReferences: " + inReplyTo + "\r\n"
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return []byte(h + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// TestGatewayWithGnuPGAndOpenSSL: a gateway in front of a fake helpdesk,
// with customers using real gpg and openssl.
func TestGatewayWithGnuPGAndOpenSSL(t *testing.T) {
	desk := startHelpdesk(t)
	s := startServerWithConfig(t, "[submission]\nlisten = \"127.0.0.1:0\"\n")
	ctx := context.Background()
	gw, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "Support", pgp.Ed25519, "smtp://"+desk.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.GenerateSMIMEIdentity(ctx, support); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.SetOptions(ctx, support, []string{"archive=true"}); err != nil {
		t.Fatal(err)
	}
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	gwKey, err := s.app.Admin.ListKey(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	alice := gpgtest.New(t)
	aliceFpr := alice.GenKey("Alice <alice@example.net>")
	alice.Import(gwKey)
	bob := gpgtest.New(t) // writes encrypted, never signs, has no key on file
	bob.Import(gwKey)

	var aliceMsgID string
	t.Run("encrypted and signed, with the key attached; spoofed status fields stripped", func(t *testing.T) {
		const secret = "CANARY-gw-alice-1"
		aliceMsgID = "<alice-1@example.net>"
		inner := "From: Alice <alice@example.net>\r\nTo: " + support + "\r\nSubject: My printer is on fire\r\nMessage-ID: " + aliceMsgID + "\r\n" +
			"X-Sealpost-Signature: good; trust=pinned; signer=FORGED-INNER\r\n" +
			"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nHelp! " + secret + "\r\n" +
			"--m\r\nContent-Type: application/pgp-keys; name=\"alice.asc\"\r\n\r\n" + string(alice.Export(aliceFpr)) + "\r\n--m--\r\n"
		armored := alice.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", aliceFpr).Stdout
		ct, body := pgp.EncryptedBody(armored, "outer")
		msg := append([]byte("From: alice@example.net\r\nTo: "+support+"\r\nSubject: ...\r\nMessage-ID: "+aliceMsgID+"\r\n"+
			"X-Sealpost-Signature: good; trust=pinned; signer=FORGED-OUTER\r\nX-SEALPOST-ENCRYPTION: yes; forged\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
		if err := s.send(t, "alice@example.net", []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		if got.from != "alice@example.net" || len(got.to) != 1 || got.to[0] != support {
			t.Errorf("envelope %s -> %v", got.from, got.to)
		}
		sig := fieldValues(t, got.data, "X-Sealpost-Signature")
		enc := fieldValues(t, got.data, "X-Sealpost-Encryption")
		if len(sig) != 1 || len(enc) != 1 || bytes.Contains(got.data, []byte("FORGED")) {
			t.Fatalf("status fields %q %q; a forged one survived:\n%s", sig, enc, got.data)
		}
		want := "good; engine=openpgp; signer=" + aliceFpr + "; address=alice@example.net; trust=first-seen"
		if sig[0] != want {
			t.Errorf("X-Sealpost-Signature = %q, want %q", sig[0], want)
		}
		if !strings.HasPrefix(enc[0], "yes; engine=openpgp") {
			t.Errorf("X-Sealpost-Encryption = %q", enc[0])
		}
		if !bytes.Contains(got.data, []byte(secret)) || !bytes.Contains(got.data, []byte("Subject: My printer is on fire")) {
			t.Errorf("the helpdesk did not get the decrypted message and its protected Subject:\n%s", got.data)
		}
	})

	t.Run("an autoreply on the encrypted conversation is encrypted", func(t *testing.T) {
		s.clearOutbox(t)
		const secret = "CANARY-gw-autoreply"
		err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"alice@example.net"},
			reply("<auto-1@helpdesk.example.org>", aliceMsgID, "alice@example.net", "We got your ticket #1. "+secret,
				"Auto-Submitted: auto-replied"))
		if err != nil {
			t.Fatalf("submission refused: %v", err)
		}
		c := s.waitFor(t, "alice@example.net")
		if bytes.Contains(c, []byte(secret)) {
			t.Fatalf("the autoreply went out in clear:\n%s", c)
		}
		r := alice.Run(c, "--decrypt")
		if !r.HasStatus("GOODMDC") || !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(secret)) {
			t.Errorf("alice cannot read the autoreply as signed by the gateway:\n%s", r.Status)
		}
		if !bytes.Contains(c, []byte("Auto-Submitted: auto-replied")) {
			t.Error("the autoreply lost its Auto-Submitted field outside")
		}
	})

	var bobMsg []byte
	t.Run("encrypted, unsigned: reply to a customer without key refused with a DSN in the ticket and a notice", func(t *testing.T) {
		const secret = "CANARY-gw-bob-question"
		inner := "From: bob@example.com\r\nTo: " + support + "\r\nSubject: Question\r\nMessage-ID: <bob-1@example.com>\r\n" +
			"Content-Type: text/plain\r\n\r\nAnything " + secret + "\r\n"
		armored := bob.MustRun([]byte(inner), "--armor", "--encrypt", "-r", gw.KeyFingerprint).Stdout
		ct, body := pgp.EncryptedBody(armored, "outer")
		bobMsg = append([]byte("From: bob@example.com\r\nTo: "+support+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
		if err := s.send(t, "bob@example.com", []string{support}, bobMsg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		if sig := fieldValues(t, got.data, "X-Sealpost-Signature"); len(sig) != 1 || sig[0] != "none" {
			t.Errorf("X-Sealpost-Signature = %q, want none", sig)
		}
		s.clearOutbox(t)
		const answer = "CANARY-gw-answer-for-bob"
		err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"bob@example.com"},
			reply("<reply-bob@helpdesk.example.org>", "<bob-1@example.com>", "bob@example.com", "The answer: "+answer))
		if err != nil {
			t.Fatalf("submission refused: %v", err)
		}
		// The DSN goes into the ticket, through deliver_to (issue 16 item 2).
		got = desk.next(t)
		if got.from != "" || len(got.to) != 1 || got.to[0] != support {
			t.Errorf("the DSN went %q -> %v, want <> -> %s", got.from, got.to, support)
		}
		dsn := got.data
		notice := s.waitFor(t, "bob@example.com")
		if n := queuedTo(t, s, "helpdesk-bounces@example.org"); n != 0 {
			t.Errorf("%d deliveries queued to the reply's envelope sender", n)
		}
		for _, m := range [][]byte{dsn, notice} {
			if bytes.Contains(m, []byte(answer)) {
				t.Errorf("the reply's content left Sealpost:\n%s", m)
			}
		}
		rcpts := mail.ParseDSN(dsnReport(t, dsn))
		if len(rcpts) != 1 || rcpts[0].Recipient != "bob@example.com" || !rcpts[0].Failed() ||
			!strings.Contains(rcpts[0].Diagnostic, "no usable key (Not Found)") {
			t.Errorf("DSN recipients = %+v", rcpts)
		}
		if !bytes.Contains(notice, []byte("waiting for your key")) {
			t.Errorf("bob's notice:\n%s", notice)
		}
	})

	t.Run("a captured ciphertext sent again by someone else is refused", func(t *testing.T) {
		replayed := bytes.Replace(bobMsg, []byte("From: bob@example.com"), []byte("From: mallory@example.com"), 1)
		replayErr := s.send(t, "mallory@example.com", []string{support}, replayed)
		if smtpCode(replayErr) != 550 {
			t.Fatalf("replay: %v, want 550", replayErr)
		}
		// DESIGN §4.3: the same reply as for a message the gateway cannot
		// decrypt (here: encrypted to someone else's key).
		other := gpgtest.New(t)
		otherFpr := other.GenKey("Other <other@example.com>")
		ct, body := pgp.EncryptedBody(other.MustRun([]byte("Content-Type: text/plain\r\n\r\nx\r\n"), "--armor", "--encrypt", "-r", otherFpr).Stdout, "o")
		undecryptable := append([]byte("From: mallory@example.com\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
		err := s.send(t, "mallory@example.com", []string{support}, undecryptable)
		if smtpCode(err) != 550 || err.Error() != replayErr.Error() {
			t.Errorf("undecryptable: %v; replay: %v; want the same 550", err, replayErr)
		}
	})

	t.Run("a customer who only sent a signed message gets an encrypted reply (S/MIME)", func(t *testing.T) {
		ca := openssltest.NewCA(t, openssltest.RSA2048) // not a trust anchor: first seen
		o := openssltest.New(t)
		carol := ca.Issue("carol@example.net", openssltest.RSA2048, openssltest.LeafOptions{})
		o.WriteCert("carol.pem", carol.Cert)
		o.WriteKey("carol.key", carol.Key)
		o.Write("entity", []byte("Content-Type: text/plain\r\n\r\nSigned, not encrypted.\r\n"))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "carol.pem", "-inkey", "carol.key", "-out", "signed")
		msg := append([]byte("From: carol@example.net\r\nTo: "+support+"\r\nSubject: Hello\r\nMessage-ID: <carol-1@example.net>\r\n"), o.Read("signed")...)
		if err := s.send(t, "carol@example.net", []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		sig := fieldValues(t, got.data, "X-Sealpost-Signature")
		if len(sig) != 1 || !strings.HasPrefix(sig[0], "good; engine=smime; signer=") || !strings.HasSuffix(sig[0], "address=carol@example.net; trust=first-seen") {
			t.Errorf("X-Sealpost-Signature = %q", sig)
		}
		if enc := fieldValues(t, got.data, "X-Sealpost-Encryption"); len(enc) != 1 || enc[0] != "none" {
			t.Errorf("X-Sealpost-Encryption = %q", enc)
		}
		// DESIGN §4.1: CBC EnvelopedData with no signature inside has no
		// integrity; its plaintext is never handed on.
		gwCert, err := s.app.Admin.ListCert(ctx, support)
		if err != nil {
			t.Fatal(err)
		}
		o.Write("gw.pem", gwCert)
		o.Write("clear.eml", []byte("Content-Type: text/plain\r\n\r\nCANARY-gw-cbc-unsigned\r\n"))
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-cbc", "-in", "clear.eml", "-recip", "gw.pem", "-out", "cbc.eml")
		cbc := append([]byte("From: carol@example.net\r\nTo: "+support+"\r\nSubject: ...\r\n"), o.Read("cbc.eml")...)
		if err := s.send(t, "carol@example.net", []string{support}, cbc); smtpCode(err) != 550 {
			t.Errorf("unsigned CBC EnvelopedData: %v, want 550", err)
		}
		s.clearOutbox(t)
		const answer = "CANARY-gw-answer-for-carol"
		if err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"carol@example.net"},
			reply("<reply-carol@helpdesk.example.org>", "<carol-1@example.net>", "carol@example.net", answer)); err != nil {
			t.Fatalf("submission refused: %v", err)
		}
		c := s.waitFor(t, "carol@example.net")
		if bytes.Contains(c, []byte(answer)) {
			t.Fatal("the reply to carol went out in clear")
		}
		o.Write("copy.eml", c)
		o.MustRun(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "carol.pem", "-inkey", "carol.key", "-out", "dec.eml")
		ver := o.Run(nil, "cms", "-verify", "-noverify", "-in", "dec.eml")
		if ver.Err != nil || !bytes.Contains(ver.Stdout, []byte(answer)) {
			t.Errorf("carol cannot read and verify the reply: %v\n%s", ver.Err, ver.Stderr)
		}
	})

	t.Run("ordinary mail passes; a reply outside an encrypted conversation goes out signed, in clear", func(t *testing.T) {
		msg := []byte("From: dave@example.com\r\nTo: " + support + "\r\nSubject: plain\r\nX-Sealpost-Signature: good\r\n\r\nplain question\r\n")
		if err := s.send(t, "dave@example.com", []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		if sig := fieldValues(t, got.data, "X-Sealpost-Signature"); len(sig) != 1 || sig[0] != "none" {
			t.Errorf("X-Sealpost-Signature = %q, want none", sig)
		}
		if ids := fieldValues(t, got.data, "Message-Id"); len(ids) != 1 {
			t.Errorf("Message-ID fields = %q, want one added", ids)
		}
		s.clearOutbox(t)
		if err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"dave@example.com"},
			reply("<reply-dave@helpdesk.example.org>", "", "dave@example.com", "plain answer")); err != nil {
			t.Fatal(err)
		}
		c := s.waitFor(t, "dave@example.com")
		if !bytes.Contains(c, []byte("plain answer")) || !bytes.Contains(c, []byte("multipart/signed")) {
			t.Errorf("the clear reply is not signed:\n%s", c)
		}
	})

	t.Run("submission needs the gateway's credentials", func(t *testing.T) {
		if err := submit(t, s, "", "x@example.org", []string{"alice@example.net"}, reply("<x@y>", "", "alice@example.net", "x")); smtpCode(err) != 530 {
			t.Errorf("without AUTH: %v, want 530", err)
		}
		err := submit(t, s, password, "x@example.org", []string{"alice@example.net"},
			bytes.Replace(reply("<x2@y>", "", "alice@example.net", "x"), []byte(support), []byte("other@example.org"), 1))
		if smtpCode(err) != 550 {
			t.Errorf("From another address: %v, want 550", err)
		}
	})

	t.Run("the archive holds the conversation, and nothing is in clear at rest", func(t *testing.T) {
		ms, err := s.app.Admin.Conversation(ctx, support, aliceMsgID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[0].Direction != "in" || ms[1].Direction != "out" ||
			!bytes.Contains(ms[0].Data, []byte("CANARY-gw-alice-1")) || !bytes.Contains(ms[1].Data, []byte("CANARY-gw-autoreply")) {
			t.Fatalf("archive of alice's conversation: %d messages", len(ms))
		}
		for _, secret := range storedInClear(t, s, "CANARY-gw-alice-1", "CANARY-gw-autoreply", "CANARY-gw-bob-question",
			"CANARY-gw-answer-for-bob", "CANARY-gw-answer-for-carol") {
			t.Errorf("%s is in the database in clear", secret)
		}
	})
}

// dsnReport returns the message/delivery-status part of a DSN.
func dsnReport(t *testing.T, msg []byte) []byte {
	t.Helper()
	p, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.MediaType != "multipart/report" {
		t.Fatalf("DSN is %s", p.MediaType)
	}
	for _, c := range p.Children {
		if c.MediaType == "message/delivery-status" {
			return c.Body
		}
	}
	t.Fatal("DSN without message/delivery-status")
	return nil
}

// TestGatewayOptions: the gateway's options, with the helpdesk reading a
// Maildir.
func TestGatewayOptions(t *testing.T) {
	desk := filepath.Join(t.TempDir(), "helpdesk")
	s := startServerWithConfig(t, "[submission]\nlisten = \"127.0.0.1:0\"\n")
	ctx := context.Background()
	gw, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "", pgp.Ed25519, desk)
	if err != nil {
		t.Fatal(err)
	}
	gwKey, _ := s.app.Admin.ListKey(ctx, support)
	alice := gpgtest.New(t)
	aliceFpr := alice.GenKey("Alice <alice@example.net>")
	alice.Import(gwKey)
	if _, _, err := s.app.Admin.AddMemberWith(ctx, support, "alice@example.net", alice.Export(aliceFpr), quiet(false)); err != nil {
		t.Fatal(err) // the administrator pins alice's key
	}
	n := 0
	encrypted := func(from, body string, extra ...string) []byte {
		inner := "From: " + from + "\r\nTo: " + support + "\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n"
		args := append([]string{"--armor", "--encrypt", "-r", gw.KeyFingerprint}, extra...)
		ct, b := pgp.EncryptedBody(alice.MustRun([]byte(inner), args...).Stdout, "outer")
		return append([]byte("From: "+from+"\r\nTo: "+support+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), b...)
	}
	statusOf := func(t *testing.T) string {
		t.Helper()
		n++
		msgs := maildirMessages(t, desk, n)
		for _, m := range msgs {
			if !bytes.Contains(m, []byte("seen-"+string(rune('a'+n-1)))) {
				continue
			}
			return strings.Join(fieldValues(t, m, "X-Sealpost-Signature"), " | ")
		}
		t.Fatal("message not found in the Maildir")
		return ""
	}

	if err := s.send(t, "alice@example.net", []string{support}, encrypted("alice@example.net", "seen-a", "--sign", "-u", aliceFpr)); err != nil {
		t.Fatal(err)
	}
	if got, want := statusOf(t), "good; engine=openpgp; signer="+aliceFpr+"; address=alice@example.net; trust=pinned"; got != want {
		t.Errorf("pinned key: %q, want %q", got, want)
	}
	if err := s.send(t, "alice@example.net", []string{support}, encrypted("boss@example.net", "seen-b", "--sign", "-u", aliceFpr)); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t); !strings.HasPrefix(got, "mismatch; ") {
		t.Errorf("alice's key on a message From boss: %q, want mismatch", got)
	}
	mallory := gpgtest.New(t)
	malloryFpr := mallory.GenKey("Not Alice <alice@example.net>")
	mallory.Import(gwKey)
	inner := "From: alice@example.net\r\nTo: " + support + "\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\nseen-c\r\n--m\r\n" +
		"Content-Type: application/pgp-keys\r\n\r\n" + string(mallory.Export(malloryFpr)) + "\r\n--m--\r\n"
	ct, b := pgp.EncryptedBody(mallory.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", malloryFpr).Stdout, "o")
	if err := s.send(t, "alice@example.net", []string{support}, append([]byte("From: alice@example.net\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), b...)); err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t); !strings.HasPrefix(got, "untrusted; ") || !strings.Contains(got, "trust=changed") {
		t.Errorf("another key for a pinned sender: %q, want untrusted, trust=changed", got)
	}
	if ms, _ := s.app.Admin.Members(ctx, support); len(ms) != 1 || len(ms[0].Keys) != 1 {
		t.Errorf("the other key was taken: %+v", ms)
	}

	t.Run("autocrypt_import: a key from an Autocrypt header, then an encrypted reply", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"autocrypt_import=true"}); err != nil {
			t.Fatal(err)
		}
		erin := gpgtest.New(t)
		erinFpr := erin.GenKey("Erin <erin@example.net>")
		pub, err := pgp.ParseKey(erin.Export(erinFpr))
		if err != nil {
			t.Fatal(err)
		}
		msg := "From: erin@example.net\r\nTo: " + support + "\r\nSubject: hi\r\nMessage-ID: <erin-1@example.net>\r\n" +
			"Autocrypt: " + mail.Autocrypt("erin@example.net", pub.PublicBytes()) + "\r\n\r\nseen-d\r\n"
		if err := s.send(t, "erin@example.net", []string{support}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got := statusOf(t); got != "none" {
			t.Errorf("unsigned mail with an Autocrypt header: %q, want none", got)
		}
		s.clearOutbox(t)
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"submit_clients=127.0.0.0/8"}); err != nil {
			t.Fatal(err)
		}
		if err := submit(t, s, "", "bounces@example.org", []string{"erin@example.net"},
			reply("<r-erin@helpdesk>", "<erin-1@example.net>", "erin@example.net", "CANARY-gw-erin")); err != nil {
			t.Fatal(err)
		}
		c := s.waitFor(t, "erin@example.net")
		if r := erin.Run(c, "--decrypt"); bytes.Contains(c, []byte("CANARY-gw-erin")) || !bytes.Contains(r.Stdout, []byte("CANARY-gw-erin")) {
			t.Errorf("the reply to erin is not encrypted to her Autocrypt key:\n%s", r.Status)
		}
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"autocrypt_import=false", "submit_clients="}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a message that is not MIME is held for the owner, and cannot be released", func(t *testing.T) {
		raw := []byte("From: zed@example.com\r\nTo: " + support + "\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n")
		if err := s.send(t, "zed@example.com", []string{support}, raw); err != nil {
			t.Fatalf("an unreadable message must be accepted and held: %v", err)
		}
		holds, err := s.app.Admin.Holds(ctx, support)
		if err != nil || len(holds) != 1 {
			t.Fatalf("holds = %+v, %v", holds, err)
		}
		if err := s.app.Admin.ReleaseHold(ctx, support, holds[0].ID); !errors.Is(err, admin.ErrInvalid) ||
			!strings.Contains(err.Error(), "cannot be handed to the helpdesk even when released") {
			t.Errorf("release: %v, want refused", err)
		}
		if err := s.app.Admin.DiscardHold(ctx, support, holds[0].ID); err != nil {
			t.Error(err)
		}
	})

	t.Run("attach_original", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"attach_original=true"}); err != nil {
			t.Fatal(err)
		}
		if err := s.send(t, "alice@example.net", []string{support}, encrypted("alice@example.net", "seen-e", "--sign", "-u", aliceFpr)); err != nil {
			t.Fatal(err)
		}
		n++
		for _, m := range maildirMessages(t, desk, n) {
			if !bytes.Contains(m, []byte("seen-e")) {
				continue
			}
			p, err := mime.Parse(m, mime.Limits{})
			if err != nil || p.MediaType != "multipart/mixed" || len(p.Children) != 2 {
				t.Fatalf("with attach_original: %v %s", err, mime.Tree(p))
			}
			orig, _ := p.Children[1].Decoded(1 << 20)
			if !bytes.Contains(orig, []byte("BEGIN PGP MESSAGE")) {
				t.Error("the attachment is not the message as received")
			}
		}
	})

	t.Run("require_encryption and require_signature", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"require_encryption=true", "require_signature=true"}); err != nil {
			t.Fatal(err)
		}
		clear := []byte("From: dave@example.com\r\nTo: " + support + "\r\nSubject: hi\r\n\r\nhi\r\n")
		err := s.send(t, "dave@example.com", []string{support}, clear)
		if smtpCode(err) != 550 || !strings.Contains(err.Error(), "only encrypted mail") {
			t.Errorf("unencrypted: %v, want 550 saying so", err)
		}
		if err := s.send(t, "alice@example.net", []string{support}, encrypted("alice@example.net", "unsigned")); smtpCode(err) != 550 {
			t.Errorf("unsigned: %v, want 550", err)
		}
	})

	t.Run("submission from an allowed network without AUTH", func(t *testing.T) {
		msg := reply("<r1@helpdesk>", "", "alice@example.net", "hello from the helpdesk")
		if err := submit(t, s, "", "bounces@example.org", []string{"alice@example.net"}, msg); smtpCode(err) != 530 {
			t.Fatalf("before submit_clients: %v, want 530", err)
		}
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"submit_clients=127.0.0.0/8"}); err != nil {
			t.Fatal(err)
		}
		s.clearOutbox(t)
		if err := submit(t, s, "", "bounces@example.org", []string{"alice@example.net"}, msg); err != nil {
			t.Fatalf("from 127.0.0.1 with submit_clients=127.0.0.0/8: %v", err)
		}
		r := alice.Run(s.waitFor(t, "alice@example.net"), "--decrypt")
		if !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte("hello from the helpdesk")) {
			t.Errorf("alice (pinned key) did not get the reply encrypted:\n%s", r.Status)
		}
	})
}

// TestHelpdeskRefuses: when the helpdesk refuses a message for good, the
// gateway's owner is told, without the message's content.
func TestHelpdeskRefuses(t *testing.T) {
	desk := startHelpdesk(t)
	desk.mu.Lock()
	desk.refuse = true
	desk.mu.Unlock()
	s := startServer(t)
	ctx := context.Background()
	if _, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "", pgp.Ed25519, "smtp://"+desk.addr); err != nil {
		t.Fatal(err)
	}
	const secret = "CANARY-gw-refused-by-helpdesk"
	msg := []byte("From: dave@example.com\r\nTo: " + support + "\r\nSubject: x\r\n\r\n" + secret + "\r\n")
	if err := s.send(t, "dave@example.com", []string{support}, msg); err != nil {
		t.Fatal(err)
	}
	n := s.waitFor(t, "admin@example.org")
	if bytes.Contains(n, []byte(secret)) {
		t.Error("the owner's notice carries the message")
	}
	if !bytes.Contains(n, []byte("did not take a message")) || !bytes.Contains(n, []byte("550")) {
		t.Errorf("owner's notice:\n%s", n)
	}
}

// TestReplyUndeliverable: a reply the customer's side refuses for good
// comes back to the helpdesk as an RFC 3464 DSN.
func TestReplyUndeliverable(t *testing.T) {
	relay := startHelpdesk(t) // the smarthost, refusing one recipient
	relay.mu.Lock()
	relay.refuseTo = "gone@example.net"
	relay.mu.Unlock()
	s := startServerWithConfig(t, "[submission]\nlisten = \"127.0.0.1:0\"\n[relay]\naddr = \""+relay.addr+"\"\n")
	ctx := context.Background()
	if _, err := s.app.Admin.CreateGateway(ctx, support, "", "", pgp.Ed25519, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	if err := submit(t, s, password, "helpdesk-bounces@example.org", []string{"gone@example.net"},
		reply("<r-gone@helpdesk>", "", "gone@example.net", "CANARY-gw-undeliverable")); err != nil {
		t.Fatal(err)
	}
	dsn := relay.next(t)
	if len(dsn.to) != 1 || dsn.to[0] != "helpdesk-bounces@example.org" || dsn.from != "" {
		t.Fatalf("after the refusal the relay got %s -> %v", dsn.from, dsn.to)
	}
	rcpts := mail.ParseDSN(dsnReport(t, dsn.data))
	if len(rcpts) != 1 || rcpts[0].Recipient != "gone@example.net" || rcpts[0].Status != "5.1.1" || !rcpts[0].Failed() {
		t.Errorf("DSN recipients = %+v", rcpts)
	}
}

// TestKeyringKeysOfOtherLists: the owner of one list pins a key for an
// address on their list; a gateway someone else runs must not encrypt its
// replies to that address with that key (an owner must not choose the key
// another list encrypts to). A key the operator imported into the
// keyring is used.
func TestKeyringKeysOfOtherLists(t *testing.T) {
	s := startServerWithConfig(t, "[submission]\nlisten = \"127.0.0.1:0\"\n")
	ctx := context.Background()
	if _, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "", pgp.Ed25519, filepath.Join(t.TempDir(), "desk")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.SetOptions(ctx, support, []string{"submit_clients=127.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.CreateList(ctx, "other@lists.example.org", "mallory@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.AddUser(ctx, "mallory@example.org", store.RoleOwner, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	mallory := s.app.Admin.As(admin.Actor{Email: "mallory@example.org", Role: store.RoleOwner, Via: admin.ViaAPI})
	planted, err := pgp.GenerateKey("", "victim@example.net", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mallory.AddMemberWith(ctx, "other@lists.example.org", "victim@example.net", planted.Armored(), quiet(false)); err != nil {
		t.Fatal(err)
	}
	s.clearOutbox(t)
	if err := submit(t, s, "", "bounces@example.org", []string{"victim@example.net"}, reply("<k1@helpdesk>", "", "victim@example.net", "canary-k1")); err != nil {
		t.Fatal(err)
	}
	if got := s.waitFor(t, "victim@example.net"); !bytes.Contains(got, []byte("canary-k1")) || bytes.Contains(got, []byte("BEGIN PGP MESSAGE")) {
		t.Errorf("the reply was encrypted to the key another list's owner planted:\n%.600s", got)
	}

	// The operator imports the victim's real key into the keyring: used.
	real, err := pgp.GenerateKey("", "victim@example.net", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.ImportKeys(ctx, "victim.asc", real.Armored(), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s.clearOutbox(t)
	if err := submit(t, s, "", "bounces@example.org", []string{"victim@example.net"}, reply("<k2@helpdesk>", "", "victim@example.net", "canary-k2")); err != nil {
		t.Fatal(err)
	}
	got := s.waitFor(t, "victim@example.net")
	if bytes.Contains(got, []byte("canary-k2")) {
		t.Fatal("with the operator's key in the keyring the reply went in clear")
	}
	msg, err := mime.Parse(got, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgp.Unwrap(msg, real, nil, pgp.Options{}); err != nil {
		t.Errorf("the reply is not encrypted to the operator's key: %v", err)
	}
}
