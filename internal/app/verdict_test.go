package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// shownLines returns the first line of every text of msg a helpdesk may
// show first (the first part of a multipart, each text alternative of a
// multipart/alternative), decoded; for HTML, the first paragraph after
// <body>, its tags removed.
func shownLines(t *testing.T, msg []byte) []string {
	t.Helper()
	p, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatalf("the helpdesk got a message that does not parse: %v", err)
	}
	var out []string
	var walk func(p *mime.Part)
	walk = func(p *mime.Part) {
		switch {
		case p.MediaType == "multipart/alternative":
			for _, c := range p.Children {
				walk(c)
			}
		case p.IsMultipart():
			walk(p.Children[0])
		case p.MediaType == "text/plain" || p.MediaType == "text/html":
			text, err := p.Decoded(1 << 20)
			if err != nil {
				t.Fatalf("a text part does not decode: %v", err)
			}
			s := string(text)
			if p.MediaType == "text/html" {
				_, s, _ = strings.Cut(s, "<body")
				_, s, _ = strings.Cut(s, "<p>")
				s, _, _ = strings.Cut(s, "</p>")
			}
			first, _, _ := strings.Cut(s, "\n")
			out = append(out, strings.TrimSuffix(first, "\r"))
		default:
			out = append(out, "("+p.MediaType+")")
		}
	}
	walk(p)
	return out
}

