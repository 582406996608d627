package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgx.Connect(%s): %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestRoundTrip: a database of the shared server takes a table, a row
// written and read back, and commits durably.
func TestRoundTrip(t *testing.T) {
	conn := connect(t, pgtest.Shared(t).CreateDB(t))
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `CREATE TABLE lists (id bigserial PRIMARY KEY, address text UNIQUE NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO lists (address) VALUES ($1), ($2)`,
		"team@lists.example.org", "ops@lists.example.org"); err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(ctx, `SELECT address FROM lists ORDER BY id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"team@lists.example.org", "ops@lists.example.org"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("read back %q, want %q", got, want)
	}
	_, err = conn.Exec(ctx, `INSERT INTO lists (address) VALUES ($1)`, "team@lists.example.org")
	if err == nil || !strings.Contains(err.Error(), "23505") {
		t.Errorf("a duplicate address: err = %v, want a unique violation (SQLSTATE 23505)", err)
	}
	for setting, want := range map[string]string{"synchronous_commit": "on", "fsync": "on",
		"full_page_writes": "on", "server_encoding": "UTF8", "TimeZone": "UTC"} {
		var got string
		if err := conn.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("SHOW %s = %q, want %q", setting, got, want)
		}
	}
}

// TestIsolated: two databases of one server share nothing.
func TestIsolated(t *testing.T) {
	s := pgtest.Shared(t)
	urlA, urlB := s.CreateDB(t), s.CreateDB(t)
	if urlA == urlB {
		t.Fatalf("two CreateDB calls gave the same URL %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)
	ctx := t.Context()
	for _, c := range []*pgx.Conn{a, b} {
		if _, err := c.Exec(ctx, `CREATE TABLE marks (digest text PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Exec(ctx, `INSERT INTO marks VALUES ('d1')`); err != nil {
		t.Fatal(err)
	}
	// The same key in the other database is no conflict.
	if _, err := b.Exec(ctx, `INSERT INTO marks VALUES ('d1'), ('d2')`); err != nil {
		t.Fatalf("database B sees database A's row: %v", err)
	}
	var na, nb int
	a.QueryRow(ctx, `SELECT count(*) FROM marks`).Scan(&na)
	b.QueryRow(ctx, `SELECT count(*) FROM marks`).Scan(&nb)
	if na != 1 || nb != 2 {
		t.Errorf("rows: A has %d, B has %d; want 1 and 2", na, nb)
	}
	if _, err := a.Exec(ctx, `CREATE TABLE only_a (x int)`); err != nil {
		t.Fatal(err)
	}
	var seen *string
	if err := b.QueryRow(ctx, `SELECT to_regclass('only_a')::text`).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if seen != nil {
		t.Errorf("database B has A's table only_a")
	}
}

// TestTCP: the server answers on its loopback port too.
func TestTCP(t *testing.T) {
	s := pgtest.Shared(t)
	s.CreateDB(t)
	conn := connect(t, s.TCPURL("postgres"))
	var addr string
	if err := conn.QueryRow(t.Context(), `SELECT host(inet_server_addr())`).Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" {
		t.Errorf("inet_server_addr() = %q over %s, want 127.0.0.1", addr, s.TCPURL("postgres"))
	}
}

// TestDropped: a test's database is gone when the test ends, even with a
// connection still open.
func TestDropped(t *testing.T) {
	s := pgtest.Shared(t)
	var url string
	t.Run("uses", func(t *testing.T) {
		url = s.CreateDB(t)
		c, err := pgx.Connect(t.Context(), url) // left open on purpose
		if err != nil {
			t.Fatal(err)
		}
		_ = c
	})
	name := strings.TrimPrefix(strings.Split(url, "?")[0], "postgres://postgres@/")
	conn := connect(t, s.URL("postgres"))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// postgresProcs returns the processes of the server in dataDir: the
// postmaster named in postmaster.pid and its children, by /proc.
func postgresProcs(t *testing.T, dataDir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	master, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	procs := []int{master}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid(pid) == master {
			procs = append(procs, pid)
		}
	}
	return procs
}

// ppid is pid's parent, 0 when pid is gone.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	p, _ := strconv.Atoi(f[1])
	return p
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return f[0] != "Z"
}

// mentioning returns the processes whose command line mentions dir.
func mentioning(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(b), dir) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// assertGone fails t unless no process of the server of dir is left and
// dir no longer exists.
func assertGone(t *testing.T, dir string, procs []int) {
	t.Helper()
	for _, pid := range procs {
		if alive(pid) {
			t.Errorf("server process %d still runs", pid)
		}
	}
	if pids := mentioning(dir); len(pids) > 0 {
		t.Errorf("processes %v still name %s", pids, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists (%v)", dir, err)
	}
}

// TestStop: Stop ends every process of the server and removes its
// directory; the server answered until then.
func TestStop(t *testing.T) {
	begin := time.Now()
	s := pgtest.Start(t)
	t.Logf("initdb and start: %v", time.Since(begin).Round(time.Millisecond))
	connect(t, s.URL("postgres")).Close(t.Context())
	procs := postgresProcs(t, filepath.Join(s.Dir, "data"))
	if len(procs) < 3 {
		t.Fatalf("server processes %v: want the postmaster and its workers", procs)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, s.Dir, procs)
	if err := s.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
	if _, err := pgx.Connect(t.Context(), s.URL("postgres")); err == nil {
		t.Errorf("connected to a stopped server")
	}
}

// helperEnv makes TestHelperAbandon start a server and exit without
// cleaning up, as a test binary that panics or times out does.
const helperEnv = "PGTEST_ABANDON"

// TestHelperAbandon is TestAbandoned's test binary: it prints the
// server's directory and processes and exits with status 3.
func TestHelperAbandon(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestAbandoned")
	}
	s := pgtest.Start(t)
	var pids []string
	for _, pid := range postgresProcs(t, filepath.Join(s.Dir, "data")) {
		pids = append(pids, strconv.Itoa(pid))
	}
	fmt.Printf("%s %s\n", s.Dir, strings.Join(pids, ","))
	os.Exit(3)
}

// TestAbandoned: a test binary that dies with its server running (a
// panic, -timeout, SIGKILL) leaves neither the server nor its directory:
// the watchdog cleans up.
func TestAbandoned(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAbandon$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper: %v (want exit status 3)\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("helper printed %q, want a directory and pids", out)
	}
	dir := f[0]
	var procs []int
	for _, p := range strings.Split(f[1], ",") {
		pid, _ := strconv.Atoi(p)
		procs = append(procs, pid)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && (len(mentioning(dir)) > 0 || exists(dir)) {
		time.Sleep(50 * time.Millisecond)
	}
	assertGone(t, dir, procs)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestParallel: parallel tests take databases of the shared server at
// once, each its own.
func TestParallel(t *testing.T) {
	s := pgtest.Shared(t)
	for i := range 4 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, s.CreateDB(t))
			var db string
			if _, err := conn.Exec(t.Context(), `CREATE TABLE t AS SELECT current_database() AS db`); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(t.Context(), `SELECT db FROM t`).Scan(&db); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("t_testparallel_%d_", i); !strings.HasPrefix(db, want) {
				t.Errorf("database %q, want a name starting %q", db, want)
			}
		})
	}
}
