package sqlstore

import (
	"context"
	"fmt"
	"time"
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

// TrustAnchors returns a list's trust anchors (DER), oldest first.
func (s *DB) TrustAnchors(ctx context.Context, listID int64) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT cert FROM trust_anchors WHERE list_id = $1 ORDER BY created_at, fingerprint`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var der []byte
		if err := rows.Scan(&der); err != nil {
			return nil, fmt.Errorf("sqlstore: trust anchors: %w", err)
		}
		out = append(out, der)
	}
	return out, rows.Err()
}
