package smime

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// rfcCert reads an RFC 9881 Appendix C example certificate from testdata.
func rfcCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rfcCMS reads an RFC 9882 Appendix B example SignedData from testdata.
func rfcCMS(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CMS" {
		t.Fatalf("%s: no CMS PEM block", name)
	}
	return b.Bytes
}

// TestMLDSARFCExamples: the RFC 9881 example certificates are read as
// ML-DSA (key, self-signature) and the RFC 9882 example SignedData,
// made by their keys with signed attributes and SHA-512, verify; the
// content is the example's text.
func TestMLDSARFCExamples(t *testing.T) {
	for _, tc := range []struct{ level, cert, cms, content string }{
		{"ML-DSA-44", "rfc9881-ML-DSA-44.crt", "rfc9882-mldsa44-signed-attrs.pem", "ML-DSA-44 signed-data example with signed attributes"},
		{"ML-DSA-65", "rfc9881-ML-DSA-65.crt", "rfc9882-mldsa65-signed-attrs.pem", "ML-DSA-65 signed-data example with signed attributes"},
	} {
		t.Run(tc.level, func(t *testing.T) {
			cert := rfcCert(t, tc.cert)
			if got := CertInfo(cert).Algorithm; got != tc.level {
				t.Errorf("CertInfo.Algorithm = %q, want %q", got, tc.level)
			}
			if err := certSignedBy(cert, cert); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			v, err := Verify(rfcCMS(t, tc.cms), nil, []*x509.Certificate{cert})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if string(v.Content) != tc.content || !v.Signer.Equal(cert) {
				t.Errorf("content %q, signer %v", v.Content, v.Signer.Subject)
			}
		})
	}
}
