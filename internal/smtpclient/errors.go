package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrTLSUnavailable means the relay does not offer STARTTLS although TLS
// is required (Options.TLS encrypt or verify, or Options.Auth). It is
// temporary: the relay's configuration may be fixed.
var ErrTLSUnavailable = errors.New("smtpclient: relay does not offer STARTTLS")

// ErrInvalidEnvelope means Send refused an address before sending it: it
// is empty where an address is required, contains a control character,
// '<' or '>', or is non-ASCII while the relay lacks SMTPUTF8. It is
// permanent: sending it again cannot succeed.
var ErrInvalidEnvelope = errors.New("smtpclient: invalid envelope")

// ErrInvalidOptions means the Options ask for something Send cannot do: an
// unknown Network or TLS level, TLS (encrypt, verify or Auth) over a unix
// socket or with LMTP, Auth with TLS none, or LMTP to an address that is
// not loopback (see Options.LMTP).
// Send returns it, wrapped with the reason, before connecting, or for
// LMTP to a host name as soon as the connection shows the address. It is
// temporary, like the relay's refusal of a session: the message is fine,
// and fixing the configuration lets the queue deliver it.
var ErrInvalidOptions = errors.New("smtpclient: invalid options")

// Commands named in ReplyError.Command.
const (
	CmdEHLO     = "EHLO"     // the greeting or EHLO/HELO
	CmdLHLO     = "LHLO"     // the greeting or LHLO, with Options.LMTP
	CmdSTARTTLS = "STARTTLS" // STARTTLS itself
	CmdAUTH     = "AUTH"
	CmdMAIL     = "MAIL"
	CmdRCPT     = "RCPT"
	CmdDATA     = "DATA" // DATA itself or the reply after the message data (with LMTP, one per recipient)
	CmdRSET     = "RSET" // RSET between transactions of a Session
)

// ReplyError is a negative reply from the relay.
type ReplyError struct {
	// Command is the command the reply answered, one of the Cmd constants.
	Command string
	// Code is the reply code (RFC 5321 §4.2), 4yz or 5yz.
	Code int
	// EnhancedCode is the RFC 3463 status code, {0, 0, 0} when the relay
	// sent none.
	EnhancedCode [3]int
	// Message is the reply text without codes; lines of a multi-line
	// reply are joined with "\n". It comes from the relay: log it, but do
	// not pass it to other parties unchecked.
	Message string

	cause *smtp.SMTPError
}

// newReplyError maps go-smtp's reply error for the reply to cmd.
func newReplyError(cmd string, se *smtp.SMTPError) *ReplyError {
	return &ReplyError{
		Command:      cmd,
		Code:         se.Code,
		EnhancedCode: [3]int(se.EnhancedCode),
		Message:      se.Message,
		cause:        se,
	}
}

// Error returns "smtpclient: CMD: code [enhanced code] text".
func (e *ReplyError) Error() string {
	if e.EnhancedCode == [3]int{} {
		return fmt.Sprintf("smtpclient: %s: %03d %s", e.Command, e.Code, e.Message)
	}
	c := e.EnhancedCode
	return fmt.Sprintf("smtpclient: %s: %03d %d.%d.%d %s", e.Command, e.Code, c[0], c[1], c[2], e.Message)
}

// Unwrap returns the *smtp.SMTPError the reply was read into.
func (e *ReplyError) Unwrap() error {
	if e.cause == nil {
		return nil
	}
	return e.cause
}

// Temporary reports whether the reply is worth retrying.
//
// Replies to MAIL, RCPT and DATA follow their code: RFC 5321 §4.2.1, 4yz
// is a transient and 5yz a permanent negative completion; with LMTP, each
// recipient's reply after the data likewise (RFC 2033 §4.2). Replies to
// the session commands (greeting, EHLO, LHLO, STARTTLS, AUTH, RSET) are always
// temporary: they are about Sealpost's standing with its one relay
// (credentials, TLS setup, an address the relay refuses to serve), not
// about the message, and bouncing the whole queue for a configuration
// error would lose mail.
// Postfix's defaults make the same choice (smtp_skip_5xx_greeting,
// smtp_sasl_auth_soft_bounce).
func (e *ReplyError) Temporary() bool {
	switch e.Command {
	case CmdMAIL, CmdRCPT, CmdDATA:
		// A code outside 4yz/5yz here is a protocol error: retry.
		return e.Code/100 != 5
	default:
		return true
	}
}

// Temporary reports whether err, from Send or from a Result, should be
// retried later. It is false for nil, for a permanent reply (5yz to MAIL,
// RCPT or DATA; see ReplyError.Temporary), for a bare 5yz *smtp.SMTPError
// and for ErrInvalidEnvelope. Everything else is temporary: 4yz replies,
// network errors, timeouts, cancellation, TLS failures, ErrTLSUnavailable,
// ErrInvalidOptions, *TLSError and errors of unknown kind (DESIGN §3: transient or
// unknown is 4xx).
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var re *ReplyError
	if errors.As(err, &re) {
		return re.Temporary()
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code/100 != 5
	}
	// RFC 5321 §3.8: a broken connection is treated as if 451 had been
	// received; errors of unknown kind are treated the same way.
	return !errors.Is(err, ErrInvalidEnvelope)
}

// stepError turns an error from go-smtp during cmd into this package's
// error: a *ReplyError for a reply, the context's cause when the deadline
// or cancellation closed the connection, otherwise the error wrapped with
// the command.
func stepError(ctx context.Context, cmd string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return newReplyError(cmd, se)
	}
	if cause := ctxCause(ctx); cause != nil {
		return fmt.Errorf("smtpclient: %s: %w", cmd, cause)
	}
	return fmt.Errorf("smtpclient: %s: %w", cmd, err)
}

// ctxCause returns why ctx is done, or nil. A deadline that has passed
// counts even before ctx's timer has fired: go-smtp's per-command
// deadline on the connection, which is never earlier, can fire first.
func ctxCause(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
