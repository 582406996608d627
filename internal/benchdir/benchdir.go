// Package benchdir gives benchmarks directories that outlive them, so
// that a benchmark deletes no file while its package runs. Test support:
// only _test.go files import it.
//
// On ext4 without a journal (this project's CI machines), allocating an
// inode skips every inode of its group freed in the last 60 s (360 s
// while its inode table block is dirty), and the scan costs more the more
// were freed (bench/lib.sh, "Deleting files"): deleting one benchmark
// round's outbox made the next round's file creations 3 to 6 times as
// expensive, an effect of the benchmark, not of the code it measures.
// Directories are kept under one root and removed when the package's
// tests and benchmarks have all finished (Main).
package benchdir

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error
	parked   atomic.Int64
)

// Main runs m and then removes every directory New made. Call it from
// the package's TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if root != "" {
		os.RemoveAll(root)
	}
	os.Exit(code)
}

// New returns a new empty directory that outlives tb, removed by Main.
func New(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() { root, rootErr = os.MkdirTemp("", "sealpost-bench-") })
	if rootErr != nil {
		tb.Fatal(rootErr)
	}
	dir, err := os.MkdirTemp(root, "")
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Park moves the files in dir (a Maildir's new/, say) out of the way,
// leaving dir empty, without deleting them.
func Park(tb testing.TB, dir string) {
	tb.Helper()
	to := filepath.Join(filepath.Dir(dir), fmt.Sprintf("parked-%d", parked.Add(1)))
	if err := os.Rename(dir, to); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
}
