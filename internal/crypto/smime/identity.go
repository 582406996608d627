package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
)

// Identity is a certificate with its private key and the chain that
// certifies it: a list's own S/MIME identity.
type Identity struct {
	Cert  *x509.Certificate
	Key   crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	Chain []*x509.Certificate
	// KEM is the list's ML-KEM certificate and key beside Cert, when it
	// has one: Unwrap decrypts messages encrypted to either.
	KEM *KEMIdentity
}

// maxCertBytes bounds a certificate or PKCS#12 file on import (DESIGN §4.8).
const maxCertBytes = 1 << 20

// ParsePKCS12 reads a PKCS#12 file (PBES2/AES as NSS and OpenSSL 3 write
// it, or the legacy 3DES form) with its password.
func ParsePKCS12(data []byte, password string) (*Identity, error) {
	if len(data) > maxCertBytes {
		return nil, fmt.Errorf("smime: PKCS#12 file is larger than %d bytes", maxCertBytes)
	}
	// QUIRK(nss): NSS (Firefox, Thunderbird) exports PKCS#12 with BER
	// indefinite lengths at every level; p12Decode reads BER throughout.
	key, cert, chain, err := p12Decode(data, password)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("smime: PKCS#12 key of type %T cannot sign", key)
	}
	id := &Identity{Cert: cert, Key: signer, Chain: chain}
	return id, id.check()
}

// check refuses identities whose key does not match the certificate or
// whose key type S/MIME cannot use.
func (id *Identity) check() error {
	switch k := id.Key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("smime: RSA key of %d bits is too small (minimum 2048)", k.N.BitLen())
		}
	case *ecdsa.PrivateKey:
	case ed25519.PrivateKey:
		return errors.New("smime: Ed25519 S/MIME keys are not supported (no key transport)")
	default:
		return fmt.Errorf("smime: unsupported key type %T", id.Key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := id.Key.Public().(equaler); !ok || !pub.Equal(id.Cert.PublicKey) {
		return errors.New("smime: the private key does not belong to the certificate")
	}
	return nil
}

// GenerateIdentity makes a self-signed S/MIME identity for addr, for
// trying Sealpost out: members must install the certificate as trusted.
// The key is RSA-3072, which every S/MIME client can encrypt to.
func GenerateIdentity(name, addr string, now time.Time, rnd io.Reader) (*Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key, err := rsa.GenerateKey(rnd, 3072)
	if err != nil {
		return nil, fmt.Errorf("smime: generate: %w", err)
	}
	serial, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("smime: generate: %w", err)
	}
	cn := name
	if cn == "" {
		cn = addr
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: cn},
		EmailAddresses: []string{addr},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.AddDate(3, 0, 0),
		// RFC 8550 §4.4.2: digitalSignature for signing, keyEncipherment
		// for RSA key transport.
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("smime: generate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("smime: generate: %w", err)
	}
	return &Identity{Cert: cert, Key: key}, nil
}

// MarshalSecret serialises the identity as PEM (PKCS#8 key, then the
// certificate and chain): the caller must seal it before storing it
// (DESIGN §4.6).
func (id *Identity) MarshalSecret() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, fmt.Errorf("smime: marshal key: %w", err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b.Write(CertsPEM(append([]*x509.Certificate{id.Cert}, id.Chain...)...))
	return b.Bytes(), nil
}

// ParseSecret reads what MarshalSecret wrote.
func ParseSecret(data []byte) (*Identity, error) {
	var id Identity
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("smime: identity key: %w", err)
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("smime: identity key of type %T", k)
			}
			id.Key = signer
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("smime: identity certificate: %w", err)
			}
			if id.Cert == nil {
				id.Cert = c
			} else {
				id.Chain = append(id.Chain, c)
			}
		}
	}
	if id.Key == nil || id.Cert == nil {
		return nil, errors.New("smime: identity lacks its key or certificate")
	}
	return &id, id.check()
}

// CertsPEM encodes certificates as PEM.
func CertsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// ParseCertificate reads one X.509 certificate, PEM or DER (.pem, .crt,
// .cer, .der). A PEM file with several certificates yields the first;
// the others are returned as its chain.
func ParseCertificate(data []byte) (*x509.Certificate, []*x509.Certificate, error) {
	if len(data) > maxCertBytes {
		return nil, nil, fmt.Errorf("smime: certificate file is larger than %d bytes", maxCertBytes)
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, nil, fmt.Errorf("smime: certificate: %w", err)
		}
		return c, nil, nil
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("smime: certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("smime: no CERTIFICATE block found")
	}
	return certs[0], certs[1:], nil
}

