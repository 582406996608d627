package smtpserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Envelope is what the SMTP dialogue established for one message.
type Envelope struct {
	ID         string   // reference ID for logs and 4xx replies (from Options.NewID)
	From       string   // MAIL FROM addr-spec ("" for the null sender)
	To         []string // accepted RCPT TO addresses, in order
	RemoteAddr string   // the client's address, host:port
	Helo       string   // the name given in HELO/EHLO
	Auth       string   // identity from a successful AUTH (RFC 4954), "" if none
}

// clone returns a copy that shares nothing with e.
func (e *Envelope) clone() *Envelope {
	c := *e
	c.To = append([]string(nil), e.To...)
	return &c
}

// Backend is implemented by the caller (the pipeline).
//
// Recipient is called for every RCPT TO before it is accepted; env.To holds
// the recipients accepted so far. A nil error accepts rcpt.
//
// Deliver is called once per message, after DATA was read completely and
// within Options.MaxMessageBytes. raw is the message exactly as received,
// dot-stuffing undone and line endings untouched; Deliver may keep it. It
// must return only after the message is durably stored (nil: the client
// gets "250 2.0.0 Ok: queued as <env.ID>") or rejected.
//
// To choose the reply, return an *Error (or wrap one); any other error is
// answered with 451 4.3.0 and a reference. The env passed is a copy the
// Backend may keep. ctx is cancelled when the connection is closed or the
// server is stopped without waiting. Both methods may be called
// concurrently from many connections.
type Backend interface {
	Recipient(ctx context.Context, env *Envelope, rcpt string) error
	Deliver(ctx context.Context, env *Envelope, raw []byte) error
}

// Options configure a Server. The zero value of every field means its
// default; negative numbers also mean the default.
type Options struct {
	// Domain is the host name in the greeting; default "localhost".
	Domain string
	// MaxMessageBytes bounds a message; default 32 MiB. A larger one is
	// rejected with 552 5.3.4.
	MaxMessageBytes int64
	// MaxRecipients bounds RCPT TO per message; default 100, the minimum
	// RFC 5321 §4.5.3.1.8 requires. Further ones get 452 4.5.3.
	MaxRecipients int
	// ReadTimeout bounds the wait for each command line and for each 4 KiB
	// of message data; WriteTimeout bounds writing each reply. Default
	// 5 minutes each (RFC 5321 §4.5.3.2, §4.5.3.2.7).
	ReadTimeout, WriteTimeout time.Duration
	// TLSConfig, if set, enables STARTTLS (RFC 3207).
	TLSConfig *tls.Config
	// Logger receives the log; default slog.Default(). Every line carries
	// the envelope ID as attribute "msgid" ("" before MAIL FROM; an AUTH
	// attempt's lines carry a reference of their own).
	Logger *slog.Logger
	// NewID returns a fresh reference ID for each transaction and each
	// AUTH attempt; it must be safe for concurrent use. Default: 12 random
	// hex digits.
	NewID func() string

	// Authenticate, if set, enables AUTH (RFC 4954) with the mechanisms
	// PLAIN (RFC 4616) and LOGIN, for a submission listener. It checks a
	// username and password: a nil error authenticates the connection,
	// and identity (the username if empty) becomes Envelope.Auth of every
	// later transaction on it. For wrong credentials it returns
	// ErrAuthFailed, or an error wrapping it (535 5.7.8); any other error
	// is a temporary fault (454 4.7.0 with a reference, cause logged).
	// ctx is as for Backend calls; it may be called concurrently. Nil:
	// AUTH is neither advertised nor accepted.
	Authenticate func(ctx context.Context, username, password string) (identity string, err error)
	// AllowInsecureAuth permits AUTH on a connection without TLS from any
	// address. By default AUTH needs TLS (STARTTLS) or a loopback client.
	AllowInsecureAuth bool
	// RequireAuth refuses MAIL FROM before a successful AUTH with
	// 530 5.7.0 (RFC 4954 §6). Without Authenticate it refuses every
	// message.
	RequireAuth bool
	// AuthFailureDelay holds back the reply to each failed AUTH, to slow
	// down password guessing; default 1 second. The third failure on a
	// connection closes it.
	AuthFailureDelay time.Duration
}

const (
	defaultDomain          = "localhost"
	defaultMaxMessageBytes = 32 << 20
	defaultMaxRecipients   = 100
	defaultTimeout         = 5 * time.Minute
	defaultAuthDelay       = time.Second
)

