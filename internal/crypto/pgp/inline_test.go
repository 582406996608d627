package pgp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
)

// inlineEnv is a gpg home holding the list's public key and two members,
// Alice and Bob, who post inline PGP.
type inlineEnv struct {
	g          *gpgtest.GPG
	list       *Key
	listFpr    string
	fpr, bob   string // fingerprints of Alice and Bob
	members    []*Key // Alice's and Bob's public keys
	attachment []byte // a binary file to attach
}

func newInlineEnv(t *testing.T) *inlineEnv {
	t.Helper()
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	e := &inlineEnv{g: g, list: list, listFpr: list.Fingerprint()}
	e.fpr = g.GenKey("Alice <alice@example.org>")
	e.bob = g.GenKey("Bob <bob@example.org>")
	e.members = []*Key{mustParse(t, g.Export(e.fpr)), mustParse(t, g.Export(e.bob))}
	// A "PDF" with every byte value, NUL, bare CR and LF among them.
	var pdf bytes.Buffer
	pdf.WriteString("%PDF-1.4\n")
	for i := range 600 {
		pdf.WriteByte(byte(i * 7))
	}
	e.attachment = pdf.Bytes()
	return e
}

// encrypt runs gpg --encrypt to the list with extra arguments, as Alice
// unless -u says otherwise.
func (e *inlineEnv) encrypt(t *testing.T, plain []byte, args ...string) []byte {
	t.Helper()
	return e.g.MustRun(plain, append(append([]string{}, args...), "--encrypt", "-r", e.listFpr)...).Stdout
}

// ciphertext makes the usual inline post: armored, signed by Alice.
func (e *inlineEnv) ciphertext(t *testing.T, plain string) []byte {
	t.Helper()
	return e.encrypt(t, []byte(plain), "--armor", "--sign", "-u", e.fpr)
}

const inlineText = "Grüße aus Köln – naïve café\n\nZweite Zeile, -- \nAlice\n"

// textEntity is a text/plain entity whose body is text.
func textEntity(charset string, text []byte) string {
	return "Content-Type: text/plain; charset=" + charset + "\r\n\r\n" + string(mime.Canonicalize(text))
}

// fileEntity is a base64 attachment.
func fileEntity(name string, data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return "Content-Type: application/octet-stream; name=\"" + name + "\"\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b.String()
}

