package openssltest

// ML-DSA test certificates and CRLs (RFC 9881), made with circl because
// neither crypto/x509 in Go 1.26 nor the OpenSSL 3.0 here can sign with
// ML-DSA. crypto/x509 writes the TBSCertificate (or TBSCertList) with a
// throwaway P-256 key, so that names and extensions are encoded as for
// every other test certificate; the signature algorithm identifier (and,
// for an ML-DSA subject, the SubjectPublicKeyInfo) is then replaced and
// the TBS signed with ML-DSA.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// MLDSA names an ML-DSA parameter set.
type MLDSA string

// The ML-DSA parameter sets (FIPS 204), with their RFC 9881 OIDs.
const (
	MLDSA44 MLDSA = "ML-DSA-44"
	MLDSA65 MLDSA = "ML-DSA-65"
	MLDSA87 MLDSA = "ML-DSA-87"
)

// Scheme is the circl scheme of the parameter set.
func (m MLDSA) Scheme() sign.Scheme {
	switch m {
	case MLDSA44:
		return mldsa44.Scheme()
	case MLDSA87:
		return mldsa87.Scheme()
	}
	return mldsa65.Scheme()
}

// OID is the RFC 9881 §2 algorithm identifier of the parameter set
// (id-ml-dsa-44, -65, -87).
func (m MLDSA) OID() asn1.ObjectIdentifier {
	last := map[MLDSA]int{MLDSA44: 17, MLDSA65: 18, MLDSA87: 19}[m]
	return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, last}
}

// MLDSAKey is an ML-DSA key pair. Private is also a crypto.Signer (pure
// ML-DSA, empty context, crypto.Hash(0) as options).
type MLDSAKey struct {
	Set     MLDSA
	Public  sign.PublicKey
	Private sign.PrivateKey
}

// NewMLDSAKey makes a new key of parameter set m.
func NewMLDSAKey(t testing.TB, m MLDSA) *MLDSAKey {
	t.Helper()
	pub, priv, err := m.Scheme().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &MLDSAKey{Set: m, Public: pub, Private: priv}
}

// Sign signs msg with pure ML-DSA and the empty context (RFC 9881 §3,
// RFC 9882 §3.2).
func (k *MLDSAKey) Sign(msg []byte) []byte {
	return k.Set.Scheme().Sign(k.Private, msg, nil)
}

// MLDSACA is a certification authority with an ML-DSA key.
type MLDSACA struct {
	t    testing.TB
	Cert *x509.Certificate
	Key  *MLDSAKey
}

// MLDSALeaf is an end-entity certificate with an ML-DSA key.
type MLDSALeaf struct {
	Cert *x509.Certificate
	Key  *MLDSAKey
}

// NewMLDSACA makes a self-signed ML-DSA root CA named name.
func NewMLDSACA(t testing.TB, m MLDSA, name string) *MLDSACA {
	t.Helper()
	key := NewMLDSAKey(t, m)
	tmpl := CATemplate(name, 1)
	return &MLDSACA{t: t, Cert: MLDSACertificate(t, tmpl, nil, key, key.Public), Key: key}
}

// CATemplate is a CA certificate template named name: certificate and
// CRL signing, valid from an hour ago for ten years.
func CATemplate(name string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// Intermediate makes an intermediate CA with an ML-DSA key of set m.
func (ca *MLDSACA) Intermediate(m MLDSA, name string) *MLDSACA {
	ca.t.Helper()
	key := NewMLDSAKey(ca.t, m)
	cert := MLDSACertificate(ca.t, CATemplate(name, serial(ca.t)), ca, key, key.Public)
	return &MLDSACA{t: ca.t, Cert: cert, Key: key}
}

// Issue makes an S/MIME signing certificate for email with a new ML-DSA
// key of set m: digitalSignature (RFC 9881 §5 allows no encipherment),
// the email-protection EKU unless opt.NoEmailEKU.
func (ca *MLDSACA) Issue(email string, m MLDSA, opt LeafOptions) *MLDSALeaf {
	ca.t.Helper()
	key := NewMLDSAKey(ca.t, m)
	return &MLDSALeaf{Cert: MLDSACertificate(ca.t, LeafTemplate(email, x509.KeyUsageDigitalSignature, serial(ca.t), opt), ca, key, key.Public), Key: key}
}

// IssueClassical makes an S/MIME certificate for email with a classical
// key of type kt, signed with the CA's ML-DSA key.
func (ca *MLDSACA) IssueClassical(email string, kt KeyType, opt LeafOptions) *Leaf {
	ca.t.Helper()
	key := NewKey(ca.t, kt)
	tmpl := LeafTemplate(email, x509.KeyUsageDigitalSignature, serial(ca.t), opt)
	return &Leaf{Cert: MLDSACertificate(ca.t, tmpl, ca, nil, key.Public()), Key: key}
}

func serial(t testing.TB) int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Int64() + 2
}

