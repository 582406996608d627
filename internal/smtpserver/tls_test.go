package smtpserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// testCert returns a throwaway self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtpserver test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// RFC 3207: STARTTLS is offered when Options.TLSConfig is set; AUTH is
// not offered before or after it.
func TestSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})

	c, err := smtp.DialStartTLS(ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("not on TLS")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH advertised over TLS")
	}
	resp, err := send(c, "alice@example.org", []string{"team@lists.example"}, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	if resp != "2.0.0 Ok: queued as id-1" {
		t.Errorf("reply %q", resp)
	}
	if got := rec.deliveries(); len(got) != 1 || string(got[0].raw) != testMsg {
		t.Errorf("deliveries %q", got)
	}
}
