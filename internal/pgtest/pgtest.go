// Package pgtest runs private PostgreSQL servers for tests: Debian's
// PostgreSQL programs, a cluster made by initdb in a temporary directory,
// started with pg_ctl, reached on a unix socket in that directory and on
// a loopback port, stopped and removed when its test (or the test binary)
// ends. Nothing system-wide changes: the machine's own clusters, if any,
// are not touched. Test support: only _test.go files import it.
//
// The server is configured as Sealpost's production database must be
// where it matters for the tests: fsync and synchronous_commit on (a
// commit returns only once durable), full-page writes on. It is small
// (shared_buffers 32MB), uses trust authentication (a superuser named
// postgres, no password), the C locale and UTF8, and UTC.
//
// PostgreSQL refuses to run as root and the tests run as root: the
// server's programs then run as the postgres user (Debian's), or nobody
// when there is none, and the temporary directory belongs to that user.
//
// Start and Shared skip the test when PostgreSQL is not installed, unless
// REQUIRE_INTEROP=1 is set (then they fail: .ci/run installs it).
//
// A watchdog process (a shell that waits for the test binary's end of a
// pipe to close) stops the server and removes its directory if the test
// binary dies without cleaning up: a panic, a -timeout, a SIGKILL.
//
// pgtest itself imports no SQL driver (DESIGN §2: only store/sqlstore
// does); it creates databases with psql. Tests connect with pgx.
package pgtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// Superuser is the database superuser every Server has; it signs in
// without a password.
const Superuser = "postgres"

// Server is one running PostgreSQL cluster.
type Server struct {
	// Dir is the temporary directory: the data directory data/, the
	// unix socket and the server's log.
	Dir string
	// Port is the loopback TCP port, and the number in the socket's name.
	Port int

	bin      string  // directory of initdb, pg_ctl, postgres, psql
	as       account // who runs them
	watchdog *exec.Cmd
	wdPipe   io.WriteCloser
	dbs      atomic.Int64 // databases made by CreateDB, for unique names
	stopOnce sync.Once
	stopErr  error
	down     atomic.Bool // Stop has been called
}

// account is the user that runs PostgreSQL's programs.
type account struct {
	name     string
	uid, gid uint32
	switched bool // false: the current user, who is not root
}

// Start starts a private server for t; it is stopped and removed when t
// ends. Tests of one package that need databases, not a server of their
// own, share one with Shared.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, why := binDir(debianBins)
	if why != "" {
		skip(t, why)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", s.Log())
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// skip skips t, or fails it under REQUIRE_INTEROP=1 (gpgtest.Skip).
func skip(t testing.TB, why string) { gpgtest.Skip(t, why) }

// programs are the ones pgtest runs, all from one directory.
var programs = []string{"initdb", "pg_ctl", "postgres", "psql"}

// debianBins is where Debian installs each major version's programs.
const debianBins = "/usr/lib/postgresql/*/bin"

// binDir finds PostgreSQL's programs: in the newest version's directory
// that pattern (debianBins) matches, as Debian keeps initdb, pg_ctl and
// postgres off PATH, else beside initdb on PATH. It returns why not when
// they are not installed.
func binDir(pattern string) (dir, why string) {
	dirs, _ := filepath.Glob(pattern)
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(initdb))
	}
	for _, d := range dirs {
		if hasAll(d) {
			return d, ""
		}
	}
	return "", "PostgreSQL is not installed (apt-get install -y postgresql-15; " +
		"pgtest looks for initdb, pg_ctl, postgres and psql in /usr/lib/postgresql/*/bin or on PATH)"
}

// version is the major version in .../VERSION/bin, 0 when it is not a
// number.
func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func hasAll(dir string) bool {
	for _, p := range programs {
		if info, err := os.Stat(filepath.Join(dir, p)); err != nil || info.IsDir() {
			return false
		}
	}
	return true
}

// runAs is the user for PostgreSQL's programs: the current one unless it
// is root, then postgres, else nobody.
func runAs() (account, error) {
	if os.Geteuid() != 0 {
		return account{name: strconv.Itoa(os.Geteuid())}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return account{}, fmt.Errorf("pgtest: user %s: %w", name, err)
		}
		return account{name: name, uid: uint32(uid), gid: uint32(gid), switched: true}, nil
	}
	return account{}, errors.New("pgtest: running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")
}

