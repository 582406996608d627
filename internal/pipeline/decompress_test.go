package pipeline_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestDecompressedSizeCountsAgainstTheLimit: DESIGN §4.8. A post that
// gpg compressed (zlib, level 9; RFC 9580 §5.6), signed and encrypted to
// a list or a gateway, 30 MiB of zeros in a few dozen KB, is refused when
// its content inflates past the address's max_message_size, without
// being inflated (bounded allocation), and with the uniform refusal of a
// message that cannot be decrypted (DESIGN §4.3: its integrity is not
// checked yet, and whether tampered ciphertext inflates is a fact about
// its plaintext), not the 552 of a message over the size, which the
// sender can see. A compressed post that inflates to less passes.
func TestDecompressedSizeCountsAgainstTheLimit(t *testing.T) {
	for _, mode := range []string{"list", "gateway"} {
		t.Run(mode, func(t *testing.T) { testDecompressedSize(t, mode == "gateway") })
	}
}

func testDecompressedSize(t *testing.T, gateway bool) {
	ctx := context.Background()
	const limit = 1 << 20
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	kind, want := store.KindPost, 2 // what the compressed post under the limit makes
	if gateway {
		gw, k := gatewayFixture(t, f)
		l, kind, want = &testList{rec: gw, key: k}, store.KindHelpdesk, 1
	}
	l.rec.Settings.MaxMessageSize = limit
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	to := l.rec.Address
	g := gpgtest.New(t)
	g.Import(l.key.Armored())
	alice := f.member("alice@example.org")
	sec, err := alice.ArmoredSecret()
	if err != nil {
		t.Fatal(err)
	}
	g.Import(sec)
	post := func(body []byte, recipient ...string) []byte {
		t.Helper()
		rcpt := l.key.Fingerprint()
		if len(recipient) > 0 {
			rcpt = recipient[0]
		}
		inner := append([]byte("Content-Type: text/plain; charset=us-ascii\r\nFrom: alice@example.org\r\nTo: "+to+
			"\r\nSubject: compressed\r\n\r\n"), body...)
		ct := g.MustRun(inner, "--batch", "--trust-model", "always", "--armor", "--compress-algo", "zlib", "--compress-level", "9",
			"--local-user", alice.Fingerprint(), "--recipient", rcpt, "--sign", "--encrypt").Stdout
		b, err := mime.NewBoundary(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		typ, mbody := pgp.EncryptedBody(ct, b)
		return append([]byte("From: alice@example.org\r\nTo: "+to+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+typ+"\r\n\r\n"), mbody...)
	}
	process := func(raw []byte, ref string) error {
		return f.p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: "alice@example.org", Rcpt: to, Raw: raw})
	}
	count := func(ref string) int {
		n := 0
		for _, d := range f.deliveries(ref) {
			if d.Kind == kind {
				n++
			}
		}
		return n
	}

	// A large post in the clear: the reply a message over the limit gets.
	err = process([]byte("From: alice@example.org\r\nTo: "+to+"\r\nSubject: big\r\n\r\n"+strings.Repeat("0123456789\r\n", limit/12+1)), "big")
	var tooLarge *pipeline.Rejection
	if !errors.As(err, &tooLarge) || tooLarge.Reason != policy.TooLarge {
		t.Fatalf("a post over the limit: %v, want refused as too large", err)
	}

	// Encrypted to another key: the uniform refusal.
	err = process(post([]byte("not for the list\r\n"), alice.Fingerprint()), "other-key")
	var uniform *pipeline.Rejection
	if !errors.As(err, &uniform) || uniform.Reason != policy.Undecryptable {
		t.Fatalf("a post encrypted to another key: %v, want refused as undecryptable", err)
	}

	bomb := post(bytes.Repeat([]byte("0"), 30<<20))
	if len(bomb) > limit/8 {
		t.Fatalf("the compressed post is %d bytes; the test needs one far under the limit", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = process(bomb, "bomb")
	runtime.ReadMemStats(&after)
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Reason != policy.Inflated {
		t.Fatalf("a post that inflates to 30 MiB: %v, want refused as inflated", err)
	}
	if rej.Code != uniform.Code || rej.Enhanced != uniform.Enhanced || rej.Text != uniform.Text {
		t.Errorf("refused with %q, a post that cannot be decrypted with %q: the replies must be the same", rej.Error(), uniform.Error())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*limit {
		t.Errorf("refusing it allocated %d MiB; the limit is %d MiB", alloc>>20, limit>>20)
	}
	if n := count("bomb"); n != 0 {
		t.Errorf("%d copies of the refused post", n)
	}

	// 600 KiB of text, compressed to a few KB: under the limit.
	if err := process(post(bytes.Repeat([]byte("All work and no play makes Jack a dull boy.\r\n"), 600<<10/45)), "normal"); err != nil {
		t.Fatalf("a compressed post under the limit: %v", err)
	}
	if n := count("normal"); n != want {
		t.Errorf("%d copies of the compressed post under the limit, want %d", n, want)
	}
}
