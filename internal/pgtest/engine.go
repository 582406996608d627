package pgtest

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// EngineEnv names the variable that runs a package's tests on
// PostgreSQL: with EngineEnv=postgres, Database gives each test a fresh
// PostgreSQL database instead of a SQLite file. Suite sets it for a
// second run of the package's own test binary, so that `go test ./...`
// runs the tests on both engines.
const EngineEnv = "SEALPOST_TEST_ENGINE"

// OnPostgres reports whether this run of the tests is the PostgreSQL one.
func OnPostgres() bool { return os.Getenv(EngineEnv) == "postgres" }

// Database is where a test's records go: sqliteFile, or in the
// PostgreSQL run a fresh database on the shared server, as a URL (which
// sqlstore.Open and [database] url take).
func Database(t testing.TB, sqliteFile string) string {
	if !OnPostgres() {
		return sqliteFile
	}
	return Shared(t).CreateDB(t)
}

// Suite runs the calling package's tests again, on PostgreSQL: the test
// binary itself, with EngineEnv=postgres, every test but t's own. It
// fails t with the run's output when a test failed there; in the
// PostgreSQL run it is skipped. Call it from one test per package whose
// tests take their database from Database (TestPostgres).
func Suite(t *testing.T) {
	t.Helper()
	if OnPostgres() {
		t.Skip("this is the PostgreSQL run")
	}
	if _, why := binDir(debianBins); why != "" {
		skip(t, why)
	}
	args := []string{"-test.skip=^" + t.Name() + "$", "-test.count=1", "-test.v"}
	for _, name := range []string{"test.timeout", "test.short", "test.cpu", "test.parallel"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != f.DefValue {
			args = append(args, "-"+name+"="+f.Value.String())
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), EngineEnv+"=postgres")
	out, err := cmd.CombinedOutput()
	passed, skipped := strings.Count(string(out), "--- PASS"), strings.Count(string(out), "--- SKIP")
	if err != nil {
		t.Fatalf("the tests on PostgreSQL failed (%v); their output:\n%s", err, failures(out))
	}
	if passed == 0 {
		t.Fatalf("no test passed on PostgreSQL; the run's output:\n%s", out)
	}
	t.Logf("on PostgreSQL: %d passed, %d skipped (SQLite only)", passed, skipped)
}

// failures is the part of a verbose test run's output worth reading:
// what each failed test printed (between its "=== RUN" and its "---
// FAIL"), and the summary lines, or all of it when no test is marked.
func failures(out []byte) string {
	lines := strings.Split(string(out), "\n")
	failed := map[string]bool{}
	for _, l := range lines {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "--- FAIL: "); ok {
			failed[strings.Fields(name)[0]] = true
		}
	}
	if len(failed) == 0 {
		return string(out)
	}
	var keep []string
	current := ""
	for _, l := range lines {
		if name, ok := strings.CutPrefix(l, "=== RUN   "); ok {
			current = name
			continue
		}
		if name, ok := strings.CutPrefix(l, "=== CONT  "); ok {
			current = name // a parallel test goes on
			continue
		}
		if failed[current] || strings.Contains(l, "--- FAIL") || strings.HasPrefix(l, "FAIL") || strings.HasPrefix(l, "panic") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
