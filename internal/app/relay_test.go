package app

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/queue"
	"github.com/sealpost/sealpost/internal/smtpclient"
	"github.com/sealpost/sealpost/internal/store"
)

// relaySink is a go-smtp backend that records each transaction's
// recipients, refuses some addresses at RCPT, and drops the connection
// after the data of a copy for drop.
type relaySink struct {
	refuse map[string]*smtp.SMTPError
	drop   string
	// When entered is set, Data signals it once it has read a message,
	// then waits for release before it answers.
	entered, release chan struct{}

	mu   sync.Mutex
	txns [][]string // the recipients of each accepted message
}

func (b *relaySink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &relaySession{b: b, c: c}, nil
}

type relaySession struct {
	b     *relaySink
	c     *smtp.Conn
	rcpts []string
}

func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.b.refuse[to]; err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	if s.b.entered != nil {
		s.b.entered <- struct{}{}
		<-s.b.release
	}
	if slices.Contains(s.rcpts, s.b.drop) {
		s.c.Conn().Close()
		return errors.New("dropped")
	}
	s.b.mu.Lock()
	s.b.txns = append(s.b.txns, s.rcpts)
	s.b.mu.Unlock()
	return nil
}
func (s *relaySession) Reset()        { s.rcpts = nil }
func (s *relaySession) Logout() error { return nil }

// countingListener counts the connections it accepts and records what
// their clients send.
type countingListener struct {
	net.Listener
	n atomic.Int32

	mu   sync.Mutex
	sent strings.Builder
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
		c = &recordingConn{Conn: c, l: l}
	}
	return c, err
}

// said returns what the clients sent.
func (l *countingListener) said() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent.String()
}

type recordingConn struct {
	net.Conn
	l *countingListener
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.mu.Lock()
	c.l.sent.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}

// startRelaySink serves b on 127.0.0.1 until the test ends, offering
// STARTTLS with cert when it is given.
func startRelaySink(t *testing.T, b *relaySink, cert ...tls.Certificate) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := smtp.NewServer(b)
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if len(cert) > 0 {
		srv.TLSConfig = &tls.Config{Certificates: cert}
	}
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), cl
}

// batch is a list post's batch: encrypted copies rendered as they are
// sent (BodyID), and a notice stored for three owners, the same bytes.
func batch() []store.Delivery {
	post := func(to string) store.Delivery {
		return store.Delivery{From: "team-bounce@lists.example.org", To: to, BodyID: 7, Recipient: to}
	}
	notice := func(to string) store.Delivery {
		return store.Delivery{From: "", To: to, Data: []byte("Subject: notice\r\n\r\nheld\r\n"), Kind: store.KindNotice}
	}
	return []store.Delivery{
		post("alice@example.org"), notice("o1@example.org"), post("gone@example.net"),
		notice("o2@example.org"), post("bob@example.org"), notice("o3@example.org"), post("full@example.net"),
	}
}

