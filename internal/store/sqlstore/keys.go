package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// keyColumns are the columns scanKey reads, in order.
const keyColumns = `k.fingerprint, k.engine, k.data, k.index_version, k.key_created, k.expires_at, k.revoked, k.weak, k.added_at, k.updated_at, k.notes`

// The keyring's lookups. Each must use an index: with a million keys a
// table scan takes seconds (TestKeyringQueriesUseIndexes).
const (
	queryKey         = `SELECT ` + keyColumns + ` FROM keys k WHERE k.fingerprint = $1`
	queryFindKeys    = `SELECT ` + keyColumns + ` FROM key_index i JOIN keys k ON k.fingerprint = i.fingerprint WHERE i.kind = $1 AND i.value = $2 ORDER BY k.fingerprint`
	queryKeysToIndex = `SELECT ` + keyColumns + ` FROM keys k WHERE k.index_version < $1 LIMIT $2`
	queryExpiring    = `SELECT ` + keyColumns + ` FROM keys k WHERE k.expires_at <> 0 AND k.expires_at < $1 AND k.revoked = 0 ORDER BY k.expires_at`
)

// PutKeys writes keys into the keyring in one transaction and reports,
// per key, whether it was new, updated (other data) or unchanged. A key
// whose Index is non-nil gets exactly that index.
func (s *DB) PutKeys(ctx context.Context, keys []store.Key) ([]store.PutResult, error) {
	out := make([]store.PutResult, len(keys))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range keys {
			r, err := putKeyTx(ctx, tx, &keys[i])
			if err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: put keys: %w", err)
	}
	return out, nil
}

// putKeyTx inserts or updates one keyring row and its index.
func putKeyTx(ctx context.Context, tx *sql.Tx, k *store.Key) (store.PutResult, error) {
	now := time.Now()
	if k.AddedAt.IsZero() {
		k.AddedAt = now
	}
	if k.UpdatedAt.IsZero() {
		k.UpdatedAt = now
	}
	var old []byte
	var oldVersion int
	err := tx.QueryRowContext(ctx, `SELECT data, index_version FROM keys WHERE fingerprint = $1`, k.Fingerprint).Scan(&old, &oldVersion)
	result := store.KeyNew
	switch {
	case err == sql.ErrNoRows:
		_, err = tx.ExecContext(ctx, `INSERT INTO keys (fingerprint, engine, data, index_version, key_created, expires_at, revoked, weak, added_at, updated_at, notes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.Fingerprint, k.Engine, k.Data, k.IndexVersion, millis(k.KeyCreated), millis(k.Expires), boolInt(k.Revoked), boolInt(k.Weak), millis(k.AddedAt), millis(k.UpdatedAt),
			strings.Join(k.Notes, "\n"))
	case err != nil:
		return 0, err
	case bytes.Equal(old, k.Data) && (k.Index == nil || oldVersion == k.IndexVersion):
		return store.KeyUnchanged, nil
	default:
		result = store.KeyUpdated
		if bytes.Equal(old, k.Data) {
			result = store.KeyUnchanged // only re-indexed
		}
		_, err = tx.ExecContext(ctx, `UPDATE keys SET data = $1, index_version = $2, key_created = $3, expires_at = $4, revoked = $5, weak = $6, updated_at = $7, notes = $8
			WHERE fingerprint = $9`,
			k.Data, k.IndexVersion, millis(k.KeyCreated), millis(k.Expires), boolInt(k.Revoked), boolInt(k.Weak), millis(k.UpdatedAt),
			strings.Join(k.Notes, "\n"), k.Fingerprint)
	}
	if err != nil || k.Index == nil {
		return result, err
	}
	if result != store.KeyNew {
		if _, err := tx.ExecContext(ctx, `DELETE FROM key_index WHERE fingerprint = $1`, k.Fingerprint); err != nil {
			return 0, err
		}
	}
	for _, e := range k.Index {
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_index (kind, value, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			e.Kind, e.Value, k.Fingerprint); err != nil {
			return 0, err
		}
	}
	return result, nil
}

// Key returns the keyring's key with fingerprint fpr (upper-case hex).
func (s *DB) Key(ctx context.Context, fpr string) (*store.Key, error) {
	keys, err := s.queryKeys(ctx, queryKey, fpr)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, store.ErrNotFound
	}
	return &keys[0], nil
}

// FindKeys returns the keys indexed under kind and value (for example
// store.IndexEmail and an addr-spec), ordered by fingerprint.
func (s *DB) FindKeys(ctx context.Context, kind, value string) ([]store.Key, error) {
	return s.queryKeys(ctx, queryFindKeys, kind, value)
}

// KeysToIndex returns up to limit keys whose index was made by an indexer
// older than version.
func (s *DB) KeysToIndex(ctx context.Context, version, limit int) ([]store.Key, error) {
	return s.queryKeys(ctx, queryKeysToIndex, version, limit)
}

// KeysExpiringBefore returns the keys that expire before t and are not
// revoked, soonest first.
func (s *DB) KeysExpiringBefore(ctx context.Context, t time.Time) ([]store.Key, error) {
	return s.queryKeys(ctx, queryExpiring, millis(t))
}

// CountKeys returns how many keys the keyring holds.
func (s *DB) CountKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count keys: %w", err)
	}
	return n, nil
}

// DeleteKey removes a key no member uses from the keyring.
func (s *DB) DeleteKey(ctx context.Context, fpr string) error {
	err := s.execOne(ctx, "delete key", `DELETE FROM keys WHERE fingerprint = $1
		AND NOT EXISTS (SELECT 1 FROM member_keys m WHERE m.fingerprint = $1)`, fpr)
	if errors.Is(err, store.ErrNotFound) {
		if _, ferr := s.Key(ctx, fpr); ferr == nil {
			return store.ErrInUse
		}
	}
	return err
}

func (s *DB) queryKeys(ctx context.Context, query string, args ...any) ([]store.Key, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		if err := scanKey(rows, &k); err != nil {
			return nil, fmt.Errorf("sqlstore: keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: keys: %w", err)
	}
	return out, nil
}

// scanKey reads the keyColumns of one row, plus any extra destinations.
func scanKey(rows scanner, k *store.Key, extra ...any) error {
	var created, expires, added, updated int64
	var revoked, weak int
	var notes string
	dest := append([]any{&k.Fingerprint, &k.Engine, &k.Data, &k.IndexVersion, &created, &expires, &revoked, &weak, &added, &updated, &notes}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	k.KeyCreated, k.Expires, k.Revoked, k.Weak = fromMillis(created), fromMillis(expires), revoked != 0, weak != 0
	k.AddedAt, k.UpdatedAt = fromMillis(added), fromMillis(updated)
	if notes != "" {
		k.Notes = strings.Split(notes, "\n")
	}
	k.Fingerprint = strings.ToUpper(k.Fingerprint)
	return nil
}

// KeyUsers returns who uses the key with fingerprint fpr: lists whose
// own key it is (Email empty) and members who hold it.
func (s *DB) KeyUsers(ctx context.Context, fpr string) ([]store.KeyUser, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT address, '', 0 FROM lists WHERE key_fingerprint = $1
		UNION ALL SELECT l.address, '', r.decrypt_until FROM retired_list_keys r JOIN lists l ON l.id = r.list_id WHERE r.fingerprint = $1
		UNION ALL SELECT l.address, m.email, 0 FROM member_keys m JOIN lists l ON l.id = m.list_id WHERE m.fingerprint = $1
		ORDER BY 1, 2`, fpr)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: key users: %w", err)
	}
	defer rows.Close()
	var out []store.KeyUser
	for rows.Next() {
		var u store.KeyUser
		var until int64
		if err := rows.Scan(&u.List, &u.Email, &until); err != nil {
			return nil, fmt.Errorf("sqlstore: key users: %w", err)
		}
		u.RetiredUntil = fromMillis(until)
		out = append(out, u)
	}
	return out, rows.Err()
}

