package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/emersion/go-smtp"
)

// Session is one connection to the relay, greeted, in TLS per the level
// and authenticated per the Options, for any number of transactions one
// after the other (RFC 5321 §3.3). It is not safe for concurrent use.
//
// A session that breaks (the connection is lost, a deadline passes, the
// relay answers 421) stays broken: Send then fails every recipient with
// the error that broke it, which is temporary, and Err returns it; open
// another session to go on.
type Session struct {
	c   *Client
	sc  *smtp.Client
	tls bool

	// dirty says a transaction was begun (MAIL accepted) and not ended
	// by the reply to its data: the next one starts with RSET.
	dirty bool

	mu     sync.Mutex
	err    error // why the session broke, or nil
	closed bool
}

// Open connects to the relay and returns a session ready for Send:
// greeted (EHLO, or LHLO with LMTP), in TLS as Options.TLS says, and
// authenticated when Options.Auth is set. Opening takes at most
// Options.Timeout, and ctx bounds the opening only: between Sends the
// connection stays open, whatever becomes of ctx, until Close, which the
// caller must call, ends it with QUIT. (A caller that stops when its ctx
// ends thus leaves the relay politely, not with a dropped connection.)
//
// The errors are those of Send for the session's start: a network
// error, a *ReplyError to the greeting, EHLO, STARTTLS or AUTH, a
// *TLSError, ErrTLSUnavailable, ErrInvalidOptions; all temporary.
func (c *Client) Open(ctx context.Context) (*Session, error) {
	if c.optErr != nil {
		return nil, c.optErr
	}
	octx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dial(octx)
	if err != nil {
		return nil, err
	}
	// go-smtp's deadlines are per command: a timeout or ctx's end
	// reaches it by closing the connection.
	stop := context.AfterFunc(octx, func() { conn.Close() })
	s := &Session{c: c}
	err = s.start(octx, conn)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			err = fmt.Errorf("smtpclient: %w", ctxCause(octx))
		}
		return nil, err
	}
	return s, nil
}

// start runs the session's opening on conn: greeting and EHLO, STARTTLS
// per the level, the EHLO that go-smtp says, and AUTH.
func (s *Session) start(ctx context.Context, conn net.Conn) error {
	c := s.c
	conn, inTLS, err := c.negotiate(ctx, conn)
	if err != nil {
		return err
	}
	if c.lmtp {
		// A host name in Addr is known to be loopback only now. A unix
		// socket's address is a path, which notLoopback lets through.
		if notLoopback(conn.RemoteAddr().String()) {
			return errLMTPNotLocal(fmt.Sprintf("%s (%s)", c.addr, conn.RemoteAddr()))
		}
		s.sc = smtp.NewClientLMTP(conn)
	} else {
		s.sc = smtp.NewClient(conn)
	}
	s.tls = inTLS
	s.sc.CommandTimeout = c.timeout
	s.sc.SubmissionTimeout = c.timeout
	// RFC 3207 §4.2: after TLS the client MUST discard what it learnt
	// from the server and SHOULD send EHLO first; go-smtp has not seen
	// the first EHLO, and this one carries our name. RFC 2033 §4.1: an
	// LMTP client says LHLO instead, which go-smtp's LMTP client does.
	if err := s.sc.Hello(c.helo); err != nil {
		return stepError(ctx, c.helloCmd(), err)
	}
	if c.auth != nil {
		return s.authenticate(ctx)
	}
	return nil
}

// TLS reports whether the session runs inside TLS.
func (s *Session) TLS() bool { return s.tls }

// Err returns the error that broke the session, or nil while it works.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// broke records that the session broke with err, and closes its
// connection.
func (s *Session) broke(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.sc.Close()
}

// Close ends the session: with QUIT (RFC 5321 §4.1.1.10) when it works,
// waiting a few seconds at most for the reply, then closing the
// connection. Its error is for logs only; what was sent stays sent.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	broken := s.err != nil
	s.mu.Unlock()
	if broken {
		return s.sc.Close()
	}
	s.sc.CommandTimeout = min(quitTimeout, s.c.timeout)
	if err := s.sc.Quit(); err != nil {
		s.sc.Close()
		return fmt.Errorf("smtpclient: QUIT: %w", err)
	}
	return nil
}

// helloCmd is the command that greets the relay, for ReplyError.Command.
func (c *Client) helloCmd() string {
	if c.lmtp {
		return CmdLHLO
	}
	return CmdEHLO
}

// dial connects to the relay.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, stepError(ctx, "dial", err)
	}
	return conn, nil
}

// authenticate runs SASL over the session, which must be in TLS.
func (s *Session) authenticate(ctx context.Context) error {
	// RFC 4954 §4: plaintext password mechanisms only once STARTTLS has
	// protected the session. negotiate insists on TLS when Auth is set;
	// this check keeps it so.
	if !s.tls {
		return fmt.Errorf("%w: refusing AUTH without TLS", ErrTLSUnavailable)
	}
	if ok, _ := s.sc.Extension("AUTH"); !ok {
		return errors.New("smtpclient: AUTH: relay does not offer AUTH")
	}
	if err := s.sc.Auth(s.c.auth); err != nil {
		return stepError(ctx, CmdAUTH, err)
	}
	return nil
}