// TestRelayBatchOneConnection: a batch goes over one connection, one
// transaction per encrypted copy and one for the identical notices, and
// each copy's outcome is its own: 550 permanent, 452 temporary.
func TestRelayBatchOneConnection(t *testing.T) {
	b := &relaySink{refuse: map[string]*smtp.SMTPError{
		"gone@example.net": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"full@example.net": {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
	}}
	addr, ln := startRelaySink(t, b)
	cfg := &Config{}
	cfg.Relay.Addr = addr
	ds := batch()
	var writes []int
	errs := relay{newRelayClient(cfg)}.DeliverBatch(t.Context(), ds, func(i int, w io.Writer) error {
		writes = append(writes, i)
		if queue.Opened(&ds[i]) {
			_, err := io.WriteString(w, "Subject: post\r\n\r\nencrypted for "+ds[i].To+"\r\n")
			return err
		}
		_, err := w.Write(ds[i].Data)
		return err
	})
	for i, err := range errs {
		switch to := ds[i].To; to {
		case "gone@example.net":
			if queue.Temporary(err) {
				t.Errorf("%s: %v, want a permanent failure", to, err)
			}
		case "full@example.net":
			if err == nil || !queue.Temporary(err) {
				t.Errorf("%s: %v, want a temporary failure", to, err)
			}
		default:
			if err != nil {
				t.Errorf("%s: %v", to, err)
			}
		}
	}
	if n := ln.n.Load(); n != 1 {
		t.Errorf("%d connections for one batch, want 1", n)
	}
	want := [][]string{{"alice@example.org"}, {"o1@example.org", "o2@example.org", "o3@example.org"}, {"bob@example.org"}}
	if !slices.EqualFunc(b.txns, want, slices.Equal) {
		t.Errorf("relay received %q, want %q", b.txns, want)
	}
	// The notice is written once for its three recipients.
	if !slices.Equal(writes, []int{0, 1, 2, 4, 6}) {
		t.Errorf("copies written: %v, want [0 1 2 4 6]", writes)
	}
}

// TestRelayBatchReconnectsOnce: the connection drops during a copy; that
// copy is a temporary failure, the batch goes on over a second
// connection, and when that one drops too, the rest wait (temporary).
func TestRelayBatchReconnectsOnce(t *testing.T) {
	b := &relaySink{drop: "bob@example.org"}
	addr, ln := startRelaySink(t, b)
	cfg := &Config{}
	cfg.Relay.Addr = addr
	var ds []store.Delivery
	for _, to := range []string{"a@example.org", "bob@example.org", "c@example.org", "bob@example.org", "d@example.org", "e@example.org"} {
		ds = append(ds, store.Delivery{From: "l@example.org", To: to, Data: []byte("Subject: " + to + "\r\n\r\nx\r\n")})
	}
	errs := relay{newRelayClient(cfg)}.DeliverBatch(t.Context(), ds, func(i int, w io.Writer) error {
		_, err := w.Write(ds[i].Data)
		return err
	})
	wantSent := []bool{true, false, true, false, false, false}
	for i, err := range errs {
		if (err == nil) != wantSent[i] || err != nil && !queue.Temporary(err) {
			t.Errorf("copy %d to %s: %v, want sent %v (else temporary)", i, ds[i].To, err, wantSent[i])
		}
	}
	if n := ln.n.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one reconnection)", n)
	}
}

// TestRelayBatchStopsWithQUIT: serve stops (ctx ends) while the relay
// takes a copy's data: that transaction finishes, the copies not begun
// are left to the next start (ctx's error), and the session ends with
// QUIT, not a dropped connection.
func TestRelayBatchStopsWithQUIT(t *testing.T) {
	b := &relaySink{entered: make(chan struct{}), release: make(chan struct{})}
	addr, ln := startRelaySink(t, b)
	cfg := &Config{}
	cfg.Relay.Addr = addr
	var ds []store.Delivery
	for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		ds = append(ds, store.Delivery{From: "l@example.org", To: to, Data: []byte("Subject: " + to + "\r\n\r\nx\r\n")})
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-b.entered
		cancel()
		time.Sleep(50 * time.Millisecond) // the relay is slow to answer
		close(b.release)
	}()
	errs := relay{newRelayClient(cfg)}.DeliverBatch(ctx, ds, func(i int, w io.Writer) error {
		_, err := w.Write(ds[i].Data)
		return err
	})
	if errs[0] != nil || !errors.Is(errs[1], context.Canceled) || !errors.Is(errs[2], context.Canceled) {
		t.Errorf("errors %v, want [nil, canceled, canceled]", errs)
	}
	if !slices.EqualFunc(b.txns, [][]string{{"a@example.org"}}, slices.Equal) {
		t.Errorf("relay received %q, want the first copy only", b.txns)
	}
	if said := ln.said(); !strings.HasSuffix(said, "QUIT\r\n") {
		t.Errorf("the session did not end with QUIT:\n%s", said)
	}
}

// TestRelayBatchRelayDown: every copy waits, with the dial error.
func TestRelayBatchRelayDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := &Config{}
	cfg.Relay.Addr = addr
	ds := batch()
	errs := relay{newRelayClient(cfg)}.DeliverBatch(t.Context(), ds, func(int, io.Writer) error {
		t.Error("a copy was rendered although the relay is down")
		return nil
	})
	for i, err := range errs {
		if err == nil || !queue.Temporary(err) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("copy %d: %v, want a temporary connection refused", i, err)
		}
	}
}

