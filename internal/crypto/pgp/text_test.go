package pgp

import (
	"bytes"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestSignTextWithGPG: text signed with SignText and encrypted decrypts
// in gpg, as inline copies are read, to the text with LF line ends and
// its UTF-8 intact, with a good signature by the list key and exit
// status 0; the literal data is UTF-8 text ('u'), as RFC 9580 §5.9
// names it.
func TestSignTextWithGPG(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	bob := mustParse(t, g.Export(g.GenKey("Bob <bob@example.org>")))
	const text = "Grüße aus Köln — ça va? €\n\nSecond paragraph.\r\nA CRLF line and a last line without end"
	want := []byte("Grüße aus Köln — ça va? €\n\nSecond paragraph.\nA CRLF line and a last line without end")
	signed, err := SignText(list, []byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(bob, false)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Run(armored, "--decrypt")
	if !r.Verified(list.Fingerprint()) || !r.HasStatus("GOODMDC") {
		t.Errorf("gpg does not verify the text: %s", r.Report())
	}
	if !bytes.Equal(r.Stdout, want) {
		t.Errorf("gpg gives %q, want %q", r.Stdout, want)
	}
	// GnuPG's doc/DETAILS: PLAINTEXT <format> <timestamp> <filename>, the
	// format in hex: 75 is 'u'.
	if !r.HasStatus("PLAINTEXT", "75") {
		t.Errorf("literal data is not UTF-8 text:\n%s", r.Status)
	}
	if _, err := SignText(list, []byte("Gr\xfc\xdfe"), Options{}); err == nil {
		t.Error("SignText signs text that is not UTF-8")
	}
}
