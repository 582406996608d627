package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

const listColumns = `id, mode, address, name, owner, key_fingerprint, public_key, sealed_key, smime_cert, smime_sealed, smime_kem_cert, smime_kem_sealed, settings, gateway, created_at, roster_version`

// CreateList inserts l and sets l.ID. It returns store.ErrExists when a
// list with the address exists.
func (s *DB) CreateList(ctx context.Context, l *store.List) error {
	settings, gateway, err := listJSON(l)
	if err != nil {
		return fmt.Errorf("sqlstore: create list: %w", err)
	}
	err = s.writeRow(ctx, []any{&l.ID}, `INSERT INTO lists (mode, address, name, owner, key_fingerprint, public_key, sealed_key, smime_cert, smime_sealed, smime_kem_cert, smime_kem_sealed, settings, gateway, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		listMode(l), l.Address, l.Name, l.Owner, l.KeyFingerprint, l.PublicKey, l.SealedKey, nonNil(l.SMIMECert), nonNil(l.SMIMESealed),
		nonNil(l.SMIMEKEMCert), nonNil(l.SMIMEKEMSealed), settings, gateway, millis(l.CreatedAt))
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
	if l.Retired, err = s.retiredKeys(ctx, l.ID); err != nil {
		return nil, err
	}
	return l, nil
}

// ListByID returns the list with the given ID.
func (s *DB) ListByID(ctx context.Context, id int64) (*store.List, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+listColumns+` FROM lists WHERE id = $1`, id)
	l, err := scanList(row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %d: %w", id, notFound(err))
	}
	if l.Retired, err = s.retiredKeys(ctx, l.ID); err != nil {
		return nil, err
	}
	return l, nil
}

func (s *DB) retiredKeys(ctx context.Context, listID int64) ([]store.RetiredKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT engine, fingerprint, public_key, sealed_key, retired_at, decrypt_until
		FROM retired_list_keys WHERE list_id = $1 ORDER BY retired_at DESC`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: retired keys: %w", err)
	}
	defer rows.Close()
	var out []store.RetiredKey
	for rows.Next() {
		var r store.RetiredKey
		var retired, until int64
		if err := rows.Scan(&r.Engine, &r.Fingerprint, &r.PublicKey, &r.SealedKey, &retired, &until); err != nil {
			return nil, fmt.Errorf("sqlstore: retired keys: %w", err)
		}
		r.RetiredAt, r.DecryptUntil = fromMillis(retired), fromMillis(until)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReplaceListKey makes l's KeyFingerprint, PublicKey and SealedKey the
// list's key, keeps the key they replace as retired and enqueues the
// deliveries that announce the change, in one transaction.
func (s *DB) ReplaceListKey(ctx context.Context, l *store.List, retired store.RetiredKey, announce []store.Delivery) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		for i := range announce {
			if err := insertDelivery(ctx, tx, &announce[i], now); err != nil {
				return err
			}
		}
		if err := retireKey(ctx, tx, l.ID, retired); err != nil {
			return err
		}
		// A key that comes back (imported again) is no longer retired.
		if _, err := tx.ExecContext(ctx, `DELETE FROM retired_list_keys WHERE list_id = $1 AND fingerprint = $2`, l.ID, l.KeyFingerprint); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE lists SET key_fingerprint = $1, public_key = $2, sealed_key = $3 WHERE id = $4`,
			l.KeyFingerprint, l.PublicKey, l.SealedKey, l.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: replace list key: %w", err)
	}
	return nil
}

// retireKey keeps retired as a retired key of list id.
func retireKey(ctx context.Context, tx *sql.Tx, id int64, retired store.RetiredKey) error {
	engine := retired.Engine
	if engine == "" {
		engine = store.EngineOpenPGP
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO retired_list_keys (list_id, engine, fingerprint, public_key, sealed_key, retired_at, decrypt_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (list_id, fingerprint) DO UPDATE SET retired_at = excluded.retired_at, decrypt_until = excluded.decrypt_until`,
		id, engine, retired.Fingerprint, retired.PublicKey, retired.SealedKey, millis(retired.RetiredAt), millis(retired.DecryptUntil))
	return err
}

