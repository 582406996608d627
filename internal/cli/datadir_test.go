package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// runIn runs the command line in this process, as Main does, under ctx.
func runIn(ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// commands returns every command of the tree under root, root included,
// as the user reaches them (help and completion too).
func commands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		out = append(out, commands(c)...)
	}
	return out
}

// placeholders gives a plausible value for each placeholder of a
// command's Use line. A new placeholder fails the test until it is added
// here: no command escapes the walk.
func placeholders(file string) map[string]string {
	return map[string]string{
		"ADDRESS":                 "team@lists.example.org",
		"LIST":                    "team@lists.example.org",
		"EMAIL":                   "bob@example.org",
		"ID":                      "1",
		"FILE":                    file,
		"FILE...":                 file,
		"FINGERPRINT":             "0123456789ABCDEF0123456789ABCDEF01234567",
		"FINGERPRINT|KEYID|EMAIL": "bob@example.org",
		"OPTION=VALUE...":         "name=Team",
		"OPTION=VALUE":            "format=auto",
		"DIR":                     filepath.Join(filepath.Dir(file), "pages"),
	}
}

// plausibleArgs fills the positional arguments of c's Use line: required
// placeholders only (not [optional] ones, flags' values or "< file").
func plausibleArgs(t *testing.T, c *cobra.Command, file string) []string {
	t.Helper()
	values := placeholders(file)
	fields := strings.Fields(c.Use)[1:]
	var out []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch {
		case strings.HasPrefix(f, "<"):
			return out
		case strings.HasPrefix(f, "["):
			for !strings.HasSuffix(fields[i], "]") {
				i++
			}
		case strings.HasPrefix(f, "--"):
			if i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") && !strings.HasPrefix(fields[i+1], "[") {
				i++ // the flag's value
			}
		default:
			v, ok := values[f]
			if !ok {
				t.Fatalf("%s: no plausible value for %q of %q: add one to placeholders", c.CommandPath(), f, c.Use)
			}
			out = append(out, v)
		}
	}
	return out
}

