// Package smtpclient hands outbound mail to one configured smarthost (the
// relay of `sealpost serve --relay HOST:PORT`) over SMTP (RFC 5321), or to
// a local delivery agent such as a helpdesk's endpoint over LMTP
// (RFC 2033), using github.com/emersion/go-smtp.
//
// A Client holds no connection; a Session is one connection for many
// transactions (Client.Open, Session.Send, Session.Close), so that the
// queue sends a batch of copies over one connection; Client.Send is one
// transaction on a session of its own.
//
// What it does:
//
//   - STARTTLS (RFC 3207) per a TLS level named as Postfix names them
//     (Options.TLS): none, may (when offered, certificate not verified:
//     opportunistic TLS, RFC 7435; the default), encrypt (required, not
//     verified) and verify (required, certificate verified for the
//     relay's host name). A failed TLS handshake is a temporary failure
//     (TLSError) and never falls back to plaintext, at any level.
//   - SASL authentication (RFC 4954) with Options.Auth, only inside TLS.
//   - SIZE (RFC 1870) and, for non-ASCII addresses, SMTPUTF8 (RFC 6531).
//   - Several transactions per session (RFC 5321 §3.3), with RSET
//     (§4.1.1.5) after one that ended before its data was accepted or
//     refused; a session lost or closed by the relay (421) fails the
//     transaction in progress and every later one with the same
//     temporary error.
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
// (RFC 3461), PIPELINING (not supported by the go-smtp client), and
// retries (the queue retries). It never changes the message: the bytes
// are sent as given, apart from SMTP dot-stuffing (RFC 5321 §4.5.2).
//
// Known divergences:
//
//   - go-smtp v0.25 offers STARTTLS only as part of creating a client
//     (smtp.NewClientStartTLS), after an "EHLO localhost" of its own, and
//     closes the connection when the relay does not offer it. So over
//     TCP with SMTP this package reads the greeting, says EHLO and, per
//     the level, STARTTLS and the TLS handshake itself, then hands the
//     connection (in TLS or not) to go-smtp as if freshly greeted. go-smtp
//     then says EHLO again: after TLS that is RFC 3207 §4.2's own rule; in
//     plaintext it is a second EHLO, which RFC 5321 §4.1.4 allows. The
//     same happens after an RSET, as go-smtp forgets the EHLO then.
//   - go-smtp v0.25 cannot run STARTTLS in an LMTP session: only an SMTP
//     client can be created with STARTTLS, and the LMTP client
//     (smtp.NewClientLMTP) has no way to start it. LMTP is therefore
//     always plaintext, and goes only over a unix socket or to a loopback
//     address (checked before dialling for an IP address, and on the
//     connected address for a host name). LMTP with TLS encrypt or
//     verify, or Auth, or to any other address, makes Send fail with
//     ErrInvalidOptions.
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

// quitTimeout bounds the wait for the reply to QUIT: the outcome was
// decided before it.
const quitTimeout = 10 * time.Second

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
	// Network "unix" or an Addr on a loopback address, and neither TLS
	// encrypt or verify nor Auth; otherwise Send fails with
	// ErrInvalidOptions.
	LMTP bool
	// HeloName is the name sent in EHLO (LHLO with LMTP); empty means
	// os.Hostname, or "localhost" if that fails.
	HeloName string
	// TLS is the TLS level; the zero value is TLSMay: STARTTLS when the
	// relay offers it, certificate not verified. TLSEncrypt and TLSVerify
	// make a relay without STARTTLS fail with ErrTLSUnavailable (a
	// temporary error) instead of sending in plaintext. Over a unix
	// socket and with LMTP, where STARTTLS is never attempted, TLSEncrypt
	// and TLSVerify fail with ErrInvalidOptions.
	TLS TLSLevel
	// TLSConfig is used for STARTTLS. nil means a default configuration;
	// one without ServerName gets the host of Addr, the name TLSVerify
	// checks the certificate for. With TLSMay and TLSEncrypt the
	// certificate is not verified, whatever TLSConfig says.
	TLSConfig *tls.Config
	// Timeout bounds a Send as a whole, from dialling to QUIT; on a
	// Session, Open and each Send. Zero means DefaultTimeout.
	Timeout time.Duration
	// Auth, when set, authenticates to the relay. It is used only inside
	// TLS: with Auth set, a relay that does not offer STARTTLS fails as
	// with TLSEncrypt, and credentials are never sent in plaintext (nor
	// to an unverified relay unless the level is below TLSVerify). It
	// cannot be combined with TLSNone, Network "unix" or LMTP.
	Auth sasl.Client
}

// Client sends mail through one relay. It holds no connection between
// calls (a Session does) and is safe for concurrent use, provided
// Options.Auth is (the go-sasl clients for PLAIN and LOGIN are).
type Client struct {
	addr    string
	network string // "tcp" or "unix"
	lmtp    bool
	optErr  error // from checkOptions, returned by every Send and Open
	helo    string
	level   TLSLevel
	tls     *tls.Config // ServerName filled in, verification per level; never modified
	timeout time.Duration
	auth    sasl.Client
}

// New returns a Client for opt, filling in the defaults. It does not
// connect; configuration problems such as a bad Addr, or Options that
// contradict each other (ErrInvalidOptions), surface from Send and Open.
func New(opt Options) *Client {
	c := &Client{
		addr:    opt.Addr,
		network: opt.Network,
		lmtp:    opt.LMTP,
		optErr:  checkOptions(opt),
		helo:    opt.HeloName,
		level:   opt.TLS,
		tls:     tlsConfig(opt.Addr, opt.TLSConfig, opt.TLS),
		timeout: opt.Timeout,
		auth:    opt.Auth,
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
// Network or TLS level, TLS where no STARTTLS is attempted, and plaintext
// LMTP to an address that is not loopback.
func checkOptions(opt Options) error {
	unix := opt.Network == "unix"
	if !unix && opt.Network != "" && opt.Network != "tcp" {
		return fmt.Errorf("%w: Network %q: want \"tcp\" or \"unix\"", ErrInvalidOptions, opt.Network)
	}
	if opt.TLS < TLSMay || opt.TLS > TLSVerify {
		return fmt.Errorf("%w: %v", ErrInvalidOptions, opt.TLS)
	}
	wantTLS := "TLS " + opt.TLS.String()
	if !opt.TLS.required() {
		wantTLS = "Auth (sent only inside TLS)"
	}
	needTLS := opt.TLS.required() || opt.Auth != nil
	switch {
	case opt.TLS == TLSNone && opt.Auth != nil:
		return fmt.Errorf("%w: Auth with TLS none: credentials are sent only inside TLS", ErrInvalidOptions)
	case unix && needTLS:
		return fmt.Errorf("%w: %s with the unix socket %s: a unix socket is local and has no host name to verify a certificate for, so STARTTLS is never attempted over it",
			ErrInvalidOptions, wantTLS, opt.Addr)
	case opt.LMTP && needTLS:
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
// is the host of addr unless cfg names one, and which verifies the
// certificate only with TLSVerify.
func tlsConfig(addr string, cfg *tls.Config, level TLSLevel) *tls.Config {
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
	// RFC 7435 §1: opportunistic TLS encrypts without authenticating the
	// peer, as Postfix's "may" and "encrypt" levels do.
	cfg.InsecureSkipVerify = level != TLSVerify
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
