//go:build unix

package main_test

import (
	"bytes"
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
)

// serveTimeout bounds the life of one `sealpost serve` subprocess.
const serveTimeout = 2 * time.Minute

// server is one running `sealpost serve`.
type server struct {
	cmd    *exec.Cmd
	output *syncBuffer // stdout and stderr
	addr   string      // the SMTP listener, from the "sealpost serving" log line
	done   chan struct{}
}

var servingLine = regexp.MustCompile(`msg="sealpost serving" smtp=(\S+)`)

// startServe runs `sealpost --data data serve --smtp 127.0.0.1:0 args...`
// and returns once the log says the listener accepts. The process is
// killed when the test ends if it still runs.
func startServe(t testing.TB, data string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	full := append([]string{"--data", data, "serve", "--smtp", "127.0.0.1:0"}, args...)
	s := &server{cmd: exec.CommandContext(ctx, binary, full...), output: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Env = testEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cancel() // kills the process if it still runs
		<-s.done
		if t.Failed() {
			t.Logf("sealpost serve output:\n%s", s.output.String())
		}
	})
	ok := eventually(20*time.Second, func() bool {
		if m := servingLine.FindStringSubmatch(s.output.String()); m != nil {
			s.addr = m[1]
			return true
		}
		select {
		case <-s.done:
			return true
		default:
			return false
		}
	})
	if !ok || s.addr == "" {
		t.Fatalf("sealpost serve did not start listening:\n%s", s.output.String())
	}
	return s
}

// exited waits, bounded, for the process to end and returns its state.
func (s *server) exited(t *testing.T, timeout time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState
	case <-time.After(timeout):
		t.Fatalf("sealpost serve still runs %s later", timeout)
		return nil
	}
}

// sendPost submits one message over SMTP with go-smtp's client and returns
// once the server has answered the end of data with 250.
func sendPost(t *testing.T, addr, from, to string, msg []byte) {
	t.Helper()
	c := dialSMTP(t, addr)
	defer c.Close()
	if err := c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("sending the post: %v", err)
	}
	c.Quit() // a session a Postfix log shows as ended, not lost
}

