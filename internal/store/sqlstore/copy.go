package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// TableCopy is what CopyTo did with one table.
type TableCopy struct {
	Table string
	Rows  int64
	// Checksum is the same order-independent digest of the table's rows
	// read back from both databases (the sum of each row's SHA-256).
	Checksum string
}

// ErrNotEmpty is CopyTo's answer when the target database holds
// records already.
var ErrNotEmpty = errors.New("the target database is not empty: CopyTo copies into an empty database only")

// CopyTo copies every record of s, a SQLite database, into dst, an empty
// PostgreSQL database with the same schema version (Open made both), and
// verifies the copy: each table's rows are counted and digested on both
// sides, and a difference is an error. The source is read in one
// transaction: what is committed after it began is not copied (stop
// serve first, or copy again into a new database). Identity sequences
// and the roster counter are moved past the copied values.
func (s *DB) CopyTo(ctx context.Context, dst *DB) ([]TableCopy, error) {
	if s.pg || !dst.pg {
		return nil, errors.New("sqlstore: CopyTo copies a SQLite database into a PostgreSQL one")
	}
	sv, err := s.schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	dv, err := dst.schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if sv != dv {
		return nil, fmt.Errorf("sqlstore: schema version %d here, %d in the target: run this version of sealpost on both", sv, dv)
	}
	tables, err := dst.tablesInOrder(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var any int
		err := dst.db.QueryRowContext(ctx, `SELECT 1 FROM `+t+` LIMIT 1`).Scan(&any)
		if err == nil {
			return nil, fmt.Errorf("sqlstore: %w (table %s has rows)", ErrNotEmpty, t)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlstore: copy: %w", err)
		}
	}
	src, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: copy: %w", err)
	}
	defer src.Rollback()
	var report []TableCopy
	err = dst.tx(ctx, func(tx *sql.Tx) error {
		report = report[:0]
		for _, t := range tables {
			cols, bytea, err := dst.columns(ctx, tx, t)
			if err != nil {
				return err
			}
			n, err := copyTable(ctx, src, tx, t, cols, bytea)
			if err != nil {
				return fmt.Errorf("table %s: %w", t, err)
			}
			report = append(report, TableCopy{Table: t, Rows: n})
		}
		return fixSequences(ctx, src, tx, tables)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: copy: %w", err)
	}
	for i := range report {
		t := &report[i]
		cols, _, err := dst.columns(ctx, dst.db, t.Table)
		if err != nil {
			return nil, err
		}
		want, n1, err := digest(ctx, src, t.Table, cols)
		if err != nil {
			return nil, err
		}
		got, n2, err := digest(ctx, dst.db, t.Table, cols)
		if err != nil {
			return nil, err
		}
		if want != got || n1 != n2 || n1 != t.Rows {
			return report, fmt.Errorf("sqlstore: copy: table %s differs after the copy (%d rows here, %d there)", t.Table, n1, n2)
		}
		t.Checksum = got
	}
	return report, nil
}

