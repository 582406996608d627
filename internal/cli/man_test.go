package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestManPages writes the pages as the packaging does and checks that
// every command an admin can run has one, that groff formats each
// without a warning, and that a page carries its command's help and
// flags.
func TestManPages(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	if code := Main([]string{"man", dir, "--date", "2026-01-02"}, nil, &out, &out); code != ExitOK {
		t.Fatalf("sealpost man: exit %d\n%s", code, out.String())
	}
	e := &env{stdout: &out, stderr: &out}
	root := e.root()
	root.InitDefaultCompletionCmd()
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		want = append(want, manName(c)+".1")
		for _, sub := range manCommands(c) {
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"sealpost.1", "sealpost-serve.1", "sealpost-list-create.1", "sealpost-queue-flush.1"} {
		if !contains(want, name) {
			t.Errorf("no page %s among %v", name, want)
		}
	}
	got, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d pages written, want one per command: %d (%v)", len(got), len(want), want)
	}
	for _, hidden := range []string{"sealpost-man.1", "sealpost-completion.1", "sealpost-help.1"} {
		if _, err := os.Stat(filepath.Join(dir, hidden)); err == nil {
			t.Errorf("%s written: hidden and cobra's own commands get no page", hidden)
		}
	}
	serve, err := os.ReadFile(filepath.Join(dir, "sealpost-serve.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`.TH SEALPOST\-SERVE 1 "2026-01-02"`, `\-\-relay`, "Only list addresses are accepted", `.SH GLOBAL OPTIONS`, `\-\-data`} {
		if !bytes.Contains(serve, []byte(s)) {
			t.Errorf("sealpost-serve.1 lacks %q:\n%s", s, serve)
		}
	}
	groff := gpgtest.Require(t, "groff")
	for _, page := range want {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, page))
		msg, err := cmd.CombinedOutput()
		if err != nil || len(msg) > 0 {
			t.Errorf("groff on %s: %v\n%s", page, err, msg)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
