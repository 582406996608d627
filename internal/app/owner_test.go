package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootRefusedOthersDataDir: root may not open a data directory that
// belongs to another user, and makes nothing in it; its own, or a new
// one, it may.
func TestRootRefusedOthersDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	data := t.TempDir()
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, nil)
	var ce *ConfigError
	if err == nil {
		a.Close()
		t.Fatal("root opened a data directory of uid 65534")
	}
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "belongs to") || !strings.Contains(err.Error(), "sudo -u") {
		t.Errorf("error = %v, want a configuration error saying whose it is and how to run as them", err)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("root made %d entries in another user's data directory", len(entries))
	}

	own := filepath.Join(t.TempDir(), "new")
	cfg, err = LoadConfig(own)
	if err != nil {
		t.Fatal(err)
	}
	a, err = Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("root opening a new data directory: %v", err)
	}
	a.Close()
}
