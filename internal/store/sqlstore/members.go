package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// AddMember inserts m with its keys. It returns store.ErrExists when the
// address is already a member of the list.
func (s *DB) AddMember(ctx context.Context, m *store.Member) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO members (list_id, email, admin, format, created_at) VALUES ($1, $2, $3, $4, $5)`,
			m.ListID, m.Email, boolInt(m.Admin), m.Format, millis(m.CreatedAt))
		if err != nil {
			return err
		}
		for i := range m.Keys {
			if err := putKey(ctx, tx, m.ListID, m.Email, &m.Keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if isUnique(err) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlstore: add member: %w", err)
	}
	return nil
}

// PutMemberKey adds a key to a member, or refreshes it when the member
// already has a key with that fingerprint.
func (s *DB) PutMemberKey(ctx context.Context, listID int64, email string, k *store.MemberKey) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return putKey(ctx, tx, listID, email, k) })
	if err != nil {
		return fmt.Errorf("sqlstore: put member key: %w", err)
	}
	return nil
}

func putKey(ctx context.Context, tx *sql.Tx, listID int64, email string, k *store.MemberKey) error {
	if k.Source == "" {
		k.Source = store.SourcePinned
	}
	if k.AddedAt.IsZero() {
		k.AddedAt = k.CreatedAt
	}
	if _, err := putKeyTx(ctx, tx, &k.Key); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO member_keys (list_id, email, fingerprint, source, capabilities, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (list_id, email, fingerprint) DO UPDATE SET
			capabilities = CASE WHEN excluded.capabilities = '' THEN member_keys.capabilities ELSE excluded.capabilities END`,
		listID, email, k.Fingerprint, k.Source, k.Capabilities, millis(k.CreatedAt))
	return err
}

// RemoveMember deletes a member and their keys.
func (s *DB) RemoveMember(ctx context.Context, listID int64, email string) error {
	return s.execOne(ctx, "remove member", `DELETE FROM members WHERE list_id = $1 AND email = $2`, listID, email)
}

// Members returns a list's members ordered by address, with their keys.
func (s *DB) Members(ctx context.Context, listID int64) ([]store.Member, error) {
	out, index, err := s.memberRows(ctx, listID, `SELECT `+memberColumns+` FROM members WHERE list_id = $1 ORDER BY email`, listID)
	if err != nil {
		return nil, err
	}
	return out, s.memberKeys(ctx, listID, out, index)
}

