package pipeline_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestCorpusThunderbird runs real Thunderbird messages (../shared/corpus,
// PROVENANCE.md §1b) through the list pipeline. Alice's key plays the
// list's key, so mail Thunderbird encrypted to Alice is a post to the list
// alice@openpgp.example, and Bob and Carol are members. The outcomes are
// the corpus's "relay outcome" column under the default list policy.
func TestCorpusThunderbird(t *testing.T) {
	aliceKey, err := pgp.ParseKey(corpusKey(t, "alice@openpgp.example-0xf231550c4f47e38e-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	// Several corpus files wrap the same signed message, so each runs on
	// a fresh list: on one list the second would rightly be a replay.
	// The corpus signatures are from 2020 to 2026; the keys do not expire.
	fresh := func(t *testing.T) (*fixture, *testList) {
		f := newFixture(t)
		l := f.listWithKey("alice@openpgp.example", aliceKey)
		f.addMember(l, "bob@openpgp.example", corpusKey(t, "bob@openpgp.example-0xfbfcc82a015e7330-pub.asc"))
		f.addMember(l, "carol@example.com", corpusKey(t, "carol@example.com-0x3099ff1238852b9f-pub.asc"))
		return f, l
	}

	tests := []struct {
		file string
		want policy.Reason // policy.OK: distributed
	}{
		// ACCEPT(enc, signer Bob): inner multipart/signed, protected To.
		{"signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", policy.OK},
		// Same post with Bob's key attached: its own signature, accepted.
		{"signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-with-key.eml", policy.OK},
		// Two From fields (Eve, then Bob): sender ambiguous.
		{"signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-multi-from.eml", policy.FromMismatch},
		// ACCEPT(enc, signer Carol), Carol being a member here.
		{"signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e.eml", policy.OK},
		// Decrypts (wildcard key ID, trial decryption) but is unsigned.
		{"encrypted-to-alice-as-hidden-recipient.eml", policy.Unsigned},
		// Decrypts; the inner S/MIME signature is not an OpenPGP one.
		{"inner-smime-sig-in-pgp-encrypted.eml", policy.Unsigned},
		// Not encrypted at the top level.
		{"alice-signed.eml", policy.NotEncrypted},
		{"fwd-unsigned-encrypted.eml", policy.NotEncrypted},
		{"outer-pgp-sig-inner-pgp-enc-with-mixed.eml", policy.NotEncrypted},
		{"signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted.eml", policy.NotEncrypted},
		// Encrypted to Bob, not to this list's key.
		{"rc-openpgp-mdc.eml", policy.Undecryptable},
		// QUIRK(exchange): repaired, decrypts, but nobody signed it.
		{"alice-broken-exchange.eml", policy.Unsigned},
		// QUIRK(transport-signature): the outer signature over the
		// ciphertext is ignored; Carol's signature inside counts.
		{"outer-pgp-sig-inner-pgp-enc-sig.eml", policy.OK},
		{"outer-smime-bad-sig-inner-pgp-enc-sig.eml", policy.OK},
		{"outer-pgp-sig-inner-pgp-enc.eml", policy.Unsigned},
		// Encryption below multipart/mixed is never looked for (EFAIL).
		{"outer-smime-bad-sig-inner-pgp-enc-sig-with-mixed.eml", policy.NotEncrypted},
	}
	for i, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, l := fresh(t)
			ref := "corpus" + string(rune('a'+i))
			err := f.process(l, corpusFile(t, "eml", tt.file), ref)
			var rej *pipeline.Rejection
			switch {
			case tt.want == policy.OK && err != nil:
				t.Fatalf("Process = %v, want distributed", err)
			case tt.want != policy.OK && (!errors.As(err, &rej) || rej.Reason != tt.want):
				t.Fatalf("Process = %v, want rejection %v", err, tt.want)
			}
			posts := 0
			for _, d := range f.deliveries(ref) {
				if d.Kind == store.KindPost {
					posts++
				}
			}
			if tt.want == policy.OK && posts != 2 || tt.want != policy.OK && posts != 0 {
				t.Errorf("%d copies distributed", posts)
			}
		})
	}
}

// TestCorpusAutocrypt: the Autocrypt Level 1 examples (PROVENANCE.md §2)
// parse, and their keydata is Alice's key; it is expired since 2021, so
// keyring refuses it as a member key.
func TestCorpusAutocrypt(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "corpus", "autocrypt", "appendix", "example-simple-autocrypt.eml"))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	msg, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	addr, data, err := mail.ParseAutocrypt(msg.Header.Get("Autocrypt"))
	if err != nil || addr != "alice@autocrypt.example" {
		t.Fatalf("ParseAutocrypt = %q, %v", addr, err)
	}
	k, err := pgp.ParseKey(data)
	if err != nil || k.Fingerprint() != "EB85BB5FA33A75E15E944E63F231550C4F47E38E" {
		t.Fatalf("keydata: %v", err)
	}
	if keyring.CheckMemberKey(k.Info(time.Now()), addr, time.Now()) == nil {
		t.Error("the expired Autocrypt example key counts as usable")
	}
}

// TestCorpusRemoteContentThroughPipeline: the rc-openpgp-* messages, which
// are encrypted to Bob, with Bob's key as the list's (PROVENANCE.md §1b).
// None is signed inside, so none is distributed; what matters is why.
func TestCorpusRemoteContentThroughPipeline(t *testing.T) {
	bobKey, err := pgp.ParseKey(corpusKey(t, "bob@openpgp.example-0xfbfcc82a015e7330-secret.asc"))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		file string
		want policy.Reason
	}{
		{"rc-openpgp-mdc.eml", policy.Unsigned},               // decrypts with integrity
		{"rc-openpgp-aead.eml", policy.Unsigned},              // decrypts with integrity (OCB)
		{"rc-openpgp-nomdc.eml", policy.NoIntegrity},          // never decrypted
		{"rc-openpgp-mdc-tampered.eml", policy.NoIntegrity},   // never used
		{"rc-openpgp-mixed-subpart.eml", policy.NotEncrypted}, // attacker MIME around it
		{"rc-openpgp-sigwrap-mdc.eml", policy.Unsigned},       // outer signature ignored
		{"rc-openpgp-sigwrap-nomdc.eml", policy.NoIntegrity},  // outer signature ignored, no MDC inside
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t)
			l := f.listWithKey("bob@openpgp.example", bobKey)
			err := f.process(l, corpusFile(t, "eml", tc.file), "rc"+string(rune('a'+i)))
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) || rej.Reason != tc.want {
				t.Fatalf("Process = %v, want %v", err, tc.want)
			}
		})
	}
}
