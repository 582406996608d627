package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

const subscriptionColumns = `list_id, email, action, state, key_data, engine, fingerprint, token_hash, via,
	created_at, expires_at, answered_at`

// putSubscription records sub, replacing the request of the same address
// and action: only the latest challenge counts.
func putSubscription(ctx context.Context, tx *sql.Tx, sub *store.Subscription) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (list_id, email, action) DO UPDATE SET state = excluded.state, key_data = excluded.key_data,
			engine = excluded.engine, fingerprint = excluded.fingerprint, token_hash = excluded.token_hash,
			via = excluded.via, created_at = excluded.created_at, expires_at = excluded.expires_at,
			answered_at = excluded.answered_at`,
		sub.ListID, sub.Email, sub.Action, sub.State, nonNil(sub.Key), sub.Engine, sub.Fingerprint, sub.TokenHash,
		sub.Via, millis(sub.CreatedAt), millis(sub.ExpiresAt), millisOrZero(sub.AnsweredAt))
	return err
}

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

func scanSubscription(row scanner) (*store.Subscription, error) {
	var sub store.Subscription
	var created, expires, answered int64
	if err := row.Scan(&sub.ListID, &sub.Email, &sub.Action, &sub.State, &sub.Key, &sub.Engine, &sub.Fingerprint,
		&sub.TokenHash, &sub.Via, &created, &expires, &answered); err != nil {
		return nil, err
	}
	sub.CreatedAt, sub.ExpiresAt = fromMillis(created), fromMillis(expires)
	if answered != 0 {
		sub.AnsweredAt = fromMillis(answered)
	}
	return &sub, nil
}

// SubscriptionByToken returns the request whose challenge code hashes to
// tokenHash, if it has not expired at now; store.ErrNotFound otherwise.
func (s *DB) SubscriptionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*store.Subscription, error) {
	sub, err := scanSubscription(s.db.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE token_hash = $1 AND expires_at > $2`, tokenHash, millis(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subscription: %w", err)
	}
	return sub, nil
}

// Subscriptions returns the list's requests that have not expired at now,
// those waiting for an owner first, then by address.
func (s *DB) Subscriptions(ctx context.Context, listID int64, now time.Time) ([]store.Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE list_id = $1 AND expires_at > $2
		ORDER BY CASE state WHEN 'approval' THEN 0 ELSE 1 END, email, action`, listID, millis(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: subscriptions: %w", err)
		}
		out = append(out, *sub)
	}
	return out, rows.Err()
}

// DeleteSubscription removes a request; store.ErrNotFound when there is
// none.
func (s *DB) DeleteSubscription(ctx context.Context, listID int64, email, action string) error {
	return s.execOne(ctx, "delete subscription", `DELETE FROM subscriptions WHERE list_id = $1 AND email = $2 AND action = $3`,
		listID, email, action)
}

// PurgeSubscriptions removes the requests expired before now.
func (s *DB) PurgeSubscriptions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM subscriptions WHERE expires_at <= $1`, millis(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge subscriptions: %w", err)
	}
	return res.RowsAffected()
}
