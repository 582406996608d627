// Package gpgtest runs the real GnuPG programs as interop oracles in
// tests: gpg for OpenPGP and gpgsm for S/MIME (gpgsm.go), in a throwaway
// GNUPGHOME per test, with key generation, import/export, and status-fd
// capture (GnuPG's doc/DETAILS describes the status lines). Runs in one
// home may overlap: each has a status file of its own.
//
// Tests that use it are skipped when gpg (or, for S/MIME, gpgsm) is not
// installed, unless the environment sets REQUIRE_INTEROP=1 (as .ci/run
// does), which turns the skip into a failure. Only test files import
// this package.
package gpgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GPG is one throwaway GnuPG home, for gpg and gpgsm.
type GPG struct {
	Home string
	pass string // what gpgsm runs give for --passphrase-fd; see ImportPKCS12
	t    testing.TB
}

// Require skips or fails t when the named binary is missing, depending on
// REQUIRE_INTEROP.
func Require(t testing.TB, binary string) string {
	t.Helper()
	path, err := exec.LookPath(binary)
	if err == nil {
		return path
	}
	Skip(t, fmt.Sprintf("%s not installed (%v); interop test skipped", binary, err))
	return ""
}

// Skip skips t for why, or fails it when REQUIRE_INTEROP=1 (as .ci/run
// sets): there a test that needs what is missing must not pass by being
// skipped.
func Skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("REQUIRE_INTEROP") == "1" {
		t.Fatalf("REQUIRE_INTEROP=1 but %s", why)
	}
	t.Skip(why)
}

// New returns a GPG with a home that holds only its configuration, and
// that is removed, and whose agent is stopped, when the test ends.
func New(t testing.TB) *GPG {
	t.Helper()
	Require(t, "gpg")
	// A short path: gpg-agent's socket path must fit in sun_path.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// A fixed, small S2K count: calibrating it makes every passphrase
	// operation take seconds on a busy machine.
	conf := "allow-loopback-pinentry\ns2k-count 65536\n"
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// gpgsm, here and in the mail programs that use it through gpgme:
	// the tests' certificates come from throwaway CAs, which publish no
	// revocation lists (so no dirmngr to fetch them) and no policies.
	gpgsmConf := "disable-crl-checks\ndisable-policy-checks\ndisable-dirmngr\n"
	if err := os.WriteFile(filepath.Join(home, "gpgsm.conf"), []byte(gpgsmConf), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &GPG{Home: home, t: t}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = g.env()
		_ = cmd.Run()
		os.RemoveAll(home)
	})
	return g
}

func (g *GPG) env() []string {
	return append(os.Environ(), "GNUPGHOME="+g.Home, "LC_ALL=C")
}

// Result is what one gpg or gpgsm run produced.
type Result struct {
	Stdout []byte
	Stderr []byte
	Status string // the status lines (--status-fd)
	Err    error  // non-nil when the program did not run or exited non-zero
}

// HasStatus reports whether a status line with the given keyword (and,
// when given, first argument) was printed.
func (r Result) HasStatus(keyword string, args ...string) bool {
	for _, line := range strings.Split(r.Status, "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "[GNUPG:] "))
		if len(f) == 0 || f[0] != keyword {
			continue
		}
		if len(args) == 0 || (len(f) > 1 && strings.EqualFold(f[1], args[0])) {
			return true
		}
	}
	return false
}

// ExitCode is gpg's exit status: 0 when all went well, 1 for a bad
// signature, 2 for any other trouble; -1 when gpg did not run.
func (r Result) ExitCode() int {
	var exit *exec.ExitError
	switch {
	case r.Err == nil:
		return 0
	case errors.As(r.Err, &exit):
		return exit.ExitCode()
	}
	return -1
}

// Verified reports whether gpg accepted a signature by fpr as a mail
// program needs it: a VALIDSIG by fpr, exit status 0, and no status line
// that reports trouble (NODATA, BADSIG, ERRSIG, FAILURE). mutt, NeoMutt
// and notmuch (through gpgme) show "verification failed" when gpg exits
// non-zero, even after a GOODSIG: VALIDSIG alone does not prove a
// signature is readable.
func (r Result) Verified(fpr string) bool {
	if r.ExitCode() != 0 || !r.HasStatus("VALIDSIG", fpr) {
		return false
	}
	for _, bad := range []string{"NODATA", "BADSIG", "ERRSIG", "FAILURE"} {
		if r.HasStatus(bad) {
			return false
		}
	}
	return true
}

