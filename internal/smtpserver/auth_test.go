package smtpserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	testUser     = "agent7"
	testPassword = "s3cret-Pa55"
	testIdentity = "helpdesk:agent7"
)

// accounts is the test Options.Authenticate: a fake as data.
type accounts struct {
	err    error // if set, every call returns it (a temporary fault)
	panics bool  // every call panics
	calls  atomic.Int64
}

func (a *accounts) authenticate(ctx context.Context, user, pass string) (string, error) {
	a.calls.Add(1)
	switch {
	case a.panics:
		panic("accounts: deliberate panic")
	case a.err != nil:
		return "", a.err
	case user != testUser || pass != testPassword:
		return "", fmt.Errorf("accounts: %q: %w", user, ErrAuthFailed)
	}
	return testIdentity, nil
}

// authOptions enables AUTH with a, and a short failure delay.
func authOptions(a *accounts) Options {
	return Options{Authenticate: a.authenticate, AuthFailureDelay: time.Millisecond}
}

// plainIR is the PLAIN initial response (RFC 4616 §2) in base64.
func plainIR(authz, user, pass string) string {
	return b64(authz + "\x00" + user + "\x00" + pass)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// fakeRemote makes every accepted connection claim to come from addr, so
// that the policy for non-loopback clients runs over real sockets.
type fakeRemote struct {
	net.Listener
	addr net.Addr
}

func (l fakeRemote) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c, l.addr}, nil
}

type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// startRemote is start for a client that seems to connect from 192.0.2.1.
func startRemote(t *testing.T, b Backend, opt Options) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, b, opt, fakeRemote{l, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}})
}

func TestPermitAuth(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242} }
	cases := []struct {
		name          string
		remote        net.Addr
		tls, insecure bool
		want          bool
	}{
		{"IPv4 loopback", tcp("127.0.0.1"), false, false, true},
		{"elsewhere in 127/8", tcp("127.45.6.7"), false, false, true},
		{"IPv6 loopback", tcp("::1"), false, false, true},
		{"IPv4-mapped loopback", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1).To16(), Port: 1}, false, false, true},
		{"public IPv4", tcp("192.0.2.1"), false, false, false},
		{"private IPv4", tcp("10.0.0.1"), false, false, false},
		{"unspecified", tcp("0.0.0.0"), false, false, false},
		{"public IPv6", tcp("2001:db8::1"), false, false, false},
		{"link-local with zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 1}, false, false, false},
		{"unix socket", &net.UnixAddr{Name: "/run/sealpost.sock", Net: "unix"}, false, false, false},
		{"nil", nil, false, false, false},
		{"public IPv4 over TLS", tcp("192.0.2.1"), true, false, true},
		{"public IPv4, insecure allowed", tcp("192.0.2.1"), false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := permitAuth(tc.remote, tc.tls, tc.insecure); got != tc.want {
				t.Errorf("permitAuth(%v, tls=%v, insecure=%v) = %v, want %v",
					tc.remote, tc.tls, tc.insecure, got, tc.want)
			}
		})
	}
}

