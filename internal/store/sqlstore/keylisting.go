package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealpost/sealpost/internal/store"
)

// ListKeys returns one page of the keyring, ordered by fingerprint, with
// the keys filter f selects and how many match on every page. The
// database filters and pages: a page costs the same with ten keys as
// with a million.
func (s *DB) ListKeys(ctx context.Context, f store.KeyFilter) (store.KeyPage, error) {
	where, args, err := keyFilterSQL(f)
	if err != nil {
		return store.KeyPage{}, err
	}
	var page store.KeyPage
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM keys k`+where, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("sqlstore: list keys: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > store.MaxKeysPage {
		limit = store.MaxKeysPage
	}
	n := len(args)
	args = append(args, limit, max(f.Offset, 0))
	keys, err := s.queryKeys(ctx, fmt.Sprintf(`SELECT %s FROM keys k%s ORDER BY k.fingerprint LIMIT $%d OFFSET $%d`, keyColumns, where, n+1, n+2), args...)
	if err != nil {
		return page, err
	}
	page.Keys = keys
	return page, nil
}

// keyFilterSQL is the WHERE clause (with its leading space, or empty)
// and arguments of a keyring filter, the same for SQLite and PostgreSQL.
func keyFilterSQL(f store.KeyFilter) (string, []any, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if a := strings.ToLower(strings.TrimSpace(f.Address)); a != "" {
		// Addresses are indexed in lower case; LIKE's wildcards in what
		// was typed are taken literally. The addresses are scanned once
		// (the index's email entries), not once per key.
		conds = append(conds, `k.fingerprint IN (SELECT i.fingerprint FROM key_index i WHERE i.kind = `+
			arg(store.IndexEmail)+` AND i.value LIKE `+arg("%"+likeEscaper.Replace(a)+"%")+` ESCAPE '\')`)
	}
	switch f.Engine {
	case "":
	case store.EngineOpenPGP, store.EngineSMIME:
		conds = append(conds, `k.engine = `+arg(f.Engine))
	default:
		return "", nil, fmt.Errorf("sqlstore: list keys: unknown engine %q", f.Engine)
	}
	if f.ListIDs != nil {
		conds = append(conds, usedBySQL(f.ListIDs, arg))
	}
	now := millis(f.Now)
	switch f.Status {
	case "":
	case store.KeyStatusValid:
		conds = append(conds, `k.revoked = 0 AND (k.expires_at = 0 OR k.expires_at >= `+arg(now)+`)`)
	case store.KeyStatusExpiring:
		conds = append(conds, `k.revoked = 0 AND k.expires_at <> 0 AND k.expires_at >= `+arg(now)+` AND k.expires_at < `+arg(millis(f.Now.Add(f.Within))))
	case store.KeyStatusExpired:
		conds = append(conds, `k.revoked = 0 AND k.expires_at <> 0 AND k.expires_at < `+arg(now))
	case store.KeyStatusRevoked:
		conds = append(conds, `k.revoked <> 0`)
	case store.KeyStatusWeak:
		conds = append(conds, `k.weak <> 0`)
	default:
		return "", nil, fmt.Errorf("sqlstore: list keys: unknown status %q", f.Status)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// usedBySQL is the condition that a list among ids uses the key, as
// KeyUsers finds its users.
func usedBySQL(ids []int64, arg func(any) string) string {
	if len(ids) == 0 {
		return "1 = 0"
	}
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = arg(id)
	}
	in := "(" + strings.Join(ps, ", ") + ")"
	return `(k.fingerprint IN (SELECT m.fingerprint FROM member_keys m WHERE m.list_id IN ` + in + `)
		OR k.fingerprint IN (SELECT l.key_fingerprint FROM lists l WHERE l.id IN ` + in + `)
		OR k.fingerprint IN (SELECT r.fingerprint FROM retired_list_keys r WHERE r.list_id IN ` + in + `))`
}

// likeEscaper makes a string match itself in a LIKE pattern with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
