package pgp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
)

// TestParseKeyLimits: DESIGN §4.8, key size and signature counts are
// bounded on import.
func TestParseKeyLimits(t *testing.T) {
	if _, err := ParseKey(bytes.Repeat([]byte{0x99}, maxKeyBytes+1)); err == nil {
		t.Error("a key over the size limit was accepted")
	}
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
	e, err := openpgp.NewEntity("", "", "u0@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= maxUserIDs; i++ {
		if err := e.AddUserId("", "", fmt.Sprintf("u%d@example.org", i), cfg); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(b.Bytes()); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("a key with %d user IDs: err = %v, want refusal", maxUserIDs+1, err)
	}
	two := append((&Key{e: e}).PublicBytes(), newListKey(t).PublicBytes()...)
	if _, err := ParseKey(two); err == nil {
		t.Error("two keys in one import were accepted as one")
	}
}

// TestSignerMustBeValidNow: DESIGN §4.2, a signature by a key that has
// since expired does not count as good.
func TestSignerMustBeValidNow(t *testing.T) {
	created := time.Now().Add(-48 * time.Hour)
	list, err := GenerateKey("Team", listAddr, Ed25519, Options{Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519,
		KeyLifetimeSecs: 24 * 3600, Time: func() time.Time { return created }}
	e, err := openpgp.NewEntity("", "", "alice@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	alice := &Key{e: e}
	then := Options{Now: func() time.Time { return created.Add(time.Hour) }}
	signed, err := Sign(alice, []byte(entity), then)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := signed.EncryptTo(list, false)
	if err != nil {
		t.Fatal(err)
	}
	u, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, then)
	if err != nil || u.Status != spcrypto.StatusGood {
		t.Fatalf("while the key was valid: %v, %+v", err, u)
	}
	u, err = Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != spcrypto.StatusKeyInvalid || u.Signer != nil {
		t.Errorf("after expiry: Status = %v, Signer = %v; want key-invalid", u.Status, u.Signer)
	}
}

// TestSEIPDVersionChoice: SEIPD v2 only when the list allows it and the
// recipient key advertises it (RFC 9580 §5.13.2); v1 with MDC otherwise,
// which GnuPG 2.2 reads.
func TestSEIPDVersionChoice(t *testing.T) {
	list := newListKey(t)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, AEADConfig: &packet.AEADConfig{}}
	e, err := openpgp.NewEntity("", "", "modern@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	modern, legacy := &Key{e: e}, newListKey(t)
	if !modern.Info(time.Now()).SEIPDv2 || legacy.Info(time.Now()).SEIPDv2 {
		t.Fatal("test keys do not advertise what they should")
	}
	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		to      *Key
		allowV2 bool
		want    string
	}{
		{"v2 key, list allows v2", modern, true, "aead"},
		{"v2 key, list does not", modern, false, "mdc"},
		{"v1 key, list allows v2", legacy, true, "mdc"},
	} {
		ct, err := signed.EncryptTo(tc.to, tc.allowV2)
		if err != nil {
			t.Fatal(err)
		}
		u, err := Unwrap(pgpMIME(t, ct), tc.to, []*Key{list}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if u.Protection.Integrity != tc.want || u.Status != spcrypto.StatusGood {
			t.Errorf("%s: %+v %v, want %s and a good signature", tc.name, u.Protection, u.Status, tc.want)
		}
	}
}
