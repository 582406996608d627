package gpgtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gpgsm, GnuPG's S/MIME tool, in the same homes as gpg: what mutt,
// NeoMutt and notmuch decrypt, verify and sign S/MIME with (through
// gpgme). New configures it for the tests' throwaway CAs (no CRL or
// policy checks); a home is made ready for S/MIME with TrustRoot,
// ImportCerts and ImportPKCS12, as a user sets up their own.

// Gpgsm runs gpgsm in batch mode in the home with stdin and args, its
// status lines captured. A passphrase the key needs comes from
// ImportPKCS12. Like Run it may overlap other runs in the home, and it
// does not check that gpgsm is installed: the setup methods below do.
func (g *GPG) Gpgsm(stdin []byte, args ...string) Result {
	g.t.Helper()
	full := append([]string{"--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "4", "--status-fd", "3"}, args...)
	return g.run("gpgsm", stdin, g.pass, full...)
}

// TrustRoot makes ca the trusted root of gpgsm in the home, as for a
// user who trusts it: gpg-agent's trustlist.txt names it, and it is
// imported.
func (g *GPG) TrustRoot(ca *x509.Certificate) {
	g.t.Helper()
	Require(g.t, "gpgsm")
	// The fingerprint and a capital S mark a trusted root (gpg-agent's
	// manual, trustlist.txt).
	trust := CertFingerprint(ca) + " S\n"
	if err := os.WriteFile(filepath.Join(g.Home, "trustlist.txt"), []byte(trust), 0o600); err != nil {
		g.t.Fatal(err)
	}
	// gpg-agent reads the trustlist once; make a running one read it again.
	cmd := exec.Command("gpgconf", "--reload", "gpg-agent")
	cmd.Env = g.env()
	_ = cmd.Run()
	g.ImportCerts(ca)
}

// ImportCerts imports certificates (no keys) into gpgsm.
func (g *GPG) ImportCerts(certs ...*x509.Certificate) {
	g.t.Helper()
	Require(g.t, "gpgsm")
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if r := g.Gpgsm(b.Bytes(), "--import"); r.Err != nil {
		g.t.Fatalf("gpgsm --import: %v\n%s", r.Err, r.Stderr)
	}
}

// ImportPKCS12 imports a certificate with its key into gpgsm from p12, a
// PKCS#12 file protected by pass (empty for none), as a user imports
// their own. The key stays protected by pass, which later gpgsm runs in
// the home give: a home has one passphrase, the last one imported with.
// gpgsm 2.2 reads PKCS#12 only with the legacy algorithms, as
// openssltest's PKCS12 writes it (`openssl pkcs12 -export -keypbe
// PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1`, or `-legacy`),
// not OpenSSL 3's default (PBES2 with AES and PBKDF2).
func (g *GPG) ImportPKCS12(p12 []byte, pass string) {
	g.t.Helper()
	Require(g.t, "gpgsm")
	g.pass = pass
	if r := g.Gpgsm(p12, "--import"); r.Err != nil || !r.HasStatus("IMPORT_OK") {
		g.t.Fatalf("gpgsm --import of the PKCS#12: %v\n%s\n%s", r.Err, r.Status, r.Stderr)
	}
}

// CertFingerprint is the SHA-1 fingerprint of cert in upper-case hex,
// by which gpgsm, gpgme and gpg-agent's trustlist.txt name it.
func CertFingerprint(cert *x509.Certificate) string {
	fpr := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(fpr[:]))
}
