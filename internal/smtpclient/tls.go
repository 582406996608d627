package smtpclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// TLSLevel is the relay's TLS policy, named as Postfix names its
// smtp_tls_security_level values. The zero value is TLSMay.
type TLSLevel int

const (
	// TLSMay uses STARTTLS when the relay offers it, without verifying
	// its certificate, and plaintext when it does not: opportunistic TLS
	// (RFC 7435), what every MTA does by default. It protects against a
	// passive eavesdropper only.
	TLSMay TLSLevel = iota
	// TLSNone never uses STARTTLS.
	TLSNone
	// TLSEncrypt requires STARTTLS (a relay without it is a temporary
	// failure) but does not verify the certificate.
	TLSEncrypt
	// TLSVerify requires STARTTLS and verifies the relay's certificate
	// for the host of Options.Addr (or TLSConfig.ServerName) against the
	// system's roots (or TLSConfig.RootCAs).
	TLSVerify
)

// tlsLevelNames are the names ParseTLSLevel takes, indexed by level.
var tlsLevelNames = [...]string{TLSMay: "may", TLSNone: "none", TLSEncrypt: "encrypt", TLSVerify: "verify"}

// String returns the level's name: "none", "may", "encrypt" or "verify".
func (l TLSLevel) String() string {
	if l < 0 || int(l) >= len(tlsLevelNames) {
		return fmt.Sprintf("TLSLevel(%d)", int(l))
	}
	return tlsLevelNames[l]
}

// ParseTLSLevel returns the level named s: "none", "may", "encrypt" or
// "verify" (Postfix's names).
func ParseTLSLevel(s string) (TLSLevel, error) {
	for l, name := range tlsLevelNames {
		if s == name {
			return TLSLevel(l), nil
		}
	}
	return 0, fmt.Errorf("TLS level %q is not none, may, encrypt or verify", s)
}

// required reports whether the level fails without STARTTLS.
func (l TLSLevel) required() bool { return l == TLSEncrypt || l == TLSVerify }

// TLSError is a failed TLS handshake after the relay accepted STARTTLS.
// It is temporary, like every session failure (see ReplyError.Temporary),
// and the session never goes on in plaintext after it.
type TLSError struct {
	// Addr is the relay, Options.Addr.
	Addr string
	// Level is the TLS level the client was using.
	Level TLSLevel
	// Err is the handshake's error; with TLSVerify, a
	// *tls.CertificateVerificationError when the certificate failed.
	Err error
}

// Error says what failed in words an administrator can act on, for
// example "smtpclient: STARTTLS with 127.0.0.1:25: the relay's
// certificate is not valid for 127.0.0.1 (it names mx.example.org)".
func (e *TLSError) Error() string {
	return fmt.Sprintf("smtpclient: STARTTLS with %s: %s", e.Addr, describeTLS(e.Err))
}

// Unwrap returns the handshake's error.
func (e *TLSError) Unwrap() error { return e.Err }

// describeTLS words a handshake error; the certificate's own problems
// first, as they are the ones an administrator fixes by configuration.
func describeTLS(err error) string {
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &host):
		return fmt.Sprintf("the relay's certificate is not valid for %s (%s)", host.Host, certNames(host.Certificate))
	case errors.As(err, &unknown):
		return "the relay's certificate is not issued by an authority this system trusts (is it self-signed?)"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the relay's certificate has expired or is not valid yet: " + invalid.Detail
	case errors.As(err, &invalid):
		return "the relay's certificate is not valid: " + invalid.Error()
	}
	return "TLS handshake failed: " + err.Error()
}

// certNames says which names cert is valid for.
func certNames(cert *x509.Certificate) string {
	if cert == nil {
		return "it names no host"
	}
	names := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, net.IP(ip).String())
	}
	if len(names) == 0 && cert.Subject.CommonName != "" {
		return "it names only " + cert.Subject.CommonName + " as its common name, which is not checked"
	}
	if len(names) == 0 {
		return "it names no host"
	}
	return "it is for " + strings.Join(names, ", ")
}
