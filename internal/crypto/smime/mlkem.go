package smime

// ML-KEM keys in X.509 (RFC 9935): the public key read from a
// certificate's SubjectPublicKeyInfo, and the private key in PKCS#8
// (OneAsymmetricKey, RFC 5958) in its "seed" and "both" forms.
//
// Go 1.26's crypto/x509 knows no ML-KEM: it parses such a certificate
// with PublicKeyAlgorithm 0 and PublicKey nil, so the SPKI is read here.
// ML-KEM-768 and -1024 run on crypto/mlkem; ML-KEM-512, which
// crypto/mlkem lacks and which only RFC 9936's example uses, on circl.

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
)

// RFC 9935 §3: id-alg-ml-kem-512/768/1024 (parameters absent).
var (
	oidMLKEM512  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}
	oidMLKEM768  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// mlkemParams is one ML-KEM parameter set and what RFC 9936 §3 pairs
// with it in a KEMRecipientInfo.
type mlkemParams struct {
	name      string
	oid       asn1.ObjectIdentifier
	pubLen    int // RFC 9935 §4: encapsulation key, no ASN.1 wrapping
	ctLen     int
	expLen    int                   // RFC 9935 §6: expanded decapsulation key
	wrap      asn1.ObjectIdentifier // RFC 9936 §3: aes128-wrap for 512, aes256-wrap otherwise
	kekLength int
}

var mlkemParamSets = []mlkemParams{
	{"ML-KEM-512", oidMLKEM512, mlkem512.PublicKeySize, mlkem512.CiphertextSize, mlkem512.PrivateKeySize, oidAES128Wrap, 16},
	{"ML-KEM-768", oidMLKEM768, mlkem.EncapsulationKeySize768, mlkem.CiphertextSize768, 2400, oidAES256Wrap, 32},
	{"ML-KEM-1024", oidMLKEM1024, mlkem.EncapsulationKeySize1024, mlkem.CiphertextSize1024, 3168, oidAES256Wrap, 32},
}

func mlkemParamsByOID(oid asn1.ObjectIdentifier) (mlkemParams, bool) {
	for _, p := range mlkemParamSets {
		if p.oid.Equal(oid) {
			return p, true
		}
	}
	return mlkemParams{}, false
}

// certMLKEM returns the ML-KEM parameter set and encapsulation key of an
// ML-KEM certificate; ok is false for any other certificate and for a
// malformed ML-KEM SPKI (parameters present, wrong key length).
func certMLKEM(c *x509.Certificate) (p mlkemParams, ek []byte, ok bool) {
	if c == nil || c.PublicKey != nil {
		return mlkemParams{}, nil, false
	}
	return parseMLKEMSPKI(c.RawSubjectPublicKeyInfo)
}

func parseMLKEMSPKI(der []byte) (mlkemParams, []byte, bool) {
	var s spki
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		return mlkemParams{}, nil, false
	}
	p, ok := mlkemParamsByOID(s.Algorithm.Algorithm)
	// RFC 9935 §3: parameters MUST be absent.
	if !ok || len(s.Algorithm.Parameters.FullBytes) != 0 || s.PublicKey.BitLength%8 != 0 || len(s.PublicKey.Bytes) != p.pubLen {
		return mlkemParams{}, nil, false
	}
	return p, s.PublicKey.Bytes, true
}

// MLKEMAlgorithm names the ML-KEM parameter set of an ML-KEM certificate
// ("ML-KEM-768"); ok is false for any other certificate.
func MLKEMAlgorithm(c *x509.Certificate) (name string, ok bool) {
	p, _, ok := certMLKEM(c)
	return p.name, ok
}

// mlkemEncapsulate returns a fresh shared secret and its ciphertext for
// the encapsulation key ek. crypto/mlkem draws its own randomness.
func mlkemEncapsulate(p mlkemParams, ek []byte) (shared, ct []byte, err error) {
	switch {
	case p.oid.Equal(oidMLKEM768):
		k, err := mlkem.NewEncapsulationKey768(ek)
		if err != nil {
			return nil, nil, err
		}
		shared, ct = k.Encapsulate()
		return shared, ct, nil
	case p.oid.Equal(oidMLKEM1024):
		k, err := mlkem.NewEncapsulationKey1024(ek)
		if err != nil {
			return nil, nil, err
		}
		shared, ct = k.Encapsulate()
		return shared, ct, nil
	}
	// RFC 9936 allows ML-KEM-512; Sealpost does not encrypt to it (NIST
	// level 1, below the AES-256 the rest of a copy gets).
	return nil, nil, fmt.Errorf("%w: encryption to %s", ErrUnsupported, p.name)
}

