package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var pgSeq atomic.Int64

// testSource is where a test's database lives: a SQLite file, or with
// SEALPOST_TEST_PG_URL a fresh PostgreSQL database on that server.
func testSource(t *testing.T, file string) string {
	base := os.Getenv("SEALPOST_TEST_PG_URL")
	if base == "" {
		return file
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("t%d_%d", time.Now().UnixNano(), pgSeq.Add(1))
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(base, "/")
	return base[:i+1] + name
}

// sqliteOnly skips a test of something only SQLite has.
func sqliteOnly(t *testing.T, db *DB, what string) {
	t.Helper()
	if db.pg {
		t.Skipf("%s: not on PostgreSQL", what)
	}
}
