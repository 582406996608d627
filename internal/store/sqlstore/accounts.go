package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

const accountColumns = `id, email, role, password_hash, totp_secret, totp_step, created_at, updated_at, last_login`

// CreateAccount adds an account, setting its ID; store.ErrExists when the
// email has one.
func (s *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	err := s.writeRow(ctx, []any{&a.ID}, `INSERT INTO accounts (email, role, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4) RETURNING id`, a.Email, a.Role, a.PasswordHash, millis(a.CreatedAt))
	if isUnique(err) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create account: %w", err)
	}
	return nil
}

// Account returns the account of email.
func (s *DB) Account(ctx context.Context, email string) (*store.Account, error) {
	return s.account(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email = $1`, email)
}

// AccountByID returns the account with id.
func (s *DB) AccountByID(ctx context.Context, id int64) (*store.Account, error) {
	return s.account(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id)
}

func (s *DB) account(ctx context.Context, query string, args ...any) (*store.Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, query, args...))
	if err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// Accounts returns every account, by email.
func (s *DB) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: accounts: %w", err)
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

func scanAccount(r scanner) (*store.Account, error) {
	var a store.Account
	var created, updated, login int64
	if err := r.Scan(&a.ID, &a.Email, &a.Role, &a.PasswordHash, &a.TOTPSecret, &a.TOTPStep, &created, &updated, &login); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt, a.LastLogin = fromMillis(created), fromMillis(updated), fromMillis(login)
	return &a, nil
}

// UpdateAccount changes an account's role and password hash.
func (s *DB) UpdateAccount(ctx context.Context, a *store.Account) error {
	return s.execOne(ctx, "update account", `UPDATE accounts SET role = $1, password_hash = $2, updated_at = $3 WHERE id = $4`,
		a.Role, a.PasswordHash, millis(a.UpdatedAt), a.ID)
}

// SetTOTP gives account id the sealed two-factor secret and recovery
// codes (their hashes), replacing any it had; an empty secret and no
// codes turn two-factor sign-in off.
func (s *DB) SetTOTP(ctx context.Context, id int64, sealed []byte, codeHashes []string) error {
	if sealed == nil {
		sealed = []byte{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_secret = $1, totp_step = 0 WHERE id = $2`, sealed, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, id); err != nil {
			return err
		}
		for _, h := range codeHashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (account_id, hash) VALUES ($1, $2)`, id, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: set two-factor secret: %w", err)
	}
	return nil
}

// UseTOTPStep records that a code of time step was accepted for account
// id, and reports false when one of that step or a later one already was
// (the same code again: a replay).
func (s *DB) UseTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	res, err := s.exec(ctx, `UPDATE accounts SET totp_step = $1 WHERE id = $2 AND totp_step < $1`, step, id)
	if err != nil {
		return false, fmt.Errorf("sqlstore: two-factor step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UseRecoveryCode marks account id's recovery code of hash used at at,
// and reports false when it has no such unused code.
func (s *DB) UseRecoveryCode(ctx context.Context, id int64, hash string, at time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND hash = $3 AND used_at = 0`,
		millis(at), id, hash)
	if err != nil {
		return false, fmt.Errorf("sqlstore: recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodesLeft counts account id's unused recovery codes.
func (s *DB) RecoveryCodesLeft(ctx context.Context, id int64) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at = 0`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: recovery codes: %w", err)
	}
	return n, nil
}

// RecordLogin notes a successful sign-in.
func (s *DB) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	return s.execOne(ctx, "record login", `UPDATE accounts SET last_login = $1 WHERE id = $2`, millis(at), id)
}

// DeleteAccount removes an account with its tokens and sessions.
func (s *DB) DeleteAccount(ctx context.Context, email string) error {
	return s.execOne(ctx, "delete account", `DELETE FROM accounts WHERE email = $1`, email)
}

const tokenColumns = `id, account_id, name, hash, list_id, created_at, last_used`

// CreateToken adds an API token, setting its ID.
func (s *DB) CreateToken(ctx context.Context, t *store.Token) error {
	err := s.writeRow(ctx, []any{&t.ID}, `INSERT INTO api_tokens (account_id, name, hash, list_id, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, t.AccountID, t.Name, t.Hash, t.ListID, millis(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create token: %w", err)
	}
	return nil
}

// tokenUseGranularity is how stale a token's last use may be: noting
// every use would make every API request a durable write.
const tokenUseGranularity = time.Minute

// TokenByHash returns the token whose secret hashes to hash, and notes
// that it was used at now (to the minute).
func (s *DB) TokenByHash(ctx context.Context, hash string, now time.Time) (*store.Token, error) {
	ts, err := s.tokens(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, store.ErrNotFound
	}
	t := &ts[0]
	if now.Sub(t.LastUsed) >= tokenUseGranularity {
		if _, err := s.exec(ctx, `UPDATE api_tokens SET last_used = $1 WHERE id = $2`, millis(now), t.ID); err != nil {
			return nil, fmt.Errorf("sqlstore: token use: %w", err)
		}
		t.LastUsed = now
	}
	return t, nil
}

// Tokens returns an account's API tokens, oldest first.
func (s *DB) Tokens(ctx context.Context, accountID int64) ([]store.Token, error) {
	return s.tokens(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE account_id = $1 ORDER BY id`, accountID)
}

func (s *DB) tokens(ctx context.Context, query string, args ...any) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		var t store.Token
		var created, used int64
		if err := rows.Scan(&t.ID, &t.AccountID, &t.Name, &t.Hash, &t.ListID, &created, &used); err != nil {
			return nil, fmt.Errorf("sqlstore: tokens: %w", err)
		}
		t.CreatedAt, t.LastUsed = fromMillis(created), fromMillis(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken removes one of an account's tokens.
func (s *DB) DeleteToken(ctx context.Context, accountID, id int64) error {
	return s.execOne(ctx, "delete token", `DELETE FROM api_tokens WHERE account_id = $1 AND id = $2`, accountID, id)
}

// CreateSession records a signed-in browser.
func (s *DB) CreateSession(ctx context.Context, se *store.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions (hash, account_id, csrf, stage, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		se.Hash, se.AccountID, se.CSRF, se.Stage, millis(se.CreatedAt), millis(se.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	return nil
}

// Session returns the session whose secret hashes to hash, unless it
// expired before now.
func (s *DB) Session(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	var se store.Session
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT hash, account_id, csrf, stage, created_at, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2`,
		hash, millis(now)).Scan(&se.Hash, &se.AccountID, &se.CSRF, &se.Stage, &created, &expires)
	if err != nil {
		return nil, notFound(err)
	}
	se.CreatedAt, se.ExpiresAt = fromMillis(created), fromMillis(expires)
	return &se, nil
}

// DeleteSession ends a session; ending one that is gone is no error.
func (s *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteAccountSessions ends every session of an account (after its
// password changed).
func (s *DB) DeleteAccountSessions(ctx context.Context, accountID int64) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("sqlstore: delete sessions: %w", err)
	}
	return nil
}

// PurgeSessions removes the sessions that expired before now.
func (s *DB) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, millis(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge sessions: %w", err)
	}
	return res.RowsAffected()
}

// AddAudit records one change, setting its ID.
func (s *DB) AddAudit(ctx context.Context, e *store.AuditEntry) error {
	err := s.writeRow(ctx, []any{&e.ID}, `INSERT INTO audit (at, actor, via, action, list, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		millis(e.At), e.Actor, e.Via, e.Action, e.List, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("sqlstore: audit: %w", err)
	}
	return nil
}

// Audit returns audit entries, newest first.
func (s *DB) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	if q.Lists != nil {
		if len(q.Lists) == 0 {
			return nil, nil
		}
		where = append(where, "list IN ("+placeholders(&args, q.Lists...)+")")
	}
	if q.Before > 0 {
		where = append(where, "id < "+placeholders(&args, q.Before))
	}
	query := `SELECT id, at, actor, via, action, list, target, detail FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT " + placeholders(&args, limitOr(q.Limit, 100))
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Via, &e.Action, &e.List, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlstore: audit: %w", err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// placeholders appends vs to args and returns their placeholders, "$3,
// $4", for a query that takes args.
func placeholders[T any](args *[]any, vs ...T) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		*args = append(*args, v)
		ps[i] = fmt.Sprintf("$%d", len(*args))
	}
	return strings.Join(ps, ", ")
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Queue returns the deliveries q selects, without their data (Size is
// set), oldest first.
func (s *DB) Queue(ctx context.Context, q store.DeliveryQuery) ([]store.Delivery, error) {
	var where []string
	var args []any
	if q.ListIDs != nil {
		if len(q.ListIDs) == 0 {
			return nil, nil
		}
		where = append(where, "list_id IN ("+placeholders(&args, q.ListIDs...)+")")
	}
	if len(q.States) > 0 {
		where = append(where, "state IN ("+placeholders(&args, q.States...)+")")
	}
	query := `SELECT ` + queueColumns + ` FROM deliveries`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id LIMIT " + placeholders(&args, limitOr(q.Limit, 500))
	return s.deliveries(ctx, query, args...)
}

// QueueCounts returns how many deliveries of the lists with listIDs (nil:
// of every list) are in each state.
func (s *DB) QueueCounts(ctx context.Context, listIDs []int64) (map[store.DeliveryState]int, error) {
	query, args := `SELECT state, COUNT(*) FROM deliveries GROUP BY state`, []any(nil)
	if listIDs != nil {
		if len(listIDs) == 0 {
			return map[store.DeliveryState]int{}, nil
		}
		query = `SELECT state, COUNT(*) FROM deliveries WHERE list_id IN (` + placeholders(&args, listIDs...) + `) GROUP BY state`
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: queue counts: %w", err)
	}
	defer rows.Close()
	out := map[store.DeliveryState]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlstore: queue counts: %w", err)
		}
		out[store.DeliveryState(st)] = n
	}
	return out, rows.Err()
}

// Delivery returns one delivery, with its data.
func (s *DB) Delivery(ctx context.Context, id int64) (*store.Delivery, error) {
	ds, err := s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, store.ErrNotFound
	}
	return &ds[0], nil
}

