package pgtest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// URL is a postgres:// URL for database db as the superuser, over the
// server's unix socket (the faster path, and no port is shared with
// anyone).
func (s *Server) URL(db string) string {
	q := url.Values{"host": {s.Dir}, "port": {strconv.Itoa(s.Port)}}
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// TCPURL is a postgres:// URL for database db as the superuser, over
// loopback TCP (as a node on another machine would connect, without TLS).
func (s *Server) TCPURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: "/" + db,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDB creates an empty database for t (named after the test, unique
// on s) and returns its URL (URL). The database is dropped when t ends,
// ending any connections to it still open.
//
// The database is a copy of template1, as empty as template0 on a new
// cluster and copied in about half the time; a test that changes
// template1 changes every later database, so none may.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", identifier(t.Name()), s.dbs.Add(1))
	if err := s.Exec("postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.down.Load() {
			return
		}
		if t.Failed() {
			t.Logf("postgres log for database %s:\n%s", name, s.logOf(name))
		}
		if err := s.Exec("postgres", "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return s.URL(name)
}

// logOf is the lines of the server's log about database db (their
// prefix names it: log_line_prefix), or a note that none does.
func (s *Server) logOf(db string) string {
	var b strings.Builder
	for line := range strings.Lines(s.Log()) {
		if strings.Contains(line, "@"+db+" ") {
			b.WriteString(line)
		}
	}
	if b.Len() == 0 {
		return "no line names it\n"
	}
	return b.String()
}

// identifier turns a test's name into the start of a database name: at
// most 40 of [a-z0-9_], so that the name with its number stays within
// PostgreSQL's 63 bytes and needs no quoting.
func identifier(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(test) {
		if b.Len() == 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Exec runs SQL (one or more statements, each in its own transaction
// unless the text says otherwise) in database db with psql, as the
// superuser. It is for setting up what a test needs outside the code
// under test: roles, grants, a broken row.
func (s *Server) Exec(db, sql string) error {
	out, err := s.command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-d", s.URL(db), "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: psql %q: %v\n%s", sql, err, out)
	}
	return nil
}

// Dump returns the rows of the database at url (one of s's, from
// CreateDB) as pg_dump writes them: what an attacker who copies the
// database reads. BYTEA values are in hex (\x...): a test that looks for
// a text in clear must look for its hex form as well.
func (s *Server) Dump(t testing.TB, url string) []byte {
	t.Helper()
	out, err := s.command("pg_dump", "--data-only", "--no-owner", "-d", url).Output()
	if err != nil {
		t.Fatalf("pgtest: pg_dump: %v", err)
	}
	return out
}