// ReplaceSMIMEIdentity makes l's SMIMECert and SMIMESealed the list's
// S/MIME identity and keeps the one they replace as retired (when there
// was one: retired is nil otherwise), in one transaction. newFingerprint
// is the new certificate's: one that comes back is no longer retired.
func (s *DB) ReplaceSMIMEIdentity(ctx context.Context, l *store.List, newFingerprint string, retired *store.RetiredKey) error {
	return s.replaceListCert(ctx, l.ID, store.EngineSMIME, newFingerprint, retired, "S/MIME identity",
		`UPDATE lists SET smime_cert = $1, smime_sealed = $2 WHERE id = $3`, l.SMIMECert, l.SMIMESealed)
}

// ReplaceListKEM is ReplaceSMIMEIdentity for l's SMIMEKEMCert and
// SMIMEKEMSealed, the list's ML-KEM certificate (retired as
// store.RetiredMLKEM).
func (s *DB) ReplaceListKEM(ctx context.Context, l *store.List, newFingerprint string, retired *store.RetiredKey) error {
	return s.replaceListCert(ctx, l.ID, store.RetiredMLKEM, newFingerprint, retired, "ML-KEM certificate",
		`UPDATE lists SET smime_kem_cert = $1, smime_kem_sealed = $2 WHERE id = $3`, l.SMIMEKEMCert, l.SMIMEKEMSealed)
}

// replaceListCert sets one of list id's certificates and its sealed key
// (update, given cert, sealed and id), retiring the one replaced as
// engine, in one transaction.
func (s *DB) replaceListCert(ctx context.Context, id int64, engine, newFingerprint string, retired *store.RetiredKey, what, update string, cert, sealed []byte) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if retired != nil {
			retired.Engine = engine
			if err := retireKey(ctx, tx, id, *retired); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM retired_list_keys WHERE list_id = $1 AND fingerprint = $2`, id, newFingerprint); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, update, nonNil(cert), nonNil(sealed), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: replace %s: %w", what, err)
	}
	return nil
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

// UpdateList saves a list's name, owner, settings, gateway options,
// S/MIME identity and ML-KEM certificate.
func (s *DB) UpdateList(ctx context.Context, l *store.List) error {
	settings, gateway, err := listJSON(l)
	if err != nil {
		return fmt.Errorf("sqlstore: update list: %w", err)
	}
	return s.execOne(ctx, "update list", `UPDATE lists SET name = $1, owner = $2, settings = $3, gateway = $4,
		smime_cert = $5, smime_sealed = $6, smime_kem_cert = $7, smime_kem_sealed = $8 WHERE id = $9`,
		l.Name, l.Owner, settings, gateway, nonNil(l.SMIMECert), nonNil(l.SMIMESealed), nonNil(l.SMIMEKEMCert), nonNil(l.SMIMEKEMSealed), l.ID)
}

// listJSON encodes a list's settings and gateway options.
func listJSON(l *store.List) (settings, gateway string, err error) {
	s, err := json.Marshal(l.Settings)
	if err != nil {
		return "", "", err
	}
	g, err := json.Marshal(l.Gateway)
	if err != nil {
		return "", "", err
	}
	return string(s), string(g), nil
}

func listMode(l *store.List) string {
	if l.Mode == "" {
		return store.ModeList
	}
	return l.Mode
}

// DeleteList removes a list with its members, spool, holds and replay
// marks. Deliveries already queued are still delivered.
func (s *DB) DeleteList(ctx context.Context, addr string) error {
	return s.execOne(ctx, "delete list", `DELETE FROM lists WHERE address = $1`, addr)
}

// execOne runs a statement that must affect exactly one row.
func (s *DB) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
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
	var settings, gateway string
	var created int64
	if err := r.Scan(&l.ID, &l.Mode, &l.Address, &l.Name, &l.Owner, &l.KeyFingerprint, &l.PublicKey, &l.SealedKey,
		&l.SMIMECert, &l.SMIMESealed, &l.SMIMEKEMCert, &l.SMIMEKEMSealed, &settings, &gateway, &created, &l.RosterVersion); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &l.Settings); err != nil {
		return nil, fmt.Errorf("settings of %s: %w", l.Address, err)
	}
	if err := json.Unmarshal([]byte(gateway), &l.Gateway); err != nil {
		return nil, fmt.Errorf("gateway options of %s: %w", l.Address, err)
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
