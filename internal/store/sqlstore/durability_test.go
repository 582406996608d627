package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestDeferSync: issue 17. Commits do not fsync (synchronous=NORMAL);
// by default every write waits for an fsync of the log before it returns
// (the group commit), and with DeferSync none does until Sync.
func TestDeferSync(t *testing.T) {
	ctx := context.Background()
	for _, opt := range []Options{{}, {DeferSync: true}} {
		db, err := OpenWith(ctx, filepath.Join(t.TempDir(), "sealpost.db"), opt)
		if err != nil {
			t.Fatal(err)
		}
		before := db.syncs.Load()
		newList(t, db, "team@lists.example.org")
		var got int
		if err := db.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != 1 {
			t.Errorf("%+v: synchronous = %d, want 1 (NORMAL)", opt, got)
		}
		synced := db.syncs.Load() - before
		if opt.DeferSync && synced != 0 || !opt.DeferSync && synced == 0 {
			t.Errorf("%+v: %d fsyncs of the log while creating a list", opt, synced)
		}
		if err := db.Sync(); err != nil {
			t.Errorf("%+v: Sync: %v", opt, err)
		}
		if opt.DeferSync && db.syncs.Load() == before {
			t.Errorf("%+v: Sync did not fsync the log", opt)
		}
		db.Close()
	}
}

// TestGroupCommit: concurrent writes through the store each wait for an
// fsync of the log, and share them when they wait together (how many
// share depends on timing, so it is logged: TestGroupSyncCovers checks
// the sharing with a sync slow enough to be sure).
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "sealpost.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const writers = 64
	before := db.syncs.Load()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := db.AddAudit(ctx, &store.AuditEntry{At: time.Now(), Actor: "test", Via: "test", Action: fmt.Sprint("write ", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	synced := db.syncs.Load() - before
	t.Logf("%d concurrent writes, %d fsyncs of the log", writers, synced)
	if synced == 0 || synced > writers {
		t.Errorf("%d concurrent writes made %d fsyncs of the log", writers, synced)
	}
}

// TestGroupSyncCovers: each wait returns after a whole sync that began
// after the wait was called, however many wait at once; a failed sync
// fails that wait and every later one.
func TestGroupSyncCovers(t *testing.T) {
	var g groupSync
	var seq atomic.Int64
	var mu sync.Mutex
	var spans [][2]int64
	syncFn := func() error {
		start := seq.Add(1)
		time.Sleep(time.Millisecond)
		mu.Lock()
		spans = append(spans, [2]int64{start, seq.Add(1)})
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			called := seq.Add(1)
			if err := g.wait(syncFn); err != nil {
				t.Error(err)
			}
			returned := seq.Add(1)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range spans {
				if s[0] > called && s[1] < returned {
					return
				}
			}
			t.Errorf("a wait called at %d returned at %d with no sync between (%v)", called, returned, spans)
		})
	}
	wg.Wait()
	if len(spans) >= 200 {
		t.Errorf("200 waits made %d syncs", len(spans))
	}
	failed := errors.New("disk gone")
	if err := g.wait(func() error { return failed }); !errors.Is(err, failed) {
		t.Errorf("failed sync: wait = %v", err)
	}
	if err := g.wait(func() error { return nil }); !errors.Is(err, failed) {
		t.Errorf("after a failed sync: wait = %v, want the failure again", err)
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
