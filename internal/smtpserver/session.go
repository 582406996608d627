package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// session is one SMTP connection's state, driven by go-smtp. go-smtp calls
// Mail, Rcpt, Reset, Data and Auth (auth.go) from the connection's
// goroutine, except that with BDAT, Data runs in a goroutine of its own,
// and Logout may come from Server.Shutdown; mu guards what those share.
//
// Every method returns either nil or a *smtp.SMTPError: go-smtp would send
// the text of any other error to the client.
type session struct {
	srv     *Server
	conn    *smtp.Conn
	netConn net.Conn // as of the session's start (a new session follows STARTTLS)
	remote  string
	ctx     context.Context // for Backend calls; cancelled by Logout
	cancel  context.CancelFunc

	// Used only from the connection's goroutine.
	auth     string // identity from a successful AUTH, "" before
	failures int    // failed AUTH attempts

	mu      sync.Mutex
	env     *Envelope // the open transaction, nil outside one
	holding bool      // a delivery is counted in srv.inflight until its reply is out
}

// newSession starts a session on HELO/EHLO (and again after STARTTLS).
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	netConn := c.Conn()
	remote := netConn.RemoteAddr().String()
	if s.isClosing() {
		s.log.Info("smtp: session refused, shutting down", "msgid", "", "remote", remote)
		return nil, ErrShuttingDown().reply()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	return &session{srv: s, conn: c, netConn: netConn, remote: remote, ctx: ctx, cancel: cancel}, nil
}

// Mail opens a transaction with a fresh envelope ID.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	id := ss.srv.opt.NewID()
	log := ss.srv.log.With("msgid", id)
	if ss.srv.isClosing() {
		log.Info("smtp: MAIL refused, shutting down", "remote", ss.remote)
		return ErrShuttingDown().reply()
	}
	ss.mu.Lock()
	open := ss.env != nil
	ss.mu.Unlock()
	if open {
		// RFC 5321 §4.1.4: MAIL inside a transaction is out of sequence
		// (go-smtp would otherwise keep the old transaction's recipients).
		return ss.srv.reply(log, id, "MAIL FROM", errBadSequence())
	}
	if ss.srv.opt.RequireAuth && ss.auth == "" {
		// RFC 4954 §6: 530 5.7.0 when policy requires authentication.
		return ss.srv.reply(log, id, "MAIL FROM", errAuthRequired())
	}
	// RFC 5321 §4.5.5: the null reverse-path "<>" (from == "") is allowed.
	if from != "" {
		if err := checkAddress(from); err != nil {
			cause := fmt.Errorf("%w: %q", err, from)
			return ss.srv.reply(log, id, "MAIL FROM", ErrBadSender().WithCause(cause))
		}
	}
	env := &Envelope{ID: id, From: from, RemoteAddr: ss.remote, Helo: ss.conn.Hostname(), Auth: ss.auth}
	ss.mu.Lock()
	ss.env = env
	ss.mu.Unlock()
	log.Debug("smtp: MAIL FROM", "from", from, "remote", ss.remote, "helo", env.Helo, "auth", env.Auth)
	return nil
}

// Rcpt puts a recipient to Backend.Recipient and adds it if accepted.
// go-smtp has already enforced Options.MaxRecipients (452 4.5.3).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	env := ss.current()
	if env == nil {
		return errBadSequence().reply() // go-smtp requires MAIL first
	}
	log := ss.srv.log.With("msgid", env.ID, "rcpt", to)
	if err := checkAddress(to); err != nil {
		cause := fmt.Errorf("%w: %q", err, to)
		return ss.srv.reply(log, env.ID, "RCPT TO", ErrBadRecipient().WithCause(cause))
	}
	if !ss.srv.begin() {
		log.Info("smtp: RCPT refused, shutting down")
		return ErrShuttingDown().reply()
	}
	err := guard(func() error { return ss.srv.backend.Recipient(ss.ctx, env, to) })
	ss.srv.end()
	if err != nil {
		return ss.srv.reply(log, env.ID, "RCPT TO", err)
	}
	ss.mu.Lock()
	if ss.env != nil && ss.env.ID == env.ID {
		ss.env.To = append(ss.env.To, to)
	}
	ss.mu.Unlock()
	log.Debug("smtp: RCPT TO accepted")
	return nil
}

