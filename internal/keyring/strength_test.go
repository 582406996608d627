package keyring

import (
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
)

// TestWeakness: RSA, DSA and ElGamal keys under 2048 bits are flagged in
// Request Tracker's words; elliptic-curve keys (Bits 0) never are.
func TestWeakness(t *testing.T) {
	for bits, want := range map[int]string{0: "", 768: "Weak key (768 bits)", 1024: "Weak key (1024 bits)", 2047: "Weak key (2047 bits)", 2048: "", 4096: ""} {
		if got := Weakness(crypto.KeyInfo{Bits: bits}); got != want {
			t.Errorf("Weakness(%d bits) = %q, want %q", bits, got, want)
		}
	}
}

// TestRefusedAlgorithmNamed: a key that cannot encrypt only because of its
// algorithm is refused with the algorithm named, as Wrong key usage.
func TestRefusedAlgorithmNamed(t *testing.T) {
	now := time.Now()
	info := crypto.KeyInfo{Engine: crypto.OpenPGP, Fingerprint: "F1", Addresses: []string{"alice@example.org"}, EncryptRefused: "RSA-768"}
	err := CheckMemberKey(info, "alice@example.org", now)
	if err == nil || !strings.Contains(err.Error(), "key F1 uses RSA-768, which Sealpost cannot use for encryption") {
		t.Errorf("err = %v", err)
	}
	if StatusOf(err) != WrongKeyUsage {
		t.Errorf("StatusOf = %v, want Wrong key usage", StatusOf(err))
	}
	info.EncryptRefused = ""
	if err := CheckMemberKey(info, "alice@example.org", now); err == nil || strings.Contains(err.Error(), "uses") {
		t.Errorf("without a refused algorithm: %v", err)
	}
}