// CRL makes a CRL signed with the CA's ML-DSA key that lists revoked.
func (ca *MLDSACA) CRL(next time.Time, revoked ...*big.Int) *x509.RevocationList {
	ca.t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	stand := standIn(ca.t)
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, stand)
	if err != nil {
		ca.t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(resign(ca.t, der, stand, ca.Key, nil))
	if err != nil {
		ca.t.Fatal(err)
	}
	return crl
}

// MLDSACertificate makes a certificate from tmpl for the subject key pub
// (an ML-DSA sign.PublicKey or a classical crypto.PublicKey), signed by
// parent's ML-DSA key; parent nil makes it self-signed by selfKey.
func MLDSACertificate(t testing.TB, tmpl *x509.Certificate, parent *MLDSACA, selfKey *MLDSAKey, pub any) *x509.Certificate {
	t.Helper()
	stand := standIn(t)
	var pqPub []byte
	goPub := pub
	if k, ok := pub.(sign.PublicKey); ok {
		b, err := k.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		pqPub, goPub = b, stand.Public()
		// RFC 7093 §2 method 1, as crypto/x509 makes it for classical CAs.
		sum := sha256.Sum256(b)
		tmpl.SubjectKeyId = sum[:20]
	}
	goParent, signer := tmpl, selfKey
	if parent != nil {
		goParent, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, goParent, goPub, stand)
	if err != nil {
		t.Fatal(err)
	}
	var spki []byte
	if pqPub != nil {
		spki = mldsaSPKI(t, mldsaSetOf(pub.(sign.PublicKey)), pqPub)
	}
	cert, err := x509.ParseCertificate(resign(t, der, stand, signer, spki))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// mldsaSetOf names the parameter set of k.
func mldsaSetOf(k sign.PublicKey) MLDSA {
	return MLDSA(k.Scheme().Name())
}

// standIn is the throwaway key crypto/x509 signs the first draft with.
func standIn(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mldsaSPKI is RFC 9881 §4 SubjectPublicKeyInfo: the set's OID without
// parameters, the raw public key in the BIT STRING.
func mldsaSPKI(t testing.TB, m MLDSA, raw []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: m.OID()}, asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// resign replaces, in the TBS part of der (a certificate or CRL signed
// by stand), stand's signature algorithm with signer's ML-DSA one and
// stand's SubjectPublicKeyInfo with spki (when given), then signs the
// TBS with signer.
func resign(t testing.TB, der []byte, stand *ecdsa.PrivateKey, signer *MLDSAKey, spki []byte) []byte {
	t.Helper()
	var outer struct {
		TBS       asn1.RawValue
		Algorithm asn1.RawValue
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	alg, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: signer.Set.OID()})
	if err != nil {
		t.Fatal(err)
	}
	standSPKI, err := x509.MarshalPKIXPublicKey(stand.Public())
	if err != nil {
		t.Fatal(err)
	}
	var fields [][]byte
	for rest := outer.TBS.Bytes; len(rest) > 0; {
		var el asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.Equal(el.FullBytes, outer.Algorithm.FullBytes):
			fields = append(fields, alg)
		case spki != nil && bytes.Equal(el.FullBytes, standSPKI):
			fields = append(fields, spki)
		default:
			fields = append(fields, el.FullBytes)
		}
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(fields, nil)})
	if err != nil {
		t.Fatal(err)
	}
	sig := signer.Sign(tbs)
	out, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm asn1.RawValue
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, asn1.RawValue{FullBytes: alg}, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Signer returns the key as a crypto.Signer (pure ML-DSA: options must be
// crypto.Hash(0)).
func (k *MLDSAKey) Signer() crypto.Signer {
	return k.Private.(crypto.Signer)
}
