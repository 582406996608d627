package pgp

import (
	"bytes"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestNoSaltNotation: with Options.NoSaltNotation a signature carries no
// salt@notations.openpgpjs.org notation, whose random binary value mutt
// and NeoMutt show under the signature (issue 15); by default the library
// adds it.
func TestNoSaltNotation(t *testing.T) {
	k, err := GenerateKey("List", "team@lists.example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	notations := func(opt Options) []string {
		sig, err := DetachSign(k, []byte("Content-Type: text/plain\r\n\r\nhello\r\n"), opt)
		if err != nil {
			t.Fatal(err)
		}
		block, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			t.Fatal(err)
		}
		p, err := packet.Read(block.Body)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range p.(*packet.Signature).Notations {
			names = append(names, n.Name)
		}
		return names
	}
	if got := notations(Options{NoSaltNotation: true}); len(got) != 0 {
		t.Errorf("notations with NoSaltNotation: %q, want none", got)
	}
	if got := notations(Options{}); len(got) != 1 || got[0] != packet.SaltNotationName {
		t.Errorf("notations by default: %q", got)
	}
}
