package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// SetListRole gives email role on list listID (replacing any role it had
// there).
func (s *DB) SetListRole(ctx context.Context, listID int64, email, role string, at time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO list_roles (list_id, email, role, added_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (list_id, email) DO UPDATE SET role = excluded.role, added_at = excluded.added_at`,
		listID, email, role, millis(at))
	if err != nil {
		return fmt.Errorf("sqlstore: set list role: %w", err)
	}
	return nil
}

// RemoveListRole takes email's role on list listID away; store.ErrNotFound
// when it had none.
func (s *DB) RemoveListRole(ctx context.Context, listID int64, email string) error {
	return s.execOne(ctx, "remove list role", `DELETE FROM list_roles WHERE list_id = $1 AND email = $2`, listID, email)
}

// ListRoles returns the roles on list listID, owners first, by address.
func (s *DB) ListRoles(ctx context.Context, listID int64) ([]store.ListRole, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT list_id, email, role, added_at FROM list_roles WHERE list_id = $1
		ORDER BY CASE role WHEN 'owner' THEN 0 ELSE 1 END, email`, listID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list roles: %w", err)
	}
	defer rows.Close()
	var out []store.ListRole
	for rows.Next() {
		var r store.ListRole
		var at int64
		if err := rows.Scan(&r.ListID, &r.Email, &r.Role, &at); err != nil {
			return nil, fmt.Errorf("sqlstore: list roles: %w", err)
		}
		r.AddedAt = fromMillis(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RolesOf returns email's role on each list it has one on, by list id.
func (s *DB) RolesOf(ctx context.Context, email string) (map[int64]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT list_id, role FROM list_roles WHERE email = $1`, email)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: roles of %s: %w", email, err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var role string
		if err := rows.Scan(&id, &role); err != nil {
			return nil, fmt.Errorf("sqlstore: roles of %s: %w", email, err)
		}
		out[id] = role
	}
	return out, rows.Err()
}
