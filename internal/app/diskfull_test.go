//go:build linux

package app_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	_ "modernc.org/sqlite"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestServeOnFullDisk: serve starts on a file system that is full, with
// start-up maintenance to do that writes (keys indexed by an older
// version, a delivery claimed by a crashed run, a stale spooled message);
// while the disk is full a post gets 451 4.3.0 with a reference, the
// sender's MTA keeps it; once space is back the same post is accepted
// and delivered, and the maintenance is done after all, without a
// restart. The file system is a real tmpfs, filled by a ballast file.
func TestServeOnFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := smallFilesystem(t, 32<<20)
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Listen = "127.0.0.1:0"

	// What an earlier run left behind.
	before, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	listFpr, ms := setupList(t, &server{app: before, dir: dir}, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	post := wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout)
	if err := before.Pipeline.Process(ctx, pipeline.Message{Ref: "earlier", EnvelopeFrom: "x@example.net",
		Rcpt: "team-sendkey@lists.example.org", Raw: []byte("Subject: key\r\n\r\nkey please\r\n")}); err != nil {
		t.Fatal(err)
	}
	if ds, err := before.Store.ClaimDue(ctx, time.Now(), time.Hour, "earlier", 10); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v, %v", ds, err)
	}
	l, err := before.Store.ListByAddress(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	stale := &store.Inbound{ID: "stale", ListID: l.ID, Digest: "stale", EnvelopeFrom: "x@example.net",
		Sealed: []byte("sealed"), ReceivedAt: time.Now().Add(-app.SpoolRetention - time.Hour)}
	if _, err := before.Store.Admit(ctx, stale, stale.ReceivedAt, time.Minute); err != nil {
		t.Fatal(err)
	}
	before.Close()
	db := rawDB(t, filepath.Join(dir, app.DatabaseFile))
	mustExec(t, db, `UPDATE keys SET index_version = 0`)
	// The write-ahead log keeps the space of earlier writes: empty it, so
	// that every write needs new space.
	mustExec(t, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
	ballast := fillUp(t, dir)

	logs := &lockedBuffer{}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	addr := serve(t, a)
	err = smtpSend(t, addr, nil, alice.addr, []string{team}, post)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) || !strings.Contains(se.Message, "reference") {
		t.Fatalf("post while the disk is full: %v, want 451 4.3.0 with a reference", err)
	}
	if strings.Contains(se.Message, "full") || strings.Contains(se.Message, "sqlstore") {
		t.Errorf("the reply tells internals: %q", se.Message)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := smtpSend(t, addr, nil, alice.addr, []string{team}, post); err != nil {
		t.Fatalf("post once space is back: %v, want 250", err)
	}
	got := map[string]bool{}
	for _, c := range maildirMessages(t, filepath.Join(dir, app.OutboxDir), len(ms)) {
		got[deliveredTo(c)] = true
	}
	if !got["alice@example.org"] || !got["bob@example.org"] {
		t.Errorf("copies went to %v, want alice and bob", got)
	}
	waitFor(t, "the start-up maintenance is done after the post", func() bool {
		var old, spooled int
		db.QueryRow(`SELECT COUNT(*) FROM keys WHERE index_version < $1`, keyring.IndexVersion).Scan(&old)
		db.QueryRow(`SELECT COUNT(*) FROM spool WHERE id = 'stale'`).Scan(&spooled)
		return old == 0 && spooled == 0
	})
	if !strings.Contains(logs.String(), "failed; retried later") {
		t.Errorf("the log does not say that start-up maintenance failed:\n%s", logs)
	}
}

// smallFilesystem mounts a tmpfs of size bytes for the test. Mounting
// needs root (CAP_SYS_ADMIN), which CI has; elsewhere the test is
// skipped, unless REQUIRE_INTEROP is set.
func smallFilesystem(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		if os.Getenv("REQUIRE_INTEROP") != "" {
			t.Fatalf("mount a tmpfs (REQUIRE_INTEROP is set): %v", err)
		}
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillUp writes a file in dir until the file system is full.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for len(buf) > 0 {
		if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
			buf = buf[:len(buf)/2]
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// rawDB opens the database file beside Sealpost, as another process
// would.
func rawDB(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// serve runs a.Serve until the test ends and returns its SMTP address.
func serve(t testing.TB, a *app.App) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			a.Close()
		})
		return addr.String()
	case err := <-done:
		cancel()
		a.Close()
		t.Fatalf("Serve: %v", err)
	}
	return ""
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// lockedBuffer is a log destination that Sealpost's goroutines and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
