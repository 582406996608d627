package pgp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/memtest"
	"github.com/sealpost/sealpost/internal/mime"
)

// bigEntity is a MIME entity of about size bytes whose lines end in LF,
// CRLF and a lone CR by turns, so that canonicalisation has work to do.
func bigEntity(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 200)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nTo: " + listAddr + "\r\nSubject: large\r\n\r\n")
	ends := []string{"\n", "\r\n", "\r"}
	for i := 0; b.Len() < size; i++ {
		b.WriteString("line ")
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 60+i%13))
		b.WriteString(ends[i%3])
	}
	return b.Bytes()
}

// seeded returns Options whose randomness is the ChaCha8 stream of seed
// and whose clock stands still, and makes the standard library's
// randomness that of seed too: two encryptions under seeded(t, n) are
// the same bytes.
func seeded(t *testing.T, seed uint64, now time.Time) Options {
	cryptotest.SetGlobalRandom(t, seed)
	var key [32]byte
	key[0] = byte(seed)
	return Options{Rand: rand.NewChaCha8(key), Now: func() time.Time { return now }}
}

// TestEncryptToWriterSameAsInMemory: with the same randomness the
// streamed message is the bytes of EncryptTo, and EncryptBodyTo those of
// EncryptedBody around it, for a message in one chunk and one of many.
func TestEncryptToWriterSameAsInMemory(t *testing.T) {
	list := newListKey(t)
	member, err := GenerateKey("", "m@example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, size := range []int{len(entity), copyChunk - 100, 5*copyChunk + 7} {
		signed, err := Sign(list, bigEntity(size), Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := LoadSigned(signed.Bytes(), seeded(t, 1, now)).EncryptTo(member, false)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := LoadSigned(signed.Bytes(), seeded(t, 1, now)).EncryptToWriter(&got, member, false); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%d bytes: EncryptToWriter differs from EncryptTo", size)
		}
		_, wantBody := EncryptedBody(want, "b1")
		got.Reset()
		if err := LoadSigned(signed.Bytes(), seeded(t, 1, now)).EncryptBodyTo(&got, member, false, "b1"); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), wantBody) {
			t.Errorf("%d bytes: EncryptBodyTo differs from EncryptedBody(EncryptTo)", size)
		}
	}
}

// TestStreamedCopyDecrypts: a multi-chunk copy written by EncryptBodyTo
// decrypts in gpg with integrity and the list's good signature, and in
// Unwrap under SEIPD v1 and v2.
func TestStreamedCopyDecrypts(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	bob := mustParse(t, g.Export(g.GenKey("Bob <bob@example.org>")))
	body := bigEntity(3*copyChunk + 1000)
	signed, err := Sign(list, body, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var armored bytes.Buffer
	if err := signed.EncryptToWriter(&armored, bob, false); err != nil {
		t.Fatal(err)
	}
	r := g.MustRun(armored.Bytes(), "--decrypt")
	if !r.HasStatus("DECRYPTION_OKAY") || !r.HasStatus("GOODMDC") || !r.Verified(list.Fingerprint()) {
		t.Errorf("gpg does not decrypt and verify the streamed copy:\n%s", r.Report())
	}
	if !bytes.Equal(r.Stdout, mime.Canonicalize(body)) {
		t.Errorf("gpg decrypts %d bytes, want the %d of the canonical entity", len(r.Stdout), len(mime.Canonicalize(body)))
	}

	for _, v2 := range []bool{false, true} {
		member := aeadKey(t, "m@example.org")
		var b bytes.Buffer
		b.WriteString("From: team@lists.example.org\r\nTo: m@example.org\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: " + EncryptedContentType("b1") + "\r\n\r\n")
		if err := signed.EncryptBodyTo(&b, member, v2, "b1"); err != nil {
			t.Fatal(err)
		}
		msg, err := mime.Parse(b.Bytes(), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := Unwrap(msg, member, []*Key{list}, Options{})
		if err != nil {
			t.Fatalf("v2 %v: %v", v2, err)
		}
		want := map[bool]string{false: "mdc", true: "aead"}[v2]
		if u.Status != spcrypto.StatusGood || u.Protection.Integrity != want || !bytes.Equal(u.Content, mime.Canonicalize(body)) {
			t.Errorf("v2 %v: Unwrap = %v %q (%s), %d content bytes; want a good signature under %s over the entity",
				v2, u.Status, u.Protection.Integrity, u.Reason, len(u.Content), want)
		}
	}
}

// TestEncryptToWriterMemory: encrypting a 25 MB post to a writer holds
// no more than a few megabytes beyond the signed message at any time,
// and allocates in all little more than the message: the library's
// encrypting writer copies each chunk it is given (cipher.StreamWriter),
// which is garbage at once; nothing else grows with the size.
func TestEncryptToWriterMemory(t *testing.T) {
	const size = 25 << 20
	list := newListKey(t)
	member, err := GenerateKey("", "m@example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(list, bigEntity(size), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memtest.Sink{}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := signed.EncryptToWriter(sink, member, false); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	const slack = 4 << 20
	if grew := int64(sink.Peak) - int64(before.HeapAlloc); grew > slack {
		t.Errorf("live heap grew by %d bytes while encrypting %d, want at most %d", grew, len(signed.Bytes()), slack)
	}
	if total := after.TotalAlloc - before.TotalAlloc; total > uint64(len(signed.Bytes()))+slack {
		t.Errorf("allocated %d bytes to encrypt %d, want at most %d more", total, len(signed.Bytes()), slack)
	}
	t.Logf("%d bytes encrypted to %d: peak live growth %d, allocated %d", len(signed.Bytes()), sink.Written,
		int64(sink.Peak)-int64(before.HeapAlloc), after.TotalAlloc-before.TotalAlloc)
}

// aeadKey is a key that advertises SEIPD v2 (RFC 9580 §5.2.3.32).
func aeadKey(t *testing.T, addr string) *Key {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, AEADConfig: &packet.AEADConfig{}}
	e, err := openpgp.NewEntity("", "", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{e: e}
}

// BenchmarkEncryptToWriter is the per-recipient cost of a large post:
// a signed 1 MiB entity encrypted to a Cv25519 key and armored into a
// writer that discards it.
func BenchmarkEncryptToWriter(b *testing.B) {
	list := newListKeyB(b)
	member, err := GenerateKey("", "m@example.org", Ed25519, Options{})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := Sign(list, bigEntity(1<<20), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed.Bytes())))
	b.ReportAllocs()
	for b.Loop() {
		if err := signed.EncryptToWriter(io.Discard, member, false); err != nil {
			b.Fatal(err)
		}
	}
}
