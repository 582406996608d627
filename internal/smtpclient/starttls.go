package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// greeting is what go-smtp reads as the relay's greeting on a connection
// whose real greeting negotiate has already read.
const greeting = "220 greeted before go-smtp\r\n"

// greetedConn is a connection whose first bytes are a greeting for
// go-smtp, then what the relay sends; everything else is the connection's.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (g *greetedConn) Read(b []byte) (int, error) { return g.r.Read(b) }

// negotiate starts an SMTP session over TCP as the TLS level says: it
// reads the greeting, says EHLO and, when the relay offers STARTTLS and
// the level is not none, runs STARTTLS and the TLS handshake. It returns
// the connection for go-smtp (see the package doc), and whether it is in
// TLS. Over a unix socket, with LMTP and with TLSNone it does nothing:
// go-smtp reads the greeting itself.
func (c *Client) negotiate(ctx context.Context, conn net.Conn) (net.Conn, bool, error) {
	if c.network == "unix" || c.lmtp || c.level == TLSNone {
		return conn, false, nil
	}
	if strings.ContainsAny(c.helo, "\r\n") {
		return nil, false, fmt.Errorf("%w: HeloName contains a line break", ErrInvalidOptions)
	}
	br := bufio.NewReader(conn)
	r, w := textproto.NewReader(br), textproto.NewWriter(bufio.NewWriter(conn))
	offered, err := hello(ctx, r, w, c.helo)
	if err != nil {
		return nil, false, err
	}
	if !offered {
		if c.level.required() || c.auth != nil {
			// RFC 3207 §6: an attacker can strip STARTTLS from the EHLO
			// reply, so a client must be able to insist on TLS.
			return nil, false, fmt.Errorf("%w (%s)", ErrTLSUnavailable, c.addr)
		}
		// TLSMay: plaintext; go-smtp's EHLO will be the second.
		return &greetedConn{Conn: conn, r: io.MultiReader(strings.NewReader(greeting), br)}, false, nil
	}
	if err := command(ctx, r, w, CmdSTARTTLS, 220, "STARTTLS"); err != nil {
		return nil, false, err
	}
	if n := br.Buffered(); n > 0 {
		// RFC 3207 §4.2 wants everything learnt before TLS discarded;
		// bytes sent before the handshake could be an attacker's
		// replies injected into the TLS session (CVE-2011-0411's kind).
		return nil, false, fmt.Errorf("smtpclient: STARTTLS: the relay sent %d bytes after its reply, before TLS", n)
	}
	tc := tls.Client(conn, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		if cause := ctxCause(ctx); cause != nil {
			return nil, false, fmt.Errorf("smtpclient: STARTTLS: %w", cause)
		}
		return nil, false, &TLSError{Addr: c.addr, Level: c.level, Err: err}
	}
	return &greetedConn{Conn: tc, r: io.MultiReader(strings.NewReader(greeting), tc)}, true, nil
}

// hello reads the greeting, says EHLO (HELO if the relay does not know
// EHLO) and reports whether the relay offers STARTTLS.
func hello(ctx context.Context, r *textproto.Reader, w *textproto.Writer, name string) (starttls bool, err error) {
	// RFC 5321 §4.3.1: the greeting is 220; 554 refuses the session.
	if _, _, err := r.ReadResponse(220); err != nil {
		return false, stepError(ctx, CmdEHLO, replyError(err))
	}
	if err := w.PrintfLine("EHLO %s", name); err != nil {
		return false, stepError(ctx, CmdEHLO, err)
	}
	_, msg, err := r.ReadResponse(250)
	if code := replyCode(err); code == 500 || code == 502 {
		// RFC 5321 §3.2: a server that does not know EHLO gets HELO,
		// and has no extensions.
		return false, command(ctx, r, w, CmdEHLO, 250, "HELO "+name)
	}
	if err != nil {
		return false, stepError(ctx, CmdEHLO, replyError(err))
	}
	// RFC 5321 §4.1.1.1: the first line names the server, each further
	// one an extension keyword and its parameters.
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "STARTTLS") {
			return true, nil
		}
	}
	return false, nil
}

// command sends line and reads a reply that must have code want.
func command(ctx context.Context, r *textproto.Reader, w *textproto.Writer, cmd string, want int, line string) error {
	if err := w.PrintfLine("%s", line); err != nil {
		return stepError(ctx, cmd, err)
	}
	if _, _, err := r.ReadResponse(want); err != nil {
		return stepError(ctx, cmd, replyError(err))
	}
	return nil
}

// replyCode is the code of a negative reply, 0 for other errors.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// replyError turns a negative reply read by net/textproto into the
// *smtp.SMTPError go-smtp would have returned, with its RFC 3463 code
// (RFC 2034 §4: the first thing in the text) taken out of the text.
func replyError(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	se := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	first, rest, ok := strings.Cut(te.Msg, " ")
	if !ok {
		return se
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return se
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return se
		}
		se.EnhancedCode[i] = n
	}
	se.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return se
}