// AUTH over loopback with go-smtp's client: the outcome, the identity the
// Backend sees, and what never reaches the reply or the log.
func TestAuth(t *testing.T) {
	const fault = "ldap: dial 10.0.0.9:636: i/o timeout"
	cases := []struct {
		name     string
		acc      *accounts
		client   sasl.Client
		code     int // 0: success
		enhanced [3]int
		text     string // the reply contains this
	}{
		{"PLAIN", &accounts{}, sasl.NewPlainClient("", testUser, testPassword), 0, [3]int{}, ""},
		{"PLAIN as itself", &accounts{}, sasl.NewPlainClient(testUser, testUser, testPassword), 0, [3]int{}, ""},
		{"LOGIN", &accounts{}, sasl.NewLoginClient(testUser, testPassword), 0, [3]int{}, ""},
		{"wrong password", &accounts{}, sasl.NewPlainClient("", testUser, "guess"),
			535, [3]int{5, 7, 8}, "Authentication credentials invalid"},
		{"unknown user", &accounts{}, sasl.NewLoginClient("nobody", testPassword),
			535, [3]int{5, 7, 8}, "Authentication credentials invalid"},
		{"as someone else", &accounts{}, sasl.NewPlainClient("admin", testUser, testPassword),
			535, [3]int{5, 7, 8}, "Authentication credentials invalid"},
		{"temporary fault", &accounts{err: errors.New(fault)}, sasl.NewPlainClient("", testUser, testPassword),
			454, [3]int{4, 7, 0}, "Temporary authentication failure, reference id-1"},
		{"panic", &accounts{panics: true}, sasl.NewPlainClient("", testUser, testPassword),
			454, [3]int{4, 7, 0}, "Temporary authentication failure, reference id-1"},
		{"unknown mechanism", &accounts{}, sasl.NewAnonymousClient("x"),
			504, [3]int{5, 5, 4}, "Unrecognized authentication type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
			ts := start(t, rec, authOptions(tc.acc))
			c := ts.dial(t)
			if _, mechs := c.Extension("AUTH"); mechs != "PLAIN LOGIN" {
				t.Errorf("AUTH advertised as %q, want PLAIN LOGIN", mechs)
			}
			err := c.Auth(tc.client)
			wantAuth := testIdentity
			if tc.code != 0 {
				wantAuth = ""
				se := wantReply(t, err, tc.code, tc.enhanced)
				if !strings.Contains(se.Message, tc.text) {
					t.Errorf("reply %q lacks %q", se.Message, tc.text)
				}
				if strings.Contains(se.Message, testUser) || strings.Contains(se.Message, "10.0.0.9") {
					t.Errorf("reply %q leaks the user or the cause", se.Message)
				}
			} else if err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			// The connection is still usable, authenticated or not.
			if _, err := send(c, "agent7@example.org", []string{"team@lists.example"}, testMsg); err != nil {
				t.Fatal(err)
			}
			if got := rec.deliveries(); len(got) != 1 || got[0].env.Auth != wantAuth {
				t.Errorf("deliveries %+v, want Envelope.Auth %q", got, wantAuth)
			}
			c.Quit()
			checkAuthLog(t, ts.logs, tc.code != 504)
		})
	}
}

// checkAuthLog checks that the log never holds the password and that every
// line carries a msgid; named tells whether an AUTH line names the user.
func checkAuthLog(t *testing.T, logs *lockedBuffer, named bool) {
	t.Helper()
	if strings.Contains(logs.String(), testPassword) {
		t.Errorf("the log holds the password:\n%s", logs)
	}
	for _, line := range logLines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if id, ok := m["msgid"].(string); !ok || id == "" {
			t.Errorf("line without msgid: %s", line)
		}
	}
	if named && len(logLines(logs, "AUTH", `"user":`)) == 0 &&
		len(logLines(logs, "authenticated", `"user":`)) == 0 {
		t.Errorf("no AUTH log line names the user:\n%s", logs)
	}
}

// Dialogues go-smtp's client does not produce, as raw lines.
func TestAuthDialogue(t *testing.T) {
	type step struct {
		send string
		code int
		text string // the reply starts with this
	}
	ok := step{"AUTH PLAIN " + plainIR("", testUser, testPassword), 235, "2.0.0"}
	cases := []struct {
		name  string
		steps []step
	}{
		{"LOGIN without initial response", []step{
			{"AUTH LOGIN", 334, b64("Username:")},
			{b64(testUser), 334, b64("Password:")},
			{b64(testPassword), 235, "2.0.0"},
		}},
		{"PLAIN without initial response", []step{
			{"AUTH PLAIN", 334, ""},
			{plainIR("", testUser, testPassword), 235, "2.0.0"},
		}},
		{"mechanism in lower case", []step{
			{"auth plain " + plainIR("", testUser, testPassword), 235, "2.0.0"},
		}},
		{"malformed PLAIN", []step{
			{"AUTH PLAIN " + b64(testUser), 501, "5.5.2 Invalid authentication response"},
			ok,
		}},
		// RFC 4954 §4: "*" cancels the exchange with 501.
		{"cancelled", []step{
			{"AUTH LOGIN", 334, b64("Username:")},
			{"*", 501, "5.0.0"},
			ok,
		}},
		// go-smtp's replies, pinned (see the package doc's divergences).
		{"not base64", []step{
			{"AUTH PLAIN %%%", 454, "4.7.0 Invalid base64 data"},
			{"AUTH", 502, "5.5.4"},
			ok,
		}},
		// RFC 4954 §4: AUTH after a successful AUTH gets 503.
		{"second AUTH", []step{ok, {ok.send, 503, "5.5.1"}}},
		// RFC 4954 §4: AUTH inside a mail transaction gets 503.
		{"inside a transaction", []step{
			{"MAIL FROM:<agent7@example.org>", 250, "2.0.0"},
			{ok.send, 503, "5.5.1 Bad sequence of commands"},
			{"RSET", 250, "2.0.0"},
			ok,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := start(t, &recorder{}, authOptions(&accounts{}))
			c := ts.raw(t)
			if code, msg := rawCmd(t, c, "EHLO raw.example"); code != 250 {
				t.Fatalf("EHLO: %d %s", code, msg)
			}
			for _, s := range tc.steps {
				code, msg := rawCmd(t, c, "%s", s.send)
				if code != s.code || !strings.HasPrefix(msg, s.text) {
					t.Fatalf("%s: got %d %q, want %d %q", s.send, code, msg, s.code, s.text)
				}
			}
			checkAuthLog(t, ts.logs, false)
		})
	}
}