// multipartEntity joins entities into a multipart of mediaType.
func multipartEntity(mediaType, boundary string, parts ...string) string {
	var b strings.Builder
	b.WriteString("Content-Type: " + mediaType + "; boundary=\"" + boundary + "\"\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

// inlineMsg puts entity under a message header and parses it.
func inlineMsg(t testing.TB, entity string) *mime.Part {
	t.Helper()
	raw := "From: alice@example.org\r\nTo: " + listAddr + "\r\nSubject: inline\r\nMIME-Version: 1.0\r\n" + entity
	p, err := mime.Parse([]byte(raw), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustUnwrapInline(t *testing.T, msg *mime.Part, list *Key, signers []*Key, opt Options) *Unwrapped {
	t.Helper()
	u, err := UnwrapInline(msg, list, signers, opt)
	if err != nil {
		t.Fatalf("UnwrapInline: %v", err)
	}
	if !u.Protection.Encrypted || (u.Protection.Integrity != "mdc" && u.Protection.Integrity != "aead") {
		t.Errorf("Protection = %+v", u.Protection)
	}
	return u
}

// textContent is the single text/plain entity UnwrapInline makes.
func textContent(charset, text string) string {
	return "Content-Type: text/plain; charset=" + charset + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		string(mime.Canonicalize([]byte(text)))
}

func TestUnwrapInlineText(t *testing.T) {
	e := newInlineEnv(t)

	t.Run("sign+encrypt pasted as body", func(t *testing.T) {
		msg := inlineMsg(t, textEntity("utf-8", e.ciphertext(t, inlineText)))
		if !IsInline(msg) {
			t.Error("IsInline = false")
		}
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		if want := textContent("utf-8", inlineText); string(u.Content) != want {
			t.Errorf("Content = %q\nwant %q", u.Content, want)
		}
	})
	t.Run("charset kept, unsigned", func(t *testing.T) {
		ct := e.encrypt(t, []byte("caf\xe9\n"), "--armor")
		u := mustUnwrapInline(t, inlineMsg(t, textEntity("ISO-8859-15", ct)), e.list, e.members, Options{})
		if u.Status != spcrypto.StatusUnsigned || u.Signer != nil || u.SignatureDigest != nil {
			t.Errorf("Status = %v (%s), Signer %v", u.Status, u.Reason, u.Signer)
		}
		if want := textContent("ISO-8859-15", "caf\xe9\n"); string(u.Content) != want {
			t.Errorf("Content = %q, want %q", u.Content, want)
		}
	})
	t.Run("QUIRK(nbsp) quoted-printable, NBSP in the separator line", func(t *testing.T) {
		armored := strings.Replace(string(e.ciphertext(t, inlineText)), "-----\n\n", "-----\n\u00a0\n", 1)
		if !strings.Contains(armored, "\u00a0") {
			t.Fatalf("no blank separator line in gpg's armor:\n%s", armored)
		}
		var qp bytes.Buffer
		w := quotedprintable.NewWriter(&qp)
		w.Write(mime.Canonicalize([]byte(armored)))
		w.Close()
		entity := "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String()
		u := mustUnwrapInline(t, inlineMsg(t, entity), e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		if want := textContent("UTF-8", inlineText); string(u.Content) != want {
			t.Errorf("Content = %q", u.Content)
		}
	})
	t.Run("unknown signer", func(t *testing.T) {
		u := mustUnwrapInline(t, inlineMsg(t, textEntity("utf-8", e.ciphertext(t, inlineText))), e.list, nil, Options{})
		if u.Status != spcrypto.StatusUnknownSigner || u.Signer != nil {
			t.Errorf("Status = %v, Signer = %v; want unknown-signer", u.Status, u.Signer)
		}
	})
}

// TestUnwrapInlineClearsigned: a cleartext-signed text (RFC 9580 §7)
// inside the encryption is verified and its text used.
func TestUnwrapInlineClearsigned(t *testing.T) {
	e := newInlineEnv(t)
	const text = "Hello list,\n- a line that starts with a dash\n-----BEGIN looks like armor\nbye\n"
	clear := string(e.g.MustRun([]byte(text), "--clearsign", "-u", e.fpr).Stdout)
	if !strings.Contains(clear, "\n- - a line") {
		t.Fatalf("gpg did not dash-escape:\n%s", clear)
	}
	unwrap := func(t *testing.T, clear string) *Unwrapped {
		t.Helper()
		ct := e.encrypt(t, []byte(clear), "--armor")
		return mustUnwrapInline(t, inlineMsg(t, textEntity("utf-8", ct)), e.list, e.members, Options{})
	}

	t.Run("good", func(t *testing.T) {
		u := unwrap(t, clear)
		checkGood(t, u, e.fpr)
		if want := textContent("utf-8", text); string(u.Content) != want {
			t.Errorf("Content = %q\nwant %q", u.Content, want)
		}
	})
	hash := "SHA512"
	if strings.Contains(clear, "Hash: SHA512") {
		hash = "SHA256"
	}
	bad := []struct{ name, clear string }{
		{"text altered", strings.Replace(clear, "bye", "BYE", 1)},
		{"Hash header mismatch", hashHeaderReplaced(clear, hash)},
		{"text after the signature", clear + "\nP.S. unsigned postscript\n"},
		{"text before the signature", "unsigned preface\n" + clear},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			u := unwrap(t, tt.clear)
			if u.Status == spcrypto.StatusGood || u.Signer != nil {
				t.Errorf("Status = %v, Signer = %v; want not good", u.Status, u.Signer)
			}
		})
	}
}

// hashHeaderReplaced replaces the value of clear's Hash header with hash.
func hashHeaderReplaced(clear, hash string) string {
	i := strings.Index(clear, "Hash: ")
	j := i + strings.IndexByte(clear[i:], '\n')
	return clear[:i] + "Hash: " + hash + clear[j:]
}

func TestUnwrapInlineAttachments(t *testing.T) {
	e := newInlineEnv(t)
	ct := e.ciphertext(t, inlineText)
	text := textEntity("utf-8", ct)
	signedPDF := e.encrypt(t, e.attachment, "--sign", "-u", e.fpr)
	plainPDF := e.encrypt(t, e.attachment)
	sig := e.g.MustRun(e.attachment, "--detach-sign", "-u", e.fpr).Stdout

	t.Run("signed text and signed binary attachment", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text, fileEntity("report.pdf.pgp", signedPDF)))
		if !IsInline(msg) {
			t.Error("IsInline = false")
		}
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		checkParts(t, u.Content, inlineText, "report.pdf", e.attachment)
	})
	t.Run("detached .sig over the plaintext attachment", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text,
			fileEntity("report.pdf.pgp", plainPDF), fileEntity("report.pdf.sig", sig)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		checkParts(t, u.Content, inlineText, "report.pdf", e.attachment)
	})
	t.Run("armored .asc attachment with armored .sig", func(t *testing.T) {
		asc := e.encrypt(t, e.attachment, "--armor")
		ascSig := e.g.MustRun(e.attachment, "--armor", "--detach-sign", "-u", e.fpr).Stdout
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text,
			fileEntity("report.pdf.asc", asc), fileEntity("report.pdf.sig", ascSig)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		checkParts(t, u.Content, inlineText, "report.pdf", e.attachment)
	})
	t.Run(".sig over other bytes", func(t *testing.T) {
		other := e.g.MustRun([]byte("something else"), "--detach-sign", "-u", e.fpr).Stdout
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text,
			fileEntity("report.pdf.pgp", plainPDF), fileEntity("report.pdf.sig", other)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		if u.Status != spcrypto.StatusBad || u.Signer != nil {
			t.Errorf("Status = %v (%s); want bad", u.Status, u.Reason)
		}
	})
	t.Run(".sig named after another file", func(t *testing.T) {
		// A signature counts only for the attachment it is named after;
		// one that matches no attachment is dropped.
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text,
			fileEntity("report.pdf.pgp", plainPDF), fileEntity("invoice.pdf.sig", sig)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		if u.Status != spcrypto.StatusUnsigned || u.Reason != "only some parts are signed" {
			t.Errorf("Status = %v (%q); want unsigned, partial signing", u.Status, u.Reason)
		}
		checkParts(t, u.Content, inlineText, "report.pdf", e.attachment)
	})
	t.Run("only the text signed", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text, fileEntity("report.pdf.pgp", plainPDF)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		if u.Status != spcrypto.StatusUnsigned || u.Signer != nil || u.Reason != "only some parts are signed" {
			t.Errorf("Status = %v (%q), Signer = %v; want unsigned, partial signing", u.Status, u.Reason, u.Signer)
		}
	})
	t.Run("parts signed by different members", func(t *testing.T) {
		bobPDF := e.encrypt(t, e.attachment, "--sign", "-u", e.bob)
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", text, fileEntity("report.pdf.pgp", bobPDF)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		if u.Status != spcrypto.StatusBad || u.Signer != nil {
			t.Errorf("Status = %v (%q); want bad", u.Status, u.Reason)
		}
	})
	t.Run("signature digest covers every part", func(t *testing.T) {
		alone := func(entity string) []byte {
			return mustUnwrapInline(t, inlineMsg(t, entity), e.list, e.members, Options{}).SignatureDigest
		}
		d1, d2 := alone(text), alone(fileEntity("report.pdf.pgp", signedPDF))
		both := alone(multipartEntity("multipart/mixed", "m1", text, fileEntity("report.pdf.pgp", signedPDF)))
		want := sha256.Sum256(append(append([]byte{}, d1...), d2...))
		if len(d1) != 32 || !bytes.Equal(both, want[:]) {
			t.Errorf("digest = %x, want SHA-256(%x || %x)", both, d1, d2)
		}
		// One signature: the digest Unwrap records for the same ciphertext
		// sent as PGP/MIME, so that replaying it in the other form is caught.
		u, err := Unwrap(pgpMIME(t, ct), e.list, e.members, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(u.SignatureDigest, d1) {
			t.Errorf("inline digest %x, PGP/MIME digest %x", d1, u.SignatureDigest)
		}
	})
}

