package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The rate limits' counts (package auth's Limiter) live in the attempts
// table, so that the nodes sharing a database and a restarted node count
// the same attempts.

// RecentAttempts returns the times of key's attempts in scope since
// since, newest first, at most limit of them.
func (s *DB) RecentAttempts(ctx context.Context, scope, key string, since time.Time, limit int) ([]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at FROM attempts WHERE scope = $1 AND key = $2 AND at > $3
		ORDER BY at DESC LIMIT $4`, scope, key, millis(since), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: attempts: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("sqlstore: attempts: %w", err)
		}
		out = append(out, fromMillis(at))
	}
	return out, rows.Err()
}

// AddAttempt records an attempt of key in scope at at, and forgets every
// attempt in scope from before forget (their window has passed), so the
// table holds only what a limit still counts.
func (s *DB) AddAttempt(ctx context.Context, scope, key string, at, forget time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE scope = $1 AND at < $2`, scope, millis(forget)); err != nil {
			return fmt.Errorf("sqlstore: forget attempts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (scope, key, at) VALUES ($1, $2, $3)`, scope, key, millis(at)); err != nil {
			return fmt.Errorf("sqlstore: add attempt: %w", err)
		}
		return nil
	})
}

// ClearAttempts forgets key's attempts in scope (a sign-in succeeded).
func (s *DB) ClearAttempts(ctx context.Context, scope, key string) error {
	if _, err := s.exec(ctx, `DELETE FROM attempts WHERE scope = $1 AND key = $2`, scope, key); err != nil {
		return fmt.Errorf("sqlstore: clear attempts: %w", err)
	}
	return nil
}
