package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
)

// Exit codes of the user's contract (DESIGN §3, sysexits).
const (
	exitOK     = 0
	exitUsage  = 64
	exitData   = 65
	exitNoUser = 67
	exitTemp   = 75
	exitConfig = 78
)

// TestHelp: every command and subcommand answers --help with text and
// exit 0, without needing a data directory.
func TestHelp(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "never-created")
	// Walk the whole command tree from the root's help, so that a new
	// command cannot go without one.
	seen := 0
	queue := []string{""}
	for len(queue) > 0 {
		cmd := queue[0]
		queue = queue[1:]
		seen++
		r := sealpost(t, data, nil, append(strings.Fields(cmd), "--help")...).want(t, exitOK)
		if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "sealpost "+cmd) {
			t.Errorf("--help printed no usage for %q:\n%s", cmd, r.stdout)
		}
		queue = append(queue, subcommands(cmd, r.stdout)...)
	}
	if seen < 25 {
		t.Errorf("walked %d commands; the tree was not read", seen)
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("--help created the data directory %s", data)
	}
}

// subcommands reads the "Available Commands:" block of a help text.
func subcommands(parent, help string) []string {
	_, block, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		name := strings.Fields(line)[0]
		if name != "help" && name != "completion" {
			out = append(out, strings.TrimSpace(parent+" "+name))
		}
	}
	return out
}

// TestUsageErrors: a command called wrongly exits 64 and says why.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, exitOK)
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		say   string // in stderr
	}{
		{name: "member add without --key", args: []string{"member", "add", "team@lists.example.org", "bob@example.org"}, say: "--key"},
		{name: "key file missing", args: []string{"member", "add", "team@lists.example.org", "bob@example.org", "--key", filepath.Join(data, "nope.asc")}, say: "nope.asc"},
		{name: "list create without address", args: []string{"list", "create"}, say: "arg"},
		{name: "unknown key algorithm", args: []string{"list", "create", "x@lists.example.org", "--key-algo", "dsa"}, say: "dsa"},
		{name: "unknown flag", args: []string{"check", "--no-such-flag"}, say: "no-such-flag"},
		{name: "extra argument", args: []string{"check", "extra"}, say: "extra"},
		{name: "process without message", stdin: []byte{}, args: []string{"process", "team@lists.example.org"}, say: "standard input"},
		{name: "unknown command", args: []string{"no-such-command"}, say: "no-such-command"},
		{name: "unknown subcommand", args: []string{"list", "no-such-subcommand"}, say: "no-such-subcommand"},
		{name: "unknown relay TLS level", args: []string{"serve", "--relay-tls", "secure"}, say: `--relay-tls: TLS level "secure" is not none, may, encrypt or verify`},
		{name: "relay TLS flags in conflict", args: []string{"serve", "--relay-require-tls", "--relay-tls", "may"}, say: "--relay-require-tls means --relay-tls verify, not may"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sealpost(t, data, tc.stdin, tc.args...)
			r.want(t, exitUsage)
			if !strings.Contains(r.stderr, tc.say) {
				t.Errorf("stderr does not mention %q:\n%s", tc.say, r.stderr)
			}
		})
	}
}

// TestBadConfig: an invalid sealpost.toml makes every command that needs
// the configuration exit 78, naming the file and the key; except process,
// for which an MTA waits (DESIGN §3): it exits 75, so the MTA retries,
// and names the problem in its log only.
func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, toml, say string }{
		{"bad listen address", "[smtp]\nlisten = \"nonsense\"\n", "smtp.listen"},
		{"unknown key", "[smtp]\nlisten_typo = \"127.0.0.1:2525\"\n", "listen_typo"},
		{"not TOML", "[smtp\nlisten = \n", "sealpost.toml"},
		{"unknown relay TLS level", "[relay]\ntls = \"secure\"\n", "relay.tls"},
		{"relay TLS settings in conflict", "[relay]\nrequire_tls = true\ntls = \"encrypt\"\n", "relay.require_tls: true means tls ="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			if err := os.WriteFile(filepath.Join(data, "sealpost.toml"), []byte(tc.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"check"},
				{"serve", "--smtp", "127.0.0.1:0"},
				{"list", "create", "team@lists.example.org"},
				{"list", "show", "team@lists.example.org"},
				{"member", "list", "team@lists.example.org"},
			} {
				r := sealpost(t, data, []byte("Subject: x\r\n\r\nx\r\n"), args...).want(t, exitConfig)
				if !strings.Contains(r.stderr, "sealpost.toml") || !strings.Contains(r.stderr, tc.say) {
					t.Errorf("%s: stderr does not name sealpost.toml and %q:\n%s", args[0], tc.say, r.stderr)
				}
			}
			r := sealpost(t, data, []byte("Subject: x\r\n\r\nx\r\n"), "process", "team@lists.example.org").want(t, exitTemp)
			if strings.Contains(r.stderr, "sealpost.toml") {
				t.Errorf("process: the MTA is told about the configuration:\n%s", r.stderr)
			}
			if log, _ := os.ReadFile(filepath.Join(data, "process.log")); !strings.Contains(string(log), tc.say) {
				t.Errorf("process.log does not name %q:\n%s", tc.say, log)
			}
		})
	}
}

