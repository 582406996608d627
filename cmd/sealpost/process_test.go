package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/policy"
)

// TestProcessAnswers: issue 14 item 7, DESIGN §3 and §4.3. What `sealpost
// process` tells the MTA (its exit status and the one line Postfix copies
// into the bounce) is the SMTP answer: one uniform text for every policy
// refusal, "no such user" for an address it does not serve, and a
// temporary failure when its data directory cannot be used. The reason
// goes to the log only; no internal name or path reaches the sender.
func TestProcessAnswers(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		alice = "alice@example.org"
		bob   = "bob@example.org"
	)
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	listKey := []byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout)
	homes := map[string]*gpgtest.GPG{}
	fprs := map[string]string{}
	for _, who := range []string{alice, bob, "mallory@example.net"} {
		g := gpgtest.New(t)
		fprs[who] = g.GenKey(who + " <" + who + ">")
		g.Import(listKey)
		homes[who] = g
		if who == "mallory@example.net" {
			continue
		}
		file := filepath.Join(t.TempDir(), "key.asc")
		if err := os.WriteFile(file, g.Export(fprs[who]), 0o600); err != nil {
			t.Fatal(err)
		}
		sealpost(t, data, nil, "member", "add", list, who, "--key", file).want(t, exitOK)
	}
	listFpr := gpgFingerprints(t, homes[alice], list)[0]
	inner := func(from, to string) []byte {
		return []byte("Content-Type: text/plain\r\nFrom: " + from + "\r\nTo: " + to + "\r\nSubject: s\r\n\r\nbody\r\n")
	}
	signEncrypt := func(who, from, to string, extra ...string) []byte {
		args := append([]string{"--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fprs[who]}, extra...)
		return pgpMIME(from, list, homes[who].MustRun(inner(from, to), args...).Stdout)
	}
	good := signEncrypt(alice, alice, list)
	other := gpgtest.New(t)
	otherFpr := other.GenKey("Other <other@example.net>")

	const refused = "sealpost: 550 5.7.1 Message not accepted by the list's policy; the list owner has been notified\n"
	cases := []struct {
		name     string
		rcpt     string
		msg      []byte
		exit     int
		want     string // the whole of stderr; stdout is empty unless accepted
		accepted bool
	}{
		{"accepted", list, good, exitOK, "", true},
		{"the same message again (a retry)", list, good, exitOK, "", true},
		{"encrypted to another key", list, pgpMIME(alice, list, other.MustRun(inner(alice, list), "--armor", "--encrypt", "-r", otherFpr).Stdout), exitData, refused, false},
		{"no integrity protection", list, pgpMIME(alice, list, homes[alice].MustRun(inner(alice, list), "--armor", "--rfc2440", "--cipher-algo", "AES256", "--sign", "--encrypt", "-r", listFpr, "-u", fprs[alice]).Stdout), exitData, refused, false},
		{"unsigned", list, pgpMIME(alice, list, homes[alice].MustRun(inner(alice, list), "--armor", "--encrypt", "-r", listFpr).Stdout), exitData, refused, false},
		{"signed by a non-member", list, signEncrypt("mallory@example.net", "mallory@example.net", list), exitData, refused, false},
		{"signed by alice as bob", list, signEncrypt(alice, bob, list), exitData, refused, false},
		{"signed for another list", list, signEncrypt(alice, alice, "other@lists.example.org"), exitData, refused, false},
		{"a replay with another From", list, []byte(strings.Replace(string(good), "From: "+alice, "From: mallory@example.net", 1)), exitData, refused, false},
		{"unencrypted", list, inner(alice, list), exitData, refused, false},
		{"no such list", "nobody@lists.example.org", good, exitNoUser, "sealpost: 550 5.1.1 No such user here\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sealpost(t, data, tc.msg, "process", tc.rcpt, "--sender", alice).want(t, tc.exit)
			switch {
			case tc.accepted && !regexp.MustCompile(`^accepted, reference [0-9a-f]+\n$`).MatchString(r.stdout):
				t.Errorf("stdout %q, want the reference", r.stdout)
			case !tc.accepted && (r.stdout != "" || r.stderr != tc.want):
				t.Errorf("stdout %q, stderr %q; want only %q", r.stdout, r.stderr, tc.want)
			}
			noInternals(t, data, r.stdout+r.stderr)
		})
	}
	log, err := os.ReadFile(filepath.Join(data, "process.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []policy.Reason{policy.Undecryptable, policy.NoIntegrity, policy.Unsigned, policy.UnknownSigner,
		policy.FromMismatch, policy.NotForThisList, policy.Replay, policy.NotEncrypted} {
		if !strings.Contains(string(log), "reason="+reason.String()) {
			t.Errorf("process.log does not say %s", reason)
		}
	}

	t.Run("too large", func(t *testing.T) {
		small := t.TempDir()
		if err := os.WriteFile(filepath.Join(small, "sealpost.toml"), []byte("[smtp]\nmax_message_bytes = 1024\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := sealpost(t, small, good, "process", list, "--sender", alice).want(t, exitData)
		if r.stderr != "sealpost: 552 5.3.4 Message too large for this address\n" {
			t.Errorf("stderr %q", r.stderr)
		}
		noInternals(t, small, r.stdout+r.stderr)
	})

	// What an MTA must retry, never bounce: a data directory, its
	// configuration or its database that cannot be read.
	temporary := regexp.MustCompile(`^sealpost: 451 4\.3\.0 Temporary failure, the message will be retried \(reference [0-9a-f]+\)\n$`)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"configuration unreadable", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "sealpost.toml"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"configuration invalid", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte("[smtp\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"database unreadable", func(t *testing.T, dir string) {
			sealpost(t, dir, nil, "list", "create", list).want(t, exitOK)
			if err := os.WriteFile(filepath.Join(dir, "sealpost.db"), []byte("not a database, not at all, really not"), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, "sealpost.db-wal"))
		}},
		{"master key missing", func(t *testing.T, dir string) {
			sealpost(t, dir, nil, "list", "create", list).want(t, exitOK)
			if err := os.Remove(filepath.Join(dir, "secrets", "master.key")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			r := sealpost(t, dir, good, "process", list, "--sender", alice).want(t, exitTemp)
			if r.stdout != "" || !temporary.MatchString(r.stderr) {
				t.Errorf("stdout %q, stderr %q; want only the temporary failure", r.stdout, r.stderr)
			}
			noInternals(t, dir, r.stdout+r.stderr)
		})
	}
}

// noInternals fails t when out names something of Sealpost's insides: a
// package, a path, a policy reason.
func noInternals(t *testing.T, data, out string) {
	t.Helper()
	bad := []string{data, "pipeline:", "sqlstore:", "sqlite", "sealpost.db", "sealpost.toml", "master.key", "secrets", "policy:", "app:", "cli:", "toml"}
	for r := policy.OK + 1; r.String() != "unknown"; r++ {
		bad = append(bad, r.String())
	}
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("output %q names %q", out, b)
		}
	}
}

