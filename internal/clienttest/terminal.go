package clienttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Terminal is a program running in a tmux session of its own (its own
// server socket), so a test can read its screen and type at it.
type Terminal struct {
	sock string
	env  []string
	t    testing.TB
}

// screenWait is how long a test waits for a program's screen to reach a
// state; generous, since the suite shares a small machine.
const screenWait = 60 * time.Second

// StartTerminal runs argv in a 200×50 terminal under tmux with env. The
// pane stays after the program exits, so its last screen can be read.
func StartTerminal(t testing.TB, env []string, argv ...string) *Terminal {
	t.Helper()
	Require(t, "tmux")
	dir := tempDir(t, "tmux")
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	term := &Terminal{sock: filepath.Join(dir, "s"), env: env, t: t}
	term.run("-f", conf, "new-session", "-d", "-x", "200", "-y", "50", shellQuote(argv))
	t.Cleanup(term.Close)
	return term
}

// run runs one tmux command against the terminal's server.
func (term *Terminal) run(args ...string) string {
	term.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", term.sock}, args...)...)
	cmd.Env = term.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		term.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, errb.Bytes())
	}
	return out.String()
}

// Screen is what the terminal shows now, trailing blank lines dropped.
func (term *Terminal) Screen() string {
	term.t.Helper()
	lines := strings.Split(term.run("capture-pane", "-p", "-J"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// Exited reports whether the program has exited.
func (term *Terminal) Exited() bool {
	term.t.Helper()
	return strings.TrimSpace(term.run("display-message", "-p", "#{pane_dead}")) == "1"
}

// Keys types keys (tmux key names: "Enter", "y", "C-c").
func (term *Terminal) Keys(keys ...string) {
	term.t.Helper()
	term.run(append([]string{"send-keys"}, keys...)...)
}

// WaitFor waits until done holds for the screen, and returns that
// screen; what says what is awaited, for the failure message. It fails
// the test, showing the last screen, when the wait is too long or the
// program exits first (unless done holds then).
func (term *Terminal) WaitFor(what string, done func(screen string) bool) string {
	term.t.Helper()
	deadline := time.Now().Add(screenWait)
	for {
		s := term.Screen()
		if done(s) {
			return s
		}
		if term.Exited() {
			if s = term.Screen(); done(s) {
				return s
			}
			term.t.Fatalf("the program exited while waiting for %s; last screen:\n%s", what, s)
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("waited %s for %s; screen:\n%s", screenWait, what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the tmux server and the program in it.
func (term *Terminal) Close() {
	cmd := exec.Command("tmux", "-S", term.sock, "kill-server")
	cmd.Env = term.env
	_ = cmd.Run()
}

// shellQuote joins argv into one sh command line, each word quoted.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
