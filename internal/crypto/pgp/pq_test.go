package pgp

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// encryptedShape is what an encrypted message's packets say about how it
// was encrypted: each PKESK's version and algorithm, the SEIPD's version,
// and the cipher (in SEIPD v2, or in the v3 PKESK that key decrypts).
type encryptedShape struct {
	pkesk  []string // "v3/35"
	seipd  int
	cipher packet.CipherFunction
}

// shapeOf reads the packets in front of the encrypted data of an armored
// (or binary) message; key, when not nil, decrypts its PKESK for the cipher.
func shapeOf(t *testing.T, msg []byte, key *Key) encryptedShape {
	t.Helper()
	var r io.Reader = bytes.NewReader(msg)
	if bytes.HasPrefix(msg, []byte("-----BEGIN")) {
		b, err := armor.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		r = b.Body
	}
	pr := packet.NewReader(r)
	var s encryptedShape
	for {
		p, err := pr.Next()
		if err != nil {
			t.Fatalf("packets: %v", err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			s.pkesk = append(s.pkesk, fmt.Sprintf("v%d/%d", p.Version, p.Algo))
			if key == nil || p.Version != 3 {
				continue
			}
			for _, k := range key.e.DecryptionKeys(p.KeyId, time.Time{}, nil) {
				if p.Decrypt(k.PrivateKey, nil) == nil {
					s.cipher = p.CipherFunc
				}
			}
		case *packet.SymmetricallyEncrypted:
			s.seipd = p.Version
			if p.Version == 2 {
				s.cipher = p.Cipher
			}
			return s
		default:
			t.Fatalf("unexpected packet %T", p)
		}
	}
}

// openWith decrypts an armored message with key alone, as a member's
// RFC 9980 client would, and returns the plaintext and the signature's
// check against signer.
func openWith(t *testing.T, msg []byte, key, signer *Key) []byte {
	t.Helper()
	b, err := armor.Decode(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	md, err := openpgp.ReadMessage(b.Body, openpgp.EntityList{key.e, signer.e}, nil, nil)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if md.SignatureError != nil || !md.IsSigned || md.SignedBy == nil || md.SignedBy.Entity.PrimaryKey.KeyId != signer.e.PrimaryKey.KeyId {
		t.Errorf("signature: signed=%v err=%v, want a good one by %s", md.IsSigned, md.SignatureError, signer.Fingerprint())
	}
	return plain
}

// TestGeneratePQ: the pq list key is one v4 key, EdDSA (22) primary with
// a Cv25519 (18) and then an ML-KEM-768+X25519 (35) subkey, preferring
// AES-256 and advertising SEIPD v2 with AES-256+OCB (RFC 9980 §9), and
// Info names every algorithm and says copies to it are post-quantum.
func TestGeneratePQ(t *testing.T) {
	k, err := GenerateKey("Team", listAddr, PQ, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k = mustParse(t, k.Armored())
	var algos []packet.PublicKeyAlgorithm
	for _, pk := range append([]*packet.PublicKey{k.e.PrimaryKey}, k.e.Subkeys[0].PublicKey, k.e.Subkeys[1].PublicKey) {
		if pk.Version != 4 {
			t.Errorf("key version %d, want 4", pk.Version)
		}
		algos = append(algos, pk.PubKeyAlgo)
	}
	if want := []packet.PublicKeyAlgorithm{22, 18, 35}; len(k.e.Subkeys) != 2 || !slices.Equal(algos, want) {
		t.Errorf("algorithms %v (%d subkeys), want %v", algos, len(k.e.Subkeys), want)
	}
	sig, err := k.e.PrimarySelfSignature(time.Now(), keyConfig())
	if err != nil {
		t.Fatal(err)
	}
	if sig.PreferredSymmetric[0] != uint8(packet.CipherAES256) || !sig.SEIPDv2 ||
		len(sig.PreferredCipherSuites) == 0 || sig.PreferredCipherSuites[0] != [2]uint8{uint8(packet.CipherAES256), uint8(packet.AEADModeOCB)} {
		t.Errorf("preferences: symmetric %v, SEIPDv2 %v, suites %v", sig.PreferredSymmetric, sig.SEIPDv2, sig.PreferredCipherSuites)
	}
	info := k.Info(time.Now())
	if info.Algorithm != "Ed25519/Cv25519/ML-KEM-768+X25519" || !info.PostQuantum || !info.CanEncrypt || !info.CanSign || len(info.Notes) != 0 {
		t.Errorf("Info = %+v", info)
	}
	if a, err := ParseAlgorithm("PQ"); err != nil || a != PQ {
		t.Errorf("ParseAlgorithm(PQ) = %q, %v", a, err)
	}
	classic, err := GenerateKey("Team", listAddr, Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := classic.Info(time.Now()); info.PostQuantum || info.Algorithm != "Ed25519/Cv25519" {
		t.Errorf("classical key: Info = %+v", info)
	}
}

// TestEncryptToPQSubkey: a copy goes to the recipient's ML-KEM subkey even
// when its Cv25519 subkey is newer (go-crypto alone would take the
// newest), as PKESK v3 + SEIPD v1 with AES-256 (RFC 9980 §4.2.1) when the
// caller does not allow SEIPD v2, and PKESK v6 + SEIPD v2 when it does
// and the key advertises it. Both decrypt with the member's key.
func TestEncryptToPQSubkey(t *testing.T) {
	list := newListKey(t)
	t0 := time.Now().Add(-time.Hour)
	member, err := GenerateKey("", "m@example.org", PQ, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	// A Cv25519 subkey made after the ML-KEM one.
	later := keyConfig()
	later.Time = func() time.Time { return t0.Add(time.Minute) }
	later.Algorithm, later.Curve = packet.PubKeyAlgoECDH, packet.Curve25519
	if err := member.e.AddEncryptionSubkey(later); err != nil {
		t.Fatal(err)
	}
	if enc, _ := member.e.EncryptionKey(time.Now(), keyConfig()); enc.PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH {
		t.Fatalf("go-crypto picks algorithm %d; the test needs it to pick the newer Cv25519 subkey", enc.PublicKey.PubKeyAlgo)
	}
	pub := mustParse(t, member.PublicBytes())
	if !pub.Info(time.Now()).PostQuantum {
		t.Errorf("Info: not PostQuantum")
	}
	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		allowV2 bool
		want    encryptedShape
	}{
		{false, encryptedShape{[]string{"v3/35"}, 1, packet.CipherAES256}},
		{true, encryptedShape{[]string{"v6/35"}, 2, packet.CipherAES256}},
	} {
		msg, err := signed.EncryptTo(pub, c.allowV2)
		if err != nil {
			t.Fatal(err)
		}
		if got := shapeOf(t, msg, member); !slices.Equal(got.pkesk, c.want.pkesk) || got.seipd != c.want.seipd || got.cipher != c.want.cipher {
			t.Errorf("allowV2 %v: %+v, want %+v", c.allowV2, got, c.want)
		}
		if plain := openWith(t, msg, member, list); !bytes.Contains(plain, []byte("CANARY-7f3a")) {
			t.Errorf("allowV2 %v: plaintext %q", c.allowV2, plain)
		}
	}
}

// TestParseKeyLibrePGPSubkey: ParseKey (a member's key, through the
// keyring) reads past a GnuPG 2.5 LibrePGP "Kyber" subkey as ReadKeys
// does: the classical subkey serves and Info says why the other is
// unused; a key whose only encryption subkey is one cannot encrypt, and
// Info says that too.
func TestParseKeyLibrePGPSubkey(t *testing.T) {
	k, err := GenerateKey("Kim", "kim@example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kyber := append(packetOf(ptPublicSubkey, subkeyBody(5, 8, 1200)), bindingSig(t, k)...)
	withKyber := append(slices.Clone(k.PublicBytes()), kyber...)
	pub, err := ParseKey(withKyber)
	if err != nil {
		t.Fatal(err)
	}
	info := pub.Info(time.Now())
	if !info.CanEncrypt || info.PostQuantum || len(info.Notes) != 1 || !strings.Contains(info.Notes[0], "LibrePGP") ||
		!strings.Contains(info.Notes[0], "classical subkey") {
		t.Errorf("with a Kyber subkey: Info = %+v", info)
	}
	if !slices.Equal(pub.SubkeyFingerprints(), k.SubkeyFingerprints()) {
		t.Errorf("subkeys %v, want %v", pub.SubkeyFingerprints(), k.SubkeyFingerprints())
	}
	// The same key with its Cv25519 subkey taken out: only the Kyber one.
	bare := *k.e
	bare.Subkeys = nil
	var b bytes.Buffer
	if err := serializePublic(&b, &bare); err != nil {
		t.Fatal(err)
	}
	only, err := ParseKey(append(b.Bytes(), kyber...))
	if err != nil {
		t.Fatal(err)
	}
	info = only.Info(time.Now())
	if info.CanEncrypt || len(info.Notes) != 1 || !strings.Contains(info.Notes[0], "nothing can be encrypted") {
		t.Errorf("with only a Kyber subkey: Info = %+v", info)
	}
	// What ReadKeys reads, Info notes as well.
	imps, err := ReadKeys(withKyber, ImportOptions{})
	if err != nil || len(imps) != 1 || imps[0].Key == nil {
		t.Fatalf("ReadKeys: %+v, %v", imps, err)
	}
	if notes := imps[0].Key.Info(time.Now()).Notes; len(notes) != 1 || !strings.Contains(notes[0], "LibrePGP") {
		t.Errorf("ReadKeys: Info notes %q", notes)
	}
}

// TestClassicArmored: the classical export of a pq key is the same key
// (same fingerprint, same Cv25519 subkey) without its ML-KEM subkey, and
// a key without one exports the same as Armored.
func TestClassicArmored(t *testing.T) {
	k, err := GenerateKey("Team", listAddr, PQ, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, k.ClassicArmored())
	if c.Fingerprint() != k.Fingerprint() || len(c.e.Subkeys) != 1 || c.e.Subkeys[0].PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH ||
		c.SubkeyFingerprints()[0] != k.SubkeyFingerprints()[0] || c.HasPQSubkey() || !k.HasPQSubkey() {
		t.Errorf("classic export: %s %v, key %s %v", c.Fingerprint(), c.SubkeyFingerprints(), k.Fingerprint(), k.SubkeyFingerprints())
	}
	if info := c.Info(time.Now()); !info.CanEncrypt || info.PostQuantum || info.Algorithm != "Ed25519/Cv25519" {
		t.Errorf("classic export: Info = %+v", info)
	}
	plain := newListKey(t)
	if !bytes.Equal(plain.ClassicArmored(), plain.Armored()) {
		t.Errorf("a classical key's classic export differs from its export")
	}
}

// newV6Member makes an RFC 9980 v6 key, ML-DSA-65+Ed25519 primary with an
// ML-KEM-768+X25519 subkey, as an RFC 9980 client makes one.
func newV6Member(t testing.TB, addr string) *Key {
	t.Helper()
	e, err := openpgp.NewEntity("", "", addr, &packet.Config{V6Keys: true,
		Algorithm: packet.PubKeyAlgoMldsa65Ed25519, AEADConfig: &packet.AEADConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	return &Key{e: e}
}

// TestV6MLDSAMember: a v6 ML-DSA-65 member key is read (its armored public
// key is some 18 KB), can encrypt and sign; a post it signs and encrypts
// to a pq list's ML-KEM subkey unwraps with a good signature; the copy to
// it goes to its ML-KEM subkey, as PKESK v6 + SEIPD v2 when the caller
// allows v2 (its key advertises it).
func TestV6MLDSAMember(t *testing.T) {
	member := newV6Member(t, "m6@example.org")
	pub := mustParse(t, member.Armored())
	t.Logf("v6 ML-DSA-65 public key: %d bytes armored", len(member.Armored()))
	info := pub.Info(time.Now())
	if !info.CanEncrypt || !info.CanSign || !info.PostQuantum || info.Algorithm != "ML-DSA-65+Ed25519/ML-KEM-768+X25519" {
		t.Errorf("Info = %+v", info)
	}
	list, err := GenerateKey("Team", listAddr, PQ, Options{})
	if err != nil {
		t.Fatal(err)
	}
	listPub := mustParse(t, list.Armored())
	post, err := Sign(member, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := post.EncryptTo(listPub, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeOf(t, msg, nil); !slices.Equal(got.pkesk, []string{"v3/35"}) {
		t.Errorf("post to the list: %+v, want one PKESK to ML-KEM (35)", got)
	}
	u, err := Unwrap(pgpMIME(t, msg), list, []*Key{pub}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGoodBy(t, u, pub.Fingerprint())
	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := signed.EncryptTo(pub, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := shapeOf(t, out, member); !slices.Equal(got.pkesk, []string{"v6/35"}) || got.seipd != 2 || got.cipher != packet.CipherAES256 {
		t.Errorf("copy to the v6 member: %+v, want PKESK v6 to ML-KEM (35), SEIPD v2, AES-256", got)
	}
	openWith(t, out, member, list)
}