// TestDemo: the walkthrough needs nothing set up and ends well.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := sealpost(t, t.TempDir(), nil, "demo").want(t, exitOK)
	if !strings.Contains(r.stdout, "Done:") {
		t.Errorf("demo output lacks \"Done:\":\n%s", r.stdout)
	}
}

// listJSON is the part of `list show --json` the tests read.
type listJSON struct {
	Address        string            `json:"address"`
	Owner          string            `json:"owner"`
	KeyFingerprint string            `json:"key_fingerprint"`
	Addresses      map[string]string `json:"addresses"`
	Members        int               `json:"members"`
	Options        map[string]string `json:"options"`
}

// memberJSON is one entry of `member list --json`.
type memberJSON struct {
	Email          string `json:"email"`
	Admin          bool   `json:"admin"`
	KeyFingerprint string `json:"key_fingerprint"`
	KeyStatus      string `json:"key_status"`
}

func showList(t *testing.T, data, list string) listJSON {
	t.Helper()
	r := sealpost(t, data, nil, "list", "show", list, "--json").want(t, exitOK)
	var v listJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("list show --json: %v\n%s", err, r.stdout)
	}
	return v
}

func listMembers(t *testing.T, data, list string) []memberJSON {
	t.Helper()
	r := sealpost(t, data, nil, "member", "list", list, "--json").want(t, exitOK)
	var v []memberJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("member list --json: %v\n%s", err, r.stdout)
	}
	return v
}

// gpgFingerprints returns the primary-key fingerprints gpg lists for who.
func gpgFingerprints(t *testing.T, g *gpgtest.GPG, who string) []string {
	t.Helper()
	r := g.MustRun(nil, "--with-colons", "--list-keys", who)
	var fprs []string
	afterPub := false
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "pub":
			afterPub = true
		case f[0] == "fpr" && afterPub && len(f) > 9:
			fprs = append(fprs, f[9])
			afterPub = false
		}
	}
	return fprs
}

