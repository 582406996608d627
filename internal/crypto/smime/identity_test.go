package smime

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func smimeCorpus(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "..", "..", "shared", "corpus", "thunderbird-smime"}, parts...)...))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

// TestParsePKCS12Corpus: NSS writes PBES2/AES-256 PKCS#12, the Fran files
// are legacy 3DES/SHA-1 (PROVENANCE.md §1c); both must open with "nss".
func TestParsePKCS12Corpus(t *testing.T) {
	for _, tc := range []struct {
		file, email, algo string
	}{
		{"Alice.p12", "alice@example.com", "RSA-2048"},
		{"Bob.p12", "bob@example.com", "RSA-2048"},
		{"Alice-ec.p12", "alice-ec@example.com", "ECDSA-P384"},
		{"Fran.p12", "fran@example.com", "RSA-2048"},
	} {
		id, err := ParsePKCS12(smimeCorpus(t, "mailnews-smime", tc.file), "nss")
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		info := CertInfo(id.Cert)
		if len(info.Addresses) == 0 || info.Addresses[0] != tc.email || info.Algorithm != tc.algo {
			t.Errorf("%s: %+v", tc.file, info)
		}
		if _, err := ParsePKCS12(smimeCorpus(t, "mailnews-smime", tc.file), "wrong"); err == nil {
			t.Errorf("%s opened with a wrong password", tc.file)
		}
	}
}

func TestGeneratedIdentityRoundTrip(t *testing.T) {
	id, err := GenerateIdentity("Team", "team@lists.example.org", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	info := CertInfo(id.Cert)
	if !info.CanSign || !info.CanEncrypt || info.Addresses[0] != "team@lists.example.org" {
		t.Errorf("CertInfo = %+v", info)
	}
	secret, err := id.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(id.Cert) || Fingerprint(back.Cert) != Fingerprint(id.Cert) {
		t.Error("identity changed in the round trip")
	}
	// The certificate alone, PEM and DER, parses; a key does not pass as one.
	for name, data := range map[string][]byte{"pem": CertsPEM(id.Cert), "der": id.Cert.Raw} {
		c, chain, err := ParseCertificate(data)
		if err != nil || !c.Equal(id.Cert) || len(chain) != 0 {
			t.Errorf("ParseCertificate(%s) = %v, %v", name, chain, err)
		}
	}
	if _, _, err := ParseCertificate(secret[:strings.Index(string(secret), "-----BEGIN CERTIFICATE")]); err == nil {
		t.Error("a private key parsed as a certificate")
	}
	other, _ := GenerateIdentity("", "x@example.org", time.Now(), nil)
	mixed := &Identity{Cert: id.Cert, Key: other.Key}
	if err := mixed.check(); err == nil {
		t.Error("a key that does not match the certificate was accepted")
	}
}

func TestCertInfoUsage(t *testing.T) {
	id, _ := GenerateIdentity("", "a@example.org", time.Now(), nil)
	c := *id.Cert
	c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if info := CertInfo(&c); info.CanSign || info.CanEncrypt {
		t.Errorf("a TLS server certificate counts as usable for S/MIME: %+v", info)
	}
	c.ExtKeyUsage = nil
	c.KeyUsage = x509.KeyUsageDigitalSignature
	if info := CertInfo(&c); !info.CanSign || info.CanEncrypt {
		t.Errorf("signing-only certificate: %+v", info)
	}
}