// checkParts parses a multipart/mixed Content and checks its text part and
// attachment.
func checkParts(t *testing.T, content []byte, text, name string, data []byte) {
	t.Helper()
	p, err := mime.Parse(content, mime.Limits{})
	if err != nil {
		t.Fatalf("Content does not parse: %v\n%s", err, content)
	}
	if p.MediaType != "multipart/mixed" || len(p.Children) != 2 {
		t.Fatalf("Content is %s with %d parts:\n%s", p.MediaType, len(p.Children), content)
	}
	txt, att := p.Children[0], p.Children[1]
	if txt.MediaType != "text/plain" || string(txt.Body) != string(mime.Canonicalize([]byte(text))) {
		t.Errorf("text part %s: %q", txt.MediaType, txt.Body)
	}
	got, err := att.Decoded(1 << 20)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("attachment decodes to %d bytes (%v), want the %d original bytes", len(got), err, len(data))
	}
	if att.MediaType != "application/octet-stream" || filename(att) != name || att.Params["name"] != name {
		t.Errorf("attachment %s, filename %q, name %q; want %s", att.MediaType, filename(att), att.Params["name"], name)
	}
}

func TestUnwrapInlineAlternative(t *testing.T) {
	e := newInlineEnv(t)
	ct := e.ciphertext(t, inlineText)
	html := "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><pre>" + string(mime.Canonicalize(ct)) +
		"</pre><img src=\"https://attacker.example/x?\"></body></html>\r\n"

	t.Run("html alternative dropped", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/alternative", "a1", textEntity("utf-8", ct), html))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		if want := textContent("utf-8", inlineText); string(u.Content) != want {
			t.Errorf("Content = %q", u.Content)
		}
	})
	t.Run("alternative inside mixed, with attachment", func(t *testing.T) {
		alt := multipartEntity("multipart/alternative", "a1", textEntity("utf-8", ct), html)
		pdf := e.encrypt(t, e.attachment, "--sign", "-u", e.fpr)
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", alt, fileEntity("report.pdf.gpg", pdf)))
		u := mustUnwrapInline(t, msg, e.list, e.members, Options{})
		checkGood(t, u, e.fpr)
		checkParts(t, u.Content, inlineText, "report.pdf", e.attachment)
		if bytes.Contains(u.Content, []byte("attacker.example")) {
			t.Error("Content carries the HTML alternative")
		}
	})
	t.Run("html beside, not alternative to, the ciphertext", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", textEntity("utf-8", ct), html))
		if u, err := UnwrapInline(msg, e.list, e.members, Options{}); !errors.Is(err, ErrPartial) || u != nil {
			t.Errorf("UnwrapInline = %v, %v; want ErrPartial", u, err)
		}
	})
}

