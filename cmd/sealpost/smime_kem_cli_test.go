package main_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestListCertKEMCommands: `list create --smime-generate
// --smime-kem-generate` gives a list both certificates, `list cert`
// prints both; `list cert-kem --import CERT --key KEY` replaces the
// ML-KEM one with one a CA issued (key in the RFC 9935 seed form), and
// refuses a certificate for another address, a key of another
// certificate, a list without an S/MIME certificate and a wrong use of
// the flags.
func TestListCertKEMCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	dir := t.TempDir()
	const list = "team@lists.example.org"

	r := sealpost(t, data, nil, "list", "create", list, "--smime-kem-generate").want(t, 64)
	if !strings.Contains(r.stderr, "--smime-kem-generate needs") {
		t.Errorf("--smime-kem-generate alone:\n%s", r.stderr)
	}
	r = sealpost(t, data, nil, "list", "create", list, "--smime-generate", "--smime-kem-generate").want(t, 0)
	if !strings.Contains(r.stdout, "ML-KEM certificate:") || !strings.Contains(r.stdout, "(ML-KEM-768)") {
		t.Errorf("list create does not show the ML-KEM certificate:\n%s", r.stdout)
	}
	certs := kemPEMCerts(t, sealpost(t, data, nil, "list", "cert", list).want(t, 0).stdout)
	if len(certs) != 2 {
		t.Fatalf("list cert printed %d certificates, want 2", len(certs))
	}
	if name, ok := smime.MLKEMAlgorithm(certs[1]); !ok || name != "ML-KEM-768" || certs[1].KeyUsage != x509.KeyUsageKeyEncipherment ||
		certs[0].CheckSignature(certs[1].SignatureAlgorithm, certs[1].RawTBSCertificate, certs[1].Signature) != nil {
		t.Errorf("the second certificate of list cert is not the list's ML-KEM-768 one, signed by the first")
	}

	// One issued by a CA, imported.
	ca := openssltest.NewCA(t, openssltest.P256)
	writeKEM := func(name, addr string) (string, string, *smime.MLKEMPrivateKey) {
		key, err := smime.GenerateMLKEM768()
		if err != nil {
			t.Fatal(err)
		}
		der, err := smime.CreateMLKEMCertificate(&x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: addr},
			EmailAddresses: []string{addr}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}, ca.Cert, key, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		k8, err := key.MarshalPKCS8()
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}), 0o600)
		return certFile, keyFile, key
	}
	certFile, keyFile, _ := writeKEM("team", list)
	r = sealpost(t, data, nil, "list", "cert-kem", list, "--import", certFile, "--key", keyFile).want(t, 0)
	if c := kemPEMCerts(t, sealpost(t, data, nil, "list", "cert", list).want(t, 0).stdout); len(c) != 2 || c[1].CheckSignatureFrom(ca.Cert) != nil {
		t.Errorf("list cert after --import does not show the imported certificate")
	}
	otherCert, otherKey, _ := writeKEM("other", "other@example.org")
	r = sealpost(t, data, nil, "list", "cert-kem", list, "--import", otherCert, "--key", otherKey).want(t, 65)
	if !strings.Contains(r.stderr, "other@example.org") {
		t.Errorf("a certificate for another address:\n%s", r.stderr)
	}
	// The private key of another certificate.
	r = sealpost(t, data, nil, "list", "cert-kem", list, "--import", certFile, "--key", otherKey).want(t, 65)
	if !strings.Contains(r.stderr, "does not belong") {
		t.Errorf("a key of another certificate:\n%s", r.stderr)
	}
	sealpost(t, data, nil, "list", "cert-kem", list).want(t, 64)
	sealpost(t, data, nil, "list", "cert-kem", list, "--generate", "--import", certFile, "--key", keyFile).want(t, 64)
	sealpost(t, data, nil, "list", "cert-kem", list, "--import", certFile).want(t, 64)
	r = sealpost(t, data, nil, "list", "cert-kem", list, "--generate").want(t, 0)
	if !strings.Contains(r.stdout, "ML-KEM-768") {
		t.Errorf("cert-kem --generate:\n%s", r.stdout)
	}

	sealpost(t, data, nil, "list", "create", "plain@lists.example.org").want(t, 0)
	r = sealpost(t, data, nil, "list", "cert-kem", "plain@lists.example.org", "--generate").want(t, 65)
	if !strings.Contains(r.stderr, "no S/MIME certificate") {
		t.Errorf("cert-kem on a list without S/MIME:\n%s", r.stderr)
	}
	r = sealpost(t, data, nil, "list", "cert-kem", "--help").want(t, 0)
	for _, flag := range []string{"--generate", "--import", "--key"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("cert-kem --help lacks %s", flag)
		}
	}
}

// kemPEMCerts parses every CERTIFICATE block of out.
func kemPEMCerts(t *testing.T, out string) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := []byte(out)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
}
