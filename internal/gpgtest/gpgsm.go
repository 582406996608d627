package gpgtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GPGSM is a throwaway GNUPGHOME for gpgsm, GnuPG's S/MIME tool, holding
// one certificate and its key: what mutt, NeoMutt and notmuch decrypt
// S/MIME with (through gpgme).
type GPGSM struct {
	Home string
	pass string
	t    testing.TB
}

// NewGPGSM imports p12, a PKCS#12 file protected by pass, into a fresh
// home that is removed, and whose agent is stopped, when the test ends.
// The imported key stays protected by pass. gpgsm 2.2 reads PKCS#12 made
// with `openssl pkcs12 -export -keypbe PBE-SHA1-3DES -certpbe
// PBE-SHA1-3DES -macalg sha1`, not OpenSSL 3's default (PBES2).
func NewGPGSM(t testing.TB, p12 []byte, pass string) *GPGSM {
	t.Helper()
	Require(t, "gpgsm")
	home, err := os.MkdirTemp("", "gsm") // short: the agent's socket path must fit in sun_path
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("allow-loopback-pinentry\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &GPGSM{Home: home, pass: pass, t: t}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = g.env()
		_ = cmd.Run()
		os.RemoveAll(home)
	})
	if r := g.Run(p12, "--import"); r.Err != nil {
		t.Fatalf("gpgsm --import: %v\n%s", r.Err, r.Stderr)
	}
	return g
}

func (g *GPGSM) env() []string {
	return append(os.Environ(), "GNUPGHOME="+g.Home, "LC_ALL=C")
}

// Run runs gpgsm in batch mode with the given arguments on input (a
// file), giving the passphrase on standard input. CRL and policy checks
// are off: the tests' certificates come from throwaway CAs.
func (g *GPGSM) Run(input []byte, args ...string) Result {
	g.t.Helper()
	file := filepath.Join(g.Home, "input")
	if err := os.WriteFile(file, input, 0o600); err != nil {
		g.t.Fatal(err)
	}
	defer os.Remove(file)
	full := append([]string{"--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "0",
		"--disable-crl-checks", "--disable-policy-checks"}, args...)
	cmd := exec.Command("gpgsm", append(full, file)...)
	cmd.Env = g.env()
	cmd.Stdin = strings.NewReader(g.pass + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Err: err}
}

// Decrypt runs gpgsm --decrypt on a CMS message (DER or PEM).
func (g *GPGSM) Decrypt(cms []byte) Result {
	g.t.Helper()
	return g.Run(cms, "--decrypt")
}
