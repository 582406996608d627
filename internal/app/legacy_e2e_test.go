package app_test

// Issue 15 items 2 and 3 end to end, over SMTP: old and unusual but
// legitimate OpenPGP posts, made with gpg, are accepted and their
// senders read their copies with gpg; SHA-1 signatures are refused for
// what they are; clear-signed text counts as signed.

import (
	"bytes"
	"context"
	"crypto/aes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/ocb"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
)

// copyFor returns the copy in msgs delivered to addr.
func copyFor(t *testing.T, msgs [][]byte, addr string) []byte {
	t.Helper()
	for _, m := range msgs {
		if deliveredTo(m) == addr {
			return m
		}
	}
	t.Fatalf("no copy for %s among %d messages", addr, len(msgs))
	return nil
}

// readCopy decrypts a copy with g and checks it the way a member's gpg
// would: integrity, a valid signature by the list key, and the post in it.
func readCopy(t *testing.T, g *gpgtest.GPG, c []byte, listFpr string) string {
	t.Helper()
	r := g.Run(c, "--decrypt")
	for _, st := range []string{"DECRYPTION_OKAY", "GOODMDC"} {
		if !r.HasStatus(st) {
			t.Errorf("gpg status lacks %s:\n%s\n%s", st, r.Status, r.Stderr)
		}
	}
	if !r.HasStatus("VALIDSIG", listFpr) {
		t.Errorf("gpg status lacks VALIDSIG %s:\n%s", listFpr, r.Status)
	}
	if !bytes.Contains(r.Stdout, []byte(canary)) {
		t.Errorf("decrypted copy lacks the post:\n%s", r.Stdout)
	}
	// Header fields unfolded (RFC 5322 §2.2.3).
	return strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(string(r.Stdout))
}

// TestDSAElGamalMemberWithGnuPG: a member whose key is a DSA primary key
// with an ElGamal subkey (GnuPG's default until 2009) is added, posts
// with gpg, and reads their copy with gpg.
func TestDSAElGamalMemberWithGnuPG(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	listFpr, _ := setupList(t, s, "alice@example.org")
	old := gpgtest.New(t)
	fpr := old.GenKeyAlgo("Old <old@example.org>", "dsa2048", "elg2048")
	listKey, err := s.app.Admin.ListKey(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	old.Import(listKey)
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, "old@example.org", old.Export(fpr), quiet(false)); err != nil {
		t.Fatalf("member add of a DSA/ElGamal key: %v", err)
	}
	ct := old.MustRun(entity("old@example.org"), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fpr).Stdout
	if err := s.send(t, "old@example.org", []string{team}, wrap("old@example.org", ct)); err != nil {
		t.Fatalf("post refused: %v", err)
	}
	text := readCopy(t, old, copyFor(t, s.outbox(t, 2), "old@example.org"), listFpr)
	if !strings.Contains(text, "X-Sealpost-Verified: signed by old@example.org; key "+fpr) {
		t.Errorf("copy not marked as signed by the DSA key:\n%s", text)
	}
}

// TestDSAElGamalListKeyWithGnuPG: a DSA/ElGamal secret key made by gpg,
// imported as the list's key, decrypts posts (ElGamal) and signs the
// copies (DSA) that members read with gpg.
func TestDSAElGamalListKeyWithGnuPG(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	_, ms := setupList(t, s, "alice@example.org")
	alice := ms["alice@example.org"]
	owner := gpgtest.New(t)
	listFpr := owner.GenKeyAlgo("Team <"+team+">", "dsa2048", "elg2048")
	rs, err := s.app.Admin.ImportKeys(ctx, "team.asc", owner.ExportSecret(listFpr), admin.ImportOptions{List: team})
	if err != nil || len(rs) != 1 || rs[0].Outcome == admin.Refused {
		t.Fatalf("key import --list of a DSA/ElGamal key: %+v, %v", rs, err)
	}
	if l, err := s.app.Admin.List(ctx, team); err != nil || l.KeyFingerprint != listFpr {
		t.Fatalf("the list's key is not the imported one: %v", err)
	}
	alice.gpg.Import(owner.Export(listFpr))
	ct := alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, ct)); err != nil {
		t.Fatalf("post refused: %v", err)
	}
	readCopy(t, alice.gpg, copyFor(t, s.outbox(t, 1), alice.addr), listFpr)
}