// Fingerprint is the upper-case hex SHA-256 of the certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	d := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(d[:]))
}

// CertInfo summarises a certificate for the rest of Sealpost. Trust
// (the chain to an anchor) and revocation are decided elsewhere; Revoked
// is always false here.
func CertInfo(c *x509.Certificate) spcrypto.KeyInfo {
	info := spcrypto.KeyInfo{
		Engine:      spcrypto.SMIME,
		Fingerprint: Fingerprint(c),
		Created:     c.NotBefore,
		Expires:     c.NotAfter,
		Algorithm:   keyAlgorithm(c),
	}
	for _, a := range certAddresses(c) {
		a = strings.ToLower(a)
		info.Addresses = append(info.Addresses, a)
		if cn := strings.TrimSpace(c.Subject.CommonName); cn != "" && !strings.EqualFold(cn, a) {
			if info.Names == nil {
				info.Names = map[string]string{}
			}
			info.Names[a] = cn
		}
	}
	emailEKU := len(c.ExtKeyUsage) == 0 // RFC 8550 §4.4.4: absent EKU does not restrict
	for _, u := range c.ExtKeyUsage {
		emailEKU = emailEKU || u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny
	}
	ku := c.KeyUsage
	info.CanSign = emailEKU && (ku == 0 || ku&x509.KeyUsageDigitalSignature != 0)
	switch c.PublicKey.(type) {
	case *rsa.PublicKey:
		info.CanEncrypt = emailEKU && (ku == 0 || ku&x509.KeyUsageKeyEncipherment != 0)
	case *ecdsa.PublicKey:
		info.CanEncrypt = emailEKU && (ku == 0 || ku&x509.KeyUsageKeyAgreement != 0)
	case nil:
		mlkemCertInfo(c, &info, emailEKU)
	}
	return info
}

// mlkemCertInfo fills in what an ML-KEM certificate (RFC 9935) is good
// for: encryption only (a KEM cannot sign), and only with the key usage
// RFC 9935 §5 allows, keyEncipherment alone. ML-KEM-512 is refused:
// Encrypt writes ML-KEM-768 and -1024 only.
func mlkemCertInfo(c *x509.Certificate, info *spcrypto.KeyInfo, emailEKU bool) {
	p, _, ok := certMLKEM(c)
	if !ok {
		return
	}
	info.CanSign = false
	switch {
	case p.oid.Equal(oidMLKEM512):
		info.EncryptRefused = p.name
	case c.KeyUsage != 0 && c.KeyUsage != x509.KeyUsageKeyEncipherment:
		// RFC 9935 §5: keyEncipherment MUST be the only key usage set.
		info.Notes = append(info.Notes, "the certificate's key usage is not keyEncipherment alone (RFC 9935 §5): not used")
	default:
		info.CanEncrypt = emailEKU
		info.PostQuantum = info.CanEncrypt
	}
}

func keyAlgorithm(c *x509.Certificate) string {
	if name, ok := MLKEMAlgorithm(c); ok {
		return name
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ECDSA-P256"
		case elliptic.P384():
			return "ECDSA-P384"
		case elliptic.P521():
			return "ECDSA-P521"
		}
		return "ECDSA"
	case nil:
		if k, err := mldsaCertKey(c); err == nil && k != nil {
			return k.params.name // RFC 9881: signing only, CanEncrypt stays false
		}
	}
	return c.PublicKeyAlgorithm.String()
}

// oidEmailAddress is the PKCS #9 emailAddress attribute (RFC 2985).
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// certAddresses returns the email addresses a certificate is issued for:
// its rfc822Name SANs and, as RFC 8550 §3 requires receiving agents to
// recognise, PKCS #9 emailAddress attributes of the subject DN (which
// older certificates, NSS's test certificates among them, use alone).
// A certificate that names an address both ways names it once here.
func certAddresses(c *x509.Certificate) []string {
	var out []string
	add := func(a string) {
		for _, o := range out {
			if strings.EqualFold(o, a) {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range c.EmailAddresses {
		add(a)
	}
	for _, n := range c.Subject.Names {
		if a, ok := n.Value.(string); ok && n.Type.Equal(oidEmailAddress) {
			add(a)
		}
	}
	return out
}