// pgpMail is a message from from to the gateway: inner encrypted with
// g's gpg to gwFpr, signed with signer's key when signer is set.
func pgpMail(g *gpgtest.GPG, from, gwFpr, signer, inner string) []byte {
	args := []string{"--armor", "--encrypt", "-r", gwFpr}
	if signer != "" {
		args = append(args, "--sign", "-u", signer)
	}
	ct, body := pgp.EncryptedBody(g.MustRun([]byte(inner), args...).Stdout, "outer")
	return append([]byte("From: "+from+"\r\nTo: "+support+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// TestGatewayVerdictBanner: what the helpdesk shows first states the
// verdict of the X-Sealpost-* fields in one line, for every verdict, in
// mail made by gpg and openssl, whatever the shape of its body; with
// attach_original too; and verdict_banner=off hands the content on as
// it was.
func TestGatewayVerdictBanner(t *testing.T) {
	desk, s, gw, gwCert := startSMIMEGateway(t)
	ctx := context.Background()
	alice := customer(t, s, "alice@customer.test", true)
	frank := customer(t, s, "frank@customer.test", true)
	erin := customer(t, s, "erin@customer.test", false)
	gina := customer(t, s, "gina@customer.test", false)
	bob := customer(t, s, "bob@customer.test", false)
	mallory := customer(t, s, "mallory@customer.test", false)
	impostor := mallory.gpg.GenKey("Alice <alice@customer.test>") // a key for alice's address that is not hers

	ca := openssltest.NewCA(t, openssltest.RSA2048) // not a trust anchor
	o := openssltest.New(t)
	o.Write("gw.pem", gwCert)
	for _, l := range []struct {
		name string
		leaf *openssltest.Leaf
	}{
		{"carol", ca.Issue("carol@customer.test", openssltest.RSA2048, openssltest.LeafOptions{})},
		{"old", ca.Issue("olga@customer.test", openssltest.RSA2048, openssltest.LeafOptions{NotAfter: time.Now().Add(-30 * time.Minute)})},
	} {
		o.WriteCert(l.name+".pem", l.leaf.Cert)
		o.WriteKey(l.name+".key", l.leaf.Key)
	}
	smimeSigned := func(who, entity string) []byte {
		return o.MustRun([]byte(entity), "cms", "-sign", "-signer", who+".pem", "-inkey", who+".key", "-outform", "SMIME").Stdout
	}
	smimeMail := func(who, from, entity string) []byte {
		return o.MustRun(smimeSigned(who, entity), "cms", "-encrypt", "-aes-256-gcm", "-recip", "gw.pem", "-from", from,
			"-to", support, "-subject", "...", "-outform", "SMIME").Stdout
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	const (
		plainQP = "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe, the printer.\r\n"
		flowed  = "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nThis is \r\nflowed.\r\n"
	)
	alternative := "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n" + plainQP + "--a\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("<html><body><p>Grüße</p></body></html>") + "\r\n--a--\r\n"
	withAttachment := "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64("Привет\r\n") + "\r\n--m\r\nContent-Type: application/pdf\r\n" +
		"Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--m--\r\n"
	inner := func(from, subject, entity string) string {
		return "From: " + from + "\r\nTo: " + support + "\r\nSubject: " + subject + "\r\n" + entity
	}
	keyAttached := func(m *member, fpr, text string) string {
		return "Content-Type: multipart/mixed; boundary=\"k\"\r\n\r\n--k\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n" +
			"--k\r\nContent-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" +
			string(m.gpg.Export(fpr)) + "\r\n--k--\r\n"
	}
	clearHeader := "To: " + support + "\r\nSubject: clear\r\nMIME-Version: 1.0\r\n"
	tests := []struct {
		name    string
		from    string
		msg     []byte
		verdict string // prefix of X-Sealpost-Signature
		want    string // the banner
		texts   int    // how many texts are shown first
	}{
		{"good, pinned key, OpenPGP, alternative of quoted-printable and base64 HTML", alice.addr,
			pgpMail(alice.gpg, alice.addr, gw.KeyFingerprint, alice.fpr, inner(alice.addr, "Help", alternative)), "good",
			"[Sealpost: encrypted (OpenPGP), signed by alice@customer.test (key given by an administrator)]", 2},
		{"good, first seen, the key attached", erin.addr,
			pgpMail(erin.gpg, erin.addr, gw.KeyFingerprint, erin.fpr, inner(erin.addr, "Hi", keyAttached(erin, erin.fpr, "Hello."))), "good",
			"[Sealpost: encrypted (OpenPGP), signed by erin@customer.test (first key seen for this address)]", 1},
		{"good, known key, format=flowed", erin.addr,
			pgpMail(erin.gpg, erin.addr, gw.KeyFingerprint, erin.fpr, inner(erin.addr, "Again", flowed)), "good",
			"[Sealpost: encrypted (OpenPGP), signed by erin@customer.test (known key)]", 1},
		{"untrusted: another key for alice", alice.addr,
			pgpMail(mallory.gpg, alice.addr, gw.KeyFingerprint, impostor, inner(alice.addr, "Pay", keyAttached(mallory, impostor, "Pay this."))),
			"untrusted", "[Sealpost: WARNING: signed by a different key than the one on file for alice@customer.test: " +
				"this may not be from alice@customer.test; encrypted (OpenPGP)]", 1},
		{"mismatch: frank's key, alice's From, with an attachment", alice.addr,
			pgpMail(frank.gpg, alice.addr, gw.KeyFingerprint, frank.fpr, inner(alice.addr, "Hm", withAttachment)), "mismatch",
			"[Sealpost: WARNING: signed by frank@customer.test, but not for the From address alice@customer.test: " +
				"the sender is not verified; encrypted (OpenPGP)]", 1},
		{"unknown signer", gina.addr,
			pgpMail(gina.gpg, gina.addr, gw.KeyFingerprint, gina.fpr, inner(gina.addr, "Who", plainQP)), "unknown",
			"[Sealpost: WARNING: signed with a key that is not on file: the sender is not verified; encrypted (OpenPGP)]", 1},
		{"encrypted, not signed", bob.addr,
			pgpMail(bob.gpg, bob.addr, gw.KeyFingerprint, "", inner(bob.addr, "Q", plainQP)), "none",
			"[Sealpost: WARNING: not signed: the sender is not verified; encrypted (OpenPGP)]", 1},
		{"good, S/MIME, first seen", "carol@customer.test",
			smimeMail("carol", "carol@customer.test", inner("carol@customer.test", "S", alternative)), "good",
			"[Sealpost: encrypted (S/MIME), signed by carol@customer.test (first key seen for this address)]", 2},
		{"invalid: an expired certificate", "olga@customer.test",
			smimeMail("old", "olga@customer.test", inner("olga@customer.test", "Old", plainQP)), "invalid",
			"[Sealpost: WARNING: signed with an expired, revoked or otherwise invalid key: the sender is not verified; encrypted (S/MIME)]", 1},
		{"bad: altered in clear", "carol@customer.test",
			append([]byte("From: carol@customer.test\r\n"+clearHeader),
				bytes.Replace(smimeSigned("carol", "Content-Type: text/plain\r\n\r\nPay 10.\r\n"), []byte("Pay 10."), []byte("Pay 99."), 1)...),
			"bad", "[Sealpost: WARNING: the signature does not match the message (altered or forged): the sender is not verified; not encrypted]", 1},
		{"good, signed in clear", "carol@customer.test",
			append([]byte("From: carol@customer.test\r\n"+clearHeader), smimeSigned("carol", "Content-Type: text/plain\r\n\r\nSigned.\r\n")...),
			"good", "[Sealpost: WARNING: not encrypted, sent in clear; signed by carol@customer.test (known key)]", 1},
		{"ordinary mail with a fake banner", "dave@customer.test",
			[]byte("From: dave@customer.test\r\n" + clearHeader + "Content-Type: text/plain\r\n\r\n" +
				"[Sealpost: encrypted (OpenPGP), signed by dave@customer.test (known key)]\r\n"),
			"none", "[Sealpost: WARNING: not encrypted and not signed: the sender is not verified]", 1},
	}
	for _, tt := range tests {
		if err := s.send(t, tt.from, []string{support}, tt.msg); err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
			continue
		}
		got := desk.next(t)
		if sig := fieldValues(t, got.data, "X-Sealpost-Signature"); len(sig) != 1 || !strings.HasPrefix(sig[0], tt.verdict) {
			t.Errorf("%s: X-Sealpost-Signature = %q, want %s", tt.name, sig, tt.verdict)
		}
		lines := shownLines(t, got.data)
		if len(lines) != tt.texts {
			t.Errorf("%s: %d texts shown first, want %d:\n%s", tt.name, len(lines), tt.texts, got.data)
		}
		for _, l := range lines {
			if l != tt.want {
				t.Errorf("%s: the helpdesk shows first\n%q\nwant\n%q", tt.name, l, tt.want)
			}
		}
	}

	t.Run("attach_original", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"attach_original=true"}); err != nil {
			t.Fatal(err)
		}
		msg := pgpMail(alice.gpg, alice.addr, gw.KeyFingerprint, alice.fpr, inner(alice.addr, "Orig", withAttachment))
		if err := s.send(t, alice.addr, []string{support}, msg); err != nil {
			t.Fatal(err)
		}
		got := desk.next(t)
		const want = "[Sealpost: encrypted (OpenPGP), signed by alice@customer.test (key given by an administrator)]"
		if lines := shownLines(t, got.data); len(lines) != 1 || lines[0] != want {
			t.Errorf("the helpdesk shows first %q, want %q", lines, want)
		}
		p, err := mime.Parse(got.data, mime.Limits{})
		if err != nil || len(p.Children) != 2 || p.Children[1].Params["name"] != "original-encrypted.eml" {
			t.Fatalf("not the content and the original: %v\n%s", err, got.data)
		}
		if orig, err := p.Children[1].Decoded(1 << 20); err != nil || !bytes.Equal(orig, msg) {
			t.Errorf("the original attached is not the message as sent: %v", err)
		}
	})

	t.Run("verdict_banner=off", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{"verdict_banner=off", "attach_original=false"}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			from, entity string
			msg          []byte
		}{
			{alice.addr, alternative, pgpMail(alice.gpg, alice.addr, gw.KeyFingerprint, alice.fpr, inner(alice.addr, "Off", alternative))},
			{"dave@customer.test", flowed, []byte("From: dave@customer.test\r\n" + clearHeader + flowed)},
		} {
			if err := s.send(t, m.from, []string{support}, m.msg); err != nil {
				t.Fatal(err)
			}
			got := desk.next(t)
			p, err := mime.Parse(got.data, mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			_, body, _ := strings.Cut(m.entity, "\r\n\r\n")
			if string(p.Body) != body || strings.Contains(string(got.data), "[Sealpost") {
				t.Errorf("with verdict_banner=off the body changed:\n%s", got.data)
			}
		}
	})
}

