package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// markThread puts message-ids into a gateway's conversation, creating it
// when it is new. Encrypted is sticky: it is set, never cleared; a tag
// replaces the one before, and no tag leaves it.
func markThread(ctx context.Context, tx *sql.Tx, listID int64, t *store.ThreadMark) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO threads (list_id, thread, encrypted, guarded, tag, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (list_id, thread) DO UPDATE SET encrypted = CASE WHEN excluded.encrypted > threads.encrypted THEN excluded.encrypted ELSE threads.encrypted END,
			guarded = CASE WHEN excluded.guarded > threads.guarded THEN excluded.guarded ELSE threads.guarded END,
			tag = CASE WHEN excluded.tag <> '' THEN excluded.tag ELSE threads.tag END, updated_at = excluded.updated_at`,
		listID, t.Thread, boolInt(t.Encrypted), boolInt(t.Guard), t.Tag, millis(t.At)); err != nil {
		return err
	}
	for _, id := range t.MessageIDs {
		// A message-id already in another conversation stays there.
		if _, err := tx.ExecContext(ctx, `INSERT INTO thread_messages (list_id, message_id, thread) VALUES ($1, $2, $3)
			ON CONFLICT (list_id, message_id) DO NOTHING`, listID, id, t.Thread); err != nil {
			return err
		}
	}
	for _, a := range t.Answerable {
		if _, err := tx.ExecContext(ctx, `INSERT INTO thread_addresses (list_id, thread, address) VALUES ($1, $2, $3)
			ON CONFLICT (list_id, thread, address) DO NOTHING`, listID, t.Thread, a); err != nil {
			return err
		}
	}
	return nil
}

// FindThread returns the conversation of a gateway that any of ids
// belongs to, preferring an encrypted one; nil when none does.
func (s *DB) FindThread(ctx context.Context, listID int64, ids []string) (*store.Thread, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{listID}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	row := s.db.QueryRowContext(ctx, `SELECT t.thread, t.encrypted, t.guarded, t.tag, t.created_at, t.updated_at
		FROM thread_messages m JOIN threads t ON t.list_id = m.list_id AND t.thread = m.thread
		WHERE m.list_id = $1 AND m.message_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY t.encrypted DESC, t.created_at LIMIT 1`, args...)
	var t store.Thread
	var enc, guarded int
	var created, updated int64
	switch err := row.Scan(&t.ID, &enc, &guarded, &t.Tag, &created, &updated); {
	case err == sql.ErrNoRows:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("sqlstore: find thread: %w", err)
	}
	t.Encrypted, t.Guarded, t.CreatedAt, t.UpdatedAt = enc != 0, guarded != 0, fromMillis(created), fromMillis(updated)
	rows, err := s.db.QueryContext(ctx, `SELECT address FROM thread_addresses WHERE list_id = $1 AND thread = $2 ORDER BY address`, listID, t.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: find thread: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlstore: find thread: %w", err)
		}
		t.Answerable = append(t.Answerable, a)
	}
	return &t, rows.Err()
}

// Threads returns a gateway's conversations, most recent first, with the
// number of archived messages of each.
func (s *DB) Threads(ctx context.Context, listID int64, limit int) ([]store.Thread, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT t.thread, t.encrypted, t.tag, t.created_at, t.updated_at,
			(SELECT COUNT(*) FROM archive a WHERE a.list_id = t.list_id AND a.thread = t.thread)
		FROM threads t WHERE t.list_id = $1 ORDER BY t.updated_at DESC LIMIT $2`, listID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: threads: %w", err)
	}
	defer rows.Close()
	var out []store.Thread
	for rows.Next() {
		var t store.Thread
		var enc int
		var created, updated int64
		if err := rows.Scan(&t.ID, &enc, &t.Tag, &created, &updated, &t.Messages); err != nil {
			return nil, fmt.Errorf("sqlstore: threads: %w", err)
		}
		t.Encrypted, t.CreatedAt, t.UpdatedAt = enc != 0, fromMillis(created), fromMillis(updated)
		out = append(out, t)
	}
	return out, rows.Err()
}

func insertArchived(ctx context.Context, tx *sql.Tx, a *store.Archived, now time.Time) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	return tx.QueryRowContext(ctx, `INSERT INTO archive (list_id, thread, direction, message_id, ref, sealed, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		a.ListID, a.Thread, a.Direction, a.MessageID, a.Ref, a.Sealed, millis(a.CreatedAt)).Scan(&a.ID)
}

const archiveColumns = `id, list_id, thread, direction, message_id, ref, sealed, created_at`

// Archived returns the archived messages of a gateway's conversation in
// the order they came, or of the whole gateway when thread is "".
func (s *DB) Archived(ctx context.Context, listID int64, thread string) ([]store.Archived, error) {
	return s.archived(ctx, `SELECT `+archiveColumns+` FROM archive WHERE list_id = $1 AND ($2 = '' OR thread = $2) ORDER BY id`, listID, thread)
}

// ArchivedMessage returns one archived message of a gateway.
func (s *DB) ArchivedMessage(ctx context.Context, listID, id int64) (*store.Archived, error) {
	as, err := s.archived(ctx, `SELECT `+archiveColumns+` FROM archive WHERE list_id = $1 AND id = $2`, listID, id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, store.ErrNotFound
	}
	return &as[0], nil
}

func (s *DB) archived(ctx context.Context, query string, args ...any) ([]store.Archived, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: archive: %w", err)
	}
	defer rows.Close()
	var out []store.Archived
	for rows.Next() {
		var a store.Archived
		var created int64
		if err := rows.Scan(&a.ID, &a.ListID, &a.Thread, &a.Direction, &a.MessageID, &a.Ref, &a.Sealed, &created); err != nil {
			return nil, fmt.Errorf("sqlstore: archive: %w", err)
		}
		a.CreatedAt = fromMillis(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// MembersByEmail returns the members of a list among emails, with their
// keys: a gateway's correspondents, without loading all of them.
func (s *DB) MembersByEmail(ctx context.Context, listID int64, emails []string) ([]store.Member, error) {
	var out []store.Member
	for _, e := range emails {
		m, err := scanMember(s.db.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE list_id = $1 AND email = $2`, listID, e), listID)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: member %s: %w", e, err)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+`, m.source, m.capabilities, m.created_at
			FROM member_keys m JOIN keys k ON k.fingerprint = m.fingerprint
			WHERE m.list_id = $1 AND m.email = $2 ORDER BY m.created_at`, listID, e)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: member keys: %w", err)
		}
		for rows.Next() {
			var k store.MemberKey
			var kc int64
			if err := scanKey(rows, &k.Key, &k.Source, &k.Capabilities, &kc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: member keys: %w", err)
			}
			k.CreatedAt = fromMillis(kc)
			m.Keys = append(m.Keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: member keys: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}
