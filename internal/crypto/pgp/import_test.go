package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Tests of ReadKeys and Merge that need no gpg; the interop tests are in
// import_gpg_test.go.

var impCfg = &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA256}

// impGenerate makes a v4 Ed25519 key with one user ID.
func impGenerate(tb testing.TB, addr string) *openpgp.Entity {
	tb.Helper()
	k, err := GenerateKey("", addr, Ed25519, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return k.e
}

func impPublic(tb testing.TB, e *openpgp.Entity) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// impReadOne reads data that must hold exactly one key, accepted.
func impReadOne(tb testing.TB, data []byte, opt ImportOptions) Imported {
	tb.Helper()
	imps, err := ReadKeys(data, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if len(imps) != 1 || imps[0].Err != nil {
		tb.Fatalf("ReadKeys = %+v, want one accepted key", imps)
	}
	return imps[0]
}

// impFlood appends signers×each third-party certifications, made by
// freshly generated keys, to every user ID of victim, and returns the
// flooded transferable key: the SKS certificate-flooding attack.
func impFlood(tb testing.TB, victim *openpgp.Entity, signers, each int) []byte {
	tb.Helper()
	for s := range signers {
		signer := impGenerate(tb, fmt.Sprintf("flood%d@example.net", s))
		for _, id := range victim.Identities {
			for range each {
				if err := id.SignIdentity(signer, impCfg); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	return impPublic(tb, victim)
}

// impIssuers returns the issuer key IDs of every signature packet in bin.
func impIssuers(tb testing.TB, bin []byte) []uint64 {
	tb.Helper()
	var out []uint64
	for off := 0; off < len(bin); {
		p, n, err := splitKeyPacket(bin[off:])
		if err != nil {
			tb.Fatal(err)
		}
		off += n
		if p.tag != ptSignature {
			continue
		}
		pkt, err := packet.Read(bytes.NewReader(p.raw))
		if err != nil || pkt.(*packet.Signature).IssuerKeyId == nil {
			tb.Fatalf("signature without issuer in the output: %v", err)
		}
		out = append(out, *pkt.(*packet.Signature).IssuerKeyId)
	}
	return out
}

// TestSplitKeyPacket: RFC 9580 §4.2 framing, old and new formats; lengths
// meant for streaming are refused in key material.
func TestSplitKeyPacket(t *testing.T) {
	body := []byte("abc")
	long := bytes.Repeat([]byte{'x'}, 192)
	for _, c := range []struct {
		name string
		in   []byte
		tag  byte
		n    int // 0: refused
	}{
		{"old 1-octet", append([]byte{0xB4, 3}, body...), ptUserID, 5},
		{"old 2-octet", append([]byte{0xB5, 0, 3}, body...), ptUserID, 6},
		{"old 4-octet", append([]byte{0xB6, 0, 0, 0, 3}, body...), ptUserID, 8},
		{"old indeterminate", append([]byte{0xB7}, body...), 0, 0},
		{"new 1-octet", append([]byte{0xCD, 3}, body...), ptUserID, 5},
		{"new 2-octet", append([]byte{0xCD, 0xC0, 0}, long...), ptUserID, 195},
		{"new 5-octet", append([]byte{0xCD, 0xFF, 0, 0, 0, 3}, body...), ptUserID, 9},
		{"new partial", append([]byte{0xCD, 0xE1}, body...), 0, 0},
		{"truncated", []byte{0xCD, 5, 'a'}, 0, 0},
		{"truncated length", []byte{0xCD, 0xFF, 0}, 0, 0},
		{"no packet bit", []byte{0x4D, 3, 'a', 'b', 'c'}, 0, 0},
		{"one byte", []byte{0xCD}, 0, 0},
	} {
		p, n, err := splitKeyPacket(c.in)
		switch {
		case c.n == 0 && err == nil:
			t.Errorf("%s: accepted (tag %d, %d bytes)", c.name, p.tag, n)
		case c.n != 0 && (err != nil || n != c.n || p.tag != c.tag || len(p.raw) != n):
			t.Errorf("%s: tag %d, n %d, err %v; want tag %d, n %d", c.name, p.tag, n, err, c.tag, c.n)
		}
	}
}

// TestReadKeysRefusesInput: input that holds no key is an error, not a
// verdict.
func TestReadKeysRefusesInput(t *testing.T) {
	e := impGenerate(t, "a@example.org")
	var rev bytes.Buffer
	if err := e.Revoke(packet.KeyCompromised, "", impCfg); err != nil {
		t.Fatal(err)
	}
	if err := e.Revocations[0].Packet.Serialize(&rev); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty":            nil,
		"text":             []byte("hello, this is not a key\n"),
		"message block":    []byte("-----BEGIN PGP MESSAGE-----\n\nwcBMA0\n-----END PGP MESSAGE-----\n"),
		"revocation alone": rev.Bytes(),
		"partial primary":  {0xC6, 0xE1, 4, 1},
		"over 64 MiB":      make([]byte, maxImportBytes+1),
	} {
		if imps, err := ReadKeys(in, ImportOptions{}); err == nil {
			t.Errorf("%s: ReadKeys = %+v, want an error", name, imps)
		} else if name == "revocation alone" && !strings.Contains(err.Error(), "revocation certificate") {
			t.Errorf("%s: %v, want a hint at revocation certificates", name, err)
		}
	}
}

// TestReadKeysArmorBlocks: armored blocks with text around and between
// them, and a damaged block that is reported while the others are read.
func TestReadKeysArmorBlocks(t *testing.T) {
	a, b := &Key{e: impGenerate(t, "a@example.org")}, &Key{e: impGenerate(t, "b@example.org")}
	in := "Here are our keys.\n\n" + string(a.Armored()) + "\n-- \nand Bob's:\r\n" + string(b.Armored())
	imps, err := ReadKeys([]byte(in), ImportOptions{})
	if err != nil || len(imps) != 2 || imps[0].Fingerprint != a.Fingerprint() || imps[1].Fingerprint != b.Fingerprint() {
		t.Fatalf("ReadKeys = %+v, %v; want both keys", imps, err)
	}
	damaged := strings.Replace(string(a.Armored()), "\n", "\n!!", 3)
	imps, err = ReadKeys([]byte(damaged+string(b.Armored())), ImportOptions{})
	if err != nil || len(imps) != 2 || imps[0].Err == nil || imps[1].Fingerprint != b.Fingerprint() {
		t.Fatalf("ReadKeys = %+v, %v; want the damaged block reported and the second read", imps, err)
	}
}

// TestReadKeysFloodedGo: third-party certifications are dropped before
// the key is built, self-signatures are capped to the newest.
func TestReadKeysFloodedGo(t *testing.T) {
	victim := impGenerate(t, "victim@example.org")
	flooded := impFlood(t, victim, 3, 40)
	imp := impReadOne(t, flooded, ImportOptions{})
	if imp.DroppedThirdParty != 120 || imp.DroppedSelfSigs != 0 {
		t.Errorf("dropped %d third-party, %d self; want 120, 0", imp.DroppedThirdParty, imp.DroppedSelfSigs)
	}
	for _, issuer := range impIssuers(t, imp.Key.PublicBytes()) {
		if issuer != victim.PrimaryKey.KeyId {
			t.Errorf("a signature by %016X survived", issuer)
		}
	}
}

// TestReadKeysSelfSigCap: 21 self-signatures on one user ID keep the 16
// newest.
func TestReadKeysSelfSigCap(t *testing.T) {
	e := impGenerate(t, "a@example.org")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, id := range e.Identities {
		for i := range 20 {
			sig := impSelfSig(e, packet.SigTypePositiveCert, base.Add(time.Duration(i)*time.Minute))
			if err := sig.SignUserId(id.Name, e.PrimaryKey, e.PrivateKey, impCfg); err != nil {
				t.Fatal(err)
			}
			id.SelfCertifications = append(id.SelfCertifications, packet.NewVerifiableSig(sig))
		}
	}
	imp := impReadOne(t, impPublic(t, e), ImportOptions{})
	if imp.DroppedSelfSigs != 5 {
		t.Errorf("DroppedSelfSigs = %d, want 5", imp.DroppedSelfSigs)
	}
	for _, id := range imp.Key.e.Identities {
		for _, s := range id.SelfCertifications {
			if s.Packet.CreationTime.Before(base.Add(5 * time.Minute)) {
				t.Errorf("kept a self-signature of %v, older than the 16 newest", s.Packet.CreationTime)
			}
		}
	}
}

func impSelfSig(e *openpgp.Entity, typ packet.SignatureType, created time.Time) *packet.Signature {
	pk := e.PrimaryKey
	return &packet.Signature{
		Version: 4, SigType: typ, PubKeyAlgo: pk.PubKeyAlgo, Hash: crypto.SHA256,
		CreationTime: created, IssuerKeyId: &pk.KeyId, IssuerKeyVersion: 4, IssuerFingerprint: pk.Fingerprint,
	}
}

// TestReadKeysLimits: user IDs over the limit are dropped with a note; a
// key over 1 MiB after filtering is refused alone; a partial length inside
// a key refuses that key.
func TestReadKeysLimits(t *testing.T) {
	many := impGenerate(t, "u0@example.org")
	for i := 1; i <= maxUserIDs+2; i++ {
		if err := many.AddUserId("", "", fmt.Sprintf("u%d@example.org", i), impCfg); err != nil {
			t.Fatal(err)
		}
	}
	imp := impReadOne(t, impPublic(t, many), ImportOptions{})
	if n := len(imp.Key.e.Identities); n != maxUserIDs || !slices.ContainsFunc(imp.Notes, func(s string) bool { return strings.Contains(s, "beyond the limits") }) {
		t.Errorf("%d user IDs kept, notes %q; want %d and a note", n, imp.Notes, maxUserIDs)
	}

	big := impGenerate(t, "big@example.org")
	for i := range 20 {
		if err := big.AddUserId(strings.Repeat("x", 60<<10), "", fmt.Sprintf("b%d@example.org", i), impCfg); err != nil {
			t.Fatal(err)
		}
	}
	small := impGenerate(t, "small@example.org")
	imps, err := ReadKeys(append(impPublic(t, big), impPublic(t, small)...), ImportOptions{})
	if err != nil || len(imps) != 2 || imps[0].Err == nil || !strings.Contains(imps[0].Err.Error(), "limit") || imps[1].Err != nil {
		t.Fatalf("ReadKeys = %+v, %v; want the big key refused and the small one read", imps, err)
	}

	partial := append(impPublic(t, small), 0xC2, 0xE1, 0, 0)
	imps, err = ReadKeys(partial, ImportOptions{})
	if err != nil || len(imps) != 1 || imps[0].Err == nil || !strings.Contains(imps[0].Err.Error(), "partial") {
		t.Fatalf("ReadKeys = %+v, %v; want the key refused for a partial length", imps, err)
	}
}

// TestReadKeysSigningSubkeyWithoutBackSig: RFC 9580 §5.2.1, a signing
// subkey must carry a primary key binding signature. Without it the
// subkey is dropped and its signatures are not the key's.
func TestReadKeysSigningSubkeyWithoutBackSig(t *testing.T) {
	e := impGenerate(t, "a@example.org")
	for range 2 {
		if err := e.AddSigningSubkey(impCfg); err != nil {
			t.Fatal(err)
		}
	}
	good, bad := e.Subkeys[1], &e.Subkeys[2]
	sig := impSelfSig(e, packet.SigTypeSubkeyBinding, time.Now())
	sig.FlagsValid, sig.FlagSign = true, true
	if err := sig.SignKey(bad.PublicKey, e.PrivateKey, impCfg); err != nil {
		t.Fatal(err)
	}
	bad.Bindings = []*packet.VerifiableSignature{packet.NewVerifiableSig(sig)}

	imp := impReadOne(t, impPublic(t, e), ImportOptions{})
	badID := bad.PublicKey.KeyIdString()
	if slices.Contains(imp.Key.SubkeyIDs(), badID) || len(imp.Key.SubkeyIDs()) != 2 {
		t.Errorf("SubkeyIDs = %v, want 2 without %s", imp.Key.SubkeyIDs(), badID)
	}
	if !slices.ContainsFunc(imp.Notes, func(s string) bool { return strings.Contains(s, badID) && strings.Contains(s, "back-signature") }) {
		t.Errorf("Notes = %q, want one about %s's back-signature", imp.Notes, badID)
	}
	data := []byte("signed data\n")
	keyring := openpgp.EntityList{imp.Key.e}
	if _, _, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(data), impSubkeySign(t, good, data), nil); err != nil {
		t.Errorf("a signature by the cross-signed subkey does not verify: %v", err)
	}
	if _, _, err := openpgp.VerifyDetachedSignature(keyring, bytes.NewReader(data), impSubkeySign(t, *bad, data), nil); err == nil {
		t.Error("a signature by the subkey without back-signature verifies as the key's")
	}
}

// impSubkeySign makes a detached binary signature over data with sub.
func impSubkeySign(t *testing.T, sub openpgp.Subkey, data []byte) *bytes.Reader {
	t.Helper()
	pk := sub.PublicKey
	sig := &packet.Signature{
		Version: 4, SigType: packet.SigTypeBinary, PubKeyAlgo: pk.PubKeyAlgo, Hash: crypto.SHA256,
		CreationTime: time.Now(), IssuerKeyId: &pk.KeyId, IssuerKeyVersion: 4, IssuerFingerprint: pk.Fingerprint,
	}
	h, err := sig.PrepareSign(impCfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	var b bytes.Buffer
	if err := sig.Sign(h, sub.PrivateKey, impCfg); err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b.Bytes())
}

// TestMergeUnion: a new subkey and secret parts are merged in; merging
// what is already there changes nothing; different keys are not merged.
func TestMergeUnion(t *testing.T) {
	sec := &Key{e: impGenerate(t, "a@example.org")}
	secret, err := sec.SecretBytes()
	if err != nil {
		t.Fatal(err)
	}
	pub := impReadOne(t, sec.PublicBytes(), ImportOptions{}).Key
	grown := impReadOne(t, secret, ImportOptions{}).Key
	if err := grown.e.AddEncryptionSubkey(impCfg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		old, fresh  *Key
		changed     bool
		secret      bool
		subkeyCount int
	}{
		{"public gains secret", pub, sec, true, true, 1},
		{"secret kept", sec, pub, false, true, 1},
		{"same", pub, pub, false, false, 1},
		{"new subkey", pub, grown, true, true, 2},
		{"subkey already there", grown, pub, false, true, 2},
	} {
		m, changed := Merge(c.old, c.fresh)
		if changed != c.changed || m.HasSecret() != c.secret || len(m.SubkeyFingerprints()) != c.subkeyCount {
			t.Errorf("%s: changed %v, secret %v, %d subkeys; want %v, %v, %d",
				c.name, changed, m.HasSecret(), len(m.SubkeyFingerprints()), c.changed, c.secret, c.subkeyCount)
		}
		if again := impReadOne(t, m.PublicBytes(), ImportOptions{}); again.Fingerprint != sec.Fingerprint() {
			t.Errorf("%s: merged key reads back as %s", c.name, again.Fingerprint)
		}
	}
	other := &Key{e: impGenerate(t, "b@example.org")}
	if m, changed := Merge(pub, other); m != pub || changed {
		t.Error("two different keys were merged")
	}
}

// TestArmoredSecret: the exported secret key reads back with its secret.
func TestArmoredSecret(t *testing.T) {
	k := &Key{e: impGenerate(t, "a@example.org")}
	armored, err := k.ArmoredSecret()
	if err != nil || !bytes.HasPrefix(armored, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		t.Fatalf("ArmoredSecret = %.40q, %v", armored, err)
	}
	if back := impReadOne(t, armored, ImportOptions{}); !back.Key.HasSecret() || back.Fingerprint != k.Fingerprint() {
		t.Error("the armored secret key does not read back with its secret")
	}
	if _, err := impReadOne(t, k.PublicBytes(), ImportOptions{}).Key.ArmoredSecret(); err == nil {
		t.Error("ArmoredSecret of a public key succeeded")
	}
}

// FuzzReadKeys: no input panics, and every accepted key is within the
// import limits.
func FuzzReadKeys(f *testing.F) {
	e := impGenerate(f, "a@example.org")
	k := &Key{e: e}
	secret, _ := k.SecretBytes()
	f.Add(k.PublicBytes())
	f.Add(k.Armored())
	f.Add(secret)
	f.Add(impFlood(f, impGenerate(f, "v@example.org"), 2, 3))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		imps, err := ReadKeys(data, ImportOptions{Passphrase: func(string) ([]byte, error) { return []byte("x"), nil }})
		if err != nil {
			return
		}
		for _, imp := range imps {
			if (imp.Key == nil) == (imp.Err == nil) {
				t.Fatalf("Key %v with Err %v", imp.Key, imp.Err)
			}
			if imp.Key != nil {
				impCheckLimits(t, imp.Key.e)
			}
		}
	})
}

func impCheckLimits(t *testing.T, e *openpgp.Entity) {
	if len(e.Identities) > maxUserIDs || len(e.Subkeys) > maxSubkeys {
		t.Fatalf("%d user IDs, %d subkeys", len(e.Identities), len(e.Subkeys))
	}
	for _, id := range e.Identities {
		if len(id.OtherCertifications) > 0 || len(id.SelfCertifications)+len(id.Revocations) > maxSigsKept {
			t.Fatalf("user ID with %d third-party, %d self-signatures", len(id.OtherCertifications), len(id.SelfCertifications))
		}
	}
	if n := len((&Key{e: e}).PublicBytes()); n > maxKeyBytes {
		t.Fatalf("accepted key of %d bytes", n)
	}
}

// BenchmarkReadKeysFlooded reads a key flooded with 5,000 third-party
// certifications (10 signers × 500).
func BenchmarkReadKeysFlooded(b *testing.B) {
	flooded := impFlood(b, impGenerate(b, "victim@example.org"), 10, 500)
	b.SetBytes(int64(len(flooded)))
	for b.Loop() {
		imps, err := ReadKeys(flooded, ImportOptions{})
		if err != nil || imps[0].DroppedThirdParty != 5000 {
			b.Fatal(imps, err)
		}
	}
}

// ExampleReadKeys shows the verdict on a key that came with a passphrase
// prompt the caller could not answer.
func ExampleReadKeys() {
	k, _ := GenerateKey("Team", "team@lists.example.org", Ed25519, Options{})
	_ = k.e.EncryptPrivateKeys([]byte("secret"), nil)
	secret, _ := k.SecretBytes()
	imps, err := ReadKeys(secret, ImportOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, imp := range imps {
		fmt.Println(imp.Fingerprint == k.Fingerprint(), errors.Is(imp.Err, ErrLocked))
	}
	// Output: true true
}

// TestPublicBytesStable: a key with several user IDs serialises to the
// same bytes every time, so re-importing it reports "unchanged".
func TestPublicBytesStable(t *testing.T) {
	k, err := GenerateKey("A", "a@example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"b@example.org", "c@example.org", "d@example.org"} {
		if err := k.e.AddUserId("", "", addr, nil); err != nil {
			t.Fatal(err)
		}
	}
	first := k.PublicBytes()
	for range 20 {
		again, err := ParseKey(first)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.PublicBytes(), first) {
			t.Fatal("the same key serialised to different bytes")
		}
	}
}