// TestProcessLeavesLog: issue 17. `sealpost process` does not checkpoint
// the database when it exits: its commits stay in the write-ahead log,
// durable (synced once before the copies leave), and the next process
// reads them from there. Here the second run of the same message finds the
// first run's outcome in the log and sends nothing twice (DESIGN §4.4).
func TestProcessLeavesLog(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		alice = "alice@example.org"
	)
	data, g, fpr := listWithMember(t, list, alice)
	listFpr := gpgFingerprints(t, g, list)[0]
	inner := []byte("Content-Type: text/plain\r\nFrom: " + alice + "\r\nTo: " + list + "\r\nSubject: s\r\n\r\nbody\r\n")
	post := pgpMIME(alice, list, g.MustRun(inner, "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fpr).Stdout)

	copies := func() int {
		t.Helper()
		files, err := filepath.Glob(filepath.Join(data, "outbox", "new", "*"))
		if err != nil {
			t.Fatal(err)
		}
		return len(files)
	}
	for run := 1; run <= 2; run++ {
		r := sealpost(t, data, post, "process", list, "--sender", alice).want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "accepted, reference ") {
			t.Fatalf("run %d: stdout %q", run, r.stdout)
		}
		fi, err := os.Stat(filepath.Join(data, "sealpost.db-wal"))
		if err != nil || fi.Size() == 0 {
			t.Fatalf("run %d: the write-ahead log is gone or empty after process (%v): it was checkpointed", run, err)
		}
		if n := copies(); n != 1 {
			t.Fatalf("run %d: %d copies in the outbox, want 1", run, n)
		}
	}
}

