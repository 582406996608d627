package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// A list post is stored once (post_bodies) and its members' copies are
// rendered from it when they are delivered (DESIGN §5): the deliveries
// of a post hold state and a reference, and claiming or finishing one
// never rewrites a message.

// insertBody stores b, when there is one, and gives its id to the
// deliveries ds that are rendered from it (those with a Recipient).
func insertBody(ctx context.Context, tx *sql.Tx, b *store.PostBody, ds []store.Delivery, now time.Time) error {
	if b == nil {
		return nil
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO post_bodies (ref, list_id, sealed, size, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		b.Ref, b.ListID, b.Sealed, len(b.Sealed), millis(b.CreatedAt)).Scan(&b.ID)
	if err != nil {
		return err
	}
	for i := range ds {
		if ds[i].Recipient != "" && ds[i].BodyID == 0 {
			ds[i].BodyID = b.ID
		}
	}
	return nil
}

// deliveryBatch is how many deliveries one INSERT writes: 16 values
// each, well under SQLite's limit of 32766 variables per statement.
const deliveryBatch = 500

// insertDeliveries inserts ds with few statements (one per
// deliveryBatch) and sets their ids, states and creation times.
func insertDeliveries(ctx context.Context, tx *sql.Tx, ds []store.Delivery, now time.Time) error {
	for start := 0; start < len(ds); start += deliveryBatch {
		if err := insertChunk(ctx, tx, ds[start:min(start+deliveryBatch, len(ds))], now); err != nil {
			return err
		}
	}
	return nil
}

func insertChunk(ctx context.Context, tx *sql.Tx, ds []store.Delivery, now time.Time) error {
	var q strings.Builder
	q.WriteString(`INSERT INTO deliveries (ref, list_id, kind, env_from, rcpt, data, route, sealed, state, attempts, next_attempt, last_error, created_at, updated_at, body_id, recipient) VALUES `)
	args := make([]any, 0, len(ds)*14)
	for i := range ds {
		d := &ds[i]
		if d.State == "" {
			d.State = store.Pending
		}
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
		next := d.NextAttempt
		if next.IsZero() {
			next = d.CreatedAt
		}
		data := d.Data
		if data == nil {
			data = []byte{} // NOT NULL
		}
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, 0, $%d, '', $%d, $%d, $%d, $%d)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+11, n+12, n+13)
		args = append(args, d.Ref, d.ListID, d.Kind, d.From, d.To, data, d.Route, boolInt(d.Sealed), string(d.State),
			millis(next), millis(d.CreatedAt), d.BodyID, d.Recipient)
	}
	q.WriteString(" RETURNING id")
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(ds))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(ids) != len(ds) {
		return fmt.Errorf("inserted %d deliveries of %d", len(ids), len(ds))
	}
	// The rows of one statement get growing ids in the order of its
	// values; RETURNING lists them in no promised order.
	slices.Sort(ids)
	for i := range ds {
		ds[i].ID = ids[i]
	}
	return nil
}

// dropFinishedBodies deletes the post bodies of the deliveries ids that
// no delivery still pending needs.
func dropFinishedBodies(ctx context.Context, tx *sql.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var args []any
	in := placeholders(&args, ids...)
	args = append(args, string(store.Pending))
	_, err := tx.ExecContext(ctx, `DELETE FROM post_bodies WHERE id IN (
			SELECT body_id FROM deliveries WHERE id IN (`+in+`) AND body_id <> 0)
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE body_id = post_bodies.id AND state = $`+fmt.Sprint(len(args))+`)`, args...)
	return err
}

// PostBody returns a stored post body.
func (s *DB) PostBody(ctx context.Context, id int64) (*store.PostBody, error) {
	b := store.PostBody{ID: id}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT ref, list_id, sealed, created_at FROM post_bodies WHERE id = $1`, id).
		Scan(&b.Ref, &b.ListID, &b.Sealed, &created)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: post body: %w", notFound(err))
	}
	b.CreatedAt = fromMillis(created)
	return &b, nil
}

// PurgePostBodies deletes up to limit post bodies made before cutoff
// that no pending delivery needs: those left by deliveries removed
// otherwise (a list deleted, a delivery dropped).
func (s *DB) PurgePostBodies(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	return s.purge(ctx, "purge post bodies", `DELETE FROM post_bodies WHERE id IN (
			SELECT b.id FROM post_bodies b WHERE b.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.body_id = b.id AND d.state = $2) LIMIT $3)`,
		millis(cutoff), string(store.Pending), limit)
}
