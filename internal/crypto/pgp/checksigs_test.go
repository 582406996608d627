package pgp

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestCheckSignatures: a key whose self-signatures were checked ahead
// (gpg keys: expiring, with an expiry extended, with a user ID revoked, revoked
// as a whole, and one whose subkey binding was altered) is judged at every
// time as the same key freshly parsed, and has every signature's outcome
// recorded, so that judging it writes nothing.
func TestCheckSignatures(t *testing.T) {
	g := gpgtest.New(t)
	made := time.Now()
	g.MustRun(nil, "--quick-generate-key", "Exp <exp@example.org>", "future-default", "default", "3d")
	expiring := g.Export("exp@example.org")
	k, err := ParseKey(expiring)
	if err != nil {
		t.Fatal(err)
	}
	fpr := k.Fingerprint()
	// The last byte of the subkey binding's signature, flipped (a
	// binary export of the key as it was made).
	badBinding := bytes.Clone(g.MustRun(nil, "--export", fpr).Stdout)
	badBinding[len(badBinding)-1] ^= 0x01
	g.MustRun(nil, "--quick-set-expire", fpr, "10d")
	g.MustRun(nil, "--quick-set-expire", fpr, "10d", "*")
	extended := g.Export("exp@example.org")
	g.MustRun(nil, "--quick-add-uid", fpr, "Other <other@example.org>")
	g.MustRun(nil, "--quick-revoke-uid", fpr, "Other <other@example.org>")
	uidRevoked := g.Export("exp@example.org")
	rev, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	g.Import(bytes.Replace(rev, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1))
	revoked := g.Export("exp@example.org")

	later := made.Add(5 * 24 * time.Hour)
	for _, tc := range []struct {
		name string
		data []byte
		want func(now time.Time, info spcrypto.KeyInfo) bool // at later: what makes the case
	}{
		{"expiring", expiring, func(now time.Time, i spcrypto.KeyInfo) bool { return i.Expired(now) }},
		{"extended", extended, func(now time.Time, i spcrypto.KeyInfo) bool { return !i.Expired(now) && i.CanEncrypt }},
		{"uid revoked", uidRevoked, func(now time.Time, i spcrypto.KeyInfo) bool { return len(i.Addresses) == 1 && i.CanEncrypt }},
		{"revoked", revoked, func(now time.Time, i spcrypto.KeyInfo) bool { return i.Revoked }},
		{"bad binding", badBinding, func(now time.Time, i spcrypto.KeyInfo) bool { return !i.CanEncrypt && !i.Expired(made.Add(time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked, err := ParseKey(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			checked.CheckSignatures()
			at := later
			if tc.name == "bad binding" {
				at = made.Add(time.Hour) // not expired: only the binding keeps it from encrypting
			}
			if info := checked.Info(at); !tc.want(at, info) {
				t.Fatalf("the key is not what the case needs: %+v", info)
			}
			for _, s := range allSignatures(checked) {
				if s.Valid == nil {
					t.Fatalf("a %v signature was left unchecked", s.Packet.SigType)
				}
			}
			for _, at := range []time.Duration{0, 2 * 24 * time.Hour, 5 * 24 * time.Hour, 20 * 24 * time.Hour} {
				now := made.Add(time.Minute + at)
				fresh, err := ParseKey(tc.data)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := checked.Info(now), fresh.Info(now); !reflect.DeepEqual(got, want) {
					t.Errorf("after %v: checked key %+v, freshly parsed %+v", at, got, want)
				}
			}
		})
	}
}

// allSignatures are the self-signatures go-crypto verifies when it judges k.
func allSignatures(k *Key) []*packet.VerifiableSignature {
	e := k.e
	out := append(append([]*packet.VerifiableSignature(nil), e.Revocations...), e.DirectSignatures...)
	for _, id := range e.Identities {
		out = append(append(out, id.SelfCertifications...), id.Revocations...)
	}
	for _, sk := range e.Subkeys {
		out = append(append(out, sk.Bindings...), sk.Revocations...)
	}
	return out
}