// TestProcessInflatingPostMemory: issue 17. A post of a few hundred KB
// that inflates to 30 MB (gpg compresses it) goes through `process` to
// its members within 200 MiB of peak resident memory: the inflated
// content counts against max_message_bytes, is held a bounded number of
// times, and reaches SQLite in chunks; the copies are streamed into their
// files. Peak memory is read from /proc while the process runs
// (watchPeakRSS). A memory bound, not a timing.
func TestProcessInflatingPostMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a 30 MB post")
	}
	t.Parallel()
	const list, alice = "team@lists.example.org", "alice@example.org"
	data, g, fpr := listWithMember(t, list, alice)
	// More members, so that copies are written at once as in a real
	// list (their memory, with the post's, is what the limit bounds).
	const members = 8
	for i := 1; i < members; i++ {
		addr := fmt.Sprintf("m%d@example.org", i)
		key := filepath.Join(t.TempDir(), "key.asc")
		if err := os.WriteFile(key, g.Export(g.GenKey("M <"+addr+">")), 0o600); err != nil {
			t.Fatal(err)
		}
		sealpost(t, data, nil, "member", "add", list, addr, "--key", key).want(t, exitOK)
	}
	// 30 MB of numbered 3 KiB blocks: deflate's window finds the
	// repetition, the numbers keep it from being pure.
	block := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 48)
	var inner strings.Builder
	inner.WriteString("Content-Type: text/plain\r\nFrom: " + alice + "\r\nTo: " + list + "\r\nSubject: large\r\n\r\n")
	for i := 0; inner.Len() < 30_000_000; i++ {
		fmt.Fprintf(&inner, "block %d\r\n%s", i, block)
	}
	listFpr := gpgFingerprints(t, g, list)[0]
	post := pgpMIME(alice, list, g.MustRun([]byte(inner.String()), "--armor", "--compress-algo", "zlib",
		"--sign", "--encrypt", "-r", listFpr, "-u", fpr).Stdout)
	if len(post) > 1_000_000 {
		t.Fatalf("the post is %d bytes; gpg did not compress it", len(post))
	}
	r := run(t, data, post, map[string]string{"GOMEMLIMIT": ""}, "process", list, "--sender", alice).want(t, exitOK)
	if files, _ := filepath.Glob(filepath.Join(data, "outbox", "new", "*")); len(files) != members {
		t.Fatalf("%d copies in the outbox, want %d", len(files), members)
	}
	const bound = 200 << 20
	if r.maxRSS == 0 {
		t.Skip("the system does not report peak memory")
	}
	t.Logf("a %d KB post inflating to %d MB: peak RSS %d MiB", len(post)>>10, inner.Len()/1e6, r.maxRSS>>20)
	if r.maxRSS > bound {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", r.maxRSS>>20, bound>>20)
	}
}

// listWithMember makes a data directory with the list and one member
// whose key gpg made; it returns the directory, the member's gpg (which
// knows the list's key) and the member's key's fingerprint.
func listWithMember(t *testing.T, list, member string) (data string, g *gpgtest.GPG, fpr string) {
	t.Helper()
	data = t.TempDir()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	g = gpgtest.New(t)
	fpr = g.GenKey("Member <" + member + ">")
	g.Import([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	key := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(key, g.Export(fpr), 0o600); err != nil {
		t.Fatal(err)
	}
	sealpost(t, data, nil, "member", "add", list, member, "--key", key).want(t, exitOK)
	return data, g, fpr
}