// Data reads the message into a bounded buffer and hands it to
// Backend.Deliver. A nil error from Deliver is answered with the queue ID.
func (ss *session) Data(r io.Reader) error {
	env := ss.current()
	if env == nil || len(env.To) == 0 {
		return errBadSequence().reply() // go-smtp requires an accepted RCPT
	}
	log := ss.srv.log.With("msgid", env.ID)
	r = &deadlineReader{r: r, conn: ss.netConn, timeout: ss.srv.opt.ReadTimeout}
	raw, err := readMessage(r, ss.srv.opt.MaxMessageBytes)
	if err != nil {
		return ss.srv.reply(log, env.ID, "DATA", dataError(env.ID, err))
	}
	if !ss.hold() {
		log.Info("smtp: DATA refused, shutting down", "size", len(raw))
		return ErrShuttingDown().reply()
	}
	err = guard(func() error { return ss.srv.backend.Deliver(ss.ctx, env, raw) })
	if err != nil {
		return ss.srv.reply(log, env.ID, "DATA", err)
	}
	log.Info("smtp: message queued", "from", env.From, "rcpts", len(env.To),
		"size", len(raw), "remote", env.RemoteAddr)
	// go-smtp writes a returned *SMTPError verbatim, 2xx included; that is
	// the only way to put the ID into the success reply.
	return &smtp.SMTPError{
		Code:         250,
		EnhancedCode: smtp.EnhancedCode{2, 0, 0},
		Message:      "Ok: queued as " + clientText(env.ID, "unknown"),
	}
}

// Reset ends the transaction. go-smtp calls it after the reply to DATA has
// been written, which is when a delivery stops counting as in flight.
func (ss *session) Reset() {
	ss.mu.Lock()
	ss.env = nil
	ss.mu.Unlock()
	ss.release()
}

// Logout ends the session when the connection closes.
func (ss *session) Logout() error {
	ss.release()
	ss.cancel()
	return nil
}

// current returns a copy of the open transaction's envelope, or nil.
func (ss *session) current() *Envelope {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.env == nil {
		return nil
	}
	return ss.env.clone()
}

// hold counts a delivery as in flight until release. It returns false once
// Shutdown has begun.
func (ss *session) hold() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.holding {
		return true
	}
	if !ss.srv.begin() {
		return false
	}
	ss.holding = true
	return true
}

// release ends what hold started; it is safe to call at any time.
func (ss *session) release() {
	ss.mu.Lock()
	held := ss.holding
	ss.holding = false
	ss.mu.Unlock()
	if held {
		ss.srv.end()
	}
}

// readMessage reads DATA (or BDAT chunks) to the end into a buffer of at
// most limit bytes. go-smtp has undone the dot-stuffing (RFC 5321 §4.5.2)
// and left line endings as they were.
func readMessage(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = smtp.ErrDataTooLarge
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// deadlineReader renews the connection's read deadline before each read of
// at most blockSize bytes. go-smtp sets the deadline once per command line,
// which would make ReadTimeout bound the whole message. RFC 5321 §4.5.3.2:
// "a timer is set ... for each buffer of the data transfer", so the overall
// time is proportional to the size of the message.
type deadlineReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
}

// blockSize bounds one read: go-smtp's DATA reader returns only when the
// buffer is full or the data ended, so each block must arrive within one
// timeout.
const blockSize = 4096

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(p) > blockSize {
		p = p[:blockSize]
	}
	// An error here means the connection is gone; Read reports it.
	_ = d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}

// dataError classifies a failure to read DATA. Most of them mean the client
// went away or misbehaved, so they are replied as *Error values and logged
// at Info, not as internal failures.
func dataError(id string, err error) error {
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		return ErrMessageTooBig().WithCause(err)
	case errors.Is(err, smtp.ErrTooLongLine):
		return errLineTooLong().WithCause(err)
	default:
		return errTemporary(clientText(id, "unknown"), fmt.Errorf("smtpserver: read DATA: %w", err))
	}
}

// guard runs a Backend call and turns a panic into a *panicError, so that
// the connection boundary survives it: the client gets 451 4.3.0 with a
// reference, the log gets the stack, and the server keeps serving.
func guard(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return fn()
}
