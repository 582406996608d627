package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// sealpostEnv is sealpost without standard input and with env on top of
// the test's environment; an empty value removes the variable.
func sealpostEnv(t *testing.T, data string, env map[string]string, args ...string) result {
	t.Helper()
	return run(t, data, nil, env, args...)
}

// grouped writes a fingerprint in groups of four, as gpg shows it.
func grouped(fpr string) string {
	var groups []string
	for i := 0; i < len(fpr); i += 4 {
		groups = append(groups, fpr[i:min(i+4, len(fpr))])
	}
	return strings.Join(groups, " ")
}

// writeFile writes data to name in dir and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importLines returns the report lines of `key import` that start with
// outcome, keyed by fingerprint.
func importLines(out, outcome string) map[string]string {
	lines := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == outcome {
			lines[f[2]] = line
		}
	}
	return lines
}

// keyShowJSON is the part of `key show --json` the tests read.
type keyShowJSON struct {
	Fingerprint string   `json:"fingerprint"`
	Engine      string   `json:"engine"`
	Addresses   []string `json:"addresses"`
	Usage       []string `json:"usage"`
	Status      string   `json:"status"`
	UsedBy      []string `json:"used_by"`
}

// TestKeyCommands: gpg's binary export imported with one line per key
// and a summary, a broken key among good ones refused with exit 65 while
// the others are imported, the keys shown and exported back to gpg.
func TestKeyCommands(t *testing.T) {
	t.Parallel()
	g := gpgtest.New(t)
	data, dir := t.TempDir(), t.TempDir()
	fprs := map[string]string{}
	for _, who := range []string{"alice", "bob", "carol", "mallory"} {
		fprs[who] = g.GenKey(strings.ToUpper(who[:1]) + who[1:] + " <" + who + "@example.org>")
	}
	export := func(who ...string) []byte {
		var b []byte
		for _, w := range who {
			b = append(b, g.MustRun(nil, "--export", fprs[w]).Stdout...)
		}
		return b
	}
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	people := writeFile(t, dir, "people.pgp", export("alice", "bob"))
	step("import a gpg export", func(t *testing.T) {
		r := sealpost(t, data, nil, "key", "import", people).want(t, exitOK)
		lines := importLines(r.stdout, "new")
		for _, who := range []string{"alice", "bob"} {
			if line := lines[fprs[who]]; !strings.Contains(line, who+"@example.org") {
				t.Errorf("no line \"new ... %s %s@example.org\":\n%s", fprs[who], who, r.stdout)
			}
		}
		if len(lines) != 2 || !strings.Contains(r.stdout, "\n2 keys: 2 new, 0 updated, 0 unchanged, 0 refused\n") {
			t.Errorf("want two new keys and the summary:\n%s", r.stdout)
		}
		r = sealpost(t, data, nil, "key", "import", "-q", people).want(t, exitOK)
		if r.stdout != "2 keys: 0 new, 0 updated, 2 unchanged, 0 refused\n" {
			t.Errorf("key import -q of the same file printed:\n%s", r.stdout)
		}
	})

	step("a broken key among good ones", func(t *testing.T) {
		// The user ID no longer matches its self-signature.
		broken := bytes.Replace(export("mallory"), []byte("mallory@example.org"), []byte("mallorz@example.org"), 1)
		mixed := writeFile(t, dir, "mixed.pgp", slices.Concat(export("alice"), broken, export("carol")))
		r := sealpost(t, data, nil, "key", "import", mixed).want(t, exitData)
		if !strings.Contains(importLines(r.stdout, "refused")[fprs["mallory"]], "self-signature") {
			t.Errorf("mallory's key is not refused for its self-signature:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "3 keys: 1 new, 0 updated, 1 unchanged, 1 refused") || !strings.Contains(r.stderr, "1 of 3 keys refused") {
			t.Errorf("summary:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		sealpost(t, data, nil, "key", "show", "carol@example.org").want(t, exitOK)
		sealpost(t, data, nil, "key", "show", fprs["mallory"]).want(t, exitData)
	})

	step("key show", func(t *testing.T) {
		r := sealpost(t, data, nil, "key", "show", "alice@example.org").want(t, exitOK)
		for _, want := range []string{grouped(fprs["alice"]), "alice@example.org", "Usable", "sign, encrypt", "nobody"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("key show lacks %q:\n%s", want, r.stdout)
			}
		}
		r = sealpost(t, data, nil, "key", "show", "--json", fprs["bob"]).want(t, exitOK)
		var v []keyShowJSON
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("key show --json: %v\n%s", err, r.stdout)
		}
		if len(v) != 1 || v[0].Fingerprint != fprs["bob"] || v[0].Engine != "openpgp" || !slices.Equal(v[0].Addresses, []string{"bob@example.org"}) ||
			v[0].Status != "Usable" || !slices.Equal(v[0].Usage, []string{"sign", "encrypt"}) || v[0].UsedBy == nil {
			t.Errorf("key show --json = %+v", v)
		}
		sealpost(t, data, nil, "key", "show", "dave@example.org").want(t, exitData)
	})

	step("key export", func(t *testing.T) {
		r := sealpost(t, data, nil, "key", "export", fprs["alice"]).want(t, exitOK)
		fresh := gpgtest.New(t)
		fresh.MustRun([]byte(r.stdout), "--import")
		if got := gpgFingerprints(t, fresh, "alice@example.org"); !slices.Equal(got, []string{fprs["alice"]}) {
			t.Errorf("gpg reads %v from key export, want %s", got, fprs["alice"])
		}
		r = sealpost(t, data, nil, "key", "export", "alice@example.org", "--fingerprint").want(t, exitOK)
		if !strings.Contains(r.stdout, grouped(fprs["alice"])+"\n") || !strings.Contains(r.stdout, "alice@example.org") {
			t.Errorf("key export --fingerprint:\n%s", r.stdout)
		}
		sealpost(t, data, nil, "key", "export", fprs["alice"], "--secret", "--fingerprint").want(t, exitUsage)
		r = sealpost(t, data, nil, "key", "export", fprs["alice"], "--secret").want(t, exitData)
		if r.stdout != "" {
			t.Errorf("a refused secret export wrote:\n%s", r.stdout)
		}
	})
}

// TestKeyImportPassphrase: a protected secret list key takes its
// passphrase from --passphrase-file (before the environment), from
// SEALPOST_PASSPHRASE, or from a systemd credential; with none of them
// it is refused without prompting.
func TestKeyImportPassphrase(t *testing.T) {
	t.Parallel()
	const pass = "correct horse"
	g := gpgtest.New(t)
	data, dir, creds := t.TempDir(), t.TempDir(), t.TempDir()
	pwFile := writeFile(t, dir, "pw.txt", []byte(pass+"\n"))
	writeFile(t, creds, "sealpost-passphrase", []byte(pass))
	noPass := map[string]string{"SEALPOST_PASSPHRASE": "", "CREDENTIALS_DIRECTORY": ""}
	for _, tc := range []struct {
		list  string
		flags []string
		env   map[string]string
	}{
		{"file", []string{"--passphrase-file", pwFile}, map[string]string{"SEALPOST_PASSPHRASE": "wrong", "CREDENTIALS_DIRECTORY": ""}},
		{"env", nil, map[string]string{"SEALPOST_PASSPHRASE": pass, "CREDENTIALS_DIRECTORY": ""}},
		{"credential", nil, map[string]string{"SEALPOST_PASSPHRASE": "", "CREDENTIALS_DIRECTORY": creds}},
	} {
		list := tc.list + "@lists.example.org"
		t.Run(tc.list, func(t *testing.T) {
			sealpost(t, data, nil, "list", "create", list).want(t, exitOK)
			before := showList(t, data, list).KeyFingerprint
			r := g.MustRun(nil, "--passphrase", pass, "--quick-generate-key", "List <"+list+">", "future-default", "default", "never")
			fpr := ""
			for _, line := range strings.Split(r.Status, "\n") {
				if f := strings.Fields(line); len(f) >= 4 && f[1] == "KEY_CREATED" {
					fpr = f[3]
				}
			}
			secret := writeFile(t, dir, tc.list+"-secret.asc",
				g.MustRun(nil, "--passphrase", pass, "--armor", "--export-secret-keys", fpr).Stdout)

			res := sealpostEnv(t, data, noPass, "key", "import", "--list", list, secret).want(t, exitData)
			if !strings.Contains(importLines(res.stdout, "refused")[fpr], "passphrase") {
				t.Errorf("without a passphrase: no refusal naming the passphrase:\n%s", res.stdout)
			}
			if got := showList(t, data, list).KeyFingerprint; got != before {
				t.Fatalf("a refused import changed the list's key to %s", got)
			}

			args := append([]string{"key", "import", "--list", list}, tc.flags...)
			res = sealpostEnv(t, data, tc.env, append(args, secret)...).want(t, exitOK)
			if !strings.Contains(importLines(res.stdout, "new")[fpr], list) || !strings.Contains(res.stdout, "now the OpenPGP key of "+list) {
				t.Errorf("import report:\n%s", res.stdout)
			}
			if got := showList(t, data, list).KeyFingerprint; !strings.EqualFold(got, fpr) {
				t.Errorf("list key %s, want the imported %s", got, fpr)
			}
		})
	}
}
