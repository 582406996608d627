package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sealpost/sealpost/internal/store"
)

const listColumns = `id, address, name, owner, key_fingerprint, public_key, sealed_key, smime_cert, smime_sealed, settings, created_at`

// CreateList inserts l and sets l.ID. It returns store.ErrExists when a
// list with the address exists.
func (s *DB) CreateList(ctx context.Context, l *store.List) error {
	settings, err := json.Marshal(l.Settings)
	if err != nil {
		return fmt.Errorf("sqlstore: create list: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO lists (address, name, owner, key_fingerprint, public_key, sealed_key, smime_cert, smime_sealed, settings, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		l.Address, l.Name, l.Owner, l.KeyFingerprint, l.PublicKey, l.SealedKey, nonNil(l.SMIMECert), nonNil(l.SMIMESealed),
		string(settings), millis(l.CreatedAt)).Scan(&l.ID)
	if isUnique(err) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create list: %w", err)
	}
	return nil
}

// ListByAddress returns the list with the given post address.
func (s *DB) ListByAddress(ctx context.Context, addr string) (*store.List, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+listColumns+` FROM lists WHERE address = $1`, addr)
	l, err := scanList(row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", addr, notFound(err))
	}
	return l, nil
}

// Lists returns all lists ordered by address.
func (s *DB) Lists(ctx context.Context) ([]store.List, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+listColumns+` FROM lists ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: lists: %w", err)
	}
	defer rows.Close()
	var out []store.List
	for rows.Next() {
		l, err := scanList(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: lists: %w", err)
		}
		out = append(out, *l)
	}
	return out, rows.Err()
}

// UpdateList saves a list's name, owner, settings and S/MIME identity.
func (s *DB) UpdateList(ctx context.Context, l *store.List) error {
	b, err := json.Marshal(l.Settings)
	if err != nil {
		return fmt.Errorf("sqlstore: update list: %w", err)
	}
	return s.execOne(ctx, "update list", `UPDATE lists SET name = $1, owner = $2, settings = $3,
		smime_cert = $4, smime_sealed = $5 WHERE id = $6`,
		l.Name, l.Owner, string(b), nonNil(l.SMIMECert), nonNil(l.SMIMESealed), l.ID)
}

// DeleteList removes a list with its members, spool, holds and replay
// marks. Deliveries already queued are still delivered.
func (s *DB) DeleteList(ctx context.Context, addr string) error {
	return s.execOne(ctx, "delete list", `DELETE FROM lists WHERE address = $1`, addr)
}

// execOne runs a statement that must affect exactly one row.
func (s *DB) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanList(r scanner) (*store.List, error) {
	var l store.List
	var settings string
	var created int64
	if err := r.Scan(&l.ID, &l.Address, &l.Name, &l.Owner, &l.KeyFingerprint, &l.PublicKey, &l.SealedKey,
		&l.SMIMECert, &l.SMIMESealed, &settings, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &l.Settings); err != nil {
		return nil, fmt.Errorf("settings of %s: %w", l.Address, err)
	}
	l.CreatedAt = fromMillis(created)
	return &l, nil
}

// nonNil turns a nil BLOB into an empty one for NOT NULL columns.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