// aeadLen is an OpenPGP new-format packet length (RFC 4880 §4.2.2).
func aeadLen(n int) []byte {
	if n < 192 {
		return []byte{byte(n)}
	}
	return []byte{0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// gnupgAEADPost is what GnuPG 2.4 writes to a key that advertises AEAD: a
// v3 PKESK to the list's encryption subkey and an AEAD Encrypted Data
// packet (tag 20, OCB, AES-256, 4 MiB chunks) around inner, built from
// RFC 4880bis-10 §5.16 with go-crypto's OCB (internal/crypto/pgp's
// TestAEADPacketBuilder checks the same construction against the
// specification's sample). The installed gpg 2.2 cannot write it.
func gnupgAEADPost(t *testing.T, listKey, inner []byte) []byte {
	t.Helper()
	keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(listKey))
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := keys[0].EncryptionKey(time.Now(), nil)
	if !ok {
		t.Fatal("list key cannot encrypt")
	}
	key, iv := bytes.Repeat([]byte{0x5a}, 32), bytes.Repeat([]byte{0xa5}, 15)
	var b bytes.Buffer
	if err := packet.SerializeEncryptedKeyAEAD(&b, enc.PublicKey, packet.CipherAES256, false, key, nil); err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	aead, err := ocb.NewOCB(block)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte{0xd4, 1, byte(packet.CipherAES256), byte(packet.AEADModeOCB), 16}
	nonce := func(i uint64) []byte {
		n := bytes.Clone(iv)
		for j, c := range binary.BigEndian.AppendUint64(nil, i) {
			n[7+j] ^= c
		}
		return n
	}
	body := append(bytes.Clone(prefix[1:]), iv...)
	body = aead.Seal(body, nonce(0), inner, binary.BigEndian.AppendUint64(bytes.Clone(prefix), 0))
	final := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(bytes.Clone(prefix), 1), uint64(len(inner)))
	body = aead.Seal(body, nonce(1), nil, final)
	b.Write(append(append([]byte{0xd4}, aeadLen(len(body))...), body...))
	return armorBytes(t, b.Bytes())
}

// TestAEADPostAccepted: a post in GnuPG's AEAD packet, signed by the
// member with gpg, is distributed and the copies decrypt in gpg.
func TestAEADPostAccepted(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	listKey, err := s.app.Admin.ListKey(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	signed := alice.gpg.MustRun(entity(alice.addr), "--sign", "-u", alice.fpr).Stdout
	if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, gnupgAEADPost(t, listKey, signed))); err != nil {
		t.Fatalf("post refused: %v", err)
	}
	readCopy(t, bob.gpg, copyFor(t, s.outbox(t, 2), bob.addr), listFpr)
}

// TestBase64ControlPartAccepted: the PGP/MIME version part base64-encoded,
// as Outlook.com sends it, is accepted (RFC 3156 §4).
func TestBase64ControlPartAccepted(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	ct := alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	post := bytes.Replace(wrap(alice.addr, ct), []byte("Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n"),
		[]byte("Content-Description: PGP/MIME version identification\r\nContent-Transfer-Encoding: base64\r\n\r\nVmVyc2lvbjogMQ0K\r\n"), 1)
	if !bytes.Contains(post, []byte("VmVyc2lvbjogMQ0K")) {
		t.Fatal("control part not replaced")
	}
	if err := s.send(t, alice.addr, []string{team}, post); err != nil {
		t.Fatalf("post refused: %v", err)
	}
	readCopy(t, bob.gpg, copyFor(t, s.outbox(t, 2), bob.addr), listFpr)
}

