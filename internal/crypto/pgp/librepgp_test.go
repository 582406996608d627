package pgp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// packetOf frames body as a new-format packet of tag (RFC 9580 §4.2.1,
// five-octet length).
func packetOf(tag byte, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0xc0 | tag, 255}, uint32(len(body))), body...)
}

// subkeyBody is a public subkey body of version and algorithm with key
// material of n octets (LibrePGP v5 carries a four-octet length of it).
func subkeyBody(version, algo byte, n int) []byte {
	b := []byte{version, 0x67, 0x00, 0x00, 0x00, algo}
	if version == librePGPKeyVersion {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, make([]byte, n)...)
}

// bindingSig is a subkey binding signature issued by k's primary key, as
// GnuPG writes one after each subkey: readable, so that the import keeps
// it unless it drops the subkey it binds.
func bindingSig(t *testing.T, k *Key) []byte {
	t.Helper()
	id := k.e.PrimaryKey.KeyId
	sig := &packet.Signature{Version: 4, SigType: packet.SigTypeSubkeyBinding, PubKeyAlgo: k.e.PrimaryKey.PubKeyAlgo,
		Hash: crypto.SHA256, CreationTime: time.Now(), IssuerKeyId: &id, IssuerFingerprint: k.e.PrimaryKey.Fingerprint}
	if err := sig.Sign(sha256.New(), k.e.PrivateKey, nil); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadKeysLibrePGPSubkey: a key carrying, as GnuPG 2.5 writes them, a
// LibrePGP v5 "Kyber" subkey (algorithm 8) with its binding signature,
// or a v4 subkey of an algorithm nobody knows, is read with its classical
// subkeys and a note saying what was dropped. A LibrePGP v5 primary key is refused saying what it
// is. (No GnuPG 2.5 here makes them: the packets are written as RFC 9580
// and LibrePGP frame them.)
func TestReadKeysLibrePGPSubkey(t *testing.T) {
	k, err := GenerateKey("Kim", "kim@example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sig := bindingSig(t, k)
	for name, c := range map[string]struct {
		extra []byte
		note  string
	}{
		"LibrePGP Kyber subkey": {packetOf(ptPublicSubkey, subkeyBody(5, 8, 1200)), "LibrePGP"},
		"unknown algorithm":     {packetOf(ptPublicSubkey, subkeyBody(4, 99, 64)), "algorithm Sealpost does not know"},
	} {
		data := append(append(slices.Clone(k.PublicBytes()), c.extra...), sig...)
		imps, err := ReadKeys(data, ImportOptions{})
		if err != nil || len(imps) != 1 || imps[0].Err != nil {
			t.Fatalf("%s: %+v, %v", name, imps, err)
		}
		if got := imps[0].Key.SubkeyFingerprints(); !slices.Equal(got, k.SubkeyFingerprints()) {
			t.Errorf("%s: subkeys %v, want the key's own %v", name, got, k.SubkeyFingerprints())
		}
		if !strings.Contains(strings.Join(imps[0].Notes, "\n"), c.note) {
			t.Errorf("%s: notes %q do not say %q", name, imps[0].Notes, c.note)
		}
	}
	v5 := packetOf(ptPublicKey, subkeyBody(5, 22, 40))
	imps, err := ReadKeys(v5, ImportOptions{})
	if err != nil || len(imps) != 1 || imps[0].Err == nil || !strings.Contains(imps[0].Err.Error(), "LibrePGP") {
		t.Errorf("a LibrePGP primary key: %+v, %v", imps, err)
	}
}