// MLKEMPrivateKey is an ML-KEM decapsulation key, kept as its 64-byte
// seed (d || z, FIPS 203 §7.1), the form RFC 9935 §6 recommends.
type MLKEMPrivateKey struct {
	params mlkemParams
	seed   []byte
	ek     []byte // encapsulation key, derived from the seed
	dk768  *mlkem.DecapsulationKey768
	dk1024 *mlkem.DecapsulationKey1024
	dk512  *mlkem512.PrivateKey
}

// newMLKEMPrivateKey expands seed for the parameter set p.
func newMLKEMPrivateKey(p mlkemParams, seed []byte) (*MLKEMPrivateKey, error) {
	if len(seed) != mlkem.SeedSize {
		return nil, fmt.Errorf("smime: %s seed of %d bytes (want %d)", p.name, len(seed), mlkem.SeedSize)
	}
	k := &MLKEMPrivateKey{params: p, seed: bytes.Clone(seed)}
	var err error
	switch {
	case p.oid.Equal(oidMLKEM768):
		if k.dk768, err = mlkem.NewDecapsulationKey768(seed); err == nil {
			k.ek = k.dk768.EncapsulationKey().Bytes()
		}
	case p.oid.Equal(oidMLKEM1024):
		if k.dk1024, err = mlkem.NewDecapsulationKey1024(seed); err == nil {
			k.ek = k.dk1024.EncapsulationKey().Bytes()
		}
	default:
		var pub *mlkem512.PublicKey
		pub, k.dk512 = mlkem512.NewKeyFromSeed(seed)
		k.ek = make([]byte, mlkem512.PublicKeySize)
		pub.Pack(k.ek)
	}
	if err != nil {
		return nil, fmt.Errorf("smime: %s key: %w", p.name, err)
	}
	return k, nil
}

// GenerateMLKEM768 makes a fresh ML-KEM-768 key.
func GenerateMLKEM768() (*MLKEMPrivateKey, error) {
	p, _ := mlkemParamsByOID(oidMLKEM768)
	seed := make([]byte, mlkem.SeedSize)
	rand.Read(seed)
	defer clear(seed)
	return newMLKEMPrivateKey(p, seed)
}

// Algorithm names the parameter set: "ML-KEM-768" and so on.
func (k *MLKEMPrivateKey) Algorithm() string { return k.params.name }

// PublicKeyBytes is the encapsulation key (RFC 9935 §4: the
// subjectPublicKey of the certificate, no ASN.1 wrapping).
func (k *MLKEMPrivateKey) PublicKeyBytes() []byte { return bytes.Clone(k.ek) }

// MarshalPKIXPublicKey is the DER SubjectPublicKeyInfo of the key, for a
// certificate template (x509.CreateCertificate takes it through
// RawSubjectPublicKeyInfo only when the public key is of a type it knows,
// so CreateMLKEMCertificate writes it itself).
func (k *MLKEMPrivateKey) MarshalPKIXPublicKey() ([]byte, error) {
	return asn1.Marshal(spki{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: k.params.oid},
		PublicKey: asn1.BitString{Bytes: k.ek, BitLength: 8 * len(k.ek)},
	})
}

// matches reports whether c is an ML-KEM certificate for this key.
func (k *MLKEMPrivateKey) matches(c *x509.Certificate) bool {
	p, ek, ok := certMLKEM(c)
	return ok && p.oid.Equal(k.params.oid) && bytes.Equal(ek, k.ek)
}

// decapsulate recovers the shared secret from ct.
func (k *MLKEMPrivateKey) decapsulate(ct []byte) ([]byte, error) {
	if len(ct) != k.params.ctLen {
		return nil, errors.New("smime: ML-KEM ciphertext of the wrong length")
	}
	switch {
	case k.dk768 != nil:
		return k.dk768.Decapsulate(ct)
	case k.dk1024 != nil:
		return k.dk1024.Decapsulate(ct)
	}
	ss := make([]byte, mlkem512.SharedKeySize)
	k.dk512.DecapsulateTo(ss, ct)
	return ss, nil
}

// pkcs8 is RFC 5958 §2 OneAsymmetricKey, the fields Sealpost reads.
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

// mlkemBoth is RFC 9935 §6's "both" alternative.
type mlkemBoth struct {
	Seed        []byte
	ExpandedKey []byte
}