// TestUnwrapInlineRefuses: EFAIL (ErrPartial), integrity (DESIGN §4.1) and
// everything else that must not yield a post. Nothing is returned with an
// error.
func TestUnwrapInlineRefuses(t *testing.T) {
	e := newInlineEnv(t)
	ct := e.ciphertext(t, inlineText)
	text := textEntity("utf-8", ct)
	noMDC := e.g.Run([]byte(inlineText), "--armor", "--rfc2440", "--cipher-algo", "AES256", "--sign", "--encrypt",
		"-r", e.listFpr, "-u", e.fpr)
	if noMDC.Err != nil {
		t.Fatalf("gpg --rfc2440: %v\n%s", noMDC.Err, noMDC.Stderr)
	}
	bin := e.encrypt(t, []byte(inlineText), "--sign", "-u", e.fpr)
	bin[len(bin)-40] ^= 0x01
	pdf := e.encrypt(t, e.attachment, "--sign", "-u", e.fpr)
	flippedPDF := bytes.Clone(pdf)
	flippedPDF[len(flippedPDF)-30] ^= 0x80
	signedOnly := e.g.MustRun([]byte(inlineText), "--armor", "--sign", "-u", e.fpr).Stdout
	clear := e.g.MustRun([]byte(inlineText), "--clearsign", "-u", e.fpr).Stdout
	_, pgpmime := EncryptedBody(ct, "e1")

	tests := []struct {
		name   string
		entity string
		want   error
	}{
		{"plaintext line before the armor", textEntity("utf-8", append([]byte("Please read:\n"), ct...)), ErrPartial},
		{"plaintext after the armor", textEntity("utf-8", append(bytes.Clone(ct), "\nunsigned footer\n"...)), ErrPartial},
		{"two armored blocks in one part", textEntity("utf-8", append(bytes.Clone(ct), ct...)), ErrPartial},
		{"second, unencrypted text part", multipartEntity("multipart/mixed", "m1", text,
			textEntity("utf-8", []byte("Click https://attacker.example/\n"))), ErrPartial},
		{"unencrypted attachment", multipartEntity("multipart/mixed", "m1", text,
			fileEntity("notes.txt", []byte("plain"))), ErrPartial},
		{"public key attached as .asc", multipartEntity("multipart/mixed", "m1", text,
			fileEntity("alice.asc", e.g.Export(e.fpr))), ErrPartial},
		{"signed-only message as .pgp attachment", multipartEntity("multipart/mixed", "m1", text,
			fileEntity("x.pgp", signedOnly)), ErrPartial},
		{"no MDC (--rfc2440)", textEntity("utf-8", noMDC.Stdout), ErrIntegrity},
		{"flipped ciphertext byte", textEntity("utf-8", armorMessage(t, bin)), ErrIntegrity},
		{"flipped byte in attachment", multipartEntity("multipart/mixed", "m1", text,
			fileEntity("report.pdf.pgp", flippedPDF)), ErrIntegrity},
		{"clear-signed only", textEntity("utf-8", clear), ErrNotEncrypted},
		{"signed only", textEntity("utf-8", signedOnly), ErrNotEncrypted},
		{"plain text", textEntity("utf-8", []byte(inlineText)), ErrNotEncrypted},
		{"symmetric", textEntity("utf-8", e.g.MustRun([]byte(inlineText), "--armor", "--symmetric", "--passphrase", "x").Stdout), ErrSymmetric},
		{"not to the list key", textEntity("utf-8", e.g.MustRun([]byte(inlineText), "--armor", "--encrypt", "-r", e.fpr).Stdout), ErrNoKey},
		{"PGP/MIME", "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e1\"\r\n\r\n" + string(pgpmime), ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := UnwrapInline(inlineMsg(t, tt.entity), e.list, e.members, Options{})
			if !errors.Is(err, tt.want) || u != nil {
				t.Fatalf("UnwrapInline = %+v, %v; want %v and nothing", u, err, tt.want)
			}
		})
	}
}

