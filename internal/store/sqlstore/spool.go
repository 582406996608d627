package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Admit settles how an inbound message is taken, in one transaction:
//
//   - decided before (the same bytes to the same list: a retry after the
//     answer was lost): it returns that Decision and spools nothing;
//   - being processed by another attempt whose claim has not expired: it
//     returns store.ErrClaimed, and the caller waits for that decision;
//   - otherwise the message is spooled durably (in.Sealed; DESIGN §5: no
//     250 before this) and claimed until now+lease. An earlier attempt
//     that never finished (a crash) is counted: in.Attempts is set to the
//     attempts that began and did not finish, this one included, and
//     in.ID to the spooled row's reference.
//
// The attempt ends with Commit (which records the decision) or with
// EndAttempt (a transient fault).
func (s *DB) Admit(ctx context.Context, in *store.Inbound, now time.Time, lease time.Duration) (*store.Decision, error) {
	// The common case: neither decided nor claimed. The message goes in
	// chunks (migration 023); a spooled message retried has them already,
	// the same bytes under the same digest.
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO spool (id, list_id, digest, envelope_from, raw, attempts, received_at, claimed_until)
			SELECT $1, $2, $3, $4, '', 1, $5, $6
			WHERE NOT EXISTS (SELECT 1 FROM decisions WHERE list_id = $2 AND digest = $3)
			ON CONFLICT (list_id, digest) DO UPDATE SET attempts = spool.attempts + 1, claimed_until = excluded.claimed_until
			WHERE spool.claimed_until <= $7
			RETURNING id, attempts`,
			in.ID, in.ListID, in.Digest, in.EnvelopeFrom, millis(in.ReceivedAt), millis(now.Add(lease)), millis(now)).Scan(&in.ID, &in.Attempts)
		if err != nil {
			return err
		}
		return insertChunks(ctx, tx, `INSERT INTO spool_chunks (spool_id, seq, data) VALUES ($1, $2, $3)
			ON CONFLICT (spool_id, seq) DO NOTHING`, in.ID, in.Sealed)
	})
	if !errors.Is(err, sql.ErrNoRows) {
		if err != nil {
			return nil, fmt.Errorf("sqlstore: admit: %w", err)
		}
		return nil, nil
	}
	// Decided before, or another attempt holds it.
	d, err := s.Decided(ctx, in.ListID, in.Digest)
	if err != nil || d != nil {
		return d, err
	}
	return nil, store.ErrClaimed
}

// Decided returns the decision taken on the message with digest for a
// list, or nil when there is none.
func (s *DB) Decided(ctx context.Context, listID int64, digest string) (*store.Decision, error) {
	var refused string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT refused, decided_at FROM decisions WHERE list_id = $1 AND digest = $2`,
		listID, digest).Scan(&refused, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("sqlstore: decided: %w", err)
	}
	return &store.Decision{ListID: listID, Digest: digest, Refused: refused, DecidedAt: fromMillis(at)}, nil
}

// EndAttempt ends an attempt at processing a spooled message that stopped
// on a transient fault: the claim is released and the attempt is not
// counted as one that never finished. The message stays spooled for the
// sender's retry.
func (s *DB) EndAttempt(ctx context.Context, spoolID string) error {
	if _, err := s.exec(ctx, `UPDATE spool SET claimed_until = 0, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $1`, spoolID); err != nil {
		return fmt.Errorf("sqlstore: end attempt: %w", err)
	}
	return nil
}

// PurgeDecisions forgets up to limit decisions taken before cutoff:
// their messages are past any MTA's retries.
func (s *DB) PurgeDecisions(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM decisions WHERE (list_id, digest) IN (
		SELECT list_id, digest FROM decisions WHERE decided_at < $1 LIMIT $2)`, millis(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge decisions: %w", err)
	}
	return res.RowsAffected()
}

// PurgeSpool removes spooled messages received before cutoff: messages
// whose processing never finished and whose senders were never told 250,
// so their MTAs have retried or bounced them long since.
func (s *DB) PurgeSpool(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM spool WHERE received_at < $1`, millis(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge spool: %w", err)
	}
	return res.RowsAffected()
}

