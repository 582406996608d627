package smtpserver

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// ErrAuthFailed is returned by Options.Authenticate, or wrapped in its
// error, when the username and password do not match. The client gets
// 535 5.7.8 "Authentication credentials invalid" after a pause; the third
// failure on a connection closes it.
var ErrAuthFailed = errors.New("smtpserver: authentication credentials invalid")

// maxAuthFailures is the number of failed AUTH attempts that closes the
// connection. RFC 4954 §4: a server that drops the connection after failed
// attempts "SHOULD NOT drop the connection until at least 3 attempts to
// authenticate have failed".
const maxAuthFailures = 3

// AuthMechanisms implements smtp.AuthSession. It lists no mechanism where
// AUTH would be refused; go-smtp then leaves AUTH out of the EHLO reply.
func (ss *session) AuthMechanisms() []string {
	if ss.srv.opt.Authenticate == nil || !ss.authPermitted() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession: it starts the SASL exchange for mech
// (in upper case) or refuses AUTH. go-smtp has already refused AUTH before
// EHLO and after a successful AUTH (RFC 4954 §4: 503 5.5.1), and it
// decodes the base64 lines and handles the client's "*".
func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.srv.opt.Authenticate == nil {
		return nil, smtp.ErrAuthUnknownMechanism // go-smtp's reply without AuthSession
	}
	id := ss.srv.opt.NewID()
	log := ss.srv.log.With("msgid", id, "remote", ss.remote, "mech", mech)
	switch {
	case ss.current() != nil:
		// RFC 4954 §4: "An AUTH command issued during a mail transaction
		// MUST be rejected with a 503 reply."
		return nil, ss.srv.reply(log, id, "AUTH", errBadSequence())
	case !ss.authPermitted():
		// RFC 4954 §4, §6: 538 5.7.11; see permitAuth.
		return nil, ss.srv.reply(log, id, "AUTH", errEncryptionRequired())
	}
	check := func(user, pass string) error { return ss.check(log, id, user, pass) }
	switch mech {
	case sasl.Plain:
		return saslReplies{sasl.NewPlainServer(func(authz, user, pass string) error {
			// RFC 4616 §2: acting as another identity is not supported.
			if authz != "" && authz != user {
				return ss.fail(log.With("user", user), fmt.Errorf("authorization identity %q: %w", authz, ErrAuthFailed))
			}
			return check(user, pass)
		})}, nil
	case sasl.Login:
		return saslReplies{&loginServer{check: check}}, nil
	}
	return nil, ss.srv.reply(log, id, "AUTH", errUnknownMechanism())
}

// check puts user and pass to Options.Authenticate and answers: nil
// (235), 535 or the closing 421 from fail, or 454 with the reference id.
// The log names the user, never the password.
func (ss *session) check(log *slog.Logger, id, user, pass string) error {
	log = log.With("user", user)
	if !ss.srv.begin() {
		log.Info("smtp: AUTH refused, shutting down")
		return ErrShuttingDown().reply()
	}
	var identity string
	err := guard(func() (err error) {
		identity, err = ss.srv.opt.Authenticate(ss.ctx, user, pass)
		return err
	})
	ss.srv.end()
	switch {
	case err == nil:
		ss.auth = cmp.Or(identity, user)
		log.Info("smtp: authenticated", "identity", ss.auth)
		return nil
	case errors.Is(err, ErrAuthFailed):
		return ss.fail(log, err)
	}
	logFailure(log, "AUTH", err)
	return errAuthTemporary(clientText(id, "unknown")).reply()
}

// fail answers a failed AUTH: 535 held back by Options.AuthFailureDelay to
// slow down guessing, or, at the last allowed failure, 421 and a closed
// connection.
func (ss *session) fail(log *slog.Logger, cause error) error {
	ss.failures++
	log.Info("smtp: AUTH rejected, invalid credentials", "failures", ss.failures, "err", cause)
	ss.pause(ss.srv.opt.AuthFailureDelay)
	if ss.failures >= maxAuthFailures {
		return ss.hangUp(log, errTooManyAuthFailures())
	}
	return errAuthInvalid().reply()
}

// pause waits for d, or until the session's context ends (the connection
// was closed, or Shutdown ended).
func (ss *session) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ss.ctx.Done():
	}
}

