package smime

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
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
		{"ML-DSA-87", "rfc9881-ML-DSA-87.crt", "rfc9882-mldsa87-signed-attrs.pem", "ML-DSA-87 signed-data example with signed attributes"},
	} {
		t.Run(tc.level, func(t *testing.T) {
			cert := rfcCert(t, tc.cert)
			if got := CertInfo(cert).Algorithm; got != tc.level {
				t.Errorf("CertInfo.Algorithm = %q, want %q", got, tc.level)
			}
			if err := certSignedBy(cert, cert, true); err != nil {
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

// TestMLDSARFCExamplesTampered: the RFC 9882 examples with their content
// changed do not verify, and given both example certificates (same
// issuer and serial number) the signer is the one whose parameter set
// made the signature.
func TestMLDSARFCExamplesTampered(t *testing.T) {
	c44, c65 := rfcCert(t, "rfc9881-ML-DSA-44.crt"), rfcCert(t, "rfc9881-ML-DSA-65.crt")
	der := rfcCMS(t, "rfc9882-mldsa65-signed-attrs.pem")
	v, err := Verify(der, nil, []*x509.Certificate{c44, c65})
	if err != nil || !v.Signer.Equal(c65) {
		t.Fatalf("both certificates given: %v", err)
	}
	if _, err := Verify(der, nil, []*x509.Certificate{c44}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("ML-DSA-44 certificate for the ML-DSA-65 example: %v, want ErrBadSignature", err)
	}
	changed := sigRewrite(t, der, func(sd *sigSignedData) {
		oct, _ := asn1.Marshal([]byte("ML-DSA-65 signed-data example with signed attributeZ"))
		sd.EncapContentInfo.EContent.Bytes, sd.EncapContentInfo.EContent.FullBytes = oct, nil
	})
	if _, err := Verify(changed, nil, []*x509.Certificate{c65}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed content: %v, want ErrBadSignature", err)
	}
}