// Each failure is answered after AuthFailureDelay; the third closes the
// connection with 421 (RFC 4954 §4 allows that after 3 failures).
func TestAuthFailuresCloseConnection(t *testing.T) {
	const delay = 50 * time.Millisecond
	acc := &accounts{}
	opt := authOptions(acc)
	opt.AuthFailureDelay = delay
	ts := start(t, &recorder{}, opt)
	c := ts.raw(t)
	rawCmd(t, c, "EHLO raw.example")
	bad := "AUTH PLAIN " + plainIR("", testUser, "guess")
	began := time.Now()
	for i, want := range []string{"535 5.7.8", "535 5.7.8", "421 4.7.0"} {
		code, msg := rawCmd(t, c, "%s", bad)
		if got := fmt.Sprintf("%d %s", code, msg); !strings.HasPrefix(got, want) {
			t.Fatalf("failure %d: got %q, want %q", i+1, got, want)
		}
	}
	if elapsed := time.Since(began); elapsed < 3*delay {
		t.Errorf("three failures answered in %v, want at least %v", elapsed, 3*delay)
	}
	if line, err := c.ReadLine(); err == nil {
		t.Errorf("connection open after the third failure, read %q", line)
	}
	if n := acc.calls.Load(); n != 3 {
		t.Errorf("Authenticate called %d times, want 3", n)
	}
	if n := len(logLines(ts.logs, "invalid credentials", `"user":"agent7"`)); n != 3 {
		t.Errorf("%d failure log lines naming the user, want 3:\n%s", n, ts.logs)
	}
	checkAuthLog(t, ts.logs, true)

	// Other connections are not affected.
	if err := ts.dial(t).Auth(sasl.NewPlainClient("", testUser, testPassword)); err != nil {
		t.Errorf("AUTH on a new connection: %v", err)
	}
}

// The pause after a failure does not hold up Shutdown.
func TestAuthDelayEndsOnShutdown(t *testing.T) {
	opt := authOptions(&accounts{})
	opt.AuthFailureDelay = time.Hour
	ts := start(t, &recorder{}, opt)
	c := ts.dial(t)
	authed := make(chan error, 1)
	go func() { authed <- c.Auth(sasl.NewPlainClient("", testUser, "guess")) }()
	for len(logLines(ts.logs, "invalid credentials")) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-authed:
		if err == nil {
			t.Error("AUTH succeeded with a wrong password")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AUTH reply still held back after Shutdown")
	}
	if err := <-ts.served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	ts.served <- nil // for the cleanup in start
}

