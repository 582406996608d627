// Package sqlstore keeps Sealpost's records in SQLite through the pure-Go
// modernc.org/sqlite driver (so CGO_ENABLED=0 builds work). The schema
// comes from embedded migrations applied at Open.
//
// Queries use $N placeholders, Unix-millisecond BIGINT times and 0/1
// booleans, so a PostgreSQL implementation can share them; only the
// migrations and the connection setup are dialect-specific.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL, and
// every method that writes returns only once what it committed has been
// fsynced (DESIGN §5: no 250 before the message is durable): after its
// commit it waits for an fsync of the log, which the commits waiting at
// the same time share (groupSync). A short-lived process that handles
// one message (`sealpost process`) may open it with
// [Options.DeferSync] instead and make its commits durable together with
// [DB.Sync]. Every write goes through tx, exec or execOne, which
// TestEveryWriteIsSynced checks.
//
// Space: a database made by Open has auto_vacuum=INCREMENTAL, so
// ReclaimSpace can give the pages that purges free back to the file system
// a few at a time; secure_delete=FAST overwrites deleted rows on the pages
// that are written anyway. A database made before auto_vacuum was set
// keeps it off (only a full VACUUM changes it): its free pages are reused
// by new rows, and the file does not shrink.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/sealpost/sealpost/internal/store"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Options changes how Open sets up the database for one process. The zero
// value is what a long-running server and the admin commands use: every
// commit fsynced before the method that made it returns, and the
// write-ahead log checkpointed when the last connection closes.
type Options struct {
	// DeferSync leaves commits unsynced (synchronous=NORMAL: written to
	// the write-ahead log, in the operating system's cache, so they
	// survive the process but not a power failure) until Sync. A caller
	// that sets it must call Sync before it tells anyone that what it
	// committed is taken. Checkpoints still sync the log before and the
	// database after they copy it.
	DeferSync bool
	// KeepLog makes Close leave the write-ahead log as it is instead of
	// checkpointing it into the database: the next process to open the
	// database reads it from the log (its first connection reads the
	// whole log to rebuild its index, a cost that grows with the log),
	// and the automatic checkpoint after a commit that grows it past 1000 pages
	// (SQLite's default) moves it into the database. It is for a process
	// that exits right after Close.
	KeepLog bool
}

// DB is a Sealpost store backed by SQLite or PostgreSQL.
type DB struct {
	db   *sql.DB
	file string // the SQLite file; "" with PostgreSQL
	pg   bool   // PostgreSQL (postgres.go)
	opt  Options
	// newLog is set when the write-ahead log did not exist at Open: its
	// directory entry is synced with its first sync. Only the one sync
	// running at a time (groupSync) reads and clears it.
	newLog bool
	group  groupSync
	syncs  atomic.Int64 // fsyncs of the log, for the tests
	node   atomic.Pointer[string]
	// abortNext makes the next transaction fail as PostgreSQL's
	// serialization conflicts do, after its statements ran: tests prove
	// with it that a transaction tx runs again starts afresh.
	abortNext atomic.Bool
}

// SetNode names the node this process is (store.Node.ID): its claims
// carry it, so that the other nodes can release them if it dies
// (ReleaseDeadClaims).
func (s *DB) SetNode(id string) { s.node.Store(&id) }

// Node is the name SetNode gave, or "".
func (s *DB) Node() string {
	if p := s.node.Load(); p != nil {
		return *p
	}
	return ""
}

// Open opens the database at source and brings its schema up to date:
// a PostgreSQL database when source is a postgres:// URL (IsPostgres),
// else the SQLite file at that path, created if needed.
func Open(ctx context.Context, source string) (*DB, error) {
	return OpenWith(ctx, source, Options{})
}

// OpenWith is Open with options. With PostgreSQL, DeferSync and KeepLog
// change nothing: each commit is durable when it returns.
func OpenWith(ctx context.Context, source string, opt Options) (*DB, error) {
	if IsPostgres(source) {
		return openPostgres(ctx, source, opt)
	}
	return openSQLite(ctx, source, opt)
}

// openSQLite opens the SQLite database in file.
func openSQLite(ctx context.Context, file string, opt Options) (*DB, error) {
	q := url.Values{}
	// https://sqlite.org/pragma.html#pragma_synchronous: "WAL mode is
	// always consistent with synchronous=NORMAL, but WAL mode does lose
	// durability": a commit is durable once the log is fsynced, which
	// durable (or, with DeferSync, Sync) does.
	pragmas := []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)", "secure_delete(FAST)"}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		// auto_vacuum first, and only for a new file: it takes effect
		// only while the file has no tables, and setting it on an
		// existing one writes (which fails on a full disk).
		pragmas = append([]string{"auto_vacuum(INCREMENTAL)"}, pragmas...)
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	if err := createPrivate(file); err != nil {
		return nil, fmt.Errorf("sqlstore: create %s: %w", file, err)
	}
	_, err := os.Stat(file + "-wal")
	newLog := err != nil
	base, err := sqlite.NewConnector("file:" + file + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", file, err)
	}
	db := sql.OpenDB(cachingConnector{base})
	// One writer at a time is SQLite's model; a single connection keeps
	// transactions from failing with SQLITE_BUSY inside one process.
	db.SetMaxOpenConns(1)
	s := &DB{db: db, file: file, opt: opt, newLog: newLog}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. With Options.KeepLog it leaves the connection
