package clienttest

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// SMIMEHome prepares the GnuPG home g for S/MIME with gpgsm, as a user
// who trusts ca: ca is a trusted root (gpg-agent's trustlist.txt), and
// certificate revocation lists are not checked (the test CAs publish
// none).
func SMIMEHome(t testing.TB, g *gpgtest.GPG, ca *x509.Certificate) {
	t.Helper()
	Require(t, "gpgsm")
	conf := "disable-crl-checks\ndisable-dirmngr\n"
	if err := os.WriteFile(filepath.Join(g.Home, "gpgsm.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	fpr := sha1.Sum(ca.Raw)
	trust := strings.ToUpper(hex.EncodeToString(fpr[:])) + " S\n"
	if err := os.WriteFile(filepath.Join(g.Home, "trustlist.txt"), []byte(trust), 0o600); err != nil {
		t.Fatal(err)
	}
	// gpg-agent reads the trustlist once; make a running one read it again.
	cmd := exec.Command("gpgconf", "--reload", "gpg-agent")
	cmd.Env = environ(g.Home, g.Home)
	_ = cmd.Run()
	ImportCerts(t, g, ca)
}

// ImportCerts imports certificates (no keys) into gpgsm.
func ImportCerts(t testing.TB, g *gpgtest.GPG, certs ...*x509.Certificate) {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if r := Gpgsm(t, g, b.Bytes(), "--import"); r.Err != nil {
		t.Fatalf("gpgsm --import: %v\n%s", r.Err, r.Stderr)
	}
}

// ImportIdentity imports cert with its key into gpgsm, as a PKCS#12 file
// made by `openssl pkcs12 -export -legacy`: gpgsm 2.2 reads only the old
// algorithms (RC2, 3DES, SHA-1), not OpenSSL 3's default AES and PBKDF2.
// It returns the certificate's fingerprint, which names it to gpgme.
func ImportIdentity(t testing.TB, g *gpgtest.GPG, cert *x509.Certificate, key crypto.PrivateKey) string {
	t.Helper()
	o := openssltest.New(t)
	o.WriteCert("cert.pem", cert)
	o.WriteKey("key.pem", key)
	o.MustRun(nil, "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-out", "id.p12", "-passout", "pass:", "-legacy")
	if r := Gpgsm(t, g, o.Read("id.p12"), "--import"); r.Err != nil || !r.HasStatus("IMPORT_OK") {
		t.Fatalf("gpgsm --import of the PKCS#12: %v\n%s\n%s", r.Err, r.Status, r.Stderr)
	}
	fpr := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(fpr[:]))
}

// Gpgsm runs gpgsm in batch mode in the home g, with stdin and args, and
// its status lines captured (GnuPG's doc/DETAILS).
func Gpgsm(t testing.TB, g *gpgtest.GPG, stdin []byte, args ...string) gpgtest.Result {
	t.Helper()
	Require(t, "gpgsm")
	return gnupg(t, "gpgsm", g, stdin, args...)
}

// GPG runs gpg like gpgtest's Run, but safe to run at the same time as
// other programs in the same home (its status lines go to a file of the
// run's own).
func GPG(t testing.TB, g *gpgtest.GPG, stdin []byte, args ...string) gpgtest.Result {
	t.Helper()
	return gnupg(t, "gpg", g, stdin, append([]string{"--no-tty", "--trust-model", "always"}, args...)...)
}

// gnupg runs program (gpg or gpgsm) in batch mode in the home g.
func gnupg(t testing.TB, program string, g *gpgtest.GPG, stdin []byte, args ...string) gpgtest.Result {
	t.Helper()
	// Status lines go to descriptor 3 (gpgsm has no --status-file).
	status, err := os.CreateTemp(g.Home, "status")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(status.Name())
	defer status.Close()
	// The keys have no passphrase: an empty one comes from descriptor 4
	// (gpgsm takes --passphrase for --passphrase-fd, and would read stdin).
	empty, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	full := append([]string{"--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "4", "--status-fd", "3"}, args...)
	cmd := exec.Command(program, full...)
	cmd.Env = environ(g.Home, g.Home)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.ExtraFiles = []*os.File{status, empty}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	st, _ := os.ReadFile(status.Name())
	return gpgtest.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Status: string(st), Err: err}
}

// TrustKey gives the OpenPGP key fpr in g ultimate ownertrust, so that
// gpgme takes it as valid: a user does this (or signs the key) after
// checking its fingerprint, and mutt and NeoMutt encrypt only to valid
// keys without asking.
func TrustKey(t testing.TB, g *gpgtest.GPG, fpr string) {
	t.Helper()
	cmd := exec.Command("gpg", "--batch", "--import-ownertrust")
	cmd.Env = environ(g.Home, g.Home)
	cmd.Stdin = strings.NewReader(fpr + ":6:\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import-ownertrust: %v\n%s", err, out)
	}
}
