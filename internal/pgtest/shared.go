package pgtest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the server of the test binary, started by the first Shared.
var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Shared returns the test binary's one server, starting it on first use
// (initdb and start take 1 to 2 s on a 2-core machine; a database,
// CreateDB, 0.1 to 0.3 s, and dropping it 30 ms). It skips t as Start
// does. Tests that share it
// take a database each with CreateDB and leave the server alone (no
// Stop, no settings changed).
//
// The package's TestMain should be
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// which stops the server after the last test, however the tests went.
// Without it the watchdog stops and removes it once the test binary has
// exited.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin, why := binDir(debianBins)
	if why != "" {
		skip(t, why)
	}
	shared.once.Do(func() { shared.s, shared.err = start(bin) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.s
}

// Main runs the package's tests and benchmarks, stops the shared server
// if one was started, and exits with the tests' status (failing it if
// the server would not stop). Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if s := shared.s; s != nil {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
