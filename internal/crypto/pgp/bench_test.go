package pgp

import (
	"bytes"
	"testing"
)

// BenchmarkSignOnce is the per-post cost: one signature over a 4 KiB entity.
func BenchmarkSignOnce(b *testing.B) {
	list := newListKeyB(b)
	body := bytes.Repeat([]byte("0123456789abcdef"), 256)
	for b.Loop() {
		if _, err := Sign(list, body, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptTo is the per-recipient cost: one session key encrypted
// to a Cv25519 key and the signed 4 KiB post encrypted and armored.
func BenchmarkEncryptTo(b *testing.B) {
	list := newListKeyB(b)
	member, err := GenerateKey("", "m@example.org", Ed25519, Options{})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := Sign(list, bytes.Repeat([]byte("0123456789abcdef"), 256), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := signed.EncryptTo(member, false); err != nil {
			b.Fatal(err)
		}
	}
}

func newListKeyB(b *testing.B) *Key {
	k, err := GenerateKey("Team", listAddr, Ed25519, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return k
}