// listCiphertext is an inline post made without gpg: text signed by the
// list key and encrypted to it.
func listCiphertext(t testing.TB, list *Key, text string) []byte {
	t.Helper()
	s, err := Sign(list, []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.EncryptTo(list, false)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// constReader reads an endless run of one byte.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestUnwrapInlineLimits: DESIGN §4.8 for inline messages, and the
// whitespace-only text part.
func TestUnwrapInlineLimits(t *testing.T) {
	list := newListKey(t)
	part := textEntity("utf-8", listCiphertext(t, list, strings.Repeat("x", 600)))
	two := inlineMsg(t, multipartEntity("multipart/mixed", "m1", part, part))

	t.Run("total plaintext", func(t *testing.T) {
		if u, err := UnwrapInline(two, list, nil, Options{MaxPlaintext: 1000}); !errors.Is(err, ErrTooLarge) || u != nil {
			t.Fatalf("UnwrapInline = %v, %v; want ErrTooLarge", u, err)
		}
		u := mustUnwrapInline(t, two, list, []*Key{list}, Options{MaxPlaintext: 2000, Rand: constReader(0x42)})
		if u.Status != spcrypto.StatusGood {
			t.Errorf("Status = %v (%s)", u.Status, u.Reason)
		}
		// A fresh boundary from Options.Rand (mime.NewBoundary).
		if b := "=_" + strings.Repeat("42", 24); !bytes.Contains(u.Content, []byte("--"+b+"\r\n")) {
			t.Errorf("Content lacks boundary %s:\n%s", b, u.Content)
		}
	})
	t.Run("parts", func(t *testing.T) {
		parts := make([]string, maxInlineParts)
		for i := range parts {
			parts[i] = part
		}
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", parts...))
		if u, err := UnwrapInline(msg, list, nil, Options{}); !errors.Is(err, ErrMalformed) || u != nil {
			t.Fatalf("UnwrapInline(%d parts) = %v, %v; want ErrMalformed", len(parts)+1, u, err)
		}
		msg = inlineMsg(t, multipartEntity("multipart/mixed", "m1", parts[1:]...))
		if _, err := UnwrapInline(msg, list, nil, Options{}); err != nil {
			t.Fatalf("UnwrapInline(%d parts) = %v", len(parts), err)
		}
	})
	t.Run("QUIRK(empty-text) whitespace-only text part", func(t *testing.T) {
		msg := inlineMsg(t, multipartEntity("multipart/mixed", "m1", textEntity("utf-8", []byte(" \r\n\r\n")),
			fileEntity("data.bin.pgp", listCiphertext(t, list, "payload"))))
		u := mustUnwrapInline(t, msg, list, []*Key{list}, Options{})
		p, err := mime.Parse(u.Content, mime.Limits{})
		if err != nil || len(p.Children) != 1 || filename(p.Children[0]) != "data.bin" {
			t.Fatalf("Content = %q (%v)", u.Content, err)
		}
	})
}

func TestIsInline(t *testing.T) {
	list := newListKey(t)
	ct := listCiphertext(t, list, "hi")
	bin, err := dearmor(ct, "PGP MESSAGE", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, pgpmime := EncryptedBody(ct, "e1")
	tests := []struct {
		entity string
		want   bool
	}{
		{textEntity("utf-8", ct), true},
		{textEntity("utf-8", append([]byte("prefix\n"), ct...)), true},
		{multipartEntity("multipart/mixed", "m1", textEntity("utf-8", []byte("hi")), fileEntity("a.gpg", bin)), true},
		{multipartEntity("multipart/mixed", "m1", "Content-Type: text/html\r\n\r\n<pre>"+string(ct)+"</pre>"), true},
		{textEntity("utf-8", []byte("hello")), false},
		{multipartEntity("multipart/mixed", "m1", textEntity("utf-8", []byte("hi")), fileEntity("key.asc", list.Armored())), false},
		{multipartEntity("multipart/mixed", "m1", textEntity("utf-8", []byte("hi")), fileEntity("notes.txt", ct)), false},
		{"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e1\"\r\n\r\n" + string(pgpmime), false},
	}
	for i, tt := range tests {
		if got := IsInline(inlineMsg(t, tt.entity)); got != tt.want {
			t.Errorf("%d: IsInline = %v, want %v\n%s", i, got, tt.want, tt.entity)
		}
	}
}

// TestCorpusInline: Thunderbird's inline-PGP messages (PROVENANCE.md §1),
// encrypted to Alice.
func TestCorpusInline(t *testing.T) {
	alice, err := ParseKey(corpus(t, "keys", "alice@openpgp.example-0xf231550c4f47e38e-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		err  error // nil: decrypts, unsigned
	}{
		// QUIRK(nbsp): "=C2=A0" in the armor's blank line.
		{"bob-enc-inline-nbsp-qp.eml", nil},
		// Inline PGP inside text/html is not supported (the armor is
		// interleaved with markup): not encrypted as far as Sealpost goes,
		// and never decrypted.
		{"bob-enc-html-nbsp.eml", ErrNotEncrypted},
		{"partial-encrypt-for-alice-plaintext.eml", ErrPartial},
		{"partial-encrypt-for-alice-html.eml", ErrPartial},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg, err := mime.Parse(corpus(t, "eml", tt.file), mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !IsInline(msg) {
				t.Error("IsInline = false")
			}
			u, err := UnwrapInline(msg, alice, nil, Options{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || u != nil {
					t.Fatalf("UnwrapInline = %+v, %v; want %v and nothing decrypted", u, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := textContent("UTF-8", "My real name is not Bob.\n")
			if u.Status != spcrypto.StatusUnsigned || u.Protection.Integrity != "mdc" || u.Protection.Cipher != "AES128" ||
				string(u.Content) != want {
				t.Errorf("UnwrapInline = %+v, %v, %q; want mdc, unsigned, %q", u.Protection, u.Status, u.Content, want)
			}
		})
	}
}

// TestCorpusInlineIntegrity: the protection reported is the weakest of the
// parts': "aead" only when every part is AEAD. The armored messages of the
// rc-openpgp-* PGP/MIME messages (to Bob) are pasted as inline text parts.
func TestCorpusInlineIntegrity(t *testing.T) {
	bob, err := ParseKey(corpus(t, "keys", "bob@openpgp.example-0xfbfcc82a015e7330-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	armored := func(file string) []byte {
		msg, err := mime.Parse(corpus(t, "eml", file), mime.Limits{})
		if err != nil || len(msg.Children) != 2 {
			t.Fatalf("%s: %v", file, err)
		}
		return msg.Children[1].Body
	}
	aead := textEntity("utf-8", armored("rc-openpgp-aead.eml"))
	mdc := textEntity("utf-8", armored("rc-openpgp-mdc.eml"))
	for _, tt := range []struct {
		entity, want string
	}{
		{aead, "aead"},
		{multipartEntity("multipart/mixed", "m1", aead, aead), "aead"},
		{multipartEntity("multipart/mixed", "m1", aead, mdc), "mdc"},
		{multipartEntity("multipart/mixed", "m1", mdc, aead), "mdc"},
	} {
		u := mustUnwrapInline(t, inlineMsg(t, tt.entity), bob, nil, Options{})
		if u.Protection.Integrity != tt.want || u.Protection.Cipher != "AES256" {
			t.Errorf("Protection = %+v, want %s", u.Protection, tt.want)
		}
	}
}

// FuzzUnwrapInline: no input may panic, and nothing may decrypt without
// integrity protection.
func FuzzUnwrapInline(f *testing.F) {
	list := newListKeyFuzz(f)
	ct := listCiphertext(f, list, "Content-Type: text/plain\r\n\r\nhello\r\n")
	bin, _ := dearmor(ct, "PGP MESSAGE", 1<<20)
	text := textEntity("utf-8", ct)
	for _, e := range []string{
		text,
		strings.Replace(text, "-----\r\n\r\n", "-----\r\n\u00a0\r\n", 1),
		multipartEntity("multipart/mixed", "m1", text, fileEntity("a.pdf.pgp", bin), fileEntity("a.pdf.sig", []byte{0x88, 1})),
		multipartEntity("multipart/alternative", "a1", text, "Content-Type: text/html\r\n\r\n<p>x</p>"),
		textEntity("utf-8", []byte("-----BEGIN PGP MESSAGE-----\n\nwcBMA0\n-----END PGP MESSAGE-----\n")),
		textEntity("utf-8", []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n-----BEGIN PGP SIGNATURE-----\n\nwsBc\n-----END PGP SIGNATURE-----\n")),
	} {
		f.Add([]byte("MIME-Version: 1.0\r\n" + e))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := mime.Parse(raw, mime.Limits{MaxSize: 1 << 20})
		if err != nil {
			return
		}
		IsInline(msg)
		u, err := UnwrapInline(msg, list, []*Key{list}, Options{MaxPlaintext: 1 << 20})
		if err == nil && (!u.Protection.Encrypted || u.Protection.Integrity == "") {
			t.Fatalf("decrypted without integrity protection: %+v", u.Protection)
		}
		if err != nil && u != nil {
			t.Fatalf("UnwrapInline returned %+v with %v", u, err)
		}
	})
}

// ExampleUnwrapInline shows the caller's dispatch between PGP/MIME and
// inline PGP.
func ExampleUnwrapInline() {
	list, _ := GenerateKey("Team", listAddr, Ed25519, Options{})
	s, _ := Sign(list, []byte("Hello list.\n"), Options{})
	armored, _ := s.EncryptTo(list, false)
	raw := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + string(armored)
	msg, _ := mime.Parse([]byte(raw), mime.Limits{})

	unwrap := Unwrap
	if IsInline(msg) {
		unwrap = UnwrapInline
	}
	u, err := unwrap(msg, list, []*Key{list}, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s\n%s", u.Status, u.Protection.Integrity, bytes.ReplaceAll(u.Content, []byte("\r\n"), []byte("\n")))
	// Output:
	// good mdc
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: 8bit
	//
	// Hello list.
}

// TestInlineSignatureSummary: the message-level verdict from per-part
// signature results.
func TestInlineSignatureSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := func(fpr string, d byte, at time.Time, intended ...string) *Unwrapped {
		return &Unwrapped{Status: spcrypto.StatusGood, Signer: &spcrypto.Signer{Fingerprint: fpr},
			SignatureDigest: bytes.Repeat([]byte{d}, 32), SignatureTime: at, IntendedRecipients: intended}
	}
	bad := &Unwrapped{Status: spcrypto.StatusBad, Reason: "signature does not verify"}
	unknown := &Unwrapped{Status: spcrypto.StatusUnknownSigner, Reason: "signed by a key that is not on file"}
	part := func(sigs ...*Unwrapped) *inlinePart { return &inlinePart{sigs: sigs} }

	tests := []struct {
		name   string
		parts  []*inlinePart
		status spcrypto.Status
		reason string
	}{
		{"all good, one key", []*inlinePart{part(good("A", 1, t0)), part(good("A", 2, t0))}, spcrypto.StatusGood, ""},
		{"one part twice signed", []*inlinePart{part(good("A", 1, t0), good("A", 2, t0))}, spcrypto.StatusGood, ""},
		{"partial", []*inlinePart{part(good("A", 1, t0)), part()}, spcrypto.StatusUnsigned, "only some parts are signed"},
		{"none", []*inlinePart{part(), part()}, spcrypto.StatusUnsigned, "no part is signed"},
		{"different keys", []*inlinePart{part(good("A", 1, t0)), part(good("B", 2, t0))}, spcrypto.StatusBad, "parts are signed by different keys"},
		{"bad beats unsigned", []*inlinePart{part(bad), part()}, spcrypto.StatusBad, bad.Reason},
		{"bad beats unknown", []*inlinePart{part(unknown), part(bad), part(good("A", 1, t0))}, spcrypto.StatusBad, bad.Reason},
		{"unknown", []*inlinePart{part(good("A", 1, t0)), part(unknown)}, spcrypto.StatusUnknownSigner, unknown.Reason},
	}
	for _, tt := range tests {
		u := &Unwrapped{}
		u.aggregate(tt.parts)
		if u.Status != tt.status || u.Reason != tt.reason || (u.Signer != nil) != (tt.status == spcrypto.StatusGood) {
			t.Errorf("%s: Status = %v (%q), Signer %v; want %v (%q)", tt.name, u.Status, u.Reason, u.Signer, tt.status, tt.reason)
		}
	}

	u := &Unwrapped{}
	u.aggregate([]*inlinePart{part(good("A", 1, t0, "L", "X")), part(good("A", 2, t0.Add(time.Hour), "L"))})
	if len(u.IntendedRecipients) != 1 || u.IntendedRecipients[0] != "L" {
		t.Errorf("IntendedRecipients = %v, want only those every signature names", u.IntendedRecipients)
	}
	if !u.SignatureTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("SignatureTime = %v, want the latest", u.SignatureTime)
	}
	u = &Unwrapped{}
	u.aggregate([]*inlinePart{part(good("A", 1, t0, "L")), part(good("A", 2, t0))})
	if len(u.IntendedRecipients) != 0 {
		t.Errorf("IntendedRecipients = %v, want none when a signature names none", u.IntendedRecipients)
	}
}