// TestContract drives one list through the user's contract with real gpg
// on the members' side: create, key export, members, a post made by
// `gpg --sign --encrypt`, the copies opened by `gpg --decrypt`, replay and
// unsigned rejections, and the self-check.
func TestContract(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		owner = "owner@example.org"
		alice = "alice@example.org"
		bob   = "bob@example.org"
	)
	homes := map[string]*gpgtest.GPG{alice: gpgtest.New(t), bob: gpgtest.New(t)}
	data := t.TempDir()
	keyDir := t.TempDir()
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	var listFpr string
	step("list create and key import into gpg", func(t *testing.T) {
		sealpost(t, data, nil, "list", "create", list, "--owner", owner).want(t, exitOK)
		key := sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout
		if !strings.HasPrefix(key, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
			t.Fatalf("list key is not an armored public key:\n%s", key)
		}
		for who, g := range homes {
			r := g.MustRun([]byte(key), "--import")
			if !r.HasStatus("IMPORT_OK") {
				t.Fatalf("%s: gpg --import did not report IMPORT_OK:\n%s", who, r.Status)
			}
		}
		fprs := gpgFingerprints(t, homes[alice], list)
		if len(fprs) != 1 {
			t.Fatalf("gpg lists %d keys for %s after import, want 1", len(fprs), list)
		}
		listFpr = fprs[0]
	})

	step("list show --json", func(t *testing.T) {
		v := showList(t, data, list)
		if v.Address != list || v.Owner != owner || !strings.EqualFold(v.KeyFingerprint, listFpr) || v.Members != 0 {
			t.Errorf("list show --json = %+v; want %s owned by %s with key %s and no members", v, list, owner, listFpr)
		}
	})

	fprs := map[string]string{}
	keyFiles := map[string]string{}
	step("member add with gpg keys", func(t *testing.T) {
		for _, who := range []string{alice, bob} {
			g := homes[who]
			name := strings.ToUpper(who[:1]) + strings.Split(who, "@")[0][1:]
			fprs[who] = g.GenKey(name + " <" + who + ">")
			keyFiles[who] = filepath.Join(keyDir, name+".asc")
			if err := os.WriteFile(keyFiles[who], g.Export(fprs[who]), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"member", "add", list, who, "--key", keyFiles[who]}
			if who == bob {
				args = append(args, "--admin")
			}
			r := sealpost(t, data, nil, args...).want(t, exitOK)
			if !strings.Contains(r.stdout, fprs[who]) {
				t.Errorf("member add output does not name the key %s:\n%s", fprs[who], r.stdout)
			}
		}
		ms := listMembers(t, data, list)
		if len(ms) != 2 {
			t.Fatalf("member list --json has %d members, want 2: %+v", len(ms), ms)
		}
		for _, m := range ms {
			if fprs[m.Email] == "" || !strings.EqualFold(m.KeyFingerprint, fprs[m.Email]) || m.KeyStatus != "usable" || m.Admin != (m.Email == bob) {
				t.Errorf("member %+v; want key %s, usable, admin only for %s", m, fprs[m.Email], bob)
			}
		}
		if n := showList(t, data, list).Members; n != 2 {
			t.Errorf("list show counts %d members, want 2", n)
		}
	})

	step("member add refuses a key for another address", func(t *testing.T) {
		const carol = "carol@example.org"
		r := sealpost(t, data, nil, "member", "add", list, carol, "--key", keyFiles[alice]).want(t, exitData)
		if !strings.Contains(r.stderr, carol) {
			t.Errorf("stderr does not name %s:\n%s", carol, r.stderr)
		}
		sealpost(t, data, nil, "member", "add", list, bob, "--key", keyFiles[bob]).want(t, exitData) // already a member
		if n := len(listMembers(t, data, list)); n != 2 {
			t.Errorf("%d members after refused adds, want 2", n)
		}
	})

	const canary = "CANARY-3156-black-box"
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: Alice <" + alice + ">\r\nTo: " + list +
		"\r\nSubject: protected subject\r\n\r\nHello list, from gpg. " + canary + "\r\n"
	post := pgpMIME(alice, list, homes[alice].MustRun([]byte(inner),
		"--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fprs[alice]).Stdout)

	step("process a gpg post: one copy per member that gpg opens", func(t *testing.T) {
		r := sealpost(t, data, post, "process", list, "--sender", alice).want(t, exitOK)
		if !strings.Contains(r.stdout, "accepted") {
			t.Errorf("process output: %q", r.stdout)
		}
		files := readOutbox(t, data)
		var got []string
		for _, f := range files {
			got = append(got, f.deliveredTo)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{alice, bob}) {
			t.Fatalf("outbox recipients %v, want one copy each for %s and %s", got, alice, bob)
		}
		bounce := showList(t, data, list).Addresses["bounce"]
		for _, f := range files {
			// VERP: the bounce address with the member and their token in it.
			if want := verp(t, data, bounce, f.deliveredTo); f.returnPath != want {
				t.Errorf("%s: Return-Path <%s>, want the list's bounce address for the member <%s>", f.name, f.returnPath, want)
			}
			checkGPGCopy(t, homes[f.deliveredTo], f, listFpr, canary)
		}
	})

	step("the same post again, as an MTA retries a pipe killed after its commit, exits 0 and sends nothing twice", func(t *testing.T) {
		before := readOutbox(t, data)
		r := sealpost(t, data, post, "process", list, "--sender", alice).want(t, exitOK)
		if !strings.Contains(r.stdout, "accepted") {
			t.Errorf("process output: %q", r.stdout)
		}
		if added := newFiles(before, readOutbox(t, data)); len(added) != 0 {
			t.Errorf("the retry added %d files to the outbox, want none", len(added))
		}
	})

	step("the post resent with another From is a replay: exits 65 and reaches no member", func(t *testing.T) {
		before := readOutbox(t, data)
		resent := []byte(strings.Replace(string(post), "From: "+alice, "From: mallory@example.net", 1))
		sealpost(t, data, resent, "process", list, "--sender", "mallory@example.net").want(t, exitData)
		checkRejected(t, before, readOutbox(t, data), owner, canary)
	})

	step("unsigned post exits 65 and reaches no member", func(t *testing.T) {
		unsigned := pgpMIME(alice, list, homes[alice].MustRun([]byte(inner), "--armor", "--encrypt", "-r", listFpr).Stdout)
		before := readOutbox(t, data)
		sealpost(t, data, unsigned, "process", list, "--sender", alice).want(t, exitData)
		checkRejected(t, before, readOutbox(t, data), owner, canary)
	})

	step("check", func(t *testing.T) {
		r := sealpost(t, data, nil, "check").want(t, exitOK)
		if !strings.Contains(r.stdout, "all checks passed") || strings.Contains(r.stdout, "FAIL") {
			t.Errorf("check output:\n%s", r.stdout)
		}
	})
}

// checkGPGCopy decrypts one outbox copy with gpg in its recipient's home:
// integrity-protected, signed by the list key, with the post's text.
func checkGPGCopy(t *testing.T, g *gpgtest.GPG, f outboxFile, listFpr, canary string) {
	t.Helper()
	if g == nil {
		t.Errorf("%s: copy for unexpected recipient %s", f.name, f.deliveredTo)
		return
	}
	if strings.Contains(string(f.raw), canary) {
		t.Errorf("%s: the post's text is readable outside the encryption", f.name)
	}
	armored, err := encryptedPayload(f.raw)
	if err != nil {
		t.Errorf("%s: %v", f.name, err)
		return
	}
	r := g.Run(armored, "--decrypt")
	if r.Err != nil {
		t.Errorf("%s: gpg --decrypt as %s: %v\n%s", f.name, f.deliveredTo, r.Err, r.Stderr)
		return
	}
	for _, st := range []string{"DECRYPTION_OKAY", "GOODMDC"} {
		if !r.HasStatus(st) {
			t.Errorf("%s: gpg status lacks %s:\n%s", f.name, st, r.Status)
		}
	}
	if !r.Verified(listFpr) {
		t.Errorf("%s: gpg does not verify the signature by %s:\n%s", f.name, listFpr, r.Report())
	}
	if !strings.Contains(string(r.Stdout), canary) {
		t.Errorf("%s: decrypted copy lacks the post's text:\n%s", f.name, r.Stdout)
	}
}

// checkRejected: a rejection added the owner's notice to the outbox and
// nothing else, and the notice carries no decrypted content (DESIGN §4.3).
func checkRejected(t *testing.T, before, after []outboxFile, owner, canary string) {
	t.Helper()
	added := newFiles(before, after)
	if len(added) != 1 {
		t.Errorf("rejection added %d files to the outbox, want one notice to the owner", len(added))
	}
	for _, f := range added {
		if f.deliveredTo != owner {
			t.Errorf("rejected post produced %s for %s; only the owner (%s) may be told", f.name, f.deliveredTo, owner)
		}
		if strings.Contains(string(f.raw), canary) || strings.Contains(string(f.raw), "protected subject") {
			t.Errorf("notice %s carries decrypted content:\n%s", f.name, f.raw)
		}
	}
}

// verp is the envelope sender of member's copies: bounce
// (LIST-bounce@DOMAIN) with the member's address and token in it,
// LIST-bounce+LOCAL=MDOMAIN=TOKEN@DOMAIN, the token made with the data
// directory's master key.
func verp(t *testing.T, data, bounce, member string) string {
	t.Helper()
	master, err := os.ReadFile(filepath.Join(data, "secrets", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keyring.NewSealer(master, nil)
	if err != nil {
		t.Fatal(err)
	}
	local, domain, _ := strings.Cut(bounce, "@")
	list := strings.TrimSuffix(local, "-bounce") + "@" + domain
	return mail.VERP(list, member, mail.VERPToken(sealer.BounceTag(list, member)))
}