// noticeText is the decoded text of every text part of a notice.
func noticeText(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(p *mime.Part)
	walk = func(p *mime.Part) {
		for _, c := range p.Children {
			walk(c)
		}
		if !p.IsMultipart() && strings.HasPrefix(p.MediaType, "text/") {
			body, err := p.Decoded(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(body)
		}
	}
	walk(msg)
	return b.String()
}

// TestSHA1PostRefused: a post signed with SHA-1 is refused with its own
// reason in the owner's notice, and is not held as tampered even when the
// list holds posts whose signature does not verify.
func TestSHA1PostRefused(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"on_bad_signature=hold"}); err != nil {
		t.Fatal(err)
	}
	ct := alice.gpg.MustRun(entity(alice.addr), "--armor", "--digest-algo", "SHA1", "--sign", "--encrypt",
		"-r", listFpr, "-u", alice.fpr).Stdout
	err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, ct))
	if smtpCode(err) != 550 {
		t.Fatalf("reply = %v, want 550", err)
	}
	notes := s.outbox(t, 1)
	if len(notes) != 1 || deliveredTo(notes[0]) != "owner@example.org" {
		t.Fatalf("outbox holds %d messages, want the owner's notice", len(notes))
	}
	text := noticeText(t, notes[0])
	if !strings.Contains(text, "signed with SHA-1, which is no longer accepted") || strings.Contains(text, "did not verify") ||
		strings.Contains(text, canary) {
		t.Errorf("owner's notice:\n%s", text)
	}
	if hs, err := s.app.Admin.Holds(ctx, team); err != nil || len(hs) != 0 {
		t.Errorf("holds = %d, %v; a SHA-1 signature is not held as tampered", len(hs), err)
	}
}

// TestClearSignedPosts: text signed with gpg --clearsign (Enigmail's
// "signed inline", RT's clear-signed mail) is distributed as signed by
// its member: encrypted with gpg, as PGP/MIME or inline, and unencrypted
// on a list that takes unencrypted posts.
func TestClearSignedPosts(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	// Clear-signed text names no recipient: accepted by default, marked
	// as not bound to the list.
	// A fresh text for each post: the same signature (Ed25519 signatures
	// of the same text in the same second are) is a replay the second time.
	posts := 0
	clearSign := func() []byte {
		posts++
		text := fmt.Sprintf("Hello from alice, post %d. %s\n- a dashed line\n", posts, canary)
		return alice.gpg.MustRun([]byte(text), "--clearsign", "-u", alice.fpr).Stdout
	}
	encrypt := func(b []byte) []byte { return alice.gpg.MustRun(b, "--armor", "--encrypt", "-r", listFpr).Stdout }
	head := "From: alice@example.org\r\nTo: " + team + "\r\nSubject: clear-signed\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n"
	signedBy := "X-Sealpost-Verified: signed by alice@example.org; key " + alice.fpr

	for _, tc := range []struct {
		name, options string
		post          func() []byte
		inClear       bool
	}{
		{"encrypted, PGP/MIME", "", func() []byte { return wrap(alice.addr, encrypt(clearSign())) }, false},
		{"encrypted, inline", "", func() []byte { return []byte(head + string(mime.Canonicalize(encrypt(clearSign())))) }, false},
		{"unencrypted", "on_unencrypted=accept", func() []byte { return []byte(head + string(mime.Canonicalize(clearSign()))) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.options != "" {
				if _, err := s.app.Admin.SetOptions(ctx, team, []string{tc.options}); err != nil {
					t.Fatal(err)
				}
			}
			s.clearOutbox(t)
			if err := s.send(t, alice.addr, []string{team}, tc.post()); err != nil {
				t.Fatalf("post refused: %v", err)
			}
			text := readCopy(t, bob.gpg, copyFor(t, s.outbox(t, 2), bob.addr), listFpr)
			if !strings.Contains(text, signedBy) || strings.Contains(text, "BEGIN PGP SIGNED MESSAGE") ||
				!strings.Contains(text, "\n- a dashed line") || strings.Contains(text, "sent unencrypted") != tc.inClear {
				t.Errorf("copy:\n%s", text)
			}
		})
	}
	t.Run("text beside the signed block", func(t *testing.T) {
		s.clearOutbox(t)
		mixed := append([]byte("Please pay the invoice below.\n\n"), clearSign()...)
		ct := alice.gpg.MustRun(mixed, "--armor", "--encrypt", "-r", listFpr).Stdout
		if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, ct)); smtpCode(err) != 550 {
			t.Fatalf("reply = %v, want 550", err)
		}
		if n := s.outbox(t, 1); deliveredTo(n[0]) != "owner@example.org" {
			t.Errorf("the outbox holds a copy for %s", deliveredTo(n[0]))
		}
	})
}

