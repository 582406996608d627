package pgp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
)

// FuzzUnwrap feeds whole messages to PGP/MIME detection, armor decoding
// and decryption with a fixed list key: no input may panic, and nothing
// may decrypt without integrity protection.
func FuzzUnwrap(f *testing.F) {
	list := newListKeyFuzz(f)
	signed, _ := Sign(list, []byte(entity), Options{})
	ct, _ := signed.EncryptTo(list, false)
	_, body := EncryptedBody(ct, "b")
	f.Add(append([]byte("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n"), body...))
	f.Add([]byte("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n--b\r\n\r\nVersion: 1\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA0\r\n-----END PGP MESSAGE-----\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: text/plain\r\n\r\nhello\r\n"))
	// Every OpenPGP message of the corpus is a seed too.
	if files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "shared", "corpus", "thunderbird-openpgp", "eml", "*.eml")); err == nil {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := mime.Parse(raw, mime.Limits{MaxSize: 1 << 20})
		if err != nil {
			return
		}
		u, err := Unwrap(msg, list, []*Key{list}, Options{MaxPlaintext: 1 << 20})
		if err == nil && u.Protection.Integrity == "" {
			t.Fatalf("decrypted without integrity protection: %+v", u.Protection)
		}
	})
}

func newListKeyFuzz(f *testing.F) *Key {
	k, err := GenerateKey("Team", listAddr, Ed25519, Options{})
	if err != nil {
		f.Fatal(err)
	}
	return k
}
