package pgp

import (
	"bytes"
	"testing"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
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
// to the member's key and the signed 4 KiB post encrypted and armored.
// cv25519: an Ed25519/Cv25519 key (ECDH); pq: a key with an RFC 9980
// ML-KEM-768+X25519 subkey (--key-algo pq), which the copy goes to. It
// reports the size of one armored copy.
func BenchmarkEncryptTo(b *testing.B) {
	list := newListKeyB(b)
	signed, err := Sign(list, bytes.Repeat([]byte("0123456789abcdef"), 256), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, algo := range []Algorithm{Ed25519, PQ} {
		name := map[Algorithm]string{Ed25519: "cv25519", PQ: "pq"}[algo]
		b.Run(name, func(b *testing.B) {
			member, err := GenerateKey("", "m@example.org", algo, Options{})
			if err != nil {
				b.Fatal(err)
			}
			var size int
			for b.Loop() {
				out, err := signed.EncryptTo(member, false)
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(size), "bytes/copy")
		})
	}
}

func newListKeyB(b *testing.B) *Key {
	k, err := GenerateKey("Team", listAddr, Ed25519, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkDecryptVerify is the per-post cost on the way in: one 4 KiB
// post signed by a member and encrypted to the list, as PGP/MIME (RFC
// 3156 §4), parsed, decrypted with the list's key and its signature
// checked against the member's key. With BenchmarkSignOnce and
// BenchmarkEncryptTo it gives the cryptographic lower bound of a post
// (bench/fanout.sh).
func BenchmarkDecryptVerify(b *testing.B) {
	list := newListKeyB(b)
	member, err := GenerateKey("", "m@example.org", Ed25519, Options{})
	if err != nil {
		b.Fatal(err)
	}
	memberPub, err := ParseKey(member.PublicBytes())
	if err != nil {
		b.Fatal(err)
	}
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: m@example.org\r\nTo: " + listAddr +
		"\r\nSubject: post\r\n\r\n" + string(bytes.Repeat([]byte("0123456789abcde\n"), 256))
	signed, err := Sign(member, []byte(inner), Options{})
	if err != nil {
		b.Fatal(err)
	}
	armored, err := signed.EncryptTo(list, false)
	if err != nil {
		b.Fatal(err)
	}
	ct, body := EncryptedBody(armored, "b1")
	raw := []byte("From: m@example.org\r\nTo: " + listAddr + "\r\nSubject: ...\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n" + string(body))
	signers := []*Key{memberPub}
	for b.Loop() {
		msg, err := mime.Parse(raw, mime.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		u, err := Unwrap(msg, list, signers, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if u.Status != spcrypto.StatusGood {
			b.Fatalf("signature status %v (%s), want good", u.Status, u.Reason)
		}
	}
}
