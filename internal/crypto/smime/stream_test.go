package smime

import (
	"bytes"
	"crypto/x509"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/memtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// streamEntity is a MIME entity of about size bytes whose lines end in
// LF, CRLF and a lone CR by turns; it ends in a lone CR when size says so.
func streamEntity(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 200)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nSubject: large\r\n\r\n")
	ends := []string{"\n", "\r\n", "\r"}
	for i := 0; b.Len() < size; i++ {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 50+i%29))
		b.WriteString(ends[i%3])
	}
	return b.Bytes()
}

// seededRand makes the standard library's randomness that of seed and
// returns a reader with the ChaCha8 stream of seed: two encryptions
// after seededRand(t, n) draw the same bytes.
func seededRand(t *testing.T, seed uint64) io.Reader {
	cryptotest.SetGlobalRandom(t, seed)
	var key [32]byte
	key[0] = byte(seed)
	return rand.NewChaCha8(key)
}

// TestEncryptEntityToSameAsEncrypt: with the same randomness the
// streamed body is the base64 lines of Encrypt's DER over the canonical
// entity, for every cipher, RSA and EC recipients, an entity in one
// chunk and one over several, one whose canonical length is a multiple
// of the AES block (a whole block of padding) and an empty one.
func TestEncryptEntityToSameAsEncrypt(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	rsaLeaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("p256@example.org", openssltest.P256, openssltest.LeafOptions{})
	block := []byte(strings.Repeat("0123456789abcde\n", 40)) // canonical 680 = 42.5 blocks
	block = append(block, "12345678"...)                     // 688 = 43 blocks
	entities := map[string][]byte{
		"small":  []byte("Content-Type: text/plain\n\nhello\n"),
		"chunks": streamEntity(3*sealChunk + 999),
		"blocks": block,
		"empty":  {},
	}
	for name, entity := range entities {
		for _, c := range envTestCiphers {
			for _, r := range []struct {
				cert *x509.Certificate
				kt   KeyTransport
			}{{rsaLeaf.Cert, RSAPKCS1v15}, {rsaLeaf.Cert, RSAOAEPSHA256}, {ecLeaf.Cert, 0}} {
				der, err := Encrypt(mime.Canonicalize(entity), []*x509.Certificate{r.cert}, EncryptOptions{Cipher: c.c, KeyTransport: r.kt, Rand: seededRand(t, 7)})
				if err != nil {
					t.Fatal(err)
				}
				var want, got bytes.Buffer
				writeBase64(&want, der)
				if err := EncryptEntityTo(&got, entity, r.cert, EncryptOptions{Cipher: c.c, KeyTransport: r.kt, Rand: seededRand(t, 7)}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s/%s/%T/%d: the streamed body differs from Encrypt's", name, c.name, r.cert.PublicKey, r.kt)
				}
			}
		}
	}
}

// TestEncryptEntityToInterop: `openssl cms -decrypt` opens a streamed
// body of several chunks with each cipher, and gpgsm the default copy
// (AES-256-CBC to RSA with PKCS#1 v1.5), both to the canonical entity.
func TestEncryptEntityToInterop(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("rsa.pem", leaf.Cert)
	o.WriteKey("rsa.key", leaf.Key)
	entity := streamEntity(2*sealChunk + 12345)
	canon := mime.Canonicalize(entity)
	for _, c := range envTestCiphers {
		var body bytes.Buffer
		body.WriteString("MIME-Version: 1.0\r\nContent-Type: " + EncryptedEntityType(EncryptOptions{Cipher: c.c}) +
			"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		if err := EncryptEntityTo(&body, entity, leaf.Cert, EncryptOptions{Cipher: c.c, KeyTransport: RSAPKCS1v15}); err != nil {
			t.Fatal(err)
		}
		res := o.Run(nil, "cms", "-decrypt", "-binary", "-inform", "SMIME", "-in", o.Write("msg.eml", body.Bytes()),
			"-recip", "rsa.pem", "-inkey", "rsa.key")
		if res.Err != nil || !bytes.Equal(res.Stdout, canon) {
			t.Errorf("%s: openssl: %v, %d bytes, want %d\n%s", c.name, res.Err, len(res.Stdout), len(canon), res.Stderr)
		}
	}

	const pass = "member-pass"
	g := gpgtest.New(t)
	g.ImportPKCS12(pass, func() []byte { return o.PKCS12(leaf.Cert, leaf.Key, pass) })
	var b bytes.Buffer
	if err := EncryptEntityTo(&b, entity, leaf.Cert, EncryptOptions{Cipher: AES256CBC, KeyTransport: RSAPKCS1v15}); err != nil {
		t.Fatal(err)
	}
	r := g.Gpgsm(b.Bytes(), "--assume-base64", "--decrypt")
	if r.Err != nil || !bytes.Equal(r.Stdout, canon) {
		t.Errorf("gpgsm --decrypt: %v, %d bytes, want %d\n%s", r.Err, len(r.Stdout), len(canon), r.Stderr)
	}
}

// TestEncryptEntityToMemory: encrypting a 25 MB entity with AES-CBC (the
// cipher of the default copy) allocates a few hundred kilobytes in all,
// whatever the entity's size.
func TestEncryptEntityToMemory(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	entity := streamEntity(25 << 20)
	sink := &memtest.Sink{}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := EncryptEntityTo(sink, entity, leaf.Cert, EncryptOptions{Cipher: AES256CBC, KeyTransport: RSAPKCS1v15}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	const slack = 4 << 20
	if total := after.TotalAlloc - before.TotalAlloc; total > slack {
		t.Errorf("allocated %d bytes to encrypt %d, want at most %d", total, len(entity), slack)
	}
	if grew := int64(sink.Peak) - int64(before.HeapAlloc); grew > slack {
		t.Errorf("live heap grew by %d bytes while encrypting %d, want at most %d", grew, len(entity), slack)
	}
	t.Logf("%d bytes encrypted to %d: allocated %d, peak live growth %d", len(entity), sink.Written,
		after.TotalAlloc-before.TotalAlloc, int64(sink.Peak)-int64(before.HeapAlloc))
}

// BenchmarkEncryptEntityStream is the per-recipient cost of a large
// S/MIME copy: a 1 MiB entity encrypted with AES-256-CBC to an RSA
// certificate (PKCS#1 v1.5) and base64-encoded into a writer that
// discards it.
func BenchmarkEncryptEntityStream(b *testing.B) {
	ca := openssltest.NewCA(b, openssltest.RSA2048)
	leaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	entity := streamEntity(1 << 20)
	b.SetBytes(int64(len(entity)))
	b.ReportAllocs()
	for b.Loop() {
		if err := EncryptEntityTo(io.Discard, entity, leaf.Cert, EncryptOptions{Cipher: AES256CBC, KeyTransport: RSAPKCS1v15}); err != nil {
			b.Fatal(err)
		}
	}
}
