package keyring

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
)

func TestCheckMemberKey(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	good := crypto.KeyInfo{Fingerprint: "F1", Addresses: []string{"alice@example.org"}, CanEncrypt: true, CanSign: true}
	tests := []struct {
		name   string
		edit   func(*crypto.KeyInfo)
		addr   string
		reason Reason
	}{
		{name: "good", addr: "alice@example.org"},
		{name: "good, case differs", addr: "Alice@Example.org"},
		{name: "other address", addr: "mallory@example.org", reason: NoAddress},
		{name: "revoked", addr: "alice@example.org", edit: func(k *crypto.KeyInfo) { k.Revoked = true }, reason: Revoked},
		{name: "expired", addr: "alice@example.org", edit: func(k *crypto.KeyInfo) { k.Expires = now.Add(-time.Hour) }, reason: Expired},
		{name: "expires later", addr: "alice@example.org", edit: func(k *crypto.KeyInfo) { k.Expires = now.Add(time.Hour) }},
		{name: "cannot encrypt", addr: "alice@example.org", edit: func(k *crypto.KeyInfo) { k.CanEncrypt = false }, reason: NoEncryptionKey},
	}
	for _, tt := range tests {
		info := good
		if tt.edit != nil {
			tt.edit(&info)
		}
		err := CheckMemberKey(info, tt.addr, now)
		var ke *KeyError
		switch {
		case tt.reason == 0 && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.reason != 0 && (!errors.As(err, &ke) || ke.Reason != tt.reason):
			t.Errorf("%s: err = %v, want reason %d", tt.name, err, tt.reason)
		}
	}
}

func TestSealer(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	s, err := NewSealer(master, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("secret key material")
	sealed, err := s.Seal(secret, "team@lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed blob contains the plaintext")
	}
	got, err := s.Open(sealed, "team@lists.example.org")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "other@lists.example.org"); !errors.Is(err, ErrUnseal) {
		t.Errorf("Open with another label: %v, want ErrUnseal", err)
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, MasterKeySize), nil)
	if _, err := other.Open(sealed, "team@lists.example.org"); !errors.Is(err, ErrUnseal) {
		t.Errorf("Open with another master key: %v, want ErrUnseal", err)
	}
	if _, err := NewSealer([]byte("short"), nil); err == nil {
		t.Error("NewSealer accepted a short key")
	}
}

// TestBounceTag: the tag is HMAC-SHA256 of the length-prefixed list and
// member addresses under a key derived from the master key (RFC 5869),
// the same every time, and different for another list, another member,
// the same characters split differently, or another master key.
func TestBounceTag(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	s, _ := NewSealer(master, nil)
	tag := s.BounceTag("team@lists.example.org", "bob@example.org")
	key, err := hkdf.Key(sha256.New, master, nil, "sealpost bounce tag key", 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(append([]byte{byte(len("team@lists.example.org"))}, "team@lists.example.orgbob@example.org"...))
	if !bytes.Equal(tag, mac.Sum(nil)) {
		t.Fatalf("BounceTag = %x, want HMAC-SHA256 under the derived key %x", tag, mac.Sum(nil))
	}
	if bytes.Equal(key, master) {
		t.Fatal("the tag key is the master key")
	}
	if !bytes.Equal(tag, s.BounceTag("team@lists.example.org", "bob@example.org")) {
		t.Error("BounceTag is not deterministic")
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, MasterKeySize), nil)
	for name, got := range map[string][]byte{
		"another member":     s.BounceTag("team@lists.example.org", "alice@example.org"),
		"another list":       s.BounceTag("other@lists.example.org", "bob@example.org"),
		"split differently":  s.BounceTag("team@lists.example.orgb", "ob@example.org"),
		"another master key": other.BounceTag("team@lists.example.org", "bob@example.org"),
	} {
		if bytes.Equal(got, tag) {
			t.Errorf("%s: same tag", name)
		}
	}
}

func TestStatusOf(t *testing.T) {
	now := time.Now()
	tests := []struct {
		err  error
		want Status
	}{
		{nil, Usable},
		{CheckMemberKey(crypto.KeyInfo{Revoked: true}, "a@x.org", now), KeyRevoked},
		{CheckMemberKey(crypto.KeyInfo{Expires: now.Add(-time.Hour)}, "a@x.org", now), KeyExpired},
		{CheckMemberKey(crypto.KeyInfo{Addresses: []string{"b@x.org"}}, "a@x.org", now), PolicyMismatch},
		{CheckMemberKey(crypto.KeyInfo{Addresses: []string{"a@x.org"}}, "a@x.org", now), WrongKeyUsage},
		{&smime.TrustError{Reason: smime.NoCRL}, NoCRLKnown},
		{&smime.TrustError{Reason: smime.CRLTooOld}, CRLTooOld},
		{&smime.TrustError{Reason: smime.Untrusted}, KeyNotTrusted},
		{&smime.TrustError{Reason: smime.NotForSigning}, WrongKeyUsage},
		{errors.New("other"), NoSpecificReason},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if KeyExpired.String() != "Key expired" || NoCRLKnown.String() != "No CRL known" {
		t.Error("status names differ from RT's")
	}
}

// TestSealInPlace: SealInPlace gives what Seal gives (the same bytes
// with the same randomness), Open reads it, and with room after the
// plaintext it seals in the buffer it was given, not a copy.
func TestSealInPlace(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	secret := bytes.Repeat([]byte("post body "), 1000)
	nonce := bytes.Repeat([]byte{9}, 64)
	a, _ := NewSealer(master, bytes.NewReader(nonce))
	b, _ := NewSealer(master, bytes.NewReader(nonce))
	want, err := a.Seal(secret, "label")
	if err != nil {
		t.Fatal(err)
	}
	front, back := b.SealRoom()
	buf := make([]byte, front, front+len(secret)+back)
	buf = append(buf, secret...)
	got, err := b.SealInPlace(buf, "label")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("SealInPlace differs from Seal")
	}
	if &got[0] != &buf[0] {
		t.Error("SealInPlace sealed into a new buffer although there was room")
	}
	if plain, err := b.Open(got, "label"); err != nil || !bytes.Equal(plain, secret) {
		t.Errorf("Open = %d bytes, %v", len(plain), err)
	}
	if plain, err := b.OpenInPlace(bytes.Clone(got), "label"); err != nil || !bytes.Equal(plain, secret) {
		t.Errorf("OpenInPlace = %d bytes, %v", len(plain), err)
	}
	if _, err := b.OpenInPlace(bytes.Clone(got), "other"); !errors.Is(err, ErrUnseal) {
		t.Errorf("OpenInPlace with another label: %v, want ErrUnseal", err)
	}
	if _, err := b.SealInPlace(make([]byte, front-1), "label"); err == nil {
		t.Error("SealInPlace accepted a buffer without room in front")
	}
}
