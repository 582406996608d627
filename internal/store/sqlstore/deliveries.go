package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

const deliveryColumns = `id, ref, list_id, kind, env_from, rcpt, data, route, sealed, state, attempts, next_attempt, last_error, created_at, updated_at, ` + sizeColumn + `, purged_at, body_id, recipient`

// queueColumns are deliveryColumns without the data, for listings.
const queueColumns = `id, ref, list_id, kind, env_from, rcpt, '', route, sealed, state, attempts, next_attempt, last_error, created_at, updated_at, ` + sizeColumn + `, purged_at, body_id, recipient`

// sizeColumn is a delivery's Size: its data's, or, for a delivery
// rendered from a post body, the body's while it is kept.
const sizeColumn = `CASE WHEN deliveries.body_id = 0 THEN length(deliveries.data)
	ELSE COALESCE((SELECT size FROM post_bodies WHERE post_bodies.id = deliveries.body_id), 0) END`

// ClaimDue claims up to limit pending deliveries that are due at now and
// not claimed by another process, oldest first, for lease: until then no
// other ClaimDue returns them. A non-empty ref restricts the claim to the
// deliveries of one inbound message. RecordAttempt ends the claim.
//
// On PostgreSQL the nodes claim side by side: rows another node's claim
// has locked are skipped (FOR UPDATE SKIP LOCKED), not waited for. The
// claim runs READ COMMITTED, the level SKIP LOCKED is made for: a row
// locked is re-read as committed, and one another node claimed in the
// meantime no longer matches. (SERIALIZABLE would abort concurrent
// claimers and committers of new copies as conflicts, to be retried.)
func (s *DB) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, ref string, limit int) (ds []store.Delivery, err error) {
	query := claimDueSQLite
	if s.pg {
		query = claimDuePostgres
	}
	err = s.txAt(ctx, sql.LevelReadCommitted, func(tx *sql.Tx) error {
		ds, err = scanDeliveries(tx.QueryContext(ctx, query,
			millis(now.Add(lease)), string(store.Pending), millis(now), ref, limit, s.Node()))
		return err
	})
	// RETURNING gives the rows in the order the UPDATE met them, which on
	// PostgreSQL is no order at all: put them oldest first, so that the
	// copies of one post stay together (the queue renders them from one
	// opened body; mixed, it opened the body again for most copies).
	slices.SortFunc(ds, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	return ds, err
}

// The claim of ClaimDue, without and with row locks.
const (
	claimDueSQLite = `UPDATE deliveries SET claimed_until = $1, claimed_by = $6 WHERE id IN (
			SELECT id FROM deliveries WHERE state = $2 AND next_attempt <= $3 AND claimed_until <= $3
			AND ($4 = '' OR ref = $4) ORDER BY next_attempt, id LIMIT $5)
		RETURNING ` + deliveryColumns
	claimDuePostgres = `UPDATE deliveries SET claimed_until = $1, claimed_by = $6 WHERE id IN (
			SELECT id FROM deliveries WHERE state = $2 AND next_attempt <= $3 AND claimed_until <= $3
			AND ($4 = '' OR ref = $4) ORDER BY next_attempt, id LIMIT $5 FOR UPDATE SKIP LOCKED)
		RETURNING ` + deliveryColumns
)

// ReleaseClaims ends every claim, for a process that starts up as the
// only one delivering and processing: deliveries claimed by a crashed
// process become due again, and spooled messages it was processing can
// be processed again at their senders' retries (their unfinished attempt
// stays counted).
//
// On PostgreSQL it does nothing: other nodes share the database, their
// claims are live, and a crashed node's end with their leases.
func (s *DB) ReleaseClaims(ctx context.Context) error {
	if s.pg {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET claimed_until = 0 WHERE claimed_until <> 0`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE spool SET claimed_until = 0 WHERE claimed_until <> 0`)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: release claims: %w", err)
	}
	return nil
}

