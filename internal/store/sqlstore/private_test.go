package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDatabaseFilesPrivate: a new database and its write-ahead log are
// readable by their owner only, whatever the umask of the command that
// made them (0022 from an admin's shell).
func TestDatabaseFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	file := filepath.Join(t.TempDir(), "sealpost.db")
	db, err := OpenWith(context.Background(), file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.db.ExecContext(context.Background(), "CREATE TABLE private_test (x)"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", f, fi.Mode().Perm())
		}
	}
}
