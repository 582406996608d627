package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/postfixtest"
)

// nobody is the pipe's user of these tests (Debian's nobody).
const nobody = 65534

// wantLines fails unless check's output has a line starting with each
// mark and containing each text.
func wantLines(t *testing.T, r result, lines ...[2]string) {
	t.Helper()
	for _, want := range lines {
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, want[0]) && strings.Contains(line, want[1]) {
				found = true
			}
		}
		if !found {
			t.Errorf("sealpost %s: no line %s ...%s...:\n%s%s", strings.Join(r.args, " "), want[0], want[1], r.stdout, r.stderr)
		}
	}
}

// TestCheckFilesAndModes: `check` says what an admin gets wrong about
// the data directory, one line each with the command that mends it, and
// exits non-zero; mended, it passes again.
func TestCheckFilesAndModes(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files are given to nobody")
	}
	data := t.TempDir()
	writeFile(t, data, "sealpost.toml", []byte(fmt.Sprintf("[smtp]\nlisten = %q\n", postfixtest.FreeAddr(t))))
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, exitOK)
	key := filepath.Join(data, "secrets", "master.key")

	r := sealpost(t, data, nil, "check").want(t, exitOK)
	wantLines(t, r, [2]string{"ok  ", "data directory " + data + " and its files belong to root (uid 0), who runs this check"},
		[2]string{"ok  ", "the master key is 0600 or stricter, the database is private"},
		[2]string{"all checks passed", ""})

	// Modes an admin's chmod -R or cp leaves behind.
	must(t, os.Chmod(key, 0o644), os.Chmod(data, 0o775), os.Chmod(filepath.Join(data, "sealpost.db"), 0o644))
	r = sealpost(t, data, nil, "check")
	if r.code == exitOK {
		t.Fatalf("check passes with a readable master key:\n%s", r.stdout)
	}
	wantLines(t, r,
		[2]string{"FAIL", "master key " + key + " has mode 0644: it must be 0600 or stricter. Fix: chmod 600 " + key},
		[2]string{"FAIL", data + " is writable by its group (mode 0775). Fix: chmod go-w " + data},
		[2]string{"FAIL", "sealpost.db can be read by every user of this host (mode 0644"})
	if !strings.Contains(r.stderr, "3 problem(s) found") {
		t.Errorf("stderr does not count 3 problems:\n%s", r.stderr)
	}
	must(t, os.Chmod(key, 0o600), os.Chmod(data, 0o700), os.Chmod(filepath.Join(data, "sealpost.db"), 0o600))

	// The master key as a systemd credential (LoadCredential=): its mode
	// counts too, whoever owns it.
	creds := t.TempDir()
	raw, err := os.ReadFile(key)
	must(t, err)
	cred := writeFile(t, creds, "sealpost-master-key", raw)
	must(t, os.Chmod(cred, 0o640))
	withCred := map[string]string{"CREDENTIALS_DIRECTORY": creds}
	r = run(t, data, nil, withCred, "check")
	if r.code == exitOK {
		t.Fatalf("check passes with a group-readable master key credential:\n%s", r.stdout)
	}
	wantLines(t, r, [2]string{"FAIL", "master key " + cred + " has mode 0640: it must be 0600 or stricter. Fix: chmod 600 " + cred})
	must(t, os.Chmod(cred, 0o400))
	run(t, data, nil, withCred, "check").want(t, exitOK)

	// The pipe's user owns the data directory; a command run as root
	// left the database behind (README, Behind Postfix). Run as the
	// pipe's user, check names the file, both users and the chown.
	must(t, os.Chmod(filepath.Dir(binary), 0o755), os.Chmod(filepath.Dir(data), 0o711))
	chownAll(t, data, nobody)
	must(t, os.Chown(filepath.Join(data, "sealpost.db"), 0, 0))
	r = runAs(t, nobody, data, nil, "check")
	if r.code == exitOK {
		t.Fatalf("check as the pipe's user passes with a root-owned database:\n%s", r.stdout)
	}
	wantLines(t, r, [2]string{"FAIL", "sealpost.db in " + data + " belongs to root (uid 0), not to nobody (uid 65534) who owns the data directory and runs this check"},
		[2]string{"FAIL", "Fix: chown -R nobody: " + data})

	// Run as root on the pipe user's directory: a warning that names
	// both users and says how to run as the right one.
	chownAll(t, data, nobody)
	r = sealpost(t, data, nil, "check")
	if r.code == exitOK {
		t.Fatalf("check as root on nobody's data directory passes:\n%s", r.stdout)
	}
	wantLines(t, r, [2]string{"WARN", "data directory " + data + " belongs to nobody (uid 65534), but this check runs as root (uid 0)"},
		[2]string{"WARN", "sudo -u nobody sealpost"})
	r = runAs(t, nobody, data, nil, "check").want(t, exitOK)
	wantLines(t, r, [2]string{"ok  ", "belong to nobody (uid 65534), who runs this check"})
}

// TestCheckListenAddresses: each listen address of the configuration is
// free, held by a running sealpost (named, with its pid), in use by
// another program (named: serve cannot start), or not this host's.
func TestCheckListenAddresses(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	smtpAddr := postfixtest.FreeAddr(t)
	writeFile(t, data, "sealpost.toml", []byte(fmt.Sprintf("[smtp]\nlisten = %q\n", smtpAddr)))
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, exitOK)
	r := sealpost(t, data, nil, "check").want(t, exitOK)
	wantLines(t, r, [2]string{"ok  ", "smtp.listen " + smtpAddr + " is free"})

	s := startServe(t, data, "--smtp", smtpAddr)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	writeFile(t, data, "sealpost.toml", []byte(fmt.Sprintf("[smtp]\nlisten = %q\n[http]\nlisten = %q\n[submission]\nlisten = %q\n",
		smtpAddr, taken.Addr(), "192.0.2.1:2587")))
	r = sealpost(t, data, nil, "check")
	if r.code == exitOK {
		t.Fatalf("check passes with http.listen taken:\n%s", r.stdout)
	}
	wantLines(t, r,
		[2]string{"ok  ", fmt.Sprintf("smtp.listen %s is held by a running sealpost, sealpost (pid %d", smtpAddr, s.cmd.Process.Pid)},
		[2]string{"FAIL", fmt.Sprintf("http.listen %s is in use by %s (pid %d", taken.Addr(), filepath.Base(os.Args[0]), os.Getpid())},
		[2]string{"FAIL", "Fix: stop that program, or set http.listen in sealpost.toml to a free address"},
		[2]string{"FAIL", "submission.listen 192.0.2.1:2587 is not an address of this host"})
}

func must(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
