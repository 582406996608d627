package pgp

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestSEIPDv1: the packet writeSEIPDv1 writes is read by the library's
// SEIPD v1 reader with a good MDC, at every boundary of the one-, two-
// and five-octet length forms and across the chunks it encrypts in, and
// a changed octet anywhere in the ciphertext fails the MDC. (gpg reads
// it in TestStreamedCopyDecrypts and the interop tests.)
func TestSEIPDv1(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	// The body is the plaintext and 41 octets (version, prefix, MDC).
	for _, n := range []int{0, 1, 150, 151, 8342, 8343, copyChunk - 18, copyChunk, 3*copyChunk + 5} {
		plain := make([]byte, n)
		rand.Read(plain)
		var b bytes.Buffer
		if err := writeSEIPDv1(&b, key, plain, rand.Reader); err != nil {
			t.Fatal(err)
		}
		got, err := readSEIPD(b.Bytes(), key)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d octets: read %d octets, %v", n, len(got), err)
		}
		if n == 0 {
			continue
		}
		for _, at := range []int{b.Len() - 1, b.Len() - 25, b.Len() / 2} {
			bad := bytes.Clone(b.Bytes())
			bad[at] ^= 1
			if _, err := readSEIPD(bad, key); err == nil {
				t.Errorf("%d octets: a changed octet at %d of %d is not detected", n, at, len(bad))
			}
		}
	}
}

// readSEIPD decrypts one SEIPD packet with the library, MDC checked.
func readSEIPD(data, key []byte) ([]byte, error) {
	p, err := packet.Read(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	se, ok := p.(*packet.SymmetricallyEncrypted)
	if !ok {
		return nil, io.ErrUnexpectedEOF
	}
	rc, err := se.Decrypt(packet.CipherAES256, key)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return got, rc.Close()
}
