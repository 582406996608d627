// Package clienttest drives real mail programs as interop oracles in
// tests, the way their users run them: notmuch (GMime, `notmuch show
// --decrypt=true --verify`), mutt and NeoMutt (gpgme, driven through
// their screen under tmux, since neither does crypto in batch mode);
// and it reads a message with the command-line tools as those programs
// do: gpg and gpgsm (GnuPG's S/MIME tool, which gpgme and so all three
// use) and openssl cms.
//
// Each program reads a Maildir of its own, made for one message, and a
// GNUPGHOME given by the test: a gpgtest home, which gpgtest also sets
// up for S/MIME and runs gpg and gpgsm in. What a program showed is
// returned as a Reading; posts the clients write are captured by a
// sendmail wrapper script, as written, with no MIME built by the test.
//
// Tests that use it are skipped when a program is missing, unless the
// environment sets REQUIRE_INTEROP=1 (as .ci/run does), which turns the
// skip into a failure. Only test files import this package.
package clienttest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// Require skips or fails t (REQUIRE_INTEROP=1) when any of the programs
// is missing.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		gpgtest.Require(t, p)
	}
}

// Reading is what a mail program showed of one message.
type Reading struct {
	Program string
	// Subject is the subject the program shows the user for the
	// message: the protected one from inside the encryption or
	// signature where the program supports protected headers.
	Subject string
	// Text is what the program displayed: for notmuch the text parts
	// it decoded, for mutt and NeoMutt the whole pager, with their
	// notes on decryption and signatures.
	Text string
	// Decrypted says the program decrypted the message.
	Decrypted bool
	// GoodSignature says the program verified a signature as good;
	// Signer is its fingerprint where the program reports one.
	GoodSignature bool
	Signer        string
	// Trouble lists what the program reported as wrong: failed
	// verification or decryption, errors, bad signatures.
	Trouble []string
	// Raw is the program's output, for failure messages.
	Raw string
}

// seq numbers the messages a test writes into Maildirs.
var seq atomic.Int64

// maildir makes the Maildir dir holding msg as one new message, with LF
// line ends as a local delivery agent stores mail that came over SMTP
// (RFC 5322 messages travel with CRLF; Unix mailboxes keep LF).
func maildir(t testing.TB, dir string, msgs ...[]byte) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, msg := range msgs {
		name := "clienttest." + strconv.FormatInt(seq.Add(1), 10) + ".localhost"
		lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
		if err := os.WriteFile(filepath.Join(dir, "new", name), lf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tempDir is a fresh directory with a short path (gpg-agent's and tmux's
// socket paths must fit in sun_path), removed when the test ends.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// environ is the environment the programs run in: the test's, with
// GNUPGHOME and HOME set and a UTF-8 locale, so that what they show is
// what a user of a UTF-8 terminal sees.
func environ(gnupgHome, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GNUPGHOME", "HOME", "LANG", "LC_ALL", "LANGUAGE", "TMUX", "TERM", "NOTMUCH_CONFIG", "MAIL", "EMAIL":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GNUPGHOME="+gnupgHome, "HOME="+home, "LC_ALL=C.UTF-8", "TERM=xterm")
}