// DeliveriesByRef returns every delivery made for one inbound message.
func (s *DB) DeliveriesByRef(ctx context.Context, ref string) ([]store.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE ref = $1 ORDER BY id`, ref)
}

// copySentQuery finds a delivered copy by old-form envelope sender (the
// partial index deliveries_untokened, whose condition the query repeats
// so that SQLite uses it), recipient, list and time made. An old-form
// address whose member's local part holds '=' looks like a new one and is
// not found: such a bounce does not count (the safe side).
const copySentQuery = `SELECT CASE WHEN EXISTS (SELECT 1 FROM deliveries
	WHERE env_from LIKE '%-bounce+%=%' AND env_from NOT LIKE '%-bounce+%=%=%'
	AND env_from = $1 AND created_at >= $2 AND rcpt = $3 AND list_id = $4 AND state = $5) THEN 1 ELSE 0 END`

// CopySent reports whether a copy of a list's mail from envelope sender
// from to rcpt, created since, was delivered (state sent): a bounce can
// then answer it.
func (s *DB) CopySent(ctx context.Context, listID int64, from, rcpt string, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, copySentQuery, from, millis(since), rcpt, listID, string(store.Sent)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlstore: copy sent: %w", err)
	}
	return n > 0, nil
}

// PendingOf returns how many deliveries of the inbound message ref wait
// to be sent.
func (s *DB) PendingOf(ctx context.Context, ref string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE ref = $1 AND state = $2`, ref, string(store.Pending)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: pending deliveries: %w", err)
	}
	return n, nil
}

// NextDue returns when the earliest pending delivery is due, or the zero
// time when none is pending.
func (s *DB) NextDue(ctx context.Context) (time.Time, error) {
	var next *int64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(CASE WHEN next_attempt > claimed_until THEN next_attempt ELSE claimed_until END) FROM deliveries WHERE state = $1`, string(store.Pending)).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: next due: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return fromMillis(*next), nil
}

func (s *DB) deliveries(ctx context.Context, query string, args ...any) ([]store.Delivery, error) {
	return scanDeliveries(s.db.QueryContext(ctx, query, args...))
}

// scanDeliveries reads the deliveries a query of deliveryColumns returns.
func scanDeliveries(rows *sql.Rows, err error) ([]store.Delivery, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlstore: deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var state string
		var sealed int
		var next, created, updated, purged int64
		if err := rows.Scan(&d.ID, &d.Ref, &d.ListID, &d.Kind, &d.From, &d.To, &d.Data, &d.Route, &sealed, &state, &d.Attempts,
			&next, &d.LastError, &created, &updated, &d.Size, &purged, &d.BodyID, &d.Recipient); err != nil {
			return nil, fmt.Errorf("sqlstore: deliveries: %w", err)
		}
		d.Sealed, d.State = sealed != 0, store.DeliveryState(state)
		d.NextAttempt, d.CreatedAt, d.UpdatedAt = fromMillis(next), fromMillis(created), fromMillis(updated)
		d.Purged = fromMillis(purged)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RecordAttempts records the results of delivery attempts in one
// transaction, ending their claims. A post body none of whose deliveries
// is pending any more is deleted with them.
func (s *DB) RecordAttempts(ctx context.Context, attempts []store.Attempt) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ids := make([]int64, 0, len(attempts))
		for _, a := range attempts {
			ids = append(ids, a.ID)
		}
		record := recordAttempts
		if s.pg {
			record = recordAttemptsPG
		}
		if err := record(ctx, tx, attempts); err != nil {
			return err
		}
		return dropFinishedBodies(ctx, tx, ids)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: record attempts: %w", err)
	}
	return nil
}

// recordAttempts updates the deliveries one statement each (parsed once
// per connection, stmtcache.go: in-process, that is cheapest).
func recordAttempts(ctx context.Context, tx *sql.Tx, attempts []store.Attempt) error {
	for _, a := range attempts {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = $1, attempts = attempts + 1, next_attempt = $2,
			claimed_until = 0, last_error = $3, updated_at = $4 WHERE id = $5`,
			string(a.State), millis(a.Next), a.Error, millis(a.At), a.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("delivery %d: %w", a.ID, store.ErrNotFound)
		}
	}
	return nil
}

// recordAttemptsPG updates the deliveries on PostgreSQL in one statement
// (one round trip, not one per copy): each field's values as one array.
// An id given twice is recorded once.
func recordAttemptsPG(ctx context.Context, tx *sql.Tx, attempts []store.Attempt) error {
	var ids, next, at []int64
	var states, errs []string
	for _, a := range attempts {
		ids, next, at = append(ids, a.ID), append(next, millis(a.Next)), append(at, millis(a.At))
		states, errs = append(states, string(a.State)), append(errs, a.Error)
	}
	updated, err := scanIDs(tx.QueryContext(ctx, `UPDATE deliveries d SET state = u.state, attempts = d.attempts + 1,
			next_attempt = u.next, claimed_until = 0, last_error = u.err, updated_at = u.at
		FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS u(id, state, next, err, at)
		WHERE d.id = u.id RETURNING d.id`, ids, states, next, errs, at))
	if err != nil {
		return err
	}
	done := make(map[int64]bool, len(updated))
	for _, id := range updated {
		done[id] = true
	}
	for _, id := range ids {
		if !done[id] {
			return fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
		}
	}
	return nil
}