// RetryDelivery makes a pending or failed delivery due at now. A
// delivery that was sent, or whose message was removed (Purged), is
// store.ErrNotFound.
func (s *DB) RetryDelivery(ctx context.Context, id int64, now time.Time) error {
	return s.execOne(ctx, "retry delivery", `UPDATE deliveries SET state = $1, next_attempt = $2, updated_at = $2
		WHERE id = $3 AND state IN ($1, $4) AND purged_at = 0
		AND (body_id = 0 OR EXISTS (SELECT 1 FROM post_bodies WHERE post_bodies.id = deliveries.body_id))`,
		string(store.Pending), millis(now), id, string(store.Failed))
}

// DueNow makes every pending delivery that waits for a later attempt due
// at now (not those an attempt holds), and returns how many.
func (s *DB) DueNow(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `UPDATE deliveries SET next_attempt = $1, updated_at = $1
		WHERE state = $2 AND next_attempt > $1 AND claimed_until <= $1`, millis(now), string(store.Pending))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: deliveries due now: %w", err)
	}
	return res.RowsAffected()
}

// DropDelivery removes a delivery that has not been sent, unless a
// delivery attempt holds it at now (store.ErrBusy).
func (s *DB) DropDelivery(ctx context.Context, id int64, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		var claimed, body int64
		err := tx.QueryRowContext(ctx, `SELECT state, claimed_until, body_id FROM deliveries WHERE id = $1`, id).Scan(&state, &claimed, &body)
		if err != nil {
			return notFound(err)
		}
		if state == string(store.Sent) {
			return store.ErrNotFound
		}
		if claimed > millis(now) {
			return store.ErrBusy
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id = $1`, id); err != nil || body == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM post_bodies WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE body_id = $1 AND state = $2)`, body, string(store.Pending))
		return err
	})
}

// CountHolds returns how many messages are held, on every list.
func (s *DB) CountHolds(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM holds`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count holds: %w", err)
	}
	return n, nil
}

// ListCounts returns, for every list by ID, how many members it has and
// how many messages it holds.
func (s *DB) ListCounts(ctx context.Context) (map[int64]store.ListCounts, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, (SELECT COUNT(*) FROM members m WHERE m.list_id = l.id),
		(SELECT COUNT(*) FROM holds h WHERE h.list_id = l.id) FROM lists l`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list counts: %w", err)
	}
	defer rows.Close()
	out := map[int64]store.ListCounts{}
	for rows.Next() {
		var id int64
		var c store.ListCounts
		if err := rows.Scan(&id, &c.Members, &c.Held); err != nil {
			return nil, fmt.Errorf("sqlstore: list counts: %w", err)
		}
		out[id] = c
	}
	return out, rows.Err()
}
