package smtpclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// This file holds the peer for the tests: a real go-smtp server on
// 127.0.0.1 whose backend is a sink that records what it was given and
// answers as configured.

// received is one message as the relay saw it.
type received struct {
	From  string
	Rcpts []string
	Data  []byte
	TLS   bool   // the transaction ran inside TLS
	Helo  string // the EHLO name of the session
	User  string // the SASL user, "" without AUTH
}

// sink is a recording backend. Configure its fields before the relay
// starts; read what it recorded with messages and sessions.
type sink struct {
	rejectRcpt map[string]*smtp.SMTPError // reply to RCPT TO for these addresses
	dataErr    *smtp.SMTPError            // reply after the message data
	user, pass string                     // offer AUTH PLAIN with these credentials

	// When entered is set, Data signals it after reading the message and
	// then waits for release before replying.
	entered chan struct{}
	release chan struct{}

	mu       sync.Mutex
	msgs     []received
	sessions int
	authSeen bool
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{sink: s, conn: c}, nil
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *sink) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *sink) sawAuth() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authSeen
}

// session is one SMTP session at the sink; go-smtp calls it from one
// goroutine.
type session struct {
	sink  *sink
	conn  *smtp.Conn
	from  string
	rcpts []string
	user  string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err, ok := s.sink.rejectRcpt[to]; ok {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.sink.entered != nil {
		s.sink.entered <- struct{}{}
		<-s.sink.release
	}
	if s.sink.dataErr != nil {
		return s.sink.dataErr
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	s.sink.msgs = append(s.sink.msgs, received{
		From: s.from, Rcpts: s.rcpts, Data: b,
		TLS: isTLS, Helo: s.conn.Hostname(), User: s.user,
	})
	return nil
}

func (s *session) Reset() {
	s.from, s.rcpts = "", nil
}

func (s *session) Logout() error { return nil }

func (s *session) AuthMechanisms() []string {
	if s.sink.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	s.sink.mu.Lock()
	s.sink.authSeen = true
	s.sink.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if s.sink.user == "" || user != s.sink.user || pass != s.sink.pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

// relayConfig says how startRelay sets up the server.
type relayConfig struct {
	cert     *tls.Certificate // offer STARTTLS with this certificate
	smtputf8 bool             // advertise SMTPUTF8
}

// serveRelay starts a go-smtp server for s on a fresh 127.0.0.1 port.
func serveRelay(s *sink, cfg relayConfig) (addr string, stop func(), err error) {
	srv := smtp.NewServer(s)
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableSMTPUTF8 = cfg.smtputf8
	if cfg.cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cfg.cert}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return ln.Addr().String(), func() {
		srv.Close()
		// Close misses the listener if Serve has not registered it yet.
		ln.Close()
		<-done
	}, nil
}

// startRelay is serveRelay for a test; the relay stops at cleanup.
func startRelay(t *testing.T, s *sink, cfg relayConfig) string {
	t.Helper()
	addr, stop, err := serveRelay(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// holdData makes the sink's Data wait until the test ends; the returned
// channel receives once Data has read the message.
func holdData(t *testing.T, s *sink) <-chan struct{} {
	s.entered = make(chan struct{}, 1)
	s.release = make(chan struct{})
	// Registered after startRelay, so it runs before the relay stops.
	t.Cleanup(func() { close(s.release) })
	return s.entered
}

// selfSigned returns a certificate for 127.0.0.1 and relay.test, and a
// pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	return newCert(t, []string{"relay.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// certFor returns a self-signed certificate for the DNS name only.
func certFor(t *testing.T, name string) *tls.Certificate {
	cert, _ := newCert(t, []string{name}, nil)
	return cert
}

// newCert returns a self-signed certificate for the names and
// addresses, and a pool that trusts it.
func newCert(t *testing.T, names []string, ips []net.IP) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
