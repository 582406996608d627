package pgp

import (
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestPQListKeyGPG22: GnuPG 2.2 imports a pq list key whole (it keeps the
// ML-KEM subkey as algorithm 35 it cannot use), and its classical export;
// it encrypts posts to the Cv25519 subkey (PKESK algorithm 18), which
// Sealpost decrypts with a good signature by the member, and it verifies
// a copy the list signed.
func TestPQListKeyGPG22(t *testing.T) {
	g := gpgtest.New(t)
	list, err := GenerateKey("Team", listAddr, PQ, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Import(list.Armored())
	listed := impGPGKeys(t, g)[list.Fingerprint()]
	if listed == nil || !slices.Equal(listed.subFprs, list.SubkeyFingerprints()) {
		t.Fatalf("gpg lists %+v, want subkeys %v", listed, list.SubkeyFingerprints())
	}
	cols := string(g.MustRun(nil, "--with-colons", "--list-keys", list.Fingerprint()).Stdout)
	if !strings.Contains(cols, ":35:") {
		t.Errorf("gpg does not keep the algorithm 35 subkey:\n%s", cols)
	}

	fpr := g.GenKey("Alice <alice@example.org>")
	alice := mustParse(t, g.Export(fpr))
	r := g.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", list.Fingerprint(), "-u", fpr)
	if got := shapeOf(t, r.Stdout, list); !slices.Equal(got.pkesk, []string{"v3/18"}) || got.seipd != 1 {
		t.Errorf("gpg encrypted %+v, want one v3 PKESK to Cv25519 (18) and SEIPD v1", got)
	}
	u, err := Unwrap(pgpMIME(t, r.Stdout), list, []*Key{alice}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGood(t, u, fpr)
	if string(u.Content) != entity {
		t.Errorf("Content = %q", u.Content)
	}

	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := signed.EncryptTo(alice, true)
	if err != nil {
		t.Fatal(err)
	}
	checkGPGCopy(t, g, out, list.Fingerprint(), entity)

	classic := gpgtest.New(t)
	classic.Import(list.ClassicArmored())
	if l := impGPGKeys(t, classic)[list.Fingerprint()]; l == nil || len(l.subFprs) != 1 || l.subFprs[0] != list.SubkeyFingerprints()[0] {
		t.Errorf("gpg lists the classic export as %+v", l)
	}
}