// hangUp sends e as the last reply and closes the connection (RFC 5321
// §3.8: 421 before the server closes). go-smtp lets a session neither
// write a reply nor close the connection after go-smtp's reply, so the
// line is written to the connection here, after go-smtp's previous reply
// was flushed; go-smtp's attempt to write the returned reply then fails on
// the closed connection, and its read loop ends.
func (ss *session) hangUp(log *slog.Logger, e *Error) error {
	r := e.reply()
	conn := ss.conn.Conn()
	_ = conn.SetWriteDeadline(time.Now().Add(ss.srv.opt.WriteTimeout))
	// An error here means the client is gone, which is where this leads.
	_, _ = fmt.Fprintf(conn, "%d %d.%d.%d %s\r\n",
		r.Code, r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2], r.Message)
	log.Info("smtp: closing connection", "code", r.Code)
	_ = ss.conn.Close() // also ends this session (Logout)
	return r
}

// authPermitted reports whether this connection may use AUTH.
func (ss *session) authPermitted() bool {
	_, isTLS := ss.conn.TLSConnectionState()
	return permitAuth(ss.netConn.RemoteAddr(), isTLS, ss.srv.opt.AllowInsecureAuth)
}

// permitAuth is the policy for PLAIN and LOGIN, which send the password as
// it is. RFC 4954 §4: a server "MUST implement a configuration in which it
// does NOT permit any plaintext password mechanisms, unless either the
// STARTTLS command has been negotiated or some other mechanism that
// protects the session from password snooping has been provided". A
// loopback connection does not cross the network; AllowInsecureAuth is for
// a network the operator trusts.
func permitAuth(remote net.Addr, isTLS, allowInsecure bool) bool {
	return isTLS || allowInsecure || isLoopback(remote)
}

// isLoopback reports whether a is an address in 127.0.0.0/8 or ::1, also
// written as an IPv4-mapped IPv6 address.
func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// saslReplies makes every error of a SASL exchange an SMTP reply: go-smtp
// would send the text of any other error with 454. What is left are
// malformed responses (a PLAIN message without its two NULs), which get
// 501 like an undecodable one (RFC 4954 §4).
type saslReplies struct{ sasl.Server }

func (s saslReplies) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := s.Server.Next(response)
	if err != nil {
		// go-smtp writes only an unwrapped *smtp.SMTPError verbatim.
		if _, ok := err.(*smtp.SMTPError); !ok {
			err = errAuthSyntax().reply()
		}
	}
	return challenge, done, err
}

// loginServer is the server side of LOGIN (draft-murchison-sasl-login),
// which go-sasl lacks: it asks for the username, unless the client sent it
// as the initial response (RFC 4954 §4), and then for the password.
type loginServer struct {
	check    func(username, password string) error
	step     int // 0: start, 1: username asked, 2: password asked, 3: done
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil { // no initial response
			return []byte("Username:"), false, nil
		}
		fallthrough // the initial response is the username
	case 1:
		l.step, l.username = 2, string(response)
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// errAuthRequired is 530 5.7.0 "Authentication required" (RFC 4954 §6).
func errAuthRequired() *Error {
	return &Error{Code: 530, Enhanced: [3]int{5, 7, 0}, Message: "Authentication required"}
}

// errEncryptionRequired is 538 5.7.11 "Encryption required for requested
// authentication mechanism" (RFC 4954 §6).
func errEncryptionRequired() *Error {
	return &Error{Code: 538, Enhanced: [3]int{5, 7, 11},
		Message: "Encryption required for requested authentication mechanism"}
}

// errAuthInvalid is 535 5.7.8 "Authentication credentials invalid"
// (RFC 4954 §6).
func errAuthInvalid() *Error {
	return &Error{Code: 535, Enhanced: [3]int{5, 7, 8}, Message: "Authentication credentials invalid"}
}

// errAuthTemporary is 454 4.7.0 "Temporary authentication failure"
// (RFC 4954 §6) with a reference the log also carries.
func errAuthTemporary(ref string) *Error {
	return &Error{Code: 454, Enhanced: [3]int{4, 7, 0},
		Message: "Temporary authentication failure, reference " + ref}
}

// errTooManyAuthFailures is 421 4.7.0, sent before the connection is
// closed (RFC 5321 §3.8).
func errTooManyAuthFailures() *Error {
	return &Error{Code: 421, Enhanced: [3]int{4, 7, 0}, Message: "Too many authentication failures"}
}

// errUnknownMechanism is 504 5.5.4 "Unrecognized authentication type"
// (RFC 4954 §4: an unsupported mechanism gets 504).
func errUnknownMechanism() *Error {
	return &Error{Code: 504, Enhanced: [3]int{5, 5, 4}, Message: "Unrecognized authentication type"}
}

// errAuthSyntax is 501 5.5.2 for a malformed SASL response (RFC 4954 §4).
func errAuthSyntax() *Error {
	return &Error{Code: 501, Enhanced: [3]int{5, 5, 2}, Message: "Invalid authentication response"}
}
