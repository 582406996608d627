package sqlstore

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/internal/store"
)

const memberColumns = `list_id, email, admin, engine, key_fingerprint, public_key, created_at`

// AddMember inserts m. It returns store.ErrExists when the address is
// already a member of the list.
func (s *DB) AddMember(ctx context.Context, m *store.Member) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO members (`+memberColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.ListID, m.Email, boolInt(m.Admin), m.Engine, m.KeyFingerprint, m.PublicKey, millis(m.CreatedAt))
	if isUnique(err) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlstore: add member: %w", err)
	}
	return nil
}

// RemoveMember deletes a member.
func (s *DB) RemoveMember(ctx context.Context, listID int64, email string) error {
	return s.execOne(ctx, "remove member", `DELETE FROM members WHERE list_id = $1 AND email = $2`, listID, email)
}

// Members returns a list's members ordered by address.
func (s *DB) Members(ctx context.Context, listID int64) ([]store.Member, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+memberColumns+` FROM members WHERE list_id = $1 ORDER BY email`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: members: %w", err)
	}
	defer rows.Close()
	var out []store.Member
	for rows.Next() {
		var m store.Member
		var admin int
		var created int64
		if err := rows.Scan(&m.ListID, &m.Email, &admin, &m.Engine, &m.KeyFingerprint, &m.PublicKey, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: members: %w", err)
		}
		m.Admin, m.CreatedAt = admin != 0, fromMillis(created)
		out = append(out, m)
	}
	return out, rows.Err()
}