// ErrExpandedOnly: an RFC 9935 private key in the "expandedKey" form
// alone, which crypto/mlkem cannot load (it loads seeds only).
var ErrExpandedOnly = errors.New(`smime: the ML-KEM private key holds only the expanded key; Sealpost needs the 64-byte seed (RFC 9935 "seed" or "both" form)`)

// ParseMLKEMPrivateKey reads an ML-KEM private key in PKCS#8 DER (RFC
// 9935 §6): the "seed" form ([0] IMPLICIT OCTET STRING of 64 bytes) or
// the "both" form, whose expanded key must be the one the seed gives
// (RFC 9935 §8). The "expandedKey" form alone is ErrExpandedOnly.
func ParseMLKEMPrivateKey(der []byte) (*MLKEMPrivateKey, error) {
	var k pkcs8
	if rest, err := asn1.Unmarshal(der, &k); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("smime: ML-KEM private key: not PKCS#8 (%v)", err)
	}
	p, ok := mlkemParamsByOID(k.Algorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("smime: private key algorithm %v is not ML-KEM", k.Algorithm.Algorithm)
	}
	if len(k.Algorithm.Parameters.FullBytes) != 0 {
		return nil, fmt.Errorf("smime: %s private key with parameters (RFC 9935 §3: absent)", p.name)
	}
	var choice asn1.RawValue
	if rest, err := asn1.Unmarshal(k.PrivateKey, &choice); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("smime: %s private key: malformed", p.name)
	}
	var (
		key *MLKEMPrivateKey
		err error
	)
	switch {
	case choice.Class == asn1.ClassContextSpecific && choice.Tag == 0 && !choice.IsCompound:
		key, err = newMLKEMPrivateKey(p, choice.Bytes)
	case choice.Class == asn1.ClassUniversal && choice.Tag == asn1.TagOctetString:
		return nil, ErrExpandedOnly
	case choice.Class == asn1.ClassUniversal && choice.Tag == asn1.TagSequence:
		key, err = parseMLKEMBoth(p, choice.FullBytes)
	default:
		return nil, fmt.Errorf("smime: %s private key: unknown form", p.name)
	}
	if err != nil {
		return nil, err
	}
	if len(k.PublicKey.Bytes) > 0 {
		// [1] IMPLICIT BIT STRING: a leading unused-bits octet.
		if pub := k.PublicKey.Bytes[1:]; k.PublicKey.Bytes[0] != 0 || !bytes.Equal(pub, key.ek) {
			return nil, fmt.Errorf("smime: %s private key: its public key is not the seed's", p.name)
		}
	}
	return key, nil
}

// parseMLKEMBoth reads the "both" form and checks that the expanded key
// is the seed's (RFC 9935 §8: a mismatch means the key is unusable).
func parseMLKEMBoth(p mlkemParams, der []byte) (*MLKEMPrivateKey, error) {
	var b mlkemBoth
	if rest, err := asn1.Unmarshal(der, &b); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("smime: %s private key: malformed \"both\" form", p.name)
	}
	if len(b.ExpandedKey) != p.expLen {
		return nil, fmt.Errorf("smime: %s private key: expanded key of %d bytes", p.name, len(b.ExpandedKey))
	}
	key, err := newMLKEMPrivateKey(p, b.Seed)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(key.expanded(), b.ExpandedKey) {
		return nil, fmt.Errorf("smime: %s private key: the expanded key is not the seed's (RFC 9935 §8)", p.name)
	}
	return key, nil
}

// expanded is the FIPS 203 expanded decapsulation key dk = dk_PKE || ek
// || H(ek) || z. crypto/mlkem does not export it; circl computes it for
// every parameter set.
func (k *MLKEMPrivateKey) expanded() []byte {
	if k.dk512 != nil {
		out := make([]byte, mlkem512.PrivateKeySize)
		k.dk512.Pack(out)
		return out
	}
	if k.dk768 != nil {
		_, sk := mlkem768.NewKeyFromSeed(k.seed)
		out := make([]byte, mlkem768.PrivateKeySize)
		sk.Pack(out)
		return out
	}
	_, sk := mlkem1024.NewKeyFromSeed(k.seed)
	out := make([]byte, mlkem1024.PrivateKeySize)
	sk.Pack(out)
	return out
}

// MarshalPKCS8 writes the key as PKCS#8 in the "seed" form (RFC 9935
// §6, RECOMMENDED).
func (k *MLKEMPrivateKey) MarshalPKCS8() ([]byte, error) {
	inner, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: k.seed})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8{Version: 0, Algorithm: pkix.AlgorithmIdentifier{Algorithm: k.params.oid}, PrivateKey: inner})
}