func TestRelayTLSConfig(t *testing.T) {
	for _, tc := range []struct {
		toml  string
		level smtpclient.TLSLevel
		err   string
	}{
		{"", smtpclient.TLSMay, ""},
		{"[relay]\ntls = \"none\"\n", smtpclient.TLSNone, ""},
		{"[relay]\ntls = \"encrypt\"\n", smtpclient.TLSEncrypt, ""},
		{"[relay]\nrequire_tls = true\n", smtpclient.TLSVerify, ""},
		{"[relay]\nrequire_tls = true\ntls = \"verify\"\n", smtpclient.TLSVerify, ""},
		{"[relay]\nrequire_tls = true\ntls = \"may\"\n", 0, `relay.require_tls: true means tls = "verify", but relay.tls is "may": keep only one of them`},
		{"[relay]\ntls = \"secure\"\n", 0, `relay.tls: "secure" is not "none", "may", "encrypt" or "verify"`},
	} {
		c, err := parseConfig("/data", ConfigFile, []byte(tc.toml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), ConfigFile) {
				t.Errorf("%q: error %v, want %q with the file", tc.toml, err, tc.err)
			}
			continue
		}
		if err != nil || c.RelayTLS() != tc.level {
			t.Errorf("%q: level %v, %v; want %v", tc.toml, c.RelayTLS(), err, tc.level)
		}
	}
}

// TestCheckRelay: the probe says what works, and for a relay whose
// certificate verify refuses, what is wrong and which setting fixes it.
func TestCheckRelay(t *testing.T) {
	addr, _ := startRelaySink(t, &relaySink{})
	a := &App{Config: &Config{}}
	a.Config.Relay.Addr = addr
	line, ok := a.CheckRelay(context.Background())
	if !ok || line != "relay "+addr+` answers, in plaintext: the relay offers no STARTTLS (tls = "may")` {
		t.Errorf("CheckRelay = %q, %v", line, ok)
	}
	a.Config.Relay.TLS = "encrypt"
	line, ok = a.CheckRelay(context.Background())
	if ok || !strings.Contains(line, "relay does not offer STARTTLS") || !strings.Contains(line, `enable STARTTLS on the relay, or use [relay] tls = "may"`) {
		t.Errorf("CheckRelay with encrypt and no STARTTLS = %q, %v", line, ok)
	}
	a.Config.Relay.Addr = ""
	if line, ok := a.CheckRelay(context.Background()); line != "" || !ok {
		t.Errorf("CheckRelay without a relay = %q, %v", line, ok)
	}
}

// TestCheckRelayTLS: a relay with a self-signed certificate for its own
// name, as Debian's Postfix has: may and encrypt use it, verify says
// which name the certificate is for and what to set instead.
func TestCheckRelayTLS(t *testing.T) {
	addr, _ := startRelaySink(t, &relaySink{}, openssltest.ServerCert(t, "mx.example.invalid"))
	a := &App{Config: &Config{}}
	a.Config.Relay.Addr = addr
	for _, tc := range []struct {
		tls  string
		ok   bool
		want string
	}{
		{"", true, "relay " + addr + ` answers, in TLS, certificate not verified (tls = "may")`},
		{"encrypt", true, "relay " + addr + ` answers, in TLS, certificate not verified (tls = "encrypt")`},
		{"none", true, "relay " + addr + ` answers, in plaintext (tls = "none")`},
		{"verify", false, "relay " + addr + ` (tls = "verify"): smtpclient: STARTTLS with ` + addr +
			`: the relay's certificate is not valid for 127.0.0.1 (it is for mx.example.invalid); use [relay] tls = "may" or "encrypt" (--relay-tls), which encrypt without verifying the certificate, or a relay address with a name the certificate is valid for`},
	} {
		a.Config.Relay.TLS = tc.tls
		if line, ok := a.CheckRelay(context.Background()); line != tc.want || ok != tc.ok {
			t.Errorf("tls = %q: CheckRelay =\n%q, %v\nwant\n%q, %v", tc.tls, line, ok, tc.want, tc.ok)
		}
	}
}
