// Package openssltest runs the real openssl binary as the S/MIME interop
// oracle in tests (`openssl cms`, `openssl x509`, `openssl pkcs12`), each
// test in its own temporary directory.
//
// Tests that use it are skipped when openssl is not installed, unless the
// environment sets REQUIRE_INTEROP=1 (as .ci/run does), which turns the
// skip into a failure. Only test files import this package.
package openssltest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// OpenSSL runs openssl in a working directory of its own.
type OpenSSL struct {
	Dir string
	t   testing.TB
}

// New returns an OpenSSL whose files live in a fresh temporary directory.
func New(t testing.TB) *OpenSSL {
	t.Helper()
	gpgtest.Require(t, "openssl")
	return &OpenSSL{Dir: t.TempDir(), t: t}
}

// Result is what one openssl run produced.
type Result struct {
	Stdout, Stderr []byte
	Err            error // non-nil when openssl exited non-zero
}

// Run runs openssl with args in o.Dir, stdin as standard input.
func (o *OpenSSL) Run(stdin []byte, args ...string) Result {
	o.t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = o.Dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Err: err}
}

// MustRun is Run that fails the test when openssl exits non-zero.
func (o *OpenSSL) MustRun(stdin []byte, args ...string) Result {
	o.t.Helper()
	r := o.Run(stdin, args...)
	if r.Err != nil {
		o.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return r
}

// Write writes data to name inside o.Dir and returns name.
func (o *OpenSSL) Write(name string, data []byte) string {
	o.t.Helper()
	if err := os.WriteFile(filepath.Join(o.Dir, name), data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return name
}

// Read returns the contents of name inside o.Dir.
func (o *OpenSSL) Read(name string) []byte {
	o.t.Helper()
	b, err := os.ReadFile(filepath.Join(o.Dir, name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// WriteCert writes cert as PEM to name and returns name.
func (o *OpenSSL) WriteCert(name string, certs ...*x509.Certificate) string {
	o.t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return o.Write(name, b.Bytes())
}

// WriteKey writes key as PKCS#8 PEM to name and returns name.
func (o *OpenSSL) WriteKey(name string, key crypto.PrivateKey) string {
	o.t.Helper()
	return o.Write(name, o.keyPEM(key))
}

// keyPEM is key as PKCS#8 PEM.
func (o *OpenSSL) keyPEM(key crypto.PrivateKey) []byte {
	o.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		o.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PKCS12 is cert and key as a PKCS#12 file protected by pass, written by
// `openssl pkcs12 -export` with the legacy algorithms that gpgsm 2.2
// reads (3DES with SHA-1 key derivation, a SHA-1 MAC); OpenSSL 3's
// default (PBES2 with AES and PBKDF2) it refuses.
func (o *OpenSSL) PKCS12(cert *x509.Certificate, key crypto.PrivateKey, pass string) []byte {
	o.t.Helper()
	// Certificate and key in one file of this call's own (openssl reads
	// it twice, so not stdin), named by none of the callers.
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), o.keyPEM(key)...)
	in, err := os.CreateTemp(o.Dir, "pkcs12-*.pem")
	if err != nil {
		o.t.Fatal(err)
	}
	defer os.Remove(in.Name())
	_, err = in.Write(data)
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		o.t.Fatal(err)
	}
	return o.MustRun(nil, "pkcs12", "-export", "-in", filepath.Base(in.Name()), "-passout", "pass:"+pass,
		"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1").Stdout
}
