// Black-box tests of the built sealpost binary: the user's contract of
// DESIGN §3 (commands, exit codes, outbox, interop with real gpg) and the
// reliability promise of DESIGN §5 (a post answered with 250 survives a
// SIGKILL). TestMain builds the binary once; every test runs it as a
// subprocess with its own data directory.
package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/memtest"
)

// binary is the sealpost executable built by TestMain.
var binary string

// commandTimeout bounds one run of a short-lived sealpost command.
const commandTimeout = 60 * time.Second

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sealpost-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "sealpost")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// go test puts GOROOT/bin first on PATH, so "go" is the toolchain that
	// runs this test.
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building sealpost: %v\n", err)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary produced.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	maxRSS         int64 // peak resident memory in bytes, where /proc tells (memtest.PeakRSS)
}

// want fails t unless the run exited with code.
func (r result) want(t testing.TB, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("sealpost %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(r.args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// sealpost runs the binary with --data data and args, stdin as standard
// input (none when nil), and returns its exit code and output.
func sealpost(t testing.TB, data string, stdin []byte, args ...string) result {
	t.Helper()
	return run(t, data, stdin, nil, args...)
}

func hasEnv(env map[string]string, name string) bool {
	_, ok := env[name]
	return ok
}

// run runs the binary with --data data and args, stdin as standard input
// (none when nil) and env on top of the test's environment (an empty
// value removes the variable).
func run(t testing.TB, data string, stdin []byte, env map[string]string, args ...string) result {
	t.Helper()
	return runWith(t, nil, data, stdin, env, args...)
}

// runCred is sealpost run as the user and group of cred.
func runCred(t *testing.T, cred *syscall.Credential, data string, stdin []byte, args ...string) result {
	t.Helper()
	return runWith(t, cred, data, stdin, nil, args...)
}

// runWith is run as the user of cred, when not nil.
func runWith(t testing.TB, cred *syscall.Credential, data string, stdin []byte, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	full := append([]string{"--data", data}, args...)
	cmd := exec.CommandContext(ctx, binary, full...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	for _, kv := range testEnv() {
		if name, _, _ := strings.Cut(kv, "="); !hasEnv(env, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for name, v := range env {
		if v != "" {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	var peak int64
	err := cmd.Start()
	if err == nil {
		stop := memtest.PeakRSS(cmd.Process.Pid)
		err = cmd.Wait()
		peak = stop()
	}
	r := result{args: args, stdout: out.String(), stderr: errb.String(), maxRSS: peak}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("sealpost %s: no exit within %s (waiting for input?)\nstderr:\n%s", strings.Join(args, " "), commandTimeout, r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("sealpost %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// testEnv is the environment of every subprocess: the test's own, without
// SEALPOST_DATA (every run passes --data).
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SEALPOST_DATA=") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer collects a subprocess's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls cond every 20ms until it holds or timeout passes, and
// reports whether it held.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
