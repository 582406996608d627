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

// ImportPKCS12 imports a certificate with its key into gpgsm from a
// PKCS#12 file protected by pass (empty for none), as a user imports
// their own; p12 makes the file. The key stays protected by pass, which
// later gpgsm runs in the home give: a home has one passphrase, the last
// one imported with. gpgsm 2.2 reads PKCS#12 only with the legacy
// algorithms, as openssltest's PKCS12 writes it (`openssl pkcs12 -export
// -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1`, or
// `-legacy`), not OpenSSL 3's default (PBES2 with AES and PBKDF2).
//
// Even so gpgsm 2.2 refuses a few such files in a hundred as if the
// passphrase were wrong ("possibly bad passphrase given"): always the
// same file, while the same certificate and key made into a file again,
// with a new random salt, it reads. So a refused file is made again, up
// to importAttempts times.
func (g *GPG) ImportPKCS12(pass string, p12 func() []byte) {
	g.t.Helper()
	Require(g.t, "gpgsm")
	g.pass = pass
	var r Result
	for range importAttempts {
		if r = g.Gpgsm(p12(), "--import"); r.Err == nil && r.HasStatus("IMPORT_OK") {
			return
		}
	}
	g.t.Fatalf("gpgsm --import of the PKCS#12, %d files made: %v\n%s\n%s", importAttempts, r.Err, r.Status, r.Stderr)
}

// importAttempts bounds ImportPKCS12's files: that all are refused by
// chance is less likely than one in ten million (three in a hundred
// each); with a wrong passphrase all are.
const importAttempts = 5

// CertFingerprint is the SHA-1 fingerprint of cert in upper-case hex,
// by which gpgsm, gpgme and gpg-agent's trustlist.txt name it.
func CertFingerprint(cert *x509.Certificate) string {
	fpr := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(fpr[:]))
}
