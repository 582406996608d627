package smime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// CreateMLKEMCertificate issues an X.509 certificate for the ML-KEM key
// k (RFC 9935), signed by signer as parent. The template gives the
// subject, addresses, validity and serial; keyUsage is set to
// keyEncipherment alone (RFC 9935 §5) and, when the template has none,
// the subjectKeyIdentifier to the SHA-1 of the key (RFC 5280 §4.2.1.2
// method 1) so that KEMRecipientInfos name it by key identifier.
//
// crypto/x509 (Go 1.26) cannot put an ML-KEM key in a certificate, so
// the certificate is made for a throwaway P-256 key, whose
// SubjectPublicKeyInfo is then replaced by the ML-KEM one and the
// TBSCertificate signed again with the same algorithm.
func CreateMLKEMCertificate(template, parent *x509.Certificate, k *MLKEMPrivateKey, signer crypto.Signer) ([]byte, error) {
	spkiDER, err := k.MarshalPKIXPublicKey()
	if err != nil {
		return nil, err
	}
	tmpl := *template
	tmpl.KeyUsage = x509.KeyUsageKeyEncipherment
	tmpl.IsCA, tmpl.BasicConstraintsValid = false, true
	if len(tmpl.SubjectKeyId) == 0 {
		ski := sha1.Sum(k.ek)
		tmpl.SubjectKeyId = ski[:]
	}
	placeholder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, placeholder.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("smime: ML-KEM certificate: %w", err)
	}
	return resignWithSPKI(der, spkiDER, signer)
}

// x509Certificate is RFC 5280 §4.1 Certificate, its parts kept raw.
type x509Certificate struct {
	TBS                asn1.RawValue
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
}

// resignWithSPKI replaces the subjectPublicKeyInfo (the seventh field of
// TBSCertificate when version [0] is present, as crypto/x509 always
// writes it) and signs the new TBSCertificate.
func resignWithSPKI(der, spkiDER []byte, signer crypto.Signer) ([]byte, error) {
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	var cert x509Certificate
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return nil, err
	}
	var fields []asn1.RawValue
	for rest := cert.TBS.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	const spkiField = 6 // version, serial, signature, issuer, validity, subject, spki
	if len(fields) <= spkiField || fields[0].Tag != 0 || fields[0].Class != asn1.ClassContextSpecific {
		return nil, errors.New("smime: ML-KEM certificate: unexpected TBSCertificate layout")
	}
	fields[spkiField] = asn1.RawValue{FullBytes: spkiDER}
	var body []byte
	for _, f := range fields {
		body = append(body, f.FullBytes...)
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	h, err := sigHashOf(parsed.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	digest := tbs
	if h != 0 {
		hh := h.New()
		hh.Write(tbs)
		digest = hh.Sum(nil)
	}
	sig, err := signer.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("smime: ML-KEM certificate: sign: %w", err)
	}
	return asn1.Marshal(x509Certificate{
		TBS:                asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: cert.SignatureAlgorithm,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
}

// sigHashOf is the digest crypto/x509 signs with for the algorithms it
// picks by default (PKCS#1 v1.5 for RSA, ECDSA, Ed25519).
func sigHashOf(alg x509.SignatureAlgorithm) (crypto.Hash, error) {
	switch alg {
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256:
		return crypto.SHA256, nil
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384:
		return crypto.SHA384, nil
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512:
		return crypto.SHA512, nil
	case x509.PureEd25519:
		return 0, nil
	}
	return 0, fmt.Errorf("%w: issuing an ML-KEM certificate with %v", ErrUnsupported, alg)
}

// GenerateMLKEMCertificate makes an ML-KEM-768 key and a certificate for
// it issued by the identity id (a list's S/MIME identity): the same
// subject and address, valid as long as id's certificate, keyUsage
// keyEncipherment alone. This is what `list cert-kem --generate` gives a
// list.
func GenerateMLKEMCertificate(id *Identity, now time.Time, rnd io.Reader) (*x509.Certificate, *MLKEMPrivateKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	k, err := GenerateMLKEM768()
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        id.Cert.Subject,
		EmailAddresses: id.Cert.EmailAddresses,
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       id.Cert.NotAfter,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := CreateMLKEMCertificate(tmpl, id.Cert, k, id.Key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return c, k, nil
}

// KEMIdentity is an ML-KEM certificate (RFC 9935) with its private key:
// a list's second recipient certificate beside its RSA/EC identity. It
// only decrypts (a KEM cannot sign).
type KEMIdentity struct {
	Cert *x509.Certificate
	Key  *MLKEMPrivateKey
}

// NewKEMIdentity pairs an ML-KEM certificate with its private key,
// refusing a certificate that is not ML-KEM or a key that is not its.
func NewKEMIdentity(cert *x509.Certificate, key *MLKEMPrivateKey) (*KEMIdentity, error) {
	if _, ok := MLKEMAlgorithm(cert); !ok {
		return nil, errors.New("smime: the certificate is not an ML-KEM certificate (RFC 9935)")
	}
	if key == nil || !key.matches(cert) {
		return nil, errors.New("smime: the ML-KEM private key does not belong to the certificate")
	}
	return &KEMIdentity{Cert: cert, Key: key}, nil
}

// MarshalSecret serialises the identity as PEM (PKCS#8 seed-form key,
// then the certificate): the caller must seal it before storing it.
func (k *KEMIdentity) MarshalSecret() ([]byte, error) {
	der, err := k.Key.MarshalPKCS8()
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return append(out, CertsPEM(k.Cert)...), nil
}

// ParseKEMIdentity reads an ML-KEM certificate and private key, each PEM
// or DER (what MarshalSecret writes can be given as both): `list
// cert-kem --import CERT KEY`.
func ParseKEMIdentity(certData, keyData []byte) (*KEMIdentity, error) {
	cert, _, err := ParseCertificate(certData)
	if err != nil {
		return nil, err
	}
	keyDER := keyData
	for block, rest := pem.Decode(keyData); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "PRIVATE KEY" {
			keyDER = block.Bytes
			break
		}
	}
	key, err := ParseMLKEMPrivateKey(keyDER)
	if err != nil {
		return nil, err
	}
	return NewKEMIdentity(cert, key)
}

// ParseKEMSecret reads what MarshalSecret wrote.
func ParseKEMSecret(data []byte) (*KEMIdentity, error) {
	return ParseKEMIdentity(data, data)
}
