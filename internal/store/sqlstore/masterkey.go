package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MasterKeyCheck returns the value sealed with the master key that
// first opened the database, or nil when none is stored yet.
func (s *DB) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM master_key_check WHERE id = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: master key check: %w", err)
	}
	return sealed, nil
}

// SetMasterKeyCheck stores sealed unless a value is stored already, and
// returns the one that is: of nodes starting together, the first wins
// and the others check against it.
func (s *DB) SetMasterKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	if _, err := s.exec(ctx, `INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, sealed); err != nil {
		return nil, fmt.Errorf("sqlstore: master key check: %w", err)
	}
	return s.MasterKeyCheck(ctx)
}
