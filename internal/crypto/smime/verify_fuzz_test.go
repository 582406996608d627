package smime

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// FuzzVerify: Verify never panics whatever the input, and returns either
// a result or an error.
func FuzzVerify(f *testing.F) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	seeds := []struct {
		key crypto.Signer
		opt SignOptions
	}{
		{rsaKey, SignOptions{}},
		{rsaKey, SignOptions{PSS: true, Detached: true}},
		{ecKey, SignOptions{Hash: crypto.SHA384}},
		{ecKey, SignOptions{Detached: true}},
	}
	for _, s := range seeds {
		f.Add(sigFuzzSeed(f, s.key, s.opt), s.opt.Detached)
	}
	// ML-DSA (RFC 9882), its certificate (RFC 9881) in the message.
	pq := openssltest.NewMLDSACA(f, openssltest.MLDSA65, "PQ Root").Issue("fuzz@example.org", openssltest.MLDSA44, openssltest.LeafOptions{})
	pqMsg, err := Sign(sigTestContent, pq.Cert, pq.Key.Signer(), SignOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pqMsg, false)
	// A streamed (indefinite-length) SignedData shell.
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00}, false)
	f.Fuzz(func(t *testing.T, msg []byte, detached bool) {
		var content []byte
		if detached {
			content = sigTestContent
		}
		v, err := Verify(msg, content, nil)
		if (v == nil) == (err == nil) {
			t.Fatalf("result %v with error %v", v, err)
		}
	})
}

// sigFuzzSeed signs sigTestContent with key under a self-signed certificate.
func sigFuzzSeed(f *testing.F, key crypto.Signer, opt SignOptions) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "fuzz@example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		f.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		f.Fatal(err)
	}
	msg, err := Sign(sigTestContent, cert, key, opt)
	if err != nil {
		f.Fatal(err)
	}
	return msg
}
