package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// errNoSTARTTLS is the text of go-smtp's error for a server without
// STARTTLS. go-smtp v0.25 has no sentinel for it; if a later version
// words it differently, the mismatch fails the delivery as temporary
// (never as a silent plaintext session), and TestSendPlaintextRelay
// notices.
const errNoSTARTTLS = "smtp: server doesn't support STARTTLS"

// isNoSTARTTLS reports whether err is go-smtp's unwrapped error for a
// server that does not offer STARTTLS.
func isNoSTARTTLS(err error) bool {
	return err != nil && err.Error() == errNoSTARTTLS
}

// connect opens a session with the relay that is ready for MAIL: greeted,
// in TLS when the relay offers it, and authenticated when c.auth is set.
// The connection is closed when ctx is done, which is how the deadline and
// cancellation reach go-smtp, whose own timeouts are per command.
func (c *Client) connect(ctx context.Context) (*smtp.Client, error) {
	sc, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 3207 §4.2: after TLS the client MUST discard what it learnt
	// from the server and SHOULD send EHLO first; go-smtp has forgotten
	// the first EHLO, and this one carries our name. RFC 2033 §4.1: an
	// LMTP client says LHLO instead, which go-smtp's LMTP client does.
	if err := sc.Hello(c.helo); err != nil {
		sc.Close()
		return nil, stepError(ctx, c.helloCmd(), err)
	}
	if c.auth != nil {
		if err := authenticate(ctx, sc, c.auth); err != nil {
			sc.Close()
			return nil, err
		}
	}
	return sc, nil
}

// open dials the relay and returns a client ready for EHLO or LHLO, in TLS
// when the relay offers STARTTLS and STARTTLS is attempted at all.
func (c *Client) open(ctx context.Context) (*smtp.Client, error) {
	if c.network == "unix" || c.lmtp {
		// A unix socket has no host name to verify a certificate for, and
		// go-smtp's LMTP client cannot start TLS. checkOptions refused
		// RequireTLS and Auth for both, and LMTP to other hosts.
		return c.plain(ctx)
	}
	sc, err := c.startTLS(ctx)
	if !isNoSTARTTLS(err) {
		return sc, err
	}
	if c.requireTLS || c.auth != nil {
		return nil, fmt.Errorf("%w (%s)", ErrTLSUnavailable, c.addr)
	}
	// RFC 3207 §6: an attacker can strip STARTTLS from the EHLO reply, so
	// a client must be able to insist on TLS; that is RequireTLS (and
	// Auth). Otherwise the session goes on in plaintext.
	return c.plain(ctx)
}

// helloCmd is the command that greets the relay, for ReplyError.Command.
func (c *Client) helloCmd() string {
	if c.lmtp {
		return CmdLHLO
	}
	return CmdEHLO
}

// startTLS dials the relay and negotiates STARTTLS. If the relay does not
// offer it, the error is go-smtp's, unwrapped (see isNoSTARTTLS).
func (c *Client) startTLS(ctx context.Context) (*smtp.Client, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	// NewClientStartTLS reads the greeting, says EHLO, sends STARTTLS and
	// wraps the connection; the handshake runs with the next command.
	sc, err := smtp.NewClientStartTLS(conn, c.tls)
	if err != nil {
		conn.Close()
		if isNoSTARTTLS(err) {
			return nil, err
		}
		return nil, stepError(ctx, CmdSTARTTLS, err)
	}
	c.setTimeouts(sc)
	return sc, nil
}

// plain dials the relay for a session without TLS, over SMTP or LMTP.
func (c *Client) plain(ctx context.Context) (*smtp.Client, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	var sc *smtp.Client
	if c.lmtp {
		// A host name in Addr is known to be loopback only now. A unix
		// socket's address is a path, which notLoopback lets through.
		if notLoopback(conn.RemoteAddr().String()) {
			conn.Close()
			return nil, errLMTPNotLocal(fmt.Sprintf("%s (%s)", c.addr, conn.RemoteAddr()))
		}
		sc = smtp.NewClientLMTP(conn)
	} else {
		sc = smtp.NewClient(conn)
	}
	c.setTimeouts(sc)
	return sc, nil
}

// dial connects to the relay and arranges for the connection to be closed
// when ctx is done. Send's ctx always ends (Send cancels it on return), so
// the connection is closed at the latest then; closing twice is harmless.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, stepError(ctx, "dial", err)
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	return conn, nil
}

// setTimeouts caps go-smtp's per-command timeouts (minutes by default) at
// the timeout for the whole Send. go-smtp sets them afresh for each
// command, so they never expire before Send's deadline.
func (c *Client) setTimeouts(sc *smtp.Client) {
	sc.CommandTimeout = c.timeout
	sc.SubmissionTimeout = c.timeout
}

// authenticate runs SASL over the TLS session sc.
func authenticate(ctx context.Context, sc *smtp.Client, auth sasl.Client) error {
	// RFC 4954 §4: plaintext password mechanisms only once STARTTLS has
	// protected the session. connect guarantees TLS; this check keeps it
	// so.
	if _, ok := sc.TLSConnectionState(); !ok {
		return fmt.Errorf("%w: refusing AUTH without TLS", ErrTLSUnavailable)
	}
	if ok, _ := sc.Extension("AUTH"); !ok {
		return errors.New("smtpclient: AUTH: relay does not offer AUTH")
	}
	if err := sc.Auth(auth); err != nil {
		return stepError(ctx, CmdAUTH, err)
	}
	return nil
}
