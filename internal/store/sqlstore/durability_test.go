package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDeferSync: issue 17. A store opened with DeferSync leaves its
// commits to Sync (synchronous=NORMAL); the default syncs every commit
// (FULL), and Sync then has nothing to do.
func TestDeferSync(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opt  Options
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{Options{}, 2},
		{Options{DeferSync: true}, 1},
	} {
		db, err := OpenWith(ctx, filepath.Join(t.TempDir(), "sealpost.db"), tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		newList(t, db, "team@lists.example.org")
		var got int
		if err := db.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%+v: synchronous = %d, want %d", tc.opt, got, tc.want)
		}
		if err := db.Sync(); err != nil {
			t.Errorf("%+v: Sync: %v", tc.opt, err)
		}
		db.Close()
	}
}

// TestKeepLog: issue 17. Close with KeepLog leaves the write-ahead log
// as it is (no checkpoint), and a later Open reads what it holds; the default
// Close checkpoints the log into the database and removes it.
func TestKeepLog(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		file := filepath.Join(t.TempDir(), "sealpost.db")
		db, err := OpenWith(ctx, file, Options{DeferSync: keep, KeepLog: keep})
		if err != nil {
			t.Fatal(err)
		}
		// What the process's exit does with the connection KeepLog left.
		t.Cleanup(func() { db.db.Close() })
		newList(t, db, "team@lists.example.org")
		if err := db.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(file + "-wal")
		switch {
		case keep && (err != nil || fi.Size() == 0):
			t.Fatalf("KeepLog: the log is gone or empty after Close (%v)", err)
		case !keep && err == nil:
			t.Fatalf("default: the log is left after Close (%d bytes)", fi.Size())
		}
		again, err := Open(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := again.ListByAddress(ctx, "team@lists.example.org"); err != nil {
			t.Errorf("keep=%v: the list is not found after reopening: %v", keep, err)
		}
		again.Close()
	}
}