// Commit applies the outcome of processing one message in one
// transaction. It returns store.ErrReplay, changing nothing, when any of
// the outcome's replay marks was recorded before.
func (s *DB) Commit(ctx context.Context, o store.Outcome) error {
	now := time.Now()
	// The inserts below fill in the outcome's deliveries and body (ids,
	// the body's id in each copy); a transaction PostgreSQL aborted and
	// tx runs again must start from the outcome as it was given, or its
	// copies would name the aborted attempt's body.
	deliveries := slices.Clone(o.Deliveries)
	var body store.PostBody
	if o.Body != nil {
		body = *o.Body
	}
	attempt := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if attempt++; attempt > 1 {
			copy(o.Deliveries, deliveries)
			if o.Body != nil {
				*o.Body = body
			}
		}
		if err := markReplay(ctx, tx, o, now); err != nil {
			return err
		}
		if err := insertBody(ctx, tx, o.Body, o.Deliveries, now); err != nil {
			return err
		}
		if err := insertDeliveries(ctx, tx, s.pg, o.Deliveries, now); err != nil {
			return err
		}
		for i := range o.Harvest {
			h := &o.Harvest[i]
			if h.Contact {
				if _, err := tx.ExecContext(ctx, `INSERT INTO members (list_id, email, created_at) VALUES ($1, $2, $3)
					ON CONFLICT (list_id, email) DO NOTHING`, h.ListID, h.Email, millis(now)); err != nil {
					return err
				}
			}
			if err := putKey(ctx, tx, h.ListID, h.Email, &h.Key); err != nil {
				return err
			}
		}
		if pk := o.Pending; pk != nil {
			if err := putPending(ctx, tx, pk); err != nil {
				return err
			}
		}
		if pk := o.Confirmed; pk != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_keys WHERE list_id = $1 AND email = $2`, pk.ListID, pk.Email); err != nil {
				return err
			}
		}
		if sub := o.Subscription; sub != nil {
			if err := putSubscription(ctx, tx, sub); err != nil {
				return err
			}
		}
		if o.Released != 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE id = $1 AND list_id = $2`, o.Released, o.ListID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return store.ErrNotFound // released twice at once
			}
		}
		if b := o.Bounce; b != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO bounces (list_id, email, status, at) VALUES ($1, $2, $3, $4)`,
				b.ListID, b.Email, b.Status, millis(b.At)); err != nil {
				return err
			}
		}
		if d := o.Disable; d != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE members SET disabled_at = $1, disabled_reason = $2 WHERE list_id = $3 AND email = $4`,
				millis(d.At), d.Reason, d.ListID, d.Email); err != nil {
				return err
			}
		}
		for _, e := range o.Audit {
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, via, action, list, target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				millis(e.At), e.Actor, e.Via, e.Action, e.List, e.Target, e.Detail); err != nil {
				return err
			}
		}
		for _, w := range o.Warned {
			if _, err := tx.ExecContext(ctx, `INSERT INTO key_warnings (list_id, email, fingerprint, warned_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (list_id, email, fingerprint) DO UPDATE SET warned_at = excluded.warned_at`,
				w.ListID, w.Email, w.Fingerprint, millis(w.At)); err != nil {
				return err
			}
		}
		if h := o.Hold; h != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO holds (list_id, ref, env_from, reason, raw, sealed, size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				h.ListID, h.Ref, h.EnvelopeFrom, h.Reason, h.Raw, boolInt(h.Sealed), h.Size, millis(now)); err != nil {
				return err
			}
		}
		if t := o.Thread; t != nil {
			if err := markThread(ctx, tx, o.ListID, t); err != nil {
				return err
			}
		}
		for i := range o.Archive {
			if err := insertArchived(ctx, tx, &o.Archive[i], now); err != nil {
				return err
			}
		}
		if d := o.Decided; d != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (list_id, digest, refused, decided_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (list_id, digest) DO UPDATE SET refused = excluded.refused, decided_at = excluded.decided_at`,
				d.ListID, d.Digest, d.Refused, millis(now)); err != nil {
				return err
			}
		}
		if o.SpoolID != "" {
			return settle(ctx, tx, o.SpoolID, o.Refused, now)
		}
		return nil
	})
	if err == store.ErrReplay {
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// markReplay records the outcome's replay marks: for its list, or for
// every list when the content was bound to none. It returns
// store.ErrReplay when one was recorded before: for this list, or for
// any list (an unbound mark is checked against both).
func markReplay(ctx context.Context, tx *sql.Tx, o store.Outcome, now time.Time) error {
	for _, digest := range o.Replay {
		var seen int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM replay_anywhere WHERE digest = $1`, digest).Scan(&seen); err != nil {
			return err
		}
		insert := `INSERT INTO replay (list_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT (list_id, digest) DO NOTHING`
		if o.Unbound {
			insert = `INSERT INTO replay_anywhere (list_id, digest, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING`
		}
		res, err := tx.ExecContext(ctx, insert, o.ListID, digest, millis(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || seen > 0 {
			return store.ErrReplay
		}
	}
	return nil
}