func putPending(ctx context.Context, tx *sql.Tx, pk *store.PendingKey) error {
	if _, err := putKeyTx(ctx, tx, &pk.Key); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO pending_keys (list_id, email, fingerprint, token_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (list_id, email) DO UPDATE SET fingerprint = excluded.fingerprint, token_hash = excluded.token_hash,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		pk.ListID, pk.Email, pk.Key.Fingerprint, pk.TokenHash, millis(pk.CreatedAt), millis(pk.ExpiresAt))
	return err
}

// PendingKeys returns the list's key requests that have not expired at
// now, with their keys.
func (s *DB) PendingKeys(ctx context.Context, listID int64, now time.Time) ([]store.PendingKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+`, p.email, p.token_hash, p.created_at, p.expires_at
		FROM pending_keys p JOIN keys k ON k.fingerprint = p.fingerprint
		WHERE p.list_id = $1 AND p.expires_at > $2 ORDER BY p.email`, listID, millis(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: pending keys: %w", err)
	}
	defer rows.Close()
	var out []store.PendingKey
	for rows.Next() {
		pk := store.PendingKey{ListID: listID}
		var created, expires int64
		if err := scanKey(rows, &pk.Key, &pk.Email, &pk.TokenHash, &created, &expires); err != nil {
			return nil, fmt.Errorf("sqlstore: pending keys: %w", err)
		}
		pk.CreatedAt, pk.ExpiresAt = fromMillis(created), fromMillis(expires)
		out = append(out, pk)
	}
	return out, rows.Err()
}

// KeyWarnings returns when each key holder of the list was last warned,
// keyed by email and fingerprint.
func (s *DB) KeyWarnings(ctx context.Context, listID int64) (map[store.KeyWarning]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT email, fingerprint, warned_at FROM key_warnings WHERE list_id = $1`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: key warnings: %w", err)
	}
	defer rows.Close()
	out := map[store.KeyWarning]time.Time{}
	for rows.Next() {
		w := store.KeyWarning{ListID: listID}
		var at int64
		if err := rows.Scan(&w.Email, &w.Fingerprint, &at); err != nil {
			return nil, fmt.Errorf("sqlstore: key warnings: %w", err)
		}
		out[w] = fromMillis(at)
	}
	return out, rows.Err()
}
