package pgtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBins makes root/VERSION/bin for each version, holding programs.
func fakeBins(t *testing.T, root string, programs []string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		dir := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(dir, p), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBinDir: the newest complete version wins, by number, not by name;
// PATH is the fallback; nothing found says what to install.
func TestBinDir(t *testing.T) {
	root := t.TempDir()
	pattern := filepath.Join(root, "*", "bin")
	t.Setenv("PATH", t.TempDir())
	if dir, why := binDir(pattern); dir != "" || !strings.Contains(why, "apt-get install") {
		t.Errorf("nothing installed: binDir = %q, %q; want why with the package to install", dir, why)
	}
	onPath := filepath.Join(t.TempDir(), "pg")
	fakeBins(t, onPath, programs, "x")
	t.Setenv("PATH", filepath.Join(onPath, "x", "bin"))
	if dir, _ := binDir(pattern); dir != filepath.Join(onPath, "x", "bin") {
		t.Errorf("initdb on PATH: binDir = %q", dir)
	}
	fakeBins(t, root, programs, "9", "13", "15")
	fakeBins(t, root, programs[1:], "16") // no initdb: incomplete
	if dir, _ := binDir(pattern); dir != filepath.Join(root, "15", "bin") {
		t.Errorf("9, 13, 15 and an incomplete 16: binDir = %q, want 15's", dir)
	}
}