// to the process's exit, which releases it without the checkpoint that
// closing the last connection does (https://sqlite.org/wal.html: the log
// is durable and read by the next connection, as after a crash); the
// process must exit soon after.
func (s *DB) Close() error {
	if s.opt.KeepLog && !s.pg {
		return nil
	}
	return s.db.Close()
}

// Sync makes every transaction committed so far durable: with
// Options.DeferSync it fsyncs the write-ahead log (and, the first time, the
// directory that holds a log created by this process); otherwise each
// commit was synced already and Sync does nothing.
func (s *DB) Sync() error {
	if !s.opt.DeferSync || s.pg {
		return nil
	}
	return s.syncLog()
}

// durable makes what was committed before the call durable, sharing the
// fsync with the commits that wait at the same time; with DeferSync it
// leaves that to Sync.
func (s *DB) durable() error {
	if s.opt.DeferSync || s.pg {
		return nil
	}
	if err := s.group.wait(s.syncLog); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// syncLog fsyncs the write-ahead log, and the first time the directory
// that holds a log created by this process.
func (s *DB) syncLog() error {
	s.syncs.Add(1)
	// fsync(2) flushes the file, whichever descriptor names it: SQLite's
	// own writes to the log are flushed through this one.
	if err := syncFile(s.file + "-wal"); err != nil {
		return fmt.Errorf("sqlstore: sync: %w", err)
	}
	if s.newLog {
		if err := syncFile(filepath.Dir(s.file)); err != nil {
			return fmt.Errorf("sqlstore: sync: %w", err)
		}
		s.newLog = false
	}
	return nil
}

// syncFile fsyncs the file or directory at name. A log that is gone was
// checkpointed into the database, which the checkpoint synced.
func syncFile(name string) error {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// migrate applies the migrations the database has not had yet. An
// up-to-date database costs one query.
func (s *DB) migrate(ctx context.Context) error {
	current, err := s.schemaVersion(ctx)
	if err != nil && (strings.Contains(err.Error(), "no such table") || pgNoTable(err)) {
		// A new database.
		_, err = s.exec(ctx,
			`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	dir := "migrations/sqlite"
	if s.pg {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: bad name", name)
		}
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", name, err)
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, millis(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", name, err)
		}
	}
	return nil
}

// tx runs fn in a transaction, committing when it returns nil; the commit
// is durable when tx returns.
//
// On PostgreSQL a transaction the server aborts as a serialization
// conflict is run again (retry), fn included: fn must not do anything
// but its statements, or do it again harmlessly.
func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.txAt(ctx, sql.LevelDefault, fn)
}

// txAt is tx at isolation level (PostgreSQL only; sql.LevelDefault is
// SERIALIZABLE there, and BEGIN IMMEDIATE on SQLite).
func (s *DB) txAt(ctx context.Context, level sql.IsolationLevel, fn func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if s.pg && level != sql.LevelDefault {
		opts = &sql.TxOptions{Isolation: level}
	}
	err := s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		if s.abortNext.CompareAndSwap(true, false) {
			tx.Rollback()
			return &pgconn.PgError{Code: "40001", Message: "aborted by the test (abortNext)"}
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	return s.durable()
}

// writeRow runs one statement that writes and returns a row (RETURNING)
// into dest, durable when writeRow returns; sql.ErrNoRows when it wrote
// nothing.
func (s *DB) writeRow(ctx context.Context, dest []any, query string, args ...any) error {
	err := s.retry(ctx, func() error { return s.db.QueryRowContext(ctx, query, args...).Scan(dest...) })
	if err != nil {
		return err
	}
	return s.durable()
}

// exec runs one statement that writes, durable when exec returns.
func (s *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.retry(ctx, func() (err error) {
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, s.durable()
}

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// isUnique reports whether err is a uniqueness violation.
func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint failed") || pgUnique(err))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// createPrivate creates the database file, when missing, readable by its
// owner only. SQLite would create it with the process's umask (0644 from
// a shell), and gives its -wal and -shm files the database's mode: an
// admin command run first would leave the lists' records readable by
// every local user.
func createPrivate(file string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// scanIDs reads the one int64 column of rows (as a query returns them).
func scanIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Close()
}