// dialSMTP connects to the SMTP server at addr and says EHLO; the
// connection has 30 seconds.
func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	if err := c.Hello("client.test"); err != nil {
		c.Close()
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

// crashList sets up a list with three members whose keys the test holds,
// and returns the members' keys and the list's public key.
func crashList(t testing.TB, data, list string) (map[string]*pgp.Key, *pgp.Key) {
	t.Helper()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	listPub, err := pgp.ParseKey([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	if err != nil {
		t.Fatalf("parsing the list key: %v", err)
	}
	keys := map[string]*pgp.Key{}
	for _, name := range []string{"Alice", "Bob", "Carol"} {
		addr := strings.ToLower(name) + "@example.org"
		k, err := pgp.GenerateKey(name, addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(data, name+".asc")
		if err := os.WriteFile(file, k.Armored(), 0o600); err != nil {
			t.Fatal(err)
		}
		// --no-welcome: the tests count the post's copies alone.
		sealpost(t, data, nil, "member", "add", list, addr, "--key", file, "--no-welcome").want(t, exitOK)
		keys[addr] = k
	}
	return keys, listPub
}

// signedPost is a post by from, signed with its key and encrypted to the
// list, the list named in the protected To header (RFC 3156 §6.2).
func signedPost(t testing.TB, from, list *pgp.Key, listAddr, text string) []byte {
	t.Helper()
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: <" + addrOf(t, from) + ">\r\nTo: " + listAddr +
		"\r\nSubject: crash test\r\n\r\n" + text + "\r\n"
	signed, err := pgp.Sign(from, []byte(inner), pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(list, false)
	if err != nil {
		t.Fatal(err)
	}
	return pgpMIME(addrOf(t, from), listAddr, armored)
}

func addrOf(t testing.TB, k *pgp.Key) string {
	t.Helper()
	a := k.Info(time.Now()).Addresses
	if len(a) != 1 {
		t.Fatalf("key %s has addresses %v", k.Fingerprint(), a)
	}
	return a[0]
}

// TestRestartAfter250 is DESIGN §5: "server killed with SIGKILL right
// after it answered 250, then restarted: every member still gets the
// post". The first server's relay accepts connections but never answers,
// so when the process dies the copies are queued (and, when inFlight,
// claimed and in the middle of delivery) and none is delivered. The
// restarted server, with a relay that records, must deliver one copy to
// each member. The SIGTERM case checks "SIGTERM: ... finish or release
// work": stopping mid-delivery exits 0 and leaves the copies for the next
// start.
func TestRestartAfter250(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// inFlight waits, before the stop, until the copies' delivery
		// has reached the hanging relay: the batch of all of them, over
		// one connection.
		inFlight bool
		sig      syscall.Signal
	}{
		{"SIGKILL right after 250", false, syscall.SIGKILL},
		{"SIGKILL with deliveries in flight", true, syscall.SIGKILL},
		{"SIGTERM with deliveries in flight", true, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const list = "team@lists.example.org"
			data := t.TempDir()
			keys, listPub := crashList(t, data, list)
			bounce := showList(t, data, list).Addresses["bounce"]
			const text = "This post must survive the restart."
			post := signedPost(t, keys["alice@example.org"], listPub, list, text)

			hangAddr, attempts := hangingRelay(t)
			first := startServe(t, data, "--relay", hangAddr)
			sendPost(t, first.addr, "alice@example.org", list, post)
			if tc.inFlight && !eventually(15*time.Second, func() bool { return attempts() >= 1 }) {
				t.Fatal("the deliveries did not reach the relay before the stop")
			}
			if err := first.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			st := first.exited(t, 40*time.Second)
			if tc.sig == syscall.SIGKILL {
				if ws, ok := st.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("first serve ended with %v, want death by SIGKILL", st)
				}
			} else if st.ExitCode() != 0 {
				t.Fatalf("first serve after SIGTERM: %v, want exit 0", st)
			}
			t.Logf("stopped by %v; the hanging relay had seen %d connection(s)", tc.sig, attempts())

			relayAddr, rec := recordingRelay(t)
			second := startServe(t, data, "--relay", relayAddr)
			members := slices.Sorted(maps.Keys(keys))
			if !eventually(30*time.Second, func() bool { return len(rcptsOf(rec.messages())) >= len(members) }) {
				t.Fatalf("after the restart the relay got copies for %v, want %v", rcptsOf(rec.messages()), members)
			}
			if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if st := second.exited(t, 40*time.Second); st.ExitCode() != 0 {
				t.Fatalf("second serve after SIGTERM: %v, want exit 0", st)
			}

			msgs := rec.messages()
			if got := rcptsOf(msgs); !slices.Equal(got, members) {
				t.Fatalf("relay got copies for %v, want exactly one for each of %v", got, members)
			}
			for _, m := range msgs {
				if want := verp(t, data, bounce, m.to[0]); m.from != want {
					t.Errorf("copy for %v has envelope sender %q, want the list's bounce address for the member %q", m.to, m.from, want)
				}
				checkCopy(t, m, keys[m.to[0]], listPub, text)
			}
		})
	}
}

// rcptsOf returns the sorted envelope recipients of msgs.
func rcptsOf(msgs []received) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.to...)
	}
	slices.Sort(out)
	return out
}

// checkCopy checks that one relayed copy is RFC 3156 multipart/encrypted,
// opens with its recipient's key and carries a good signature by the list.
func checkCopy(t *testing.T, m received, key, list *pgp.Key, text string) {
	t.Helper()
	if len(m.to) != 1 || key == nil {
		t.Errorf("copy with envelope recipients %v, want one member", m.to)
		return
	}
	if _, err := encryptedPayload(m.data); err != nil {
		t.Errorf("copy for %s: %v", m.to[0], err)
		return
	}
	if bytes.Contains(m.data, []byte(text)) {
		t.Errorf("copy for %s: the post's text is readable outside the encryption", m.to[0])
	}
	msg, err := mime.Parse(m.data, mime.Limits{})
	if err != nil {
		t.Errorf("copy for %s: %v", m.to[0], err)
		return
	}
	u, err := pgp.Unwrap(msg, key, []*pgp.Key{list}, pgp.Options{})
	if err != nil {
		t.Errorf("copy for %s does not open with the member's key: %v", m.to[0], err)
		return
	}
	if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != list.Fingerprint() {
		t.Errorf("copy for %s: signature %v (%s), want good by the list key", m.to[0], u.Status, u.Reason)
	}
	if !bytes.Contains(u.Content, []byte(text)) {
		t.Errorf("copy for %s: decrypted content lacks the post's text:\n%s", m.to[0], u.Content)
	}
}