// TestGatewayOldOpenPGP: at a gateway, RT's clear-signed mail counts as
// signed by its pinned key, and a SHA-1 signature is marked invalid (not
// accepted), not bad (altered).
func TestGatewayOldOpenPGP(t *testing.T) {
	desk := startHelpdesk(t)
	s := startServer(t)
	ctx := context.Background()
	gw, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "Support", pgp.Ed25519, "smtp://"+desk.addr)
	if err != nil {
		t.Fatal(err)
	}
	gwKey, err := s.app.Admin.ListKey(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	alice := gpgtest.New(t)
	fpr := alice.GenKey("Alice <alice@example.net>")
	alice.Import(gwKey)
	if _, _, err := s.app.Admin.AddMemberWith(ctx, support, "alice@example.net", alice.Export(fpr), quiet(false)); err != nil {
		t.Fatal(err)
	}
	head := "From: alice@example.net\r\nTo: " + support + "\r\nSubject: ticket\r\nMIME-Version: 1.0\r\n"

	t.Run("clear-signed, unencrypted", func(t *testing.T) {
		clear := alice.MustRun([]byte("My printer is on fire.\n"), "--clearsign", "-u", fpr).Stdout
		msg := head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + string(mime.Canonicalize(clear))
		if err := s.send(t, "alice@example.net", []string{support}, []byte(msg)); err != nil {
			t.Fatalf("refused: %v", err)
		}
		got := desk.next(t)
		sig := fieldValues(t, got.data, "X-Sealpost-Signature")
		if len(sig) != 1 || !strings.HasPrefix(sig[0], "good;") || !strings.Contains(sig[0], "signer="+fpr) || !strings.Contains(sig[0], "trust=pinned") {
			t.Errorf("X-Sealpost-Signature = %q", sig)
		}
		// Unencrypted mail reaches the helpdesk as it came, signature and all.
		if !bytes.Contains(got.data, []byte("My printer is on fire.")) {
			t.Errorf("the helpdesk did not get the text:\n%s", got.data)
		}
	})
	t.Run("SHA-1, encrypted", func(t *testing.T) {
		inner := "Content-Type: text/plain\r\n\r\nStill on fire.\r\n"
		armored := alice.MustRun([]byte(inner), "--armor", "--digest-algo", "SHA1", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", fpr).Stdout
		ct, body := pgp.EncryptedBody(armored, "outer")
		msg := append([]byte(head+"Content-Type: "+ct+"\r\n\r\n"), body...)
		if err := s.send(t, "alice@example.net", []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		sig := fieldValues(t, desk.next(t).data, "X-Sealpost-Signature")
		if len(sig) != 1 || !strings.HasPrefix(sig[0], "invalid;") || !strings.Contains(sig[0], "SHA-1") {
			t.Errorf("X-Sealpost-Signature = %q, want invalid, naming SHA-1", sig)
		}
	})
}