// keyFile writes an OpenPGP public key for bob@example.org, for key
// import and member add.
func keyFile(t *testing.T) string {
	t.Helper()
	k, err := pgp.GenerateKey("Bob", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bob.asc")
	if err := os.WriteFile(path, []byte(k.Armored()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// creatorArgs are the full command lines of the commands that create
// state, which run for real.
func creatorArgs(cert string) map[string][]string {
	return map[string][]string{
		"sealpost serve":          {"serve", "--smtp", "127.0.0.1:0"},
		"sealpost list create":    {"list", "create", "team@lists.example.org"},
		"sealpost gateway create": {"gateway", "create", "support@example.org", "--deliver-to", "smtp://127.0.0.1:2526"},
		"sealpost key import":     {"key", "import", cert},
		"sealpost user add":       {"user", "add", "admin@example.org", "--role", "admin"},
	}
}

// TestEveryCommandWithoutDataDirectory walks every command of the tree
// and runs it in an empty directory, with the default data directory
// (./sealpost-data) and no $SEALPOST_DATA. A command that creates
// nothing exits 78 naming the absolute path it looked at, why there and
// how to point it elsewhere, and leaves the directory empty; one that
// creates state (serve, list create, gateway create, key import, user
// add) makes the data directory; help, completion, the commands that only
// hold others and demo (its own temporary directory) need none and make
// none; process answers the MTA 75 and says where it looked in its log.
func TestEveryCommandWithoutDataDirectory(t *testing.T) {
	cert := keyFile(t)
	creators := creatorArgs(cert)
	seen := map[string]bool{}
	for _, c := range commands((&env{}).root()) {
		if !c.Runnable() {
			continue
		}
		path := c.CommandPath()
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			t.Setenv("SEALPOST_DATA", "")
			data := filepath.Join(dir, defaultDataDir)
			switch usesData(c) {
			case dataCreates:
				args, ok := creators[path]
				if !ok {
					t.Fatalf("%s creates state: add its arguments to creatorArgs", path)
				}
				seen[path] = true
				runCreator(t, args, data)
			case dataNone:
				args := append(strings.Fields(path)[1:], plausibleArgs(t, c, cert)...)
				if code, _, stderr := runIn(t.Context(), "", args...); code != ExitOK {
					t.Errorf("exit %d, want 0:\n%s", code, stderr)
				}
				wantEmpty(t, dir)
			case dataMTA:
				args := append(strings.Fields(path)[1:], plausibleArgs(t, c, cert)...)
				code, stdout, stderr := runIn(t.Context(), "From: bob@example.org\r\n\r\nhello\r\n", append(args, "--log-file", "-")...)
				if code != ExitTempFail || !strings.Contains(stderr, "451 4.3.0") || !strings.Contains(stderr, "no Sealpost data directory at "+data) {
					t.Errorf("exit %d, want 75 with 451 4.3.0 and the path in the log:\n%s%s", code, stdout, stderr)
				}
				if strings.Contains(stdout, data) || strings.Contains(strings.SplitN(stderr, "sealpost: 451", 2)[1], data) {
					t.Errorf("the path reaches the MTA's answer:\n%s%s", stdout, stderr)
				}
				wantEmpty(t, dir)
			default:
				args := append(strings.Fields(path)[1:], plausibleArgs(t, c, cert)...)
				code, stdout, stderr := runIn(t.Context(), "", args...)
				if code != ExitConfig {
					t.Fatalf("sealpost %s: exit %d, want 78:\n%s%s", strings.Join(args, " "), code, stdout, stderr)
				}
				for _, say := range []string{"no Sealpost data directory at " + data, "the default ./sealpost-data, in the current directory",
					"--data DIR", "SEALPOST_DATA=DIR", "this command creates none"} {
					if !strings.Contains(stderr, say) {
						t.Errorf("sealpost %s: the message does not say %q:\n%s", strings.Join(args, " "), say, stderr)
					}
				}
				wantEmpty(t, dir)
			}
		})
	}
	for path := range creators {
		if !seen[path] {
			t.Errorf("%s is in creatorArgs but does not create state (annotation dataCreates)", path)
		}
	}
}

// runCreator runs a command that creates state and checks that it made
// the data directory with its database; serve is stopped once its log
// says it serves.
func runCreator(t *testing.T, args []string, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	var stdout, stderr strings.Builder
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		r := bufio.NewReader(pr)
		for {
			line, err := r.ReadString('\n')
			stderr.WriteString(line)
			if strings.Contains(line, "sealpost serving") {
				cancel()
			}
			if err != nil {
				return
			}
		}
	}()
	code := run(ctx, args, strings.NewReader(""), &stdout, pw)
	pw.Close()
	<-logged
	if code == ExitConfig || strings.Contains(stderr.String(), "no Sealpost data directory") {
		t.Fatalf("sealpost %s was refused:\n%s", strings.Join(args, " "), stderr.String())
	}
	if code != ExitOK {
		t.Errorf("sealpost %s: exit %d:\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, app.DatabaseFile)); err != nil {
		t.Errorf("sealpost %s made no data directory: %v", strings.Join(args, " "), err)
	}
}

func wantEmpty(t *testing.T, dir string) {
	t.Helper()
	if es, _ := os.ReadDir(dir); len(es) > 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("%s is not empty: %v", dir, names)
	}
}

// TestNoDataDirectorySays: the message names the absolute path and why
// that one: --data (relative, made absolute), $SEALPOST_DATA, the
// default; a directory that exists but is not a data directory is named
// as such. --help works anywhere and makes nothing.
func TestNoDataDirectorySays(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("empty", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		say       []string
	}{
		{"default", "", []string{"list", "show", "team@lists.example.org"},
			[]string{"no Sealpost data directory at " + filepath.Join(dir, "sealpost-data"), "the default ./sealpost-data"}},
		{"--data relative", "", []string{"--data", "elsewhere", "member", "list", "team@lists.example.org"},
			[]string{"no Sealpost data directory at " + filepath.Join(dir, "elsewhere"), "given with --data"}},
		{"SEALPOST_DATA", filepath.Join(dir, "fromenv"), []string{"check"},
			[]string{"no Sealpost data directory at " + filepath.Join(dir, "fromenv"), "from $SEALPOST_DATA"}},
		{"--data beats SEALPOST_DATA", filepath.Join(dir, "fromenv"), []string{"--data", "flag", "check"},
			[]string{filepath.Join(dir, "flag"), "given with --data"}},
		{"an empty directory", "", []string{"--data", "empty", "queue", "list"},
			[]string{filepath.Join(dir, "empty") + " is not a Sealpost data directory: it holds no database (sealpost.db), configuration (sealpost.toml) or master key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SEALPOST_DATA", tc.env)
			code, _, stderr := runIn(t.Context(), "", tc.args...)
			if code != ExitConfig {
				t.Fatalf("exit %d, want 78:\n%s", code, stderr)
			}
			for _, s := range tc.say {
				if !strings.Contains(stderr, s) {
					t.Errorf("the message does not say %q:\n%s", s, stderr)
				}
			}
		})
	}
	t.Setenv("SEALPOST_DATA", "")
	for _, args := range [][]string{{"list", "show", "--help"}, {"check", "--help"}, {"--help"}, {"help", "member"}} {
		if code, stdout, stderr := runIn(t.Context(), "", args...); code != ExitOK || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%v: exit %d, no usage:\n%s%s", args, code, stdout, stderr)
		}
	}
	// The shell's completion asks cobra's hidden command, which the
	// walk does not see (cobra adds it when it runs).
	if code, stdout, stderr := runIn(t.Context(), "", cobra.ShellCompRequestCmd, "list", "s"); code != ExitOK || !strings.Contains(stdout, "show") {
		t.Errorf("completion: exit %d:\n%s%s", code, stdout, stderr)
	}
	if es, _ := os.ReadDir("empty"); len(es) > 0 {
		t.Errorf("a command made files in a directory that is not a data directory")
	}
	if _, err := os.Stat("sealpost-data"); err == nil {
		t.Errorf("a command made ./sealpost-data")
	}
}
