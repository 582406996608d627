package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Benchmarks delete no file while the package runs. On ext4 without a
// journal (this project's CI machines), allocating an inode skips every
// inode of its group freed in the last 60 s (360 s while its inode table
// block is dirty), and the scan costs more the more were freed
// (bench/lib.sh, "Deleting files"): deleting one benchmark round's
// outbox made the next round's file creations 3 to 6 times as expensive,
// an effect of the benchmark, not of Sealpost. Data directories and
// delivered copies are kept under benchRoot and removed when the package's
// tests and benchmarks have all finished (TestMain).
var (
	benchRootOnce sync.Once
	benchRoot     string
	parked        atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchDir returns a new empty directory that outlives b; see benchRoot.
func benchDir(b *testing.B) string {
	b.Helper()
	benchRootOnce.Do(func() {
		var err error
		if benchRoot, err = os.MkdirTemp("", "sealpost-bench-"); err != nil {
			b.Fatal(err)
		}
	})
	dir, err := os.MkdirTemp(benchRoot, "")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// parkOutbox moves the copies in dir (an outbox's new/) out of the way,
// leaving dir empty, without deleting them; see benchRoot.
func parkOutbox(b *testing.B, dir string) {
	b.Helper()
	to := filepath.Join(filepath.Dir(dir), fmt.Sprintf("delivered-%d", parked.Add(1)))
	if err := os.Rename(dir, to); err != nil {
		b.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		b.Fatal(err)
	}
}