// settle records the decision on a spooled message for its retries and
// removes it from the spool.
func settle(ctx context.Context, tx *sql.Tx, spoolID, refused string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (list_id, digest, refused, decided_at)
		SELECT list_id, digest, $2, $3 FROM spool WHERE id = $1
		ON CONFLICT (list_id, digest) DO UPDATE SET refused = excluded.refused, decided_at = excluded.decided_at`,
		spoolID, refused, millis(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM spool WHERE id = $1`, spoolID)
	return err
}

func insertDelivery(ctx context.Context, tx *sql.Tx, d *store.Delivery, now time.Time) error {
	ds := []store.Delivery{*d}
	err := insertDeliveries(ctx, tx, false, ds, now) // one row: the same statement on both engines
	*d = ds[0]
	return err
}

// Holds returns a list's held messages, oldest first.
func (s *DB) Holds(ctx context.Context, listID int64) ([]store.Hold, error) {
	return s.holds(ctx, `SELECT `+holdColumns+` FROM holds WHERE list_id = $1 ORDER BY id`, listID)
}

// HoldsPage returns the held messages of a list from offset, at most
// limit of them, oldest first as Holds orders them; and how many the
// list has in all.
func (s *DB) HoldsPage(ctx context.Context, listID int64, offset, limit int) ([]store.Hold, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM holds WHERE list_id = $1`, listID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count holds: %w", err)
	}
	hs, err := s.holds(ctx, `SELECT `+holdColumns+` FROM holds WHERE list_id = $1 ORDER BY id LIMIT $2 OFFSET $3`, listID, limit, offset)
	return hs, total, err
}

// Hold returns one held message of a list.
func (s *DB) Hold(ctx context.Context, listID, id int64) (*store.Hold, error) {
	hs, err := s.holds(ctx, `SELECT `+holdColumns+` FROM holds WHERE list_id = $1 AND id = $2`, listID, id)
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, store.ErrNotFound
	}
	return &hs[0], nil
}

// DropHold removes a held message and enqueues deliveries (a notice to
// its sender) in one transaction.
func (s *DB) DropHold(ctx context.Context, listID, id int64, notices []store.Delivery) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE list_id = $1 AND id = $2`, listID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrNotFound
		}
		now := time.Now()
		for i := range notices {
			if err := insertDelivery(ctx, tx, &notices[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: drop hold: %w", err)
	}
	return err
}

const holdColumns = `id, list_id, ref, env_from, reason, raw, sealed, size, created_at`

func (s *DB) holds(ctx context.Context, query string, args ...any) ([]store.Hold, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: holds: %w", err)
	}
	defer rows.Close()
	var out []store.Hold
	for rows.Next() {
		var h store.Hold
		var created int64
		var sealed int
		if err := rows.Scan(&h.ID, &h.ListID, &h.Ref, &h.EnvelopeFrom, &h.Reason, &h.Raw, &sealed, &h.Size, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: holds: %w", err)
		}
		h.CreatedAt, h.Sealed = fromMillis(created), sealed != 0
		out = append(out, h)
	}
	return out, rows.Err()
}
