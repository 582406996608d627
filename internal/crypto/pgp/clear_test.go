package pgp

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
	"testing"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// clearText has what the cleartext framework (RFC 9580 §7) must handle:
// lines that start with dashes (dash-escaped by gpg), trailing whitespace
// (not signed, so not distributed), and non-ASCII text.
const clearText = "Hello list,   \n- a line that starts with a dash\n-----BEGIN looks like armor\nGrüße\t\nbye\n"

// clearSignedText is clearText as signed: trailing whitespace removed.
const clearSignedText = "Hello list,\n- a line that starts with a dash\n-----BEGIN looks like armor\nGrüße\nbye\n"

// qpTextEntity is a text/plain entity whose body is text, quoted-printable,
// as Thunderbird sends an inline-signed text.
func qpTextEntity(text []byte) string {
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write(mime.Canonicalize(text))
	w.Close()
	return "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String()
}

// TestClearSignedCountsAsSigned: a text that is one cleartext-signed
// message (Enigmail's "signed inline", RT's clear-signed mail, both made
// here with gpg --clearsign) counts as signed by its signer inside PGP/MIME
// encryption, encrypted as it is, and unencrypted; Content is then the
// signed text alone.
func TestClearSignedCountsAsSigned(t *testing.T) {
	e := newInlineEnv(t)
	clear := e.g.MustRun([]byte(clearText), "--clearsign", "-u", e.fpr).Stdout
	if !bytes.Contains(clear, []byte("\n- - a line")) || !bytes.Contains(clear, []byte("\n- -----BEGIN looks")) {
		t.Fatalf("gpg did not dash-escape:\n%s", clear)
	}
	want := textContent("UTF-8", clearSignedText)
	pgpmime := func(t *testing.T, plain []byte) *Unwrapped {
		t.Helper()
		u, err := Unwrap(pgpMIME(t, e.encrypt(t, plain, "--armor")), e.list, e.members, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	plain := func(t *testing.T, entity string) *Unwrapped {
		t.Helper()
		u := VerifySigned(inlineMsg(t, entity), e.members, Options{})
		if u.Protection.Encrypted {
			t.Errorf("Protection = %+v", u.Protection)
		}
		return u
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T) *Unwrapped
		want string
	}{
		{"PGP/MIME, a text/plain entity inside", func(t *testing.T) *Unwrapped { return pgpmime(t, []byte(qpTextEntity(clear))) }, want},
		{"PGP/MIME, the clear-signed text encrypted as it is", func(t *testing.T) *Unwrapped { return pgpmime(t, clear) }, textContent("utf-8", clearSignedText)},
		{"unencrypted text/plain", func(t *testing.T) *Unwrapped { return plain(t, qpTextEntity(clear)) }, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.run(t)
			if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != e.fpr || len(u.SignatureDigest) != 32 {
				t.Fatalf("Status = %v (%s), Signer = %+v; want good by %s", u.Status, u.Reason, u.Signer, e.fpr)
			}
			if string(u.Content) != tc.want {
				t.Errorf("Content = %q\nwant %q", u.Content, tc.want)
			}
		})
	}

	t.Run("unknown signer", func(t *testing.T) {
		u := VerifySigned(inlineMsg(t, qpTextEntity(clear)), nil, Options{})
		if u.Status != spcrypto.StatusUnknownSigner || u.Signer != nil || u.IssuerKeyID != e.members[0].KeyID() {
			t.Errorf("Status = %v, Signer %v, issuer %q; want unknown-signer naming %s", u.Status, u.Signer, u.IssuerKeyID, e.members[0].KeyID())
		}
	})
}

// TestClearSignedMixing: text outside the signed block was not signed and
// must not pass as signed (EFAIL-style mixing): the message is refused as
// StatusBad, never distributed as the member's, whether it was encrypted
// or not. So is a text altered after signing, or whose Hash header lies.
func TestClearSignedMixing(t *testing.T) {
	e := newInlineEnv(t)
	clear := string(e.g.MustRun([]byte(clearText), "--clearsign", "-u", e.fpr).Stdout)
	hash := "SHA512"
	if strings.Contains(clear, "Hash: SHA512") {
		hash = "SHA256"
	}
	for _, tt := range []struct{ name, text string }{
		{"text before the signed block", "Please wire the money to the account below.\n\n" + clear},
		{"text after the signed block", clear + "\nP.S. the account changed: ...\n"},
		{"two signed blocks", clear + clear},
		{"text altered", strings.Replace(clear, "bye", "BYE", 1)},
		{"Hash header mismatch", hashHeaderReplaced(clear, hash)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct := e.encrypt(t, []byte(qpTextEntity([]byte(tt.text))), "--armor")
			u, err := Unwrap(pgpMIME(t, ct), e.list, e.members, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != spcrypto.StatusBad || u.Signer != nil {
				t.Errorf("PGP/MIME: Status = %v (%s), Signer = %v; want bad", u.Status, u.Reason, u.Signer)
			}
			u = VerifySigned(inlineMsg(t, qpTextEntity([]byte(tt.text))), e.members, Options{})
			if u.Status != spcrypto.StatusBad || u.Signer != nil {
				t.Errorf("unencrypted: Status = %v (%s), Signer = %v; want bad", u.Status, u.Reason, u.Signer)
			}
			inline := mustUnwrapInline(t, inlineMsg(t, textEntity("utf-8", e.encrypt(t, []byte(tt.text), "--armor"))), e.list, e.members, Options{})
			if inline.Status != spcrypto.StatusBad || inline.Signer != nil {
				t.Errorf("inline: Status = %v (%s), Signer = %v; want bad", inline.Status, inline.Reason, inline.Signer)
			}
		})
	}
	t.Run("quoted, not at the start of a line", func(t *testing.T) {
		quoted := "You wrote:\n> " + strings.ReplaceAll(clear, "\n", "\n> ")
		u := VerifySigned(inlineMsg(t, textEntity("utf-8", []byte(quoted))), e.members, Options{})
		if u.Status != spcrypto.StatusUnsigned {
			t.Errorf("Status = %v (%s), want unsigned", u.Status, u.Reason)
		}
	})
}

// FuzzVerifySigned: no unencrypted message may panic the verifier, and a
// good signature always comes with its signer and a digest.
func FuzzVerifySigned(f *testing.F) {
	list := newListKeyFuzz(f)
	clear, err := ClearSign(list, []byte("Hello list,\r\n- dashed\r\n"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	sig, err := DetachSign(list, []byte("Content-Type: text/plain\r\n\r\nhi\r\n"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range []string{
		textEntity("utf-8", clear),
		qpTextEntity(clear),
		textEntity("utf-8", append([]byte("before\n"), clear...)),
		multipartEntity("multipart/signed; protocol=\"application/pgp-signature\"", "s1",
			"Content-Type: text/plain\r\n\r\nhi", "Content-Type: application/pgp-signature\r\n\r\n"+string(sig)),
	} {
		f.Add([]byte("MIME-Version: 1.0\r\n" + e))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := mime.Parse(raw, mime.Limits{MaxSize: 1 << 20})
		if err != nil {
			return
		}
		u := VerifySigned(msg, []*Key{list}, Options{MaxPlaintext: 1 << 20})
		if u.Status == spcrypto.StatusGood && (u.Signer == nil || len(u.SignatureDigest) != 32) {
			t.Fatalf("good signature without signer or digest: %+v", u)
		}
	})
}