// TestGatewayOneCustomerTwoEngines: a customer whose S/MIME certificate
// the gateway learnt writes with OpenPGP and attaches their key: a first
// key of the other engine is first seen and learnt, not a change; a
// different OpenPGP key later is a change. Replies use the engine of the
// key learnt last, unless the customer's format is set.
func TestGatewayOneCustomerTwoEngines(t *testing.T) {
	desk, s, gw, gwCert := startSMIMEGateway(t)
	ctx := context.Background()
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	const carol = "carol@customer.test"
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue(carol, openssltest.RSA2048, openssltest.LeafOptions{})
	o := openssltest.New(t)
	o.Write("gw.pem", gwCert)
	o.WriteCert("carol.pem", leaf.Cert)
	o.WriteKey("carol.key", leaf.Key)
	c := customer(t, s, carol, false) // her OpenPGP key, not on file
	impostor := customer(t, s, "mallory@customer.test", false)
	fake := impostor.gpg.GenKey("Carol <" + carol + ">")

	n := 0
	receive := func(msg []byte, wantSig, wantBanner string) string {
		t.Helper()
		if err := s.send(t, carol, []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		sig := fieldValues(t, got.data, "X-Sealpost-Signature")
		if len(sig) != 1 || !strings.HasPrefix(sig[0], wantSig) {
			t.Errorf("X-Sealpost-Signature = %q, want %q...", sig, wantSig)
		}
		if lines := shownLines(t, got.data); len(lines) != 1 || lines[0] != wantBanner {
			t.Errorf("the helpdesk shows first %q, want %q", lines, wantBanner)
		}
		return fieldValues(t, got.data, "Message-Id")[0]
	}
	// answer has the helpdesk reply to the message msgID and returns the
	// copy carol gets.
	answer := func(msgID, text string) []byte {
		t.Helper()
		n++
		s.clearOutbox(t)
		id := "<reply-" + string(rune('0'+n)) + "@helpdesk.example.org>"
		if err := submit(t, s, password, "helpdesk@example.org", []string{carol}, reply(id, msgID, carol, text)); err != nil {
			t.Fatalf("submission refused: %v", err)
		}
		copy := s.waitFor(t, carol)
		if bytes.Contains(copy, []byte(text)) {
			t.Fatalf("the reply went out in clear")
		}
		return copy
	}
	readSMIME := func(copy []byte, text string) {
		t.Helper()
		o.Write("copy.eml", copy)
		dec := o.Run(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "carol.pem", "-inkey", "carol.key")
		if dec.Err != nil || !bytes.Contains(dec.Stdout, []byte(text)) {
			t.Errorf("carol cannot read the reply with her certificate: %v\n%s\n%s", dec.Err, dec.Stderr, copy)
		}
	}
	readPGP := func(copy []byte, text string) {
		t.Helper()
		r := c.gpg.Run(copy, "--decrypt")
		if !r.HasStatus("GOODMDC") || !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(text)) {
			t.Errorf("carol cannot read the reply with her OpenPGP key as signed by the gateway:\n%s\n%s", r.Status, copy)
		}
	}

	signed := o.MustRun([]byte("From: "+carol+"\r\nTo: "+support+"\r\nSubject: S/MIME\r\nContent-Type: text/plain\r\n\r\nFirst, S/MIME.\r\n"),
		"cms", "-sign", "-signer", "carol.pem", "-inkey", "carol.key", "-outform", "SMIME").Stdout
	first := o.MustRun(signed, "cms", "-encrypt", "-aes-256-gcm", "-recip", "gw.pem", "-from", carol, "-to", support,
		"-subject", "...", "-outform", "SMIME").Stdout
	id1 := receive(first, "good; engine=smime; signer="+smime.Fingerprint(leaf.Cert)+"; address="+carol+"; trust=first-seen",
		"[Sealpost: encrypted (S/MIME), signed by "+carol+" (first key seen for this address)]")
	readSMIME(answer(id1, "CANARY-two-engines-1"), "CANARY-two-engines-1")

	withKey := func(g *gpgtest.GPG, fpr, text string) []byte {
		entity := "From: " + carol + "\r\nTo: " + support + "\r\nSubject: OpenPGP\r\nContent-Type: multipart/mixed; boundary=\"k\"\r\n\r\n" +
			"--k\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--k\r\nContent-Type: application/pgp-keys\r\n\r\n" +
			string(g.Export(fpr)) + "\r\n--k--\r\n"
		return pgpMail(g, carol, gw.KeyFingerprint, fpr, entity)
	}
	id2 := receive(withKey(c.gpg, c.fpr, "Now OpenPGP."), "good; engine=openpgp; signer="+c.fpr+"; address="+carol+"; trust=first-seen",
		"[Sealpost: encrypted (OpenPGP), signed by "+carol+" (first key seen for this address)]")
	// Learnt: her next message, without the key, is signed by a known key.
	receive(pgpMail(c.gpg, carol, gw.KeyFingerprint, c.fpr, "From: "+carol+"\r\nSubject: x\r\n\r\nAgain.\r\n"),
		"good; engine=openpgp; signer="+c.fpr+"; address="+carol+"; trust=known",
		"[Sealpost: encrypted (OpenPGP), signed by "+carol+" (known key)]")
	// The OpenPGP key is the one learnt last: replies use it.
	readPGP(answer(id2, "CANARY-two-engines-2"), "CANARY-two-engines-2")

	receive(withKey(impostor.gpg, fake, "Pay this."), "untrusted; engine=openpgp; signer="+fake+"; address="+carol+"; trust=changed",
		"[Sealpost: WARNING: signed by a different key than the one on file for "+carol+": this may not be from "+carol+"; encrypted (OpenPGP)]")
	// Her certificate still signs as a known key, and the other OpenPGP
	// key was not learnt: replies are still encrypted to hers.
	again := o.MustRun([]byte("From: "+carol+"\r\nTo: "+support+"\r\nSubject: S/MIME again\r\nContent-Type: text/plain\r\n\r\nS/MIME again.\r\n"),
		"cms", "-sign", "-signer", "carol.pem", "-inkey", "carol.key", "-outform", "SMIME").Stdout
	receive(o.MustRun(again, "cms", "-encrypt", "-aes-256-gcm", "-recip", "gw.pem", "-outform", "SMIME").Stdout,
		"good; engine=smime; signer="+smime.Fingerprint(leaf.Cert)+"; address="+carol+"; trust=known",
		"[Sealpost: encrypted (S/MIME), signed by "+carol+" (known key)]")
	readPGP(answer(id2, "CANARY-two-engines-3"), "CANARY-two-engines-3")
	// Her format, when set, decides.
	if err := s.app.Admin.SetMemberFormat(ctx, support, carol, "smime"); err != nil {
		t.Fatal(err)
	}
	readSMIME(answer(id2, "CANARY-two-engines-4"), "CANARY-two-engines-4")
}

