package smtpserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
)

// Error is the one SMTP error type at Sealpost's edge: a reply the client
// may see, plus an internal cause that is logged and never sent.
//
// A Backend returns an *Error (or an error wrapping one) to choose the
// reply. Any other error is answered with 451 4.3.0 and a reference ID.
type Error struct {
	Code     int    // reply code, 4xx or 5xx (RFC 5321 §4.2)
	Enhanced [3]int // enhanced status code (RFC 3463), e.g. {5, 1, 1}
	Message  string // client-safe text; no key IDs, paths or SQL
	Err      error  // internal cause, for logs only
}

// Error describes the reply and the cause, for logs.
func (e *Error) Error() string {
	s := fmt.Sprintf("smtpserver: %d %d.%d.%d %s",
		e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the reply is a transient (4xx) one, after which
// the client is expected to retry.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// WithCause returns a copy of e whose internal cause is err.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// valid reports whether e can be sent as it is: a 4xx or 5xx code whose
// enhanced code is of the same class (RFC 3463 §2).
func (e *Error) valid() bool {
	class := e.Code / 100
	return (class == 4 || class == 5) && e.Code < 600 &&
		e.Enhanced[0] == class &&
		e.Enhanced[1] >= 0 && e.Enhanced[1] < 1000 &&
		e.Enhanced[2] >= 0 && e.Enhanced[2] < 1000
}

// reply converts e to the go-smtp type that go-smtp writes verbatim.
func (e *Error) reply() *smtp.SMTPError {
	return &smtp.SMTPError{
		Code:         e.Code,
		EnhancedCode: smtp.EnhancedCode(e.Enhanced),
		Message:      clientText(e.Message, "Requested action not taken"),
	}
}

// clientText makes s safe for a single reply line: go-smtp would turn a
// line feed into a multi-line reply, and a carriage return or other control
// character must never reach the wire (RFC 5321 §4.2: textstring is
// printable US-ASCII and tab). An empty result becomes def.
func clientText(s, def string) string {
	const maxLen = 400 // RFC 5321 §4.5.3.1.5: reply line ≤ 512 octets
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return ' '
		case r > 0x7f:
			return '?'
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	if s == "" {
		return def
	}
	return s
}

// The named replies used across Sealpost. Each call returns a new *Error,
// so a caller may set Err (or use WithCause) without affecting others.

// ErrNoSuchUser is 550 5.1.1 "No such user here" (RFC 5321 §4.2.3,
// RFC 3463 §3.2 X.1.1): the recipient is not an address Sealpost serves.
func ErrNoSuchUser() *Error {
	return &Error{Code: 550, Enhanced: [3]int{5, 1, 1}, Message: "No such user here"}
}

// ErrRelayDenied is 550 5.7.1 "Relaying denied": the recipient's domain is
// not one Sealpost serves (DESIGN §4.9, not an open relay).
func ErrRelayDenied() *Error {
	return &Error{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: "Relaying denied"}
}

// ErrMessageRefused is 550 5.7.1 "Delivery not authorized, message refused"
// (RFC 3463 X.7.1): the one uniform policy rejection, which must not reveal
// whether decryption, integrity, signature or membership failed.
func ErrMessageRefused() *Error {
	return &Error{Code: 550, Enhanced: [3]int{5, 7, 1},
		Message: "Delivery not authorized, message refused"}
}

// ErrMessageTooBig is 552 5.3.4 "Message size exceeds fixed maximum message
// size" (RFC 5321 §4.5.3.1.10, RFC 3463 X.3.4).
func ErrMessageTooBig() *Error {
	return &Error{Code: 552, Enhanced: [3]int{5, 3, 4},
		Message: "Message size exceeds fixed maximum message size"}
}

// ErrTooManyRecipients is 452 4.5.3 "Too many recipients"
// (RFC 5321 §4.5.3.1.10, RFC 3463 X.5.3).
func ErrTooManyRecipients() *Error {
	return &Error{Code: 452, Enhanced: [3]int{4, 5, 3}, Message: "Too many recipients"}
}

// ErrShuttingDown is 421 4.3.2 "Service shutting down" (RFC 5321 §3.8,
// RFC 3463 X.3.2 "System not accepting network messages").
func ErrShuttingDown() *Error {
	return &Error{Code: 421, Enhanced: [3]int{4, 3, 2}, Message: "Service shutting down"}
}

// ErrBadSender is 501 5.1.7 "Bad sender address syntax" (RFC 3463 X.1.7).
func ErrBadSender() *Error {
	return &Error{Code: 501, Enhanced: [3]int{5, 1, 7}, Message: "Bad sender address syntax"}
}

// ErrBadRecipient is 501 5.1.3 "Bad recipient address syntax"
// (RFC 3463 X.1.3).
func ErrBadRecipient() *Error {
	return &Error{Code: 501, Enhanced: [3]int{5, 1, 3}, Message: "Bad recipient address syntax"}
}

// errLineTooLong is 500 5.5.2 "Line too long" (RFC 5321 §4.5.3.1.10,
// §4.5.3.1.6: a text line is at most 1000 octets).
func errLineTooLong() *Error {
	return &Error{Code: 500, Enhanced: [3]int{5, 5, 2}, Message: "Line too long"}
}

// errTemporary is the reply to every error that is not an *Error:
// 451 4.3.0 (RFC 3463 X.3.0 "Other or undefined mail system status") with
// a reference the log also carries.
func errTemporary(ref string, cause error) *Error {
	return &Error{Code: 451, Enhanced: [3]int{4, 3, 0},
		Message: "Temporary failure, reference " + ref, Err: cause}
}

// errBadSequence is 503 5.5.1 "Bad sequence of commands" (RFC 5321 §4.2.3).
func errBadSequence() *Error {
	return &Error{Code: 503, Enhanced: [3]int{5, 5, 1}, Message: "Bad sequence of commands"}
}
