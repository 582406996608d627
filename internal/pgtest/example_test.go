package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost/internal/pgtest"
)

// A package's tests share one server and take a database each; the
// package's TestMain is pgtest.Main, which stops the server at the end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func ExampleServer_CreateDB() {
	var t *testing.T // the test's
	url := pgtest.Shared(t).CreateDB(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// ... migrate, then test the store on conn (or on a pgxpool of url)
}

// A test that stops or reconfigures its server has one of its own.
func ExampleStart() {
	var t *testing.T // the test's
	s := pgtest.Start(t)
	url := s.URL("postgres") // over the unix socket; s.TCPURL over loopback
	_ = url
	if err := s.Stop(); err != nil { // also done when t ends
		t.Fatal(err)
	}
}
