package pgp

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
)

// rfc9980Sample is one sample key of RFC 9980 Appendix A with the
// fingerprints the appendix states and its messages with their session
// keys and the packet versions the appendix lists.
type rfc9980Sample struct {
	name            string
	primary, subkey string
	algorithm       string
	messages        map[string]rfc9980Message
}

type rfc9980Message struct {
	sessionKey string
	pkesk      int // PKESK version
	seipd      int // SEIPD version
}

var rfc9980Samples = []rfc9980Sample{
	{
		name:      "v4-eddsa",
		primary:   "342e5db2de345215cb2c944f7102ffed3b9cf12d",
		subkey:    "e51dbfea51936988b5428fffa4f95f985ed61a51",
		algorithm: "Ed25519/ML-KEM-768+X25519",
		messages: map[string]rfc9980Message{
			"v4-eddsa-sample-message-v1.asc": {"b4dc7197e1519822ca689da484643edf272934d98ae1974b5d88317a7a6a3c4f", 3, 1},
			"v4-eddsa-sample-message-v2.asc": {"160867d96032b640208c1c92174d0270bb89189d72320711acd221bbea2a26b6", 6, 2},
		},
	},
	{
		name:      "v6-mldsa-65",
		primary:   "a3e2e14b6a493ff930fb27321f125e9a6880338be9fb7da3ae065ea65793242f",
		subkey:    "7dae8fbce23022607167af72a002e774e0ca379a2d7ae072384e1e8fde3265e4",
		algorithm: "ML-DSA-65+Ed25519/ML-KEM-768+X25519",
		messages: map[string]rfc9980Message{
			"v6-mldsa-65-sample-message.asc": {"adee68618b302d4bfd7ae3d432bc63a1c1ad7f5fd6e7fd7bdedbb0d0b14a5c9a", 6, 2},
		},
	},
}

func readRFC9980(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9980", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC9980Vectors: RFC 9980 Appendix A's sample keys read with the
// fingerprints the appendix states, and each sample message, with the
// sample secret key as the list key, unwraps (PGP/MIME around it) to
// "Testing\n" with a good signature by the sample public key. The
// session key its PKESK carries is the one the appendix gives, and the
// packets are those it lists (v3 PKESK + SEIPD v1, v6 PKESK + SEIPD v2).
func TestRFC9980Vectors(t *testing.T) {
	for _, s := range rfc9980Samples {
		t.Run(s.name, func(t *testing.T) {
			sk := mustParse(t, readRFC9980(t, s.name+"-sample-sk.asc"))
			pk := mustParse(t, readRFC9980(t, s.name+"-sample-pk.asc"))
			for _, k := range []*Key{sk, pk} {
				if got := k.Fingerprint(); got != strings.ToUpper(s.primary) {
					t.Errorf("fingerprint %s, want %s", got, s.primary)
				}
				if got := k.SubkeyFingerprints(); len(got) != 1 || got[0] != strings.ToUpper(s.subkey) {
					t.Errorf("subkeys %v, want %s", got, s.subkey)
				}
			}
			now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			if info := pk.Info(now); info.Algorithm != s.algorithm || !info.PostQuantum || !info.CanEncrypt || !info.CanSign {
				t.Errorf("Info = %+v", info)
			}
			for file, m := range s.messages {
				msg := readRFC9980(t, file)
				u, err := Unwrap(pgpMIME(t, msg), sk, []*Key{pk}, Options{})
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				if string(u.Content) != "Testing\n" {
					t.Errorf("%s: content %q", file, u.Content)
				}
				if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != pk.Fingerprint() {
					t.Errorf("%s: status %v (%s), signer %+v; want good by %s", file, u.Status, u.Reason, u.Signer, pk.Fingerprint())
				}
				pkesk, seipd, key := sessionKeyOf(t, msg, sk)
				if pkesk != m.pkesk || seipd != m.seipd || hex.EncodeToString(key) != m.sessionKey {
					t.Errorf("%s: PKESK v%d, SEIPD v%d, session key %x; want v%d, v%d, %s", file, pkesk, seipd, key, m.pkesk, m.seipd, m.sessionKey)
				}
			}
		})
	}
}

// sessionKeyOf decrypts the one PKESK of an armored message with key and
// returns its version, the SEIPD's, and the session key.
func sessionKeyOf(t *testing.T, msg []byte, key *Key) (pkesk, seipd int, sessionKey []byte) {
	t.Helper()
	b, err := armor.Decode(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	r := packet.NewReader(b.Body)
	for {
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			pkesk = p.Version
			for _, k := range key.e.DecryptionKeys(p.KeyId, time.Time{}, nil) {
				if p.Decrypt(k.PrivateKey, nil) == nil {
					sessionKey = p.Key
				}
			}
		case *packet.SymmetricallyEncrypted:
			return pkesk, p.Version, sessionKey
		}
	}
}