// schemaVersion is the newest migration applied.
func (s *DB) schemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tablesInOrder returns the PostgreSQL database's tables (but
// schema_migrations), each after the tables its foreign keys name.
func (s *DB) tablesInOrder(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.relname,
			COALESCE((SELECT string_agg(r.relname, ',') FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid
				WHERE k.conrelid = c.oid AND k.contype = 'f' AND r.oid <> c.oid), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname <> 'schema_migrations'
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: tables: %w", err)
	}
	defer rows.Close()
	deps := map[string][]string{}
	var names []string
	for rows.Next() {
		var name, refs string
		if err := rows.Scan(&name, &refs); err != nil {
			return nil, err
		}
		names = append(names, name)
		if refs != "" {
			deps[name] = strings.Split(refs, ",")
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var order []string
	done := map[string]bool{}
	var visit func(string, int) error
	visit = func(t string, depth int) error {
		if done[t] {
			return nil
		}
		if depth > len(names) {
			return fmt.Errorf("sqlstore: tables: foreign keys in a cycle at %s", t)
		}
		for _, d := range deps[t] {
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		done[t] = true
		order = append(order, t)
		return nil
	}
	for _, t := range names {
		if err := visit(t, 0); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// columns returns table's columns in PostgreSQL and which are BYTEA.
func (s *DB) columns(ctx context.Context, q querier, table string) (cols []string, bytea map[string]bool, err error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: columns of %s: %w", table, err)
	}
	defer rows.Close()
	bytea = map[string]bool{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, nil, err
		}
		cols = append(cols, name)
		bytea[name] = typ == "bytea"
	}
	return cols, bytea, rows.Err()
}

// copyTable copies table's rows from src to dst, column by column by
// name (the engines' schemas order them differently).
func copyTable(ctx context.Context, src *sql.Tx, dst *sql.Tx, table string, cols []string, bytea map[string]bool) (int64, error) {
	list := strings.Join(cols, ", ")
	rows, err := src.QueryContext(ctx, `SELECT `+list+` FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var marks []string
	for i := range cols {
		marks = append(marks, fmt.Sprintf("$%d", i+1))
	}
	insert, err := dst.PrepareContext(ctx, `INSERT INTO `+table+` (`+list+`) VALUES (`+strings.Join(marks, ", ")+`)`)
	if err != nil {
		return 0, err
	}
	defer insert.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		args := slices.Clone(vals)
		for i, c := range cols {
			switch v := args[i].(type) {
			case string:
				if bytea[c] {
					args[i] = []byte(v) // SQLite keeps '' written into a BLOB column as text
				}
			case []byte:
				if v == nil {
					args[i] = []byte{} // and an empty BLOB as nil; no column may be NULL
				}
			case nil:
				if bytea[c] {
					args[i] = []byte{}
				}
			}
		}
		if _, err := insert.ExecContext(ctx, args...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// fixSequences moves each copied table's identity sequence past its
// largest id, and the roster counter past every list's version; the
// lists get back their versions, which the triggers moved as their
// members were copied.
func fixSequences(ctx context.Context, src, dst *sql.Tx, tables []string) error {
	for _, t := range tables {
		var identity int
		err := dst.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id' AND is_identity = 'YES'`, t).Scan(&identity)
		if err != nil {
			return err
		}
		if identity == 0 {
			continue
		}
		if _, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM `+t+`), 1))`, t); err != nil {
			return err
		}
	}
	rows, err := src.QueryContext(ctx, `SELECT id, roster_version FROM lists`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var top int64
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		top = max(top, v)
		if _, err := dst.ExecContext(ctx, `UPDATE lists SET roster_version = $1 WHERE id = $2`, v, id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = dst.ExecContext(ctx, `SELECT setval('roster_counter', GREATEST($1::bigint + 1000000, (SELECT last_value FROM roster_counter)))`, top)
	return err
}

// digest is an order-independent digest of table's rows (the sum, modulo
// 2^256, of each row's SHA-256 over its values in cols), and their count.
// Values are read as the engines give them and made comparable: numbers
// as decimal text, text and blobs as their bytes.
func digest(ctx context.Context, q querier, table string, cols []string) (string, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table)
	if err != nil {
		return "", 0, fmt.Errorf("sqlstore: digest of %s: %w", table, err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	sum := new(big.Int)
	mod := new(big.Int).Lsh(big.NewInt(1), 256)
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", 0, err
		}
		h := sha256.New()
		for _, v := range vals {
			var b []byte
			switch v := v.(type) {
			case nil:
				// SQLite's empty BLOB; no column is nullable.
			case []byte:
				b = v
			case string:
				b = []byte(v)
			default:
				b = fmt.Append(nil, v)
			}
			fmt.Fprintf(h, "%d:", len(b))
			h.Write(b)
		}
		sum.Add(sum, new(big.Int).SetBytes(h.Sum(nil)))
		sum.Mod(sum, mod)
		n++
	}
	return fmt.Sprintf("%064x", sum), n, rows.Err()
}
