package sqlstore

import (
	"testing"

	"github.com/sealpost/sealpost/internal/pgtest"
)

// TestPostgres runs this package's tests again on PostgreSQL (a private
// server, internal/pgtest): every test that opens its database with
// open(t) runs on both engines in one `go test ./...`.
func TestPostgres(t *testing.T) { pgtest.Suite(t) }

// testSource is where a test's database lives: a SQLite file, or in the
// PostgreSQL run a fresh PostgreSQL database.
func testSource(t *testing.T, file string) string { return pgtest.Database(t, file) }

// sqliteOnly skips a test of something only SQLite has.
func sqliteOnly(t *testing.T, db *DB, what string) {
	t.Helper()
	if db.pg {
		t.Skipf("%s: not on PostgreSQL", what)
	}
}
