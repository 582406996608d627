package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"testing"
)

// TestStatementCache: a statement run again is not prepared again, the
// same statement run while its rows are still open (nested in a loop over
// them) gives both callers their whole result, and results stay right
// inside and outside transactions.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	sqliteOnly(t, s, "the statement cache wraps SQLite's connections")
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO t (n) VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT n FROM t WHERE n >= $1 ORDER BY n`
	list := func(run func(string, ...any) (*sql.Rows, error), from int) []int {
		t.Helper()
		rows, err := run(q, from)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	query := func(query string, args ...any) (*sql.Rows, error) { return s.db.QueryContext(ctx, query, args...) }

	// Nested: the outer rows stay open while the same statement runs on
	// the same connection, which only a transaction can do (the store has
	// one connection).
	err := s.tx(ctx, func(tx *sql.Tx) error {
		txq := func(query string, args ...any) (*sql.Rows, error) { return tx.QueryContext(ctx, query, args...) }
		rows, err := tx.QueryContext(ctx, q, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		var outer, inner []string
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			outer = append(outer, fmt.Sprint(n))
			inner = append(inner, fmt.Sprint(list(txq, n)))
		}
		if got, want := fmt.Sprint(outer), "[1 2 3 4]"; got != want {
			t.Errorf("outer rows: %s, want %s", got, want)
		}
		if got, want := fmt.Sprint(inner), "[[1 2 3 4] [2 3 4] [3 4] [4]]"; got != want {
			t.Errorf("inner rows: %s, want %s", got, want)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}

	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (n) VALUES ($1)`, 9); err != nil {
			return err
		}
		txq := func(query string, args ...any) (*sql.Rows, error) { return tx.QueryContext(ctx, query, args...) }
		if got, want := fmt.Sprint(list(txq, 4)), "[4 9]"; got != want {
			t.Errorf("in a transaction: %s, want %s", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(list(query, 4)), "[4 9]"; got != want {
		t.Errorf("after the transaction: %s, want %s", got, want)
	}

	// One connection; each statement prepared once.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		if _, ok := c.stmts[q]; !ok {
			t.Errorf("the query is not cached")
		}
		before := len(c.stmts)
		for range 3 {
			if _, err := c.QueryContext(ctx, q, []driver.NamedValue{{Ordinal: 1, Value: int64(0)}}); err == nil {
				c.stmts[q].busy = false // rows not read; free it as Close would
			}
		}
		if len(c.stmts) != before {
			t.Errorf("running a cached statement again grew the cache from %d to %d", before, len(c.stmts))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
