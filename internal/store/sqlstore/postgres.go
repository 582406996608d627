package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// What differs between SQLite and PostgreSQL is here and in the
// migrations: the connection, durability (PostgreSQL's commit returns
// once its log is flushed, synchronous_commit being on, so durable has
// nothing to wait for), isolation (every PostgreSQL transaction is
// SERIALIZABLE and retried when the server aborts it as a conflict, so
// that concurrent nodes see what one SQLite writer sees), the errors
// that mean "duplicate" and "no such table", and the space maintenance
// that PostgreSQL's autovacuum does by itself. The queries are shared.

// IsPostgres reports whether source names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(source string) bool {
	return strings.HasPrefix(source, "postgres://") || strings.HasPrefix(source, "postgresql://")
}

// serializationRetries bounds how often a transaction the server
// aborted as a conflict (SQLSTATE 40001, 40P01) is run again.
const serializationRetries = 20

// openPostgres connects to the database at url, checks that commits are
// synchronous, and brings the schema up to date under an advisory lock,
// so that nodes starting together migrate one at a time.
func openPostgres(ctx context.Context, url string, opt Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: database URL: %w", err)
	}
	// Every statement, in a transaction or alone, runs SERIALIZABLE;
	// commits wait for the log's flush (and a synchronous standby's, where
	// the server has one).
	// (ClaimDue alone asks for READ COMMITTED.)
	cfg.RuntimeParams["default_transaction_isolation"] = "serializable"
	cfg.RuntimeParams["synchronous_commit"] = "on"
	cfg.RuntimeParams["application_name"] = "sealpost"
	db := stdlib.OpenDB(*cfg)
	// Connections are kept between bursts (each new one costs the server
	// a process and the node its prepared statements), and closed after
	// five idle minutes.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &DB{db: db, opt: opt, pg: true}
	if err := s.checkPostgres(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrateLocked(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkPostgres refuses a server whose commits are not durable when
// they return (fsync off), since the 250 waits only for the commit.
func (s *DB) checkPostgres(ctx context.Context) error {
	var fsync string
	if err := s.db.QueryRowContext(ctx, `SHOW fsync`).Scan(&fsync); err != nil {
		return fmt.Errorf("sqlstore: connecting to PostgreSQL: %w", err)
	}
	if fsync != "on" {
		return errors.New("sqlstore: PostgreSQL runs with fsync = off: a committed message could be lost in a crash; turn fsync on")
	}
	return nil
}

// migrateLockKey is the advisory lock the nodes take to migrate one at a
// time ("sealpost" as a number).
const migrateLockKey = 0x7365616c706f7374

// migrateLocked runs migrate holding the advisory lock on one
// connection: a node that waited finds the schema up to date.
func (s *DB) migrateLocked(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockKey)); err != nil {
		return fmt.Errorf("sqlstore: migrate: taking the lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLockKey))
	return s.migrate(ctx)
}

// retryable reports whether err is PostgreSQL aborting a transaction
// as a serialization conflict or deadlock: running it again is safe.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// retry runs fn again while PostgreSQL aborts it as a conflict, waiting
// a little longer each time (SQLite never does: fn runs once).
func (s *DB) retry(ctx context.Context, fn func() error) error {
	err := fn()
	for i := 0; retryable(err) && i < serializationRetries; i++ {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * time.Millisecond):
		}
		err = fn()
	}
	return err
}

// pgUnique reports whether err is PostgreSQL's unique_violation.
func pgUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// pgNoTable reports whether err is PostgreSQL's undefined_table.
func pgNoTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
