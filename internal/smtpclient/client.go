// Package smtpclient hands outbound mail to one configured smarthost (the
// relay of `sealpost serve --relay HOST:PORT`) over SMTP (RFC 5321), one
// transaction per message, using github.com/emersion/go-smtp.
//
// What it does:
//
//   - STARTTLS (RFC 3207) whenever the relay offers it, with certificate
//     verification; Options.RequireTLS turns a relay without STARTTLS into
//     a temporary failure. A failed TLS negotiation never falls back to
//     plaintext.
//   - SASL authentication (RFC 4954) with Options.Auth, only inside TLS.
//   - SIZE (RFC 1870) and, for non-ASCII addresses, SMTPUTF8 (RFC 6531).
//   - A result per recipient, and a temporary/permanent verdict for every
//     failure (Temporary), so the queue knows what to retry and what to
//     bounce.
//
// What it deliberately does not do: MX lookup (the relay is the only
// destination), DANE/MTA-STS, REQUIRETLS (RFC 8689), DSN parameters
// (RFC 3461), PIPELINING (not supported by the go-smtp client), connection
// reuse, and retries (the queue retries). It never changes the message: the
// bytes are sent as given, apart from SMTP dot-stuffing (RFC 5321 §4.5.2).
//
// Known divergences:
//
//   - go-smtp v0.25 offers STARTTLS only as part of creating a client
//     (smtp.NewClientStartTLS), which says "EHLO localhost" before TLS; the
//     configured HeloName is sent in the EHLO after TLS. When the relay
//     does not offer STARTTLS, the client reconnects for a plaintext
//     session, so such relays see two connections per message.
//   - The message is written through net/textproto's dot-writer, which
//     turns a bare LF into CRLF and ends an unterminated last line with
//     CRLF (both required on the wire by RFC 5321 §2.3.8). Messages that
//     already use CRLF throughout are sent byte for byte.
//   - Replies to session commands (greeting, EHLO, STARTTLS, AUTH) count as
//     temporary even when they are 5yz; see ReplyError.Temporary.
package smtpclient

import (
	"crypto/tls"
	"net"
	"os"
	"time"

	"github.com/emersion/go-sasl"
)

// DefaultTimeout bounds a whole Send (dial and transaction) when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// Options configures a Client. Only Addr is required.
type Options struct {
	// Addr is the relay's address, "host:port".
	Addr string
	// HeloName is the name sent in EHLO; empty means os.Hostname, or
	// "localhost" if that fails.
	HeloName string
	// TLSConfig is used for STARTTLS. nil means a default configuration
	// that verifies the relay's certificate for the host of Addr; a
	// configuration without ServerName gets the host of Addr.
	TLSConfig *tls.Config
	// RequireTLS makes Send fail with ErrTLSUnavailable (a temporary
	// error) when the relay does not offer STARTTLS, instead of sending in
	// plaintext.
	RequireTLS bool
	// Timeout bounds each Send as a whole, from dialling to QUIT; zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Auth, when set, authenticates to the relay. It is used only inside
	// TLS: with Auth set, a relay that does not offer STARTTLS fails like
	// RequireTLS, and credentials are never sent in plaintext.
	Auth sasl.Client
}

// Client sends mail through one relay. It holds no connection between
// calls and is safe for concurrent use, provided Options.Auth is (the
// go-sasl clients for PLAIN and LOGIN are).
type Client struct {
	addr       string
	helo       string
	tls        *tls.Config // ServerName already filled in; never modified
	requireTLS bool
	timeout    time.Duration
	auth       sasl.Client
}

// New returns a Client for opt, filling in the defaults. It does not
// connect; configuration problems such as a bad Addr surface from Send.
func New(opt Options) *Client {
	c := &Client{
		addr:       opt.Addr,
		helo:       opt.HeloName,
		tls:        tlsConfig(opt.Addr, opt.TLSConfig),
		requireTLS: opt.RequireTLS,
		timeout:    opt.Timeout,
		auth:       opt.Auth,
	}
	if c.helo == "" {
		c.helo = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			c.helo = h
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}

// tlsConfig returns a private copy of cfg, or a default, whose ServerName
// is the host of addr unless cfg names one.
func tlsConfig(addr string, cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		// RFC 3207 §4.1 leaves the identity check to the client; verify
		// the name we were told to connect to.
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// Result is the outcome of a Send for one recipient.
type Result struct {
	// Rcpt is the recipient as passed to Send.
	Rcpt string
	// Err is nil when the relay accepted the message for Rcpt. Otherwise
	// it is the relay's reply to RCPT or to the message data (a
	// *ReplyError), a local refusal wrapping ErrInvalidEnvelope, or the
	// error that ended the whole transaction. Temporary(Err) tells whether
	// to retry.
	Err error
}
