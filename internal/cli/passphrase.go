package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"
)

// passphraseFlags say where the passphrases of protected secret keys
// and PKCS#12 files come from. Nothing ever prompts.
type passphraseFlags struct {
	file       string
	credential string
}

func (p *passphraseFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&p.file, "passphrase-file", "", "read the passphrase from this file (first line)")
	c.Flags().StringVar(&p.credential, "passphrase-credential", "sealpost-passphrase",
		"name of the systemd credential holding the passphrase (in $CREDENTIALS_DIRECTORY)")
}

// PassphraseEnv is the environment variable a passphrase may be given in.
const PassphraseEnv = "SEALPOST_PASSPHRASE"

// source returns the passphrase callback, or nil when no passphrase was
// given anywhere. A passphrase file or credential that was named but is
// missing is a usage error, found before anything is imported. The
// passphrase is read once, when first needed.
func (p *passphraseFlags) source(cmd *cobra.Command) (func(string) ([]byte, error), error) {
	var name string
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	credential := filepath.Join(dir, p.credential)
	switch {
	case p.file != "":
		name = p.file
	case cmd.Flags().Changed("passphrase-credential") && (dir == "" || !fileExists(credential)):
		return nil, usagef("systemd credential %q not found (is $CREDENTIALS_DIRECTORY set, and LoadCredential= in the unit?)", p.credential)
	case dir != "" && fileExists(credential):
		name = credential
	case os.Getenv(PassphraseEnv) != "":
		pass := []byte(os.Getenv(PassphraseEnv))
		return func(string) ([]byte, error) { return pass, nil }, nil
	default:
		return nil, nil
	}
	if !fileExists(name) {
		return nil, usagef("passphrase file %s not found", name)
	}
	once := sync.OnceValues(func() ([]byte, error) { return readSecretFile(name) })
	return func(string) ([]byte, error) { return once() }, nil
}

// readSecretFile reads a passphrase file: its first line, without the
// line ending.
func readSecretFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("passphrase: %v", err)
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 {
		return nil, usagef("passphrase file %s is empty", name)
	}
	return data, nil
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// progress shows how many keys were stored so far on standard error,
// when that is a terminal and the import is large.
type progress struct {
	e     *env
	tty   bool
	shown bool
	last  int
}

func (e *env) newProgress() *progress {
	p := &progress{e: e}
	if f, ok := e.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// add is called with the running total of keys stored.
func (p *progress) add(done int) {
	switch {
	case p.tty && done >= 1000:
		fmt.Fprintf(p.e.stderr, "\rimporting: %d keys stored", done)
		p.shown = true
	case !p.tty && done/100000 > p.last/100000:
		fmt.Fprintf(p.e.stderr, "importing: %d keys stored\n", done)
	}
	p.last = done
}

func (p *progress) finish() {
	if p.shown {
		fmt.Fprintln(p.e.stderr)
		p.shown = false
	}
}
