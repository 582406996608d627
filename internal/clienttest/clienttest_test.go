package clienttest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestReadersCatchTrouble: each reader tells a good signature from a
// broken one and a message it decrypted from one it could not, so that a
// reader that silently stopped seeing trouble does not pass as "nothing
// wrong" (the messages are made by gpg, not by Sealpost).
func TestReadersCatchTrouble(t *testing.T) {
	Require(t, "gpg", "notmuch", "mutt", "neomutt", "tmux")
	g := gpgtest.New(t)
	fpr := g.GenKey("Signer <signer@example.org>")
	other := gpgtest.New(t)
	otherFpr := other.GenKey("Other <other@example.org>")

	content := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, signed.\r\n"
	// RFC 3156 §5: the signed part ends before the CRLF of the delimiter.
	sig := g.MustRun([]byte(strings.TrimSuffix(content, "\r\n")), "--armor", "--detach-sign", "-u", fpr).Stdout
	signed := []byte("From: signer@example.org\r\nTo: reader@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\n" + content + "--b\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--b--\r\n")
	tampered := bytes.Replace(signed, []byte("Grüße, signed."), []byte("Grüße, altered."), 1)
	armored := other.MustRun([]byte(content), "--armor", "--encrypt", "-r", otherFpr).Stdout
	undecryptable := []byte("From: signer@example.org\r\nTo: reader@example.org\r\nSubject: encrypted\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n" +
		"--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\n" +
		string(armored) + "\r\n--e--\r\n")

	readers := map[string]func(*testing.T, []byte) Reading{
		"gpg":     func(t *testing.T, m []byte) Reading { return GPGRead(t, g, m) },
		"notmuch": func(t *testing.T, m []byte) Reading { return NewNotmuch(t, g.Home).Read(m) },
		"mutt":    func(t *testing.T, m []byte) Reading { return NewMutt(t, "mutt", g.Home).Read(m) },
		"neomutt": func(t *testing.T, m []byte) Reading { return NewMutt(t, "neomutt", g.Home).Read(m) },
	}
	for name, readWith := range readers {
		t.Run(name, func(t *testing.T) {
			read := func(m []byte) Reading { return readWith(t, m) }
			if r := read(signed); !r.GoodSignature || len(r.Trouble) > 0 || (r.Signer != "" && !strings.EqualFold(r.Signer, fpr)) ||
				r.Subject != "signed" || !strings.Contains(r.Text, "Grüße, signed.") {
				t.Errorf("good signature: good %v by %q, trouble %q, Subject %q, text %q\n%s", r.GoodSignature, r.Signer, r.Trouble, r.Subject, r.Text, r.Raw)
			}
			if r := read(tampered); r.GoodSignature || len(r.Trouble) == 0 {
				t.Errorf("altered text: good %v, trouble %q\n%s", r.GoodSignature, r.Trouble, r.Raw)
			}
			if r := read(undecryptable); r.Decrypted || len(r.Trouble) == 0 {
				t.Errorf("encrypted to another key: decrypted %v, trouble %q\n%s", r.Decrypted, r.Trouble, r.Raw)
			}
		})
	}
}

// TestMuttTroubleWords: the words that mark trouble in mutt's notes are
// found as words, never inside a fingerprint's hexadecimal groups.
func TestMuttTroubleWords(t *testing.T) {
	for note, want := range map[string]bool{
		"Fingerprint: 7970 7F77 E06C 7527 AB5C  DBAD 631D 9D65 56CC 92F4": false,
		"Fingerprint: BAD0 0BAD FAB1 DEAD BEEF CAFE BADA 55ED 0000 1111":  false,
		"Good signature from: <team@lists.example.org>":                   false,
		"[-- The following data is PGP/MIME signed and encrypted --]":     false,
		"*BAD* signature from: <team@lists.example.org>":                  true,
		"Decryption failed": true,
		"[-- Error: could not find beginning of PGP message! --]":  true,
		"Problem signature from: <x@example.org>":                  true,
		"WARNING: The key used to create the signature expired at": true,
	} {
		if got := muttTrouble.MatchString(note); got != want {
			t.Errorf("%q: trouble %v, want %v", note, got, want)
		}
	}
}
