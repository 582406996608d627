package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Password resets by mail: a link's row lives until it is used, its
// account's password changes, or it expires.

// AddPasswordReset records a reset link, and removes the links that
// expired before r was made.
func (s *DB) AddPasswordReset(ctx context.Context, r store.PasswordReset) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE expires_at <= $1`, millis(r.CreatedAt)); err != nil {
			return fmt.Errorf("sqlstore: forget password resets: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, account_id, stamp, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, r.TokenHash, r.AccountID, r.Stamp, millis(r.CreatedAt), millis(r.ExpiresAt)); err != nil {
			return fmt.Errorf("sqlstore: add password reset: %w", err)
		}
		return nil
	})
}

// PasswordReset returns the account whose reset link's secret hashes to
// tokenHash, when the link is still good at now: not expired, and the
// account's password unchanged since it was made. Else store.ErrNotFound.
func (s *DB) PasswordReset(ctx context.Context, tokenHash string, now time.Time) (*store.Account, error) {
	a, stamp, err := s.passwordReset(ctx, s.db, tokenHash, now)
	if err != nil {
		return nil, err
	}
	if stamp != store.PasswordStamp(a.PasswordHash) {
		return nil, store.ErrNotFound
	}
	return a, nil
}

// UsePasswordReset sets the password hash of the account whose reset
// link's secret hashes to tokenHash, when the link is still good at now
// (see PasswordReset), in one transaction with using it up: the link and
// every other link of the account are removed, and every session of the
// account ends. It returns the account as it was; store.ErrNotFound when
// the link is not good (used, expired, void or unknown).
func (s *DB) UsePasswordReset(ctx context.Context, tokenHash string, now time.Time, passwordHash string) (*store.Account, error) {
	var a *store.Account
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var stamp string
		var err error
		if a, stamp, err = s.passwordReset(ctx, tx, tokenHash, now); err != nil {
			return err
		}
		if stamp != store.PasswordStamp(a.PasswordHash) {
			return store.ErrNotFound // the password changed since: the link is void
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE account_id = $1`, a.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3`,
			passwordHash, millis(now), a.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, a.ID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("sqlstore: use password reset: %w", err)
	}
	return a, nil
}

// passwordReset reads the unexpired link of tokenHash with its account,
// and the link's stamp.
func (s *DB) passwordReset(ctx context.Context, q querier, tokenHash string, now time.Time) (*store.Account, string, error) {
	var accountID int64
	var stamp string
	err := q.QueryRowContext(ctx, `SELECT account_id, stamp FROM password_resets WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, millis(now)).Scan(&accountID, &stamp)
	if err != nil {
		return nil, "", notFound(err)
	}
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, accountID))
	if err != nil {
		return nil, "", notFound(err)
	}
	return a, stamp, nil
}
