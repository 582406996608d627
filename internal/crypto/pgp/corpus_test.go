package pgp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

func corpus(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "corpus", "thunderbird-openpgp", dir, name))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

// TestCorpusRemoteContent: the rc-openpgp-* messages (PROVENANCE.md §1b),
// encrypted to Bob, probe integrity handling.
func TestCorpusRemoteContent(t *testing.T) {
	bob, err := ParseKey(corpus(t, "keys", "bob@openpgp.example-0xfbfcc82a015e7330-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file      string
		err       error  // nil: decrypts
		integrity string // when it decrypts
	}{
		{"rc-openpgp-mdc.eml", nil, "mdc"},
		// LibrePGP OCB packet (tag 20): integrity protected.
		{"rc-openpgp-aead.eml", nil, "aead"},
		{"rc-openpgp-nomdc.eml", ErrIntegrity, ""},
		{"rc-openpgp-mdc-tampered.eml", ErrIntegrity, ""},
		// The encrypted part is a sibling of attacker HTML, not the message.
		{"rc-openpgp-mixed-subpart.eml", ErrNotEncrypted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			msg, err := mime.Parse(corpus(t, "eml", tt.file), mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			u, err := Unwrap(msg, bob, nil, Options{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || u != nil {
					t.Fatalf("Unwrap = %+v, %v; want %v and nothing decrypted", u, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Protection.Integrity != tt.integrity || u.Status != spcrypto.StatusUnsigned || len(u.Content) == 0 {
				t.Errorf("Unwrap = %+v, want %s and unsigned", u.Protection, tt.integrity)
			}
		})
	}
}
