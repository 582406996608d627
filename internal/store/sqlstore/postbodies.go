package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// A list post is stored once (post_bodies) and its members' copies are
// rendered from it when they are delivered (DESIGN §5): the deliveries
// of a post hold state and a reference, and claiming or finishing one
// never rewrites a message.

// bodyChunk is the most bytes of a post body or a spooled message
// stored in one value (migration 021 says why).
const bodyChunk = 256 << 10

// insertChunks stores data in chunks of bodyChunk bytes with insert, a
// statement that takes the owner's id, the chunk's number and its bytes.
func insertChunks(ctx context.Context, tx *sql.Tx, insert string, id any, data []byte) error {
	for seq := 0; len(data) > 0; seq++ {
		n := min(len(data), bodyChunk)
		if _, err := tx.ExecContext(ctx, insert, id, seq, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

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
		b.Ref, b.ListID, []byte{}, len(b.Sealed), millis(b.CreatedAt)).Scan(&b.ID)
	if err != nil {
		return err
	}
	if err := insertChunks(ctx, tx, `INSERT INTO post_body_chunks (body_id, seq, data) VALUES ($1, $2, $3)`, b.ID, b.Sealed); err != nil {
		return err
	}
	for i := range ds {
		if ds[i].Recipient != "" && ds[i].BodyID == 0 {
			ds[i].BodyID = b.ID
		}
	}
	return nil
}

// insertDeliveries inserts ds and sets their ids, states and creation
// times. On SQLite it runs one statement per delivery (prepared once per
// connection, stmtcache.go: in-process, that is cheapest); on PostgreSQL
// (pg), where each statement is a round trip to the server, it takes the
// ids in one query and inserts up to pgRowsPerInsert rows per statement.
func insertDeliveries(ctx context.Context, tx *sql.Tx, pg bool, ds []store.Delivery, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	for i := range ds {
		d := &ds[i]
		if d.State == "" {
			d.State = store.Pending
		}
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
	}
	if pg && len(ds) > 1 {
		return insertDeliveriesPG(ctx, tx, ds)
	}
	for i := range ds {
		d := &ds[i]
		if err := tx.QueryRowContext(ctx, `INSERT INTO deliveries (ref, list_id, kind, env_from, rcpt, data, route, sealed, state,
			attempts, next_attempt, last_error, created_at, updated_at, body_id, recipient)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, '', $11, $11, $12, $13) RETURNING id`, deliveryRow(d)...).Scan(&d.ID); err != nil {
			return err
		}
	}
	return nil
}

// deliveryRow is d's values for the INSERT of insertDeliveries, in its
// order: ref to state, next attempt, created, body, recipient.
func deliveryRow(d *store.Delivery) []any {
	next, data := deliveryDefaults(d)
	return []any{d.Ref, d.ListID, d.Kind, d.From, d.To, data, d.Route, boolInt(d.Sealed), string(d.State),
		millis(next), millis(d.CreatedAt), d.BodyID, d.Recipient}
}

// deliveryDefaults is d's next attempt (its creation when unset) and
// data (empty, not nil: the column is NOT NULL).
func deliveryDefaults(d *store.Delivery) (next time.Time, data []byte) {
	next, data = d.NextAttempt, d.Data
	if next.IsZero() {
		next = d.CreatedAt
	}
	if data == nil {
		data = []byte{}
	}
	return next, data
}

// insertDeliveriesPG inserts ds on PostgreSQL in one round trip: each
// column's values as one array, unnested into rows that take their ids
// from the identity's sequence, and those ids returned in ds's order.
// (Binding 14 arrays costs the server a fraction of binding 14
// parameters per row.)
func insertDeliveriesPG(ctx context.Context, tx *sql.Tx, ds []store.Delivery) error {
	n := len(ds)
	var refs, kinds, froms, rcpts, routes, states, recipients []string
	var lists, sealed, next, created, bodies []int64
	var data [][]byte
	for i := range ds {
		d := &ds[i]
		at, b := deliveryDefaults(d)
		refs, lists, kinds, froms, rcpts = append(refs, d.Ref), append(lists, d.ListID), append(kinds, d.Kind), append(froms, d.From), append(rcpts, d.To)
		data, routes, sealed, states = append(data, b), append(routes, d.Route), append(sealed, int64(boolInt(d.Sealed))), append(states, string(d.State))
		next, created, bodies, recipients = append(next, millis(at)), append(created, millis(d.CreatedAt)), append(bodies, d.BodyID), append(recipients, d.Recipient)
	}
	ids, err := scanIDs(tx.QueryContext(ctx, `WITH v AS (
			SELECT nextval(pg_get_serial_sequence('deliveries', 'id')) AS id, u.*
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[],
				$8::bigint[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[])
				WITH ORDINALITY AS u(ref, list_id, kind, env_from, rcpt, data, route, sealed, state, next_attempt,
				created_at, body_id, recipient, ord)),
		ins AS (INSERT INTO deliveries (id, ref, list_id, kind, env_from, rcpt, data, route, sealed, state,
				attempts, next_attempt, last_error, created_at, updated_at, body_id, recipient)
			SELECT id, ref, list_id, kind, env_from, rcpt, data, route, sealed, state,
				0, next_attempt, '', created_at, created_at, body_id, recipient FROM v)
		SELECT id FROM v ORDER BY ord`,
		refs, lists, kinds, froms, rcpts, data, routes, sealed, states, next, created, bodies, recipients))
	if err != nil {
		return err
	}
	if len(ids) != n {
		return fmt.Errorf("%d delivery ids for %d deliveries", len(ids), n)
	}
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
	var size int64
	err := s.db.QueryRowContext(ctx, `SELECT ref, list_id, sealed, size, created_at FROM post_bodies WHERE id = $1`, id).
		Scan(&b.Ref, &b.ListID, &b.Sealed, &size, &created)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: post body: %w", notFound(err))
	}
	b.CreatedAt = fromMillis(created)
	if len(b.Sealed) > 0 || size == 0 {
		return &b, nil // stored whole, before migration 021
	}
	if b.Sealed, err = s.bodyChunks(ctx, id, size); err != nil {
		return nil, fmt.Errorf("sqlstore: post body: %w", err)
	}
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

// bodyChunks reads the chunks of body id, size bytes in all, into one
// buffer. A chunk missing or out of place is an error, never a shorter
// body.
func (s *DB) bodyChunks(ctx context.Context, id, size int64) ([]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, data FROM post_body_chunks WHERE body_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]byte, 0, size)
	var chunk sql.RawBytes
	for want := 0; rows.Next(); want++ {
		var seq int
		if err := rows.Scan(&seq, &chunk); err != nil {
			return nil, err
		}
		if seq != want || int64(len(out)+len(chunk)) > size {
			return nil, fmt.Errorf("body %d: chunk %d out of place", id, seq)
		}
		out = append(out, chunk...)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if int64(len(out)) != size {
		return nil, fmt.Errorf("body %d: %d of %d bytes stored", id, len(out), size)
	}
	return out, nil
}