// TestGatewayReplyEngineNewestKey: a correspondent with a usable OpenPGP
// key and a usable S/MIME certificate is answered in the engine of the
// one the gateway got last, here pinned by an administrator.
func TestGatewayReplyEngineNewestKey(t *testing.T) {
	_, s, _, _ := startSMIMEGateway(t)
	ctx := context.Background()
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	const dave = "dave@customer.test"
	d := customer(t, s, dave, true) // OpenPGP key first
	time.Sleep(5 * time.Millisecond)
	leaf := openssltest.NewCA(t, openssltest.RSA2048).Issue(dave, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.AddMemberKey(ctx, support, dave, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Cert.Raw})); err != nil {
		t.Fatal(err)
	}
	s.clearOutbox(t)
	const text = "CANARY-newest-key"
	if err := submit(t, s, password, "helpdesk@example.org", []string{dave}, reply("<r-newest@helpdesk.example.org>", "", dave, text)); err != nil {
		t.Fatal(err)
	}
	copy := s.waitFor(t, dave)
	o := openssltest.New(t)
	o.Write("copy.eml", copy)
	o.WriteCert("dave.pem", leaf.Cert)
	o.WriteKey("dave.key", leaf.Key)
	if dec := o.Run(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "dave.pem", "-inkey", "dave.key"); dec.Err != nil ||
		!bytes.Contains(dec.Stdout, []byte(text)) {
		t.Errorf("the reply is not S/MIME to the certificate pinned last: %v\n%s", dec.Err, copy)
	}
	if r := d.gpg.Run(copy, "--decrypt"); r.ExitCode() == 0 {
		t.Error("the reply was encrypted to the older OpenPGP key")
	}
}
