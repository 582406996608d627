package smtpserver

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorType(t *testing.T) {
	cause := errors.New("keyring: no usable key")
	e := ErrMessageRefused().WithCause(cause)
	wrapped := fmt.Errorf("pipeline: %w", e)

	if !errors.Is(wrapped, cause) {
		t.Error("errors.Is does not reach the cause")
	}
	var got *Error
	if !errors.As(wrapped, &got) || got.Code != 550 {
		t.Errorf("errors.As: %v", got)
	}
	if e.Temporary() {
		t.Error("550 is temporary")
	}
	if !ErrTooManyRecipients().Temporary() || !ErrShuttingDown().Temporary() {
		t.Error("4xx is not temporary")
	}
	if s := e.Error(); s != "smtpserver: 550 5.7.1 Delivery not authorized, message refused: keyring: no usable key" {
		t.Errorf("Error() = %q", s)
	}
	// WithCause copies: the named reply values stay independent.
	base := ErrNoSuchUser()
	_ = base.WithCause(cause)
	if base.Err != nil {
		t.Error("WithCause modified its receiver")
	}
}

// Every named reply is a well-formed RFC 5321 / RFC 3463 pair.
func TestNamedReplies(t *testing.T) {
	for _, e := range []*Error{
		ErrNoSuchUser(), ErrRelayDenied(), ErrMessageRefused(), ErrMessageTooBig(),
		ErrTooManyRecipients(), ErrShuttingDown(), ErrBadSender(), ErrBadRecipient(),
		errLineTooLong(), errTemporary("ref", nil), errBadSequence(),
	} {
		if !e.valid() {
			t.Errorf("%v: not a valid reply", e)
		}
		if e.Message == "" || clientText(e.Message, "") != e.Message {
			t.Errorf("%v: message not client-safe", e)
		}
	}
	if e := ErrNoSuchUser(); e.Code != 550 || e.Enhanced != [3]int{5, 1, 1} || e.Message != "No such user here" {
		t.Errorf("ErrNoSuchUser = %v", e)
	}
}

func TestClientText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"two\r\nlines", "two  lines"},
		{"nul\x00tab\tdel\x7f", "nul tab del"},
		{"  \r\n ", "default"},
		{"Grüße", "Gr??e"},
		{strings.Repeat("x", 600), strings.Repeat("x", 400)},
	}
	for _, tc := range cases {
		if got := clientText(tc.in, "default"); got != tc.want {
			t.Errorf("clientText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