// Report is the exit status, status lines and messages of the run, for a
// test's failure message.
func (r Result) Report() string {
	return fmt.Sprintf("gpg exit status %d\n%s%s", r.ExitCode(), r.Status, r.Stderr)
}

// Run runs gpg in batch mode with stdin and the given arguments. It may
// run at the same time as other programs in the same home, a mail
// program or a parallel subtest.
func (g *GPG) Run(stdin []byte, args ...string) Result {
	g.t.Helper()
	full := append([]string{"--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", "", "--status-fd", "3", "--trust-model", "always"}, args...)
	return g.run("gpg", stdin, "", full...)
}

// run runs program (gpg or gpgsm) in the home with stdin and args. Its
// status lines go to descriptor 3, into a file of this run's own (gpgsm
// has no --status-file), so that runs in one home may overlap.
// Descriptor 4 holds pass, for --passphrase-fd 4 (gpgsm would take
// --passphrase for --passphrase-fd and read the passphrase from stdin).
// run never ends the test, so that subtests may call it on their
// parent's home: what went wrong, even in starting program, is the
// Result's Err.
func (g *GPG) run(program string, stdin []byte, pass string, args ...string) Result {
	status, err := os.CreateTemp(g.Home, "status")
	if err != nil {
		return Result{Err: err}
	}
	defer os.Remove(status.Name())
	defer status.Close()
	passR, passW, err := os.Pipe()
	if err != nil {
		return Result{Err: err}
	}
	defer passR.Close()
	if pass != "" {
		_, err = passW.WriteString(pass + "\n") // a pipe's buffer holds a passphrase
	}
	passW.Close()
	if err != nil {
		return Result{Err: err}
	}
	cmd := exec.Command(program, args...)
	cmd.Env = g.env()
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.ExtraFiles = []*os.File{status, passR}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	st, _ := os.ReadFile(status.Name())
	return Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Status: string(st), Err: err}
}

// MustRun is Run that fails the test when gpg exits non-zero.
func (g *GPG) MustRun(stdin []byte, args ...string) Result {
	g.t.Helper()
	r := g.Run(stdin, args...)
	if r.Err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r
}

// GenKey makes an Ed25519/Cv25519 key without passphrase for uid
// ("Name <addr>") and returns its fingerprint.
func (g *GPG) GenKey(uid string) string {
	g.t.Helper()
	return g.keyCreated(g.MustRun(nil, "--quick-generate-key", uid, "future-default", "default", "never"))
}

// GenKeyAlgo makes a key without passphrase for uid whose primary key,
// for signing, has gpg's algorithm name algo ("dsa2048", "rsa1024",
// "secp256k1"), with one encryption subkey of algorithm encrypt
// ("elg2048"), and returns its fingerprint. GnuPG's default key until
// 2009 was GenKeyAlgo(uid, "dsa1024", "elg2048").
func (g *GPG) GenKeyAlgo(uid, algo, encrypt string) string {
	g.t.Helper()
	fpr := g.keyCreated(g.MustRun(nil, "--quick-generate-key", uid, algo, "sign", "never"))
	g.MustRun(nil, "--quick-add-key", fpr, encrypt, "encr", "never")
	return fpr
}

// keyCreated returns the fingerprint a KEY_CREATED status line names.
func (g *GPG) keyCreated(r Result) string {
	g.t.Helper()
	for _, line := range strings.Split(r.Status, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == "KEY_CREATED" {
			return f[3]
		}
	}
	g.t.Fatalf("gpg --quick-generate-key printed no KEY_CREATED:\n%s", r.Status)
	return ""
}

// Import imports keys (armored or binary).
func (g *GPG) Import(key []byte) {
	g.t.Helper()
	g.MustRun(key, "--import")
}

// TrustKey gives the OpenPGP key fpr ultimate ownertrust, so that gpgme
// takes it as valid: a user does this (or signs the key) after checking
// its fingerprint, and mutt and NeoMutt encrypt only to valid keys
// without asking.
func (g *GPG) TrustKey(fpr string) {
	g.t.Helper()
	cmd := exec.Command("gpg", "--batch", "--import-ownertrust")
	cmd.Env = g.env()
	cmd.Stdin = strings.NewReader(fpr + ":6:\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("gpg --import-ownertrust: %v\n%s", err, out)
	}
}

// Export returns the armored public key of who.
func (g *GPG) Export(who string) []byte {
	g.t.Helper()
	return g.MustRun(nil, "--armor", "--export", who).Stdout
}

// ExportSecret returns the armored secret key of who.
func (g *GPG) ExportSecret(who string) []byte {
	g.t.Helper()
	return g.MustRun(nil, "--armor", "--export-secret-keys", who).Stdout
}