// withDefaults returns o with every unset field set to its default.
func (o Options) withDefaults() Options {
	if o.Domain == "" {
		o.Domain = defaultDomain
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = defaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = defaultMaxRecipients
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.AuthFailureDelay <= 0 {
		o.AuthFailureDelay = defaultAuthDelay
	}
	return o
}

// randomID returns 12 hex digits from crypto/rand.
func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Server is an inbound SMTP server. Create it with New.
type Server struct {
	backend Backend
	opt     Options
	log     *slog.Logger
	smtp    *smtp.Server

	// ctx is the parent of every Backend call's context; cancel aborts
	// them when Shutdown gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners []net.Listener
	inflight  sync.WaitGroup // Backend calls, and a delivery until its reply
}

// New returns a Server that hands messages to b.
func New(b Backend, opt Options) *Server {
	opt = opt.withDefaults()
	s := &Server{backend: b, opt: opt, log: opt.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	ss := smtp.NewServer(smtp.BackendFunc(s.newSession))
	ss.Domain = opt.Domain
	ss.MaxMessageBytes = opt.MaxMessageBytes
	ss.MaxRecipients = opt.MaxRecipients
	ss.ReadTimeout = opt.ReadTimeout
	ss.WriteTimeout = opt.WriteTimeout
	ss.TLSConfig = opt.TLSConfig
	// Without Authenticate, go-smtp refuses AUTH outside TLS as before.
	// With it, the session decides where AUTH is allowed (session.Auth),
	// so go-smtp must not refuse it first.
	ss.AllowInsecureAuth = opt.Authenticate != nil
	ss.ErrorLog = errorLog{s.log}
	s.smtp = ss
	return s
}

// Serve accepts connections on l until Shutdown, and then returns nil.
// Serve may be called for several listeners. It returns nil at once if
// Shutdown has begun, closing l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()

	err := s.smtp.Serve(l)
	if s.isClosing() {
		return nil
	}
	return fmt.Errorf("smtpserver: serve: %w", err)
}

// Shutdown stops the server. It closes the listeners, so no new
// connection is accepted; a session (EHLO), transaction (MAIL) or Backend
// call (RCPT, end of DATA) that would start afterwards gets 421 4.3.2
// (RFC 5321 §3.8). It then waits until no Backend call is in flight (a
// delivery counts until its reply was written), or until ctx is done, and
// then closes every connection. It returns ctx.Err() if it stopped
// waiting; Backend calls still running then see their context cancelled.
// Shutdown may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	listeners := s.listeners
	s.listeners = nil
	s.mu.Unlock()

	var errs []error
	for _, l := range listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("smtpserver: close listener: %w", err))
		}
	}

	idle := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}

	s.cancel()
	// Closes the remaining (idle) connections. Its listener errors were
	// seen above; ErrServerClosed means an earlier Shutdown did it.
	_ = s.smtp.Close()
	return errors.Join(errs...)
}

// isClosing reports whether Shutdown has begun.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// begin registers a Backend call. It returns false once Shutdown has
// begun; no call may start then.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}

// end marks the end of a Backend call registered with begin.
func (s *Server) end() { s.inflight.Done() }

// reply maps err from the Backend (or from reading DATA) onto the reply the
// client sees, and logs it. op names what failed, for the log.
func (s *Server) reply(log *slog.Logger, id, op string, err error) *smtp.SMTPError {
	var e *Error
	if errors.As(err, &e) && e.valid() {
		log.Info("smtp: "+op+" rejected", "code", e.Code,
			"enhanced", fmt.Sprintf("%d.%d.%d", e.Enhanced[0], e.Enhanced[1], e.Enhanced[2]),
			"err", err)
		return e.reply()
	}
	logFailure(log, op, err)
	return errTemporary(clientText(id, "unknown"), err).reply()
}

// logFailure logs an error of the Backend or of Options.Authenticate that
// the client sees only as a temporary failure; a panic with its stack.
func logFailure(log *slog.Logger, op string, err error) {
	var p *panicError
	if errors.As(err, &p) {
		log.Error("smtp: panic in backend", "op", op, "panic", p.value, "stack", p.stack)
		return
	}
	log.Error("smtp: "+op+" failed", "err", err)
}

// panicError carries a recovered Backend panic to reply.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("smtpserver: panic: %v", p.value) }

// errorLog adapts go-smtp's logger, which reports connection-level errors
// (failed TLS handshakes, broken connections) outside any transaction.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) {
	l.log.Warn("smtp: "+fmt.Sprintf(format, v...), "msgid", "")
}

func (l errorLog) Println(v ...any) {
	l.log.Warn("smtp: "+strings.TrimSpace(fmt.Sprintln(v...)), "msgid", "")
}
