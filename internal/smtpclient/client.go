// Package smtpclient hands outbound mail to one configured smarthost (the
// relay of `sealpost serve --relay HOST:PORT`) over SMTP (RFC 5321), or to
// a local delivery agent such as a helpdesk's endpoint over LMTP
// (RFC 2033), one transaction per message, using github.com/emersion/go-smtp.
//
// What it does:
//
//   - STARTTLS (RFC 3207) whenever the relay offers it, with certificate
//     verification; Options.RequireTLS turns a relay without STARTTLS into
//     a temporary failure. A failed TLS negotiation never falls back to
//     plaintext.
//   - SASL authentication (RFC 4954) with Options.Auth, only inside TLS.
//   - SIZE (RFC 1870) and, for non-ASCII addresses, SMTPUTF8 (RFC 6531).
//   - LMTP (RFC 2033) with Options.LMTP: LHLO instead of EHLO, and each
//     recipient's own reply to the message data in its Result (RFC 2033
//     §4.2), so a message can be delivered to one recipient and refused or
//     deferred for another.
//   - Unix sockets (Options.Network "unix", Addr the socket's path), for
//     SMTP and LMTP alike, never with STARTTLS: the socket is local and
//     there is no host name to verify a certificate for.
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
//   - go-smtp v0.25 cannot run STARTTLS in an LMTP session: only an SMTP
//     client can be created with STARTTLS, and the LMTP client
//     (smtp.NewClientLMTP) has no way to start it. LMTP is therefore
//     always plaintext, and goes only over a unix socket or to a loopback
//     address (checked before dialling for an IP address, and on the
//     connected address for a host name). LMTP with RequireTLS or Auth, or
//     to any other address, makes Send fail with ErrInvalidOptions.
//   - go-smtp v0.25 returns the LMTP replies after the data keyed by
//     address, so the replies for an address given twice could not be told
//     apart: with LMTP, a recipient repeated in Send's rcpts gets one RCPT,
//     and each of its Results carries that recipient's reply.
//   - The message is written through net/textproto's dot-writer, which
//     turns a bare LF into CRLF and ends an unterminated last line with
//     CRLF (both required on the wire by RFC 5321 §2.3.8). Messages that
//     already use CRLF throughout are sent byte for byte.
//   - Replies to session commands (greeting, EHLO, LHLO, STARTTLS, AUTH)
//     count as temporary even when they are 5yz; see ReplyError.Temporary.
package smtpclient

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/emersion/go-sasl"
)

// DefaultTimeout bounds a whole Send (dial and transaction) when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// Options configures a Client. Only Addr is required.
type Options struct {
	// Addr is the relay's address, "host:port", or with Network "unix"
	// the path of its socket.
	Addr string
	// Network is "tcp" (empty means "tcp") or "unix". No STARTTLS is
	// attempted over a unix socket: it is local, and there is no host name
	// to verify a certificate for.
	Network string
	// LMTP makes the client speak LMTP (RFC 2033) instead of SMTP: LHLO
	// instead of EHLO, and after the message data one reply per accepted
	// recipient, which Send puts in that recipient's Result. go-smtp's
	// LMTP client cannot use STARTTLS (see the package doc), so LMTP needs
	// Network "unix" or an Addr on a loopback address, and neither
	// RequireTLS nor Auth; otherwise Send fails with ErrInvalidOptions.
	LMTP bool
	// HeloName is the name sent in EHLO (LHLO with LMTP); empty means
	// os.Hostname, or "localhost" if that fails.
	HeloName string
	// TLSConfig is used for STARTTLS. nil means a default configuration
	// that verifies the relay's certificate for the host of Addr; a
	// configuration without ServerName gets the host of Addr. It is not
	// used with LMTP or over a unix socket.
	TLSConfig *tls.Config
	// RequireTLS makes Send fail with ErrTLSUnavailable (a temporary
	// error) when the relay does not offer STARTTLS, instead of sending in
	// plaintext. With Network "unix" or LMTP, where STARTTLS is never
	// attempted, Send fails with ErrInvalidOptions instead.
	RequireTLS bool
	// Timeout bounds each Send as a whole, from dialling to QUIT; zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Auth, when set, authenticates to the relay. It is used only inside
	// TLS: with Auth set, a relay that does not offer STARTTLS fails like
	// RequireTLS, and credentials are never sent in plaintext. Like
	// RequireTLS, it cannot be combined with Network "unix" or LMTP.
	Auth sasl.Client
}

// Client sends mail through one relay. It holds no connection between
// calls and is safe for concurrent use, provided Options.Auth is (the
// go-sasl clients for PLAIN and LOGIN are).
type Client struct {
	addr       string
	network    string // "tcp" or "unix"
	lmtp       bool
	optErr     error // from checkOptions, returned by every Send
	helo       string
	tls        *tls.Config // ServerName already filled in; never modified
	requireTLS bool
	timeout    time.Duration
	auth       sasl.Client
}

// New returns a Client for opt, filling in the defaults. It does not
// connect; configuration problems such as a bad Addr, or Options that
// contradict each other (ErrInvalidOptions), surface from Send.
func New(opt Options) *Client {
	c := &Client{
		addr:       opt.Addr,
		network:    opt.Network,
		lmtp:       opt.LMTP,
		optErr:     checkOptions(opt),
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
	if c.network == "" {
		c.network = "tcp"
	}
	return c
}

// checkOptions refuses Options that Send cannot honour: an unknown
// Network, TLS where no STARTTLS is attempted, and plaintext LMTP to an
// address that is not loopback.
func checkOptions(opt Options) error {
	unix := opt.Network == "unix"
	if !unix && opt.Network != "" && opt.Network != "tcp" {
		return fmt.Errorf("%w: Network %q: want \"tcp\" or \"unix\"", ErrInvalidOptions, opt.Network)
	}
	wantTLS := "RequireTLS"
	if !opt.RequireTLS {
		wantTLS = "Auth (sent only inside TLS)"
	}
	switch {
	case unix && (opt.RequireTLS || opt.Auth != nil):
		return fmt.Errorf("%w: %s with the unix socket %s: a unix socket is local and has no host name to verify a certificate for, so STARTTLS is never attempted over it",
			ErrInvalidOptions, wantTLS, opt.Addr)
	case opt.LMTP && (opt.RequireTLS || opt.Auth != nil):
		return fmt.Errorf("%w: %s with LMTP: the go-smtp LMTP client cannot use STARTTLS",
			ErrInvalidOptions, wantTLS)
	case opt.LMTP && !unix && notLoopback(opt.Addr):
		return errLMTPNotLocal(opt.Addr)
	}
	return nil
}

// errLMTPNotLocal is the error for LMTP to addr, which is not loopback.
func errLMTPNotLocal(addr string) error {
	return fmt.Errorf("%w: LMTP to %s: the go-smtp LMTP client cannot use STARTTLS, so LMTP goes only over a unix socket or to a loopback address",
		ErrInvalidOptions, addr)
}

// notLoopback reports whether hostport is an IP address and port whose
// address is not loopback. A host name is not known to be either before
// it is dialled.
func notLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && !ip.Unmap().IsLoopback()
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
	// *ReplyError; with LMTP, Rcpt's own reply after the data), a local
	// refusal wrapping ErrInvalidEnvelope, or the error that ended the
	// whole transaction. Temporary(Err) tells whether to retry.
	Err error
}