// MembersPage returns the members of a list from offset, at most limit
// of them, by email as Members orders them, with their keys; and how many
// members the list has in all. Only the page's rows and keys are read.
func (s *DB) MembersPage(ctx context.Context, listID int64, offset, limit int) ([]store.Member, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM members WHERE list_id = $1`, listID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlstore: count members: %w", err)
	}
	out, index, err := s.memberRows(ctx, listID, `SELECT `+memberColumns+` FROM members WHERE list_id = $1 ORDER BY email LIMIT $2 OFFSET $3`,
		listID, limit, offset)
	if err != nil || len(out) == 0 {
		return nil, total, err
	}
	// The page's keys: those of the emails from its first to its last, in
	// the order the page was cut in.
	return out, total, s.memberKeysOf(ctx, out, index, `SELECT `+keyColumns+`, m.email, m.source, m.capabilities, m.created_at
		FROM member_keys m JOIN keys k ON k.fingerprint = m.fingerprint
		WHERE m.list_id = $1 AND m.email >= $2 AND m.email <= $3 ORDER BY m.email, m.created_at`,
		listID, out[0].Email, out[len(out)-1].Email)
}

// memberRows reads the member rows (memberColumns) of list listID that
// query returns, without their keys, and an index of them by email.
func (s *DB) memberRows(ctx context.Context, listID int64, query string, args ...any) ([]store.Member, map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: members: %w", err)
	}
	defer rows.Close()
	var out []store.Member
	index := map[string]int{}
	for rows.Next() {
		m, err := scanMember(rows, listID)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlstore: members: %w", err)
		}
		index[m.Email] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: members: %w", err)
	}
	return out, index, nil
}

const memberColumns = `email, admin, format, smime_cipher, smime_keytransport, created_at, disabled_at, disabled_reason`

// scanMember reads a member row of memberColumns.
func scanMember(r scanner, listID int64) (store.Member, error) {
	m := store.Member{ListID: listID}
	var admin int
	var created, disabled int64
	if err := r.Scan(&m.Email, &admin, &m.Format, &m.SMIMECipher, &m.SMIMEKeyTransport, &created, &disabled, &m.DisabledReason); err != nil {
		return m, err
	}
	m.Admin, m.CreatedAt, m.DisabledAt = admin != 0, fromMillis(created), fromMillis(disabled)
	return m, nil
}

// memberKeys fills in the keys of the members of one list.
func (s *DB) memberKeys(ctx context.Context, listID int64, ms []store.Member, index map[string]int) error {
	return s.memberKeysOf(ctx, ms, index, `SELECT `+keyColumns+`, m.email, m.source, m.capabilities, m.created_at
		FROM member_keys m JOIN keys k ON k.fingerprint = m.fingerprint
		WHERE m.list_id = $1 ORDER BY m.email, m.created_at`, listID)
}

// memberKeysOf fills in the keys that query (of member keys, with the
// member's email after the key's columns) returns for the members ms,
// found by email through index.
func (s *DB) memberKeysOf(ctx context.Context, ms []store.Member, index map[string]int, query string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: member keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var email string
		var k store.MemberKey
		var created int64
		if err := scanKey(rows, &k.Key, &email, &k.Source, &k.Capabilities, &created); err != nil {
			return fmt.Errorf("sqlstore: member keys: %w", err)
		}
		k.CreatedAt = fromMillis(created)
		if i, ok := index[email]; ok {
			ms[i].Keys = append(ms[i].Keys, k)
		}
	}
	return rows.Err()
}

// SetMemberCipher sets the content encryption of a member's S/MIME
// copies by name ("aes256-cbc", ...); "" follows what their client
// announced.
func (s *DB) SetMemberCipher(ctx context.Context, listID int64, email, cipher string) error {
	return s.execOne(ctx, "set member S/MIME cipher", `UPDATE members SET smime_cipher = $1 WHERE list_id = $2 AND email = $3`,
		cipher, listID, email)
}

// SetMemberKeyTransport sets the RSA key transport of a member's S/MIME
// copies by name ("rsa-pkcs1v15", ...); "" follows what their client
// announced.
func (s *DB) SetMemberKeyTransport(ctx context.Context, listID int64, email, keyTransport string) error {
	return s.execOne(ctx, "set member S/MIME key transport", `UPDATE members SET smime_keytransport = $1 WHERE list_id = $2 AND email = $3`,
		keyTransport, listID, email)
}

// SetMemberAdmin makes a member a list admin or an ordinary member.
func (s *DB) SetMemberAdmin(ctx context.Context, listID int64, email string, admin bool) error {
	return s.execOne(ctx, "set member admin", `UPDATE members SET admin = $1 WHERE list_id = $2 AND email = $3`, boolInt(admin), listID, email)
}

// SetMemberFormat sets a member's preferred copy format ("" for the list's).
func (s *DB) SetMemberFormat(ctx context.Context, listID int64, email, format string) error {
	return s.execOne(ctx, "set member format", `UPDATE members SET format = $1 WHERE list_id = $2 AND email = $3`, format, listID, email)
}

// Bounces counts the bounces of a member's copies since t.
func (s *DB) Bounces(ctx context.Context, listID int64, email string, since time.Time) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM bounces WHERE list_id = $1 AND email = $2 AND at >= $3`,
		listID, email, millis(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: bounces: %w", err)
	}
	return n, nil
}

// EnableMember resumes delivery to a member and forgets their bounces.
func (s *DB) EnableMember(ctx context.Context, listID int64, email string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE members SET disabled_at = 0, disabled_reason = '' WHERE list_id = $1 AND email = $2`, listID, email)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM bounces WHERE list_id = $1 AND email = $2`, listID, email)
		return err
	})
}
