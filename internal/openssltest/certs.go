package openssltest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// KeyType names the kind of key a test certificate gets.
type KeyType string

// Key types for test certificates.
const (
	RSA2048 KeyType = "rsa2048"
	P256    KeyType = "p256"
	P384    KeyType = "p384"
)

// NewKey generates a key of the given type.
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case RSA2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case P256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("unknown key type %q", kt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CA is a test certification authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	t    testing.TB
	next int64
}

// NewCA makes a self-signed root valid from an hour ago for ten years.
func NewCA(t testing.TB, kt KeyType) *CA {
	t.Helper()
	key := NewKey(t, kt)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Sealpost Test CA " + string(kt)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, t: t, next: 2}
}

// Leaf is an issued end-entity certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LeafOptions adjust an issued certificate; the zero value is a normal
// S/MIME certificate (email-protection EKU, digitalSignature and
// keyEncipherment or keyAgreement).
type LeafOptions struct {
	NoEmailEKU bool
	NotAfter   time.Time
	// Usage replaces the default key usage (for signing-only or
	// encryption-only certificates).
	Usage x509.KeyUsage
	// CRLURL is put in the CRL distribution points extension.
	CRLURL string
	// CommonName is the subject's common name; default the address.
	CommonName string
}

// Issue makes an S/MIME certificate for email with a new key of type kt.
func (ca *CA) Issue(email string, kt KeyType, opt LeafOptions) *Leaf {
	ca.t.Helper()
	key := NewKey(ca.t, kt)
	usage := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if kt != RSA2048 {
		usage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
	}
	tmpl := LeafTemplate(email, usage, ca.next, opt)
	ca.next++
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		ca.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}
	return &Leaf{Cert: cert, Key: key}
}

// ServerCert is a self-signed TLS server certificate for the host name
// name (an IP address goes into the IP addresses), with a new P-256 key,
// valid from an hour ago for a day: what an MTA offers out of the box
// (Debian's snakeoil), which a client that verifies names refuses.
func ServerCert(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key := NewKey(t, P256)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// LeafTemplate is an S/MIME end-entity certificate template for email: usage
// unless opt.Usage replaces it, the email-protection EKU unless
// opt.NoEmailEKU, valid from an hour ago for two years unless
// opt.NotAfter.
func LeafTemplate(email string, usage x509.KeyUsage, serial int64, opt LeafOptions) *x509.Certificate {
	if opt.Usage != 0 {
		usage = opt.Usage
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	if opt.NoEmailEKU {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	notAfter := opt.NotAfter
	if notAfter.IsZero() {
		notAfter = time.Now().AddDate(2, 0, 0)
	}
	cn := opt.CommonName
	if cn == "" {
		cn = email
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(serial),
		Subject:        pkix.Name{CommonName: cn},
		EmailAddresses: []string{email},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       notAfter,
		KeyUsage:       usage,
		ExtKeyUsage:    eku,
	}
	if opt.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{opt.CRLURL}
	}
	return tmpl
}
