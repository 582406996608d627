package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Retention (DESIGN §5): what is delivered does not stay in the database.
// Each purge changes at most limit rows in one short transaction and
// returns how many it changed, so that a caller deletes in chunks and
// mail waiting for the write lock gets it between them; fewer than limit
// means nothing more is due.

// PurgeDeliveryData removes the message of up to limit deliveries in
// state (store.Sent or store.Failed) last attempted before cutoff, oldest
// first, and keeps each row as a small record: data empty, Purged set to
// now. Pending deliveries are never changed.
func (s *DB) PurgeDeliveryData(ctx context.Context, state store.DeliveryState, cutoff, now time.Time, limit int) (int64, error) {
	if state != store.Sent && state != store.Failed {
		return 0, fmt.Errorf("sqlstore: purge deliveries: state %q is not sent or failed", state)
	}
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// An empty blob, not NULL: the row keeps its shape, and its pages
		// of message bytes go to the free list (ReclaimSpace).
		ids, err := scanIDs(tx.QueryContext(ctx, `UPDATE deliveries SET data = '', purged_at = $1 WHERE id IN (
				SELECT id FROM deliveries WHERE state = $2 AND purged_at = 0 AND updated_at < $3 ORDER BY updated_at LIMIT $4)
			RETURNING id`, max(millis(now), 1), string(state), millis(cutoff), limit))
		if err != nil {
			return err
		}
		n = int64(len(ids))
		if n == 0 || s.pg {
			// PostgreSQL's vacuum reuses the space of the emptied
			// messages by itself.
			return nil
		}
		return compact(ctx, tx, ids)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge deliveries: %w", err)
	}
	return n, nil
}

// compact takes the deliveries ids out of their table and puts them back
// as they are. SQLite rebalances a table's pages when rows are deleted,
// not when a row shrinks: each record whose message was emptied in place
// would stay alone on a page that its message's first part filled (up to
// 4 KiB per record until record_days). Put back, dozens of records share
// a page. SELECT * keeps every column, whichever a later migration
// adds.
func compact(ctx context.Context, tx *sql.Tx, ids []int64) error {
	var args []any
	in := placeholders(&args, ids...)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`DROP TABLE IF EXISTS temp.purged`, nil},
		{`CREATE TEMP TABLE purged AS SELECT * FROM deliveries WHERE id IN (` + in + `)`, args},
		{`DELETE FROM deliveries WHERE id IN (SELECT id FROM temp.purged)`, nil},
		{`INSERT INTO deliveries SELECT * FROM temp.purged`, nil},
		{`DROP TABLE temp.purged`, nil},
	} {
		if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDeliveryRecords deletes up to limit sent or failed deliveries
// last attempted before cutoff whose message was removed already
// (PurgeDeliveryData).
func (s *DB) DeleteDeliveryRecords(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	return s.purge(ctx, "delete delivery records", `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM deliveries WHERE state IN ($1, $2) AND purged_at > 0 AND updated_at < $3 LIMIT $4)`,
		string(store.Sent), string(store.Failed), millis(cutoff), limit)
}

// PurgeThreads forgets up to limit gateway conversations last touched
// before cutoff, with their message-ids. A conversation with messages in
// its gateway's archive is kept as long as they are (the archive is
// deliberate).
func (s *DB) PurgeThreads(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	// thread_messages go with their thread: ON DELETE CASCADE.
	return s.purge(ctx, "purge conversations", `DELETE FROM threads WHERE (list_id, thread) IN (
			SELECT t.list_id, t.thread FROM threads t WHERE t.updated_at < $1
			AND NOT EXISTS (SELECT 1 FROM archive a WHERE a.list_id = t.list_id AND a.thread = t.thread)
			ORDER BY t.updated_at LIMIT $2)`,
		millis(cutoff), limit)
}

// PurgeAudit deletes up to limit audit entries made before cutoff.
func (s *DB) PurgeAudit(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	return s.purge(ctx, "purge audit", `DELETE FROM audit WHERE id IN (
			SELECT id FROM audit WHERE at < $1 ORDER BY at LIMIT $2)`,
		millis(cutoff), limit)
}

// PurgeBounces deletes up to limit bounces of a list's members recorded
// before cutoff.
func (s *DB) PurgeBounces(ctx context.Context, listID int64, cutoff time.Time, limit int) (int64, error) {
	return s.purge(ctx, "purge bounces", `DELETE FROM bounces WHERE id IN (
			SELECT id FROM bounces WHERE list_id = $1 AND at < $2 LIMIT $3)`,
		listID, millis(cutoff), limit)
}

func (s *DB) purge(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return n, nil
}

// ReclaimSpace gives up to step bytes of the database's free pages back to
// the file system (incremental vacuum) and returns how many bytes it gave
// back and how many stay free. Each call is one short transaction. On a
// database made before auto_vacuum=INCREMENTAL it gives back nothing:
// there the free pages wait for new rows.
//
// On PostgreSQL autovacuum does this; ReclaimSpace reports nothing.
func (s *DB) ReclaimSpace(ctx context.Context, step int64) (freed, free int64, err error) {
	if s.pg {
		return 0, 0, nil
	}
	var pageSize, before, after int64
	if err := s.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: reclaim space: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&before); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: reclaim space: %w", err)
	}
	if before > 0 {
		// PRAGMA arguments cannot be bound; pages is a number we made.
		pages := max(step/pageSize, 1)
		if _, err := s.exec(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, pages)); err != nil {
			return 0, 0, fmt.Errorf("sqlstore: reclaim space: %w", err)
		}
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&after); err != nil {
		return 0, 0, fmt.Errorf("sqlstore: reclaim space: %w", err)
	}
	return (before - after) * pageSize, after * pageSize, nil
}

// Checkpoint copies the write-ahead log into the database file and
// truncates it, so that rows deleted or overwritten are in neither file
// any more. It reports false when readers kept it from finishing; the
// next checkpoint does.
//
// On PostgreSQL the server checkpoints by itself; Checkpoint reports
// true.
func (s *DB) Checkpoint(ctx context.Context) (bool, error) {
	if s.pg {
		return true, nil
	}
	var busy, frames, done int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil {
		return false, fmt.Errorf("sqlstore: checkpoint: %w", err)
	}
	return busy == 0, nil
}