// RFC 4954 §6: with RequireAuth, MAIL before AUTH gets 530 5.7.0.
func TestRequireAuth(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	opt := authOptions(&accounts{})
	opt.RequireAuth = true
	ts := start(t, rec, opt)
	c := ts.dial(t)
	se := wantReply(t, c.Mail("agent7@example.org", nil), 530, [3]int{5, 7, 0})
	if se.Message != "Authentication required" {
		t.Errorf("reply text %q", se.Message)
	}
	if err := c.Auth(sasl.NewLoginClient(testUser, testPassword)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "agent7@example.org", []string{"team@lists.example"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if got := rec.deliveries(); len(got) != 1 || got[0].env.Auth != testIdentity {
		t.Errorf("deliveries %+v", got)
	}
}

// A client that is not on loopback may use AUTH only under TLS, or with
// AllowInsecureAuth; otherwise AUTH is not advertised and gets 538.
func TestAuthNeedsEncryption(t *testing.T) {
	cases := []struct {
		name     string
		insecure bool
		code     int // 0: success
	}{
		{"refused without TLS", false, 538},
		{"AllowInsecureAuth", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc := &accounts{}
			opt := authOptions(acc)
			opt.AllowInsecureAuth = tc.insecure
			ts := startRemote(t, &recorder{}, opt)
			c := ts.dial(t)
			if ok, _ := c.Extension("AUTH"); ok != tc.insecure {
				t.Errorf("AUTH advertised: %v, want %v", ok, tc.insecure)
			}
			err := c.Auth(sasl.NewPlainClient("", testUser, testPassword))
			if tc.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := wantReply(t, err, 538, [3]int{5, 7, 11})
			if se.Message != "Encryption required for requested authentication mechanism" {
				t.Errorf("reply text %q", se.Message)
			}
			if n := acc.calls.Load(); n != 0 {
				t.Errorf("Authenticate called %d times", n)
			}
		})
	}
}

// RFC 3207 with RFC 4954: the same client, not on loopback, may use AUTH
// once the connection is under TLS.
func TestAuthUnderSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	opt := authOptions(&accounts{})
	opt.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts := startRemote(t, rec, opt)

	c, err := smtp.DialStartTLS(ts.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, mechs := c.Extension("AUTH"); mechs != "PLAIN LOGIN" {
		t.Errorf("AUTH over TLS advertised as %q", mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", testUser, testPassword)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "agent7@example.org", []string{"team@lists.example"}, testMsg); err != nil {
		t.Fatal(err)
	}
	got := rec.deliveries()
	if len(got) != 1 || got[0].env.Auth != testIdentity || !strings.HasPrefix(got[0].env.RemoteAddr, "192.0.2.1:") {
		t.Errorf("deliveries %+v", got)
	}
}

// RFC 3207 §4.2: after STARTTLS the server forgets what it learnt before,
// the authentication included.
func TestSTARTTLSResetsAuth(t *testing.T) {
	cert, pool := testCert(t)
	opt := authOptions(&accounts{})
	opt.RequireAuth = true
	opt.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts := start(t, &recorder{}, opt)

	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := textproto.NewConn(conn)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	auth := "AUTH PLAIN " + plainIR("", testUser, testPassword)
	for _, s := range []struct {
		cmd  string
		code int
	}{{"EHLO raw.example", 250}, {auth, 235}, {"STARTTLS", 220}} {
		if code, msg := rawCmd(t, c, "%s", s.cmd); code != s.code {
			t.Fatalf("%s: %d %s", s.cmd, code, msg)
		}
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c = textproto.NewConn(tc)
	for _, s := range []struct {
		cmd  string
		code int
		text string
	}{
		{"EHLO raw.example", 250, ""},
		{"MAIL FROM:<agent7@example.org>", 530, "5.7.0 Authentication required"},
		{auth, 235, "2.0.0"},
		{"MAIL FROM:<agent7@example.org>", 250, "2.0.0"},
	} {
		if code, msg := rawCmd(t, c, "%s", s.cmd); code != s.code || !strings.HasPrefix(msg, s.text) {
			t.Fatalf("%s after STARTTLS: %d %s, want %d %s", s.cmd, code, msg, s.code, s.text)
		}
	}
}

// Without Authenticate, RequireAuth refuses every message (see Options).
func TestRequireAuthWithoutAuthenticate(t *testing.T) {
	ts := start(t, &recorder{}, Options{RequireAuth: true})
	c := ts.dial(t)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH advertised")
	}
	wantReply(t, c.Mail("agent7@example.org", nil), 530, [3]int{5, 7, 0})
}