// start makes, configures and starts a cluster. On failure it leaves
// nothing behind.
func start(bin string) (*Server, error) {
	as, err := runAs()
	if err != nil {
		return nil, err
	}
	// A short path: the socket's path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{Dir: dir, bin: bin, as: as}
	if err := s.setUp(); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// setUp runs initdb, the watchdog and the server.
func (s *Server) setUp() error {
	// 0755: whoever runs the tests reaches the socket.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.as.switched {
		if err := os.Chown(s.Dir, int(s.as.uid), int(s.as.gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := s.startWatchdog(); err != nil {
		return err
	}
	// --no-sync skips initdb's own final fsync of the new files (a
	// second or more on a busy disk); the server itself runs with fsync
	// on. A crash of the machine loses a temporary cluster anyway.
	if out, err := s.command("initdb", "-D", s.data(), "-U", Superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb as %s: %v\n%s", s.as.name, err, out)
	}
	if err := s.configure(); err != nil {
		return err
	}
	return s.listen()
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// command prepares one of PostgreSQL's programs, run as s.as in s.Dir.
func (s *Server) command(program string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.bin, program), args...)
	c.Dir = s.Dir
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	if s.as.switched {
		c.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: s.as.uid, Gid: s.as.gid},
		}
	}
	return c
}

// configure adds pgtest's settings to postgresql.conf; the port is given
// at start.
func (s *Server) configure() error {
	quoted := "'" + strings.ReplaceAll(s.Dir, "'", "''") + "'"
	settings := []string{
		"# pgtest",
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = " + quoted,
		// Durability as in production: a test of "no 250 before the
		// commit" means nothing with either off.
		"fsync = on",
		"synchronous_commit = on",
		"full_page_writes = on",
		"shared_buffers = 32MB",
		// Parallel tests on one shared server, each with a pool.
		"max_connections = 200",
		"timezone = 'UTC'",
		"log_timezone = 'UTC'",
		"log_line_prefix = '%m [%p] %q%u@%d '",
	}
	conf := filepath.Join(s.data(), "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString("\n" + strings.Join(settings, "\n") + "\n")
	return errors.Join(err, f.Close())
}

// listen starts the server on a free loopback port. A port that was free
// a moment ago may be taken by the time the server binds it; the server
// then runs on its socket only, so listen tries another port.
func (s *Server) listen() error {
	var err error
	for range 3 {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		out, err := s.command("pg_ctl", "start", "-w", "-t", "60", "-s", "-D", s.data(),
			"-l", s.logFile(), "-o", "-p "+strconv.Itoa(s.Port)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, s.Log())
		}
		if s.listensOnTCP() {
			return nil
		}
		if err := s.pgCtlStop(); err != nil {
			return err
		}
	}
	return fmt.Errorf("pgtest: the server could not bind a loopback port in 3 tries\n%s", s.Log())
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// listensOnTCP reports whether the running server bound its TCP port:
// postmaster.pid's sixth line is the first address it listens on, empty
// when it has only its socket.
func (s *Server) listensOnTCP() bool {
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) > 5 && strings.TrimSpace(lines[5]) != ""
}

// PID is the server's postmaster: its process and, one level down, the
// backends that serve the connections (memtest.CPUTime adds them up).
func (s *Server) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

func (s *Server) logFile() string { return filepath.Join(s.Dir, "postgres.log") }

// Log is the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile())
	return string(b)
}

// watchdogScript waits for the test binary's end of its stdin to close,
// which happens however the test binary ends, then stops the server if
// it still runs and removes the directory. Its arguments: pg_ctl, the
// data directory, the directory to remove.
const watchdogScript = `read -r _
"$1" stop -D "$2" -m fast -w -t 60 -s >/dev/null 2>&1
rm -rf "$3"`

// startWatchdog starts the watchdog as s.as, in a process group of its
// own so that a ^C to the test does not end it before it cleans up.
func (s *Server) startWatchdog() error {
	c := exec.Command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog",
		filepath.Join(s.bin, "pg_ctl"), s.data(), s.Dir)
	c.Dir = "/"
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.as.switched {
		c.SysProcAttr.Credential = &syscall.Credential{Uid: s.as.uid, Gid: s.as.gid}
	}
	pipe, err := c.StdinPipe()
	if err != nil {
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	s.watchdog, s.wdPipe = c, pipe
	return nil
}

// Stop stops the server (pg_ctl stop -m fast: open connections are ended)
// and removes its directory. Start's cleanup calls it; calling it again
// does nothing.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.down.Store(true); s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
		errs = append(errs, s.pgCtlStop())
	}
	if s.watchdog != nil {
		s.wdPipe.Close()
		done := make(chan error, 1)
		go func() { done <- s.watchdog.Wait() }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			errs = append(errs, errors.New("pgtest: the watchdog did not end within 90s"))
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: %w", err))
	}
	return errors.Join(errs...)
}

// pgCtlStop stops the server and waits until it has exited.
func (s *Server) pgCtlStop() error {
	out, err := s.command("pg_ctl", "stop", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "-s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s\n%s", err, out, s.Log())
	}
	return nil
}
