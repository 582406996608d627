package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// AddTrustAnchor adds a certification authority (DER) to a list's trust
// anchors; adding it again changes nothing.
func (s *DB) AddTrustAnchor(ctx context.Context, listID int64, fingerprint string, der []byte) error {
	_, err := s.exec(ctx, `INSERT INTO trust_anchors (list_id, fingerprint, cert, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (list_id, fingerprint) DO NOTHING`, listID, fingerprint, der, millis(time.Now()))
	if err != nil {
		return fmt.Errorf("sqlstore: add trust anchor: %w", err)
	}
	return nil
}

// RemoveTrustAnchor removes one of a list's trust anchors.
func (s *DB) RemoveTrustAnchor(ctx context.Context, listID int64, fingerprint string) error {
	return s.execOne(ctx, "remove trust anchor", `DELETE FROM trust_anchors WHERE list_id = $1 AND fingerprint = $2`, listID, fingerprint)
}

// TrustAnchors returns the trust anchors a list trusts (DER), oldest
// first: its own and the installation's (AddInstallationTrustAnchor).
func (s *DB) TrustAnchors(ctx context.Context, listID int64) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT cert, created_at, fingerprint FROM trust_anchors WHERE list_id = $1
		UNION ALL SELECT cert, created_at, fingerprint FROM installation_trust_anchors ORDER BY 2, 3`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var der []byte
		var created int64
		var fpr string
		if err := rows.Scan(&der, &created, &fpr); err != nil {
			return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
		}
		out = append(out, der)
	}
	return out, rows.Err()
}

// AddInstallationTrustAnchor adds a certification authority every list
// trusts; adding it again changes nothing.
func (s *DB) AddInstallationTrustAnchor(ctx context.Context, a store.TrustAnchor) error {
	_, err := s.exec(ctx, `INSERT INTO installation_trust_anchors (fingerprint, cert, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (fingerprint) DO NOTHING`, a.Fingerprint, a.Cert, millis(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add trust anchor: %w", err)
	}
	return nil
}

// RemoveInstallationTrustAnchor removes one of the installation's trust
// anchors (store.ErrNotFound when it has none with that fingerprint).
func (s *DB) RemoveInstallationTrustAnchor(ctx context.Context, fingerprint string) error {
	return s.execOne(ctx, "remove trust anchor", `DELETE FROM installation_trust_anchors WHERE fingerprint = $1`, fingerprint)
}

// InstallationTrustAnchors returns the installation's trust anchors,
// oldest first.
func (s *DB) InstallationTrustAnchors(ctx context.Context) ([]store.TrustAnchor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT fingerprint, cert, created_at FROM installation_trust_anchors ORDER BY created_at, fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
	}
	defer rows.Close()
	var out []store.TrustAnchor
	for rows.Next() {
		var a store.TrustAnchor
		var created int64
		if err := rows.Scan(&a.Fingerprint, &a.Cert, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
		}
		a.CreatedAt = fromMillis(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// PutCRL stores a revocation list unless the store holds one of its
// issuer that is as new or newer; it reports whether it stored it.
func (s *DB) PutCRL(ctx context.Context, c store.CRL) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO crls (issuer_hash, issuer, this_update, next_update, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (issuer_hash) DO UPDATE SET issuer = excluded.issuer, this_update = excluded.this_update,
			next_update = excluded.next_update, data = excluded.data, created_at = excluded.created_at
		WHERE crls.this_update < excluded.this_update`,
		c.IssuerHash, c.Issuer, millis(c.ThisUpdate), millis(c.NextUpdate), c.Data, millis(c.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("sqlstore: put CRL: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CRLs returns the stored revocation lists, by issuer name.
func (s *DB) CRLs(ctx context.Context) ([]store.CRL, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT issuer_hash, issuer, this_update, next_update, data, created_at FROM crls ORDER BY issuer, issuer_hash`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: CRLs: %w", err)
	}
	defer rows.Close()
	var out []store.CRL
	for rows.Next() {
		var c store.CRL
		var this, next, created int64
		if err := rows.Scan(&c.IssuerHash, &c.Issuer, &this, &next, &c.Data, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: CRLs: %w", err)
		}
		c.ThisUpdate, c.NextUpdate, c.CreatedAt = fromMillis(this), fromMillis(next), fromMillis(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ListAnchors returns every list's own trust anchors, by list.
func (s *DB) ListAnchors(ctx context.Context) ([]store.ListAnchor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT l.address, t.cert FROM trust_anchors t JOIN lists l ON l.id = t.list_id
		ORDER BY l.address, t.created_at, t.fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list anchors: %w", err)
	}
	defer rows.Close()
	var out []store.ListAnchor
	for rows.Next() {
		var a store.ListAnchor
		if err := rows.Scan(&a.List, &a.Cert); err != nil {
			return nil, fmt.Errorf("sqlstore: list anchors: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
