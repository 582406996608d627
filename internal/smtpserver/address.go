package smtpserver

import (
	"errors"
	"strings"
)

// errAddress is the internal cause logged for an address that fails
// checkAddress; the client sees ErrBadSender or ErrBadRecipient.
var errAddress = errors.New("smtpserver: malformed address")

// checkAddress lightly checks a mailbox that go-smtp already parsed out of
// a MAIL or RCPT command (go-smtp removes the angle brackets, a source
// route and the quotes of a quoted local part). It is a sanity check, not
// a full RFC 5321 §4.1.2 parser: the Backend still decides what it serves.
func checkAddress(addr string) error {
	// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including "<>".
	if len(addr) > 254 {
		return errAddress
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return errAddress
	}
	if !validLocalPart(addr[:at]) || !validDomain(addr[at+1:]) {
		return errAddress
	}
	return nil
}

// validLocalPart: RFC 5321 §4.5.3.1.1, at most 64 octets. Any printable
// US-ASCII is allowed because a quoted local part may hold it; 8-bit needs
// SMTPUTF8 (RFC 6531), which is not offered.
func validLocalPart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validDomain: RFC 5321 §4.1.2 Domain or address-literal, at most 255
// octets (§4.5.3.1.2).
func validDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	if s[0] == '[' {
		return validLiteral(s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

// validLabel checks one sub-domain. QUIRK(senders): "_" is tolerated,
// although RFC 5321 §4.1.2 Let-dig does not include it; it appears in real
// sender host names and rejecting it gains nothing.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// validLiteral checks an address-literal lightly: bracketed, non-empty,
// printable, no nested brackets (RFC 5321 §4.1.3).
func validLiteral(s string) bool {
	if len(s) < 3 || s[len(s)-1] != ']' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c <= 0x20 || c > 0x7e || c == '[' || c == ']' || c == '\\' {
			return false
		}
	}
	return true
}
