// Package crypto holds the engine-neutral vocabulary shared by the OpenPGP
// (crypto/pgp) and S/MIME (crypto/smime) engines and by the packages that
// consume their results: what protected a message, who signed it and how
// the signature checked out, and what a key or certificate can be used for.
//
// A verification outcome is a value (Status, Signer, Reason), never an
// error: an error from an engine means the message could not be processed
// at all. The package does no I/O and imports no crypto library.
package crypto

import (
	"fmt"
	"strings"
	"time"
)

// Engine names a message-security standard.
type Engine string

// The engines Sealpost speaks.
const (
	OpenPGP Engine = "openpgp"
	SMIME   Engine = "smime"
)

// Status is the outcome of checking the signature that covers a message's
// content. Only StatusGood authenticates a signer.
type Status int

// Signature statuses. The zero value is StatusUnsigned.
const (
	StatusUnsigned      Status = iota // no signature covers the content
	StatusGood                        // signature verifies with a known, currently valid key
	StatusBad                         // signature does not verify (content or signature altered)
	StatusUnknownSigner               // made by a key we do not hold
	StatusKeyInvalid                  // made by a known key that is expired, revoked or not for signing
	StatusUntrusted                   // an S/MIME certificate that is not trusted for the sender's address
	// StatusWeak is a signature that verifies but was made with an
	// algorithm no longer accepted (SHA-1): refused for that, and not
	// because anything was altered.
	StatusWeak
)

var statusNames = [...]string{"unsigned", "good", "bad", "unknown-signer", "key-invalid", "untrusted", "weak"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Protection describes the encryption layer a message arrived in.
type Protection struct {
	Encrypted bool   // the content was encrypted to one of our keys
	Integrity string // "mdc" (SEIPD v1), "aead" (SEIPD v2 / AEAD) or "" when none
	Cipher    string // symmetric cipher, e.g. "AES256"
}

// Signer identifies the key that made a good signature.
type Signer struct {
	Fingerprint string   // upper-case hex fingerprint (OpenPGP) or certificate SHA-256 (S/MIME)
	Addresses   []string // lower-case addr-specs bound to the key (UIDs / certificate addresses)
	// Names are the display names the key gives its addresses (the name
	// part of a user ID, a certificate's common name), by address. They
	// were chosen by the key's holder: see mail.DisplayName.
	Names map[string]string
}

// Name returns the display name the signer's key gives addr, or "".
func (s *Signer) Name(addr string) string {
	if s == nil {
		return ""
	}
	for a, n := range s.Names {
		if strings.EqualFold(a, addr) {
			return n
		}
	}
	return ""
}

// HasAddress reports whether addr, an addr-spec, is bound to the signer's
// key. The comparison ignores case in the whole address: RFC 5321 §2.4 lets
// the local part be case-sensitive, but no mail provider treats it so and
// key servers and clients compare UIDs case-insensitively.
func (s *Signer) HasAddress(addr string) bool {
	if s == nil {
		return false
	}
	for _, a := range s.Addresses {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// KeyInfo summarises a public key or certificate as the rest of Sealpost
// needs it: whose it is, what it may be used for and until when.
type KeyInfo struct {
	Engine      Engine
	Fingerprint string   // upper-case hex
	Addresses   []string // lower-case addr-specs from UIDs or the certificate
	// Names are the display names given to Addresses (a user ID's name,
	// a certificate's common name), by address; absent when none.
	Names      map[string]string
	Algorithm  string    // e.g. "Ed25519/Cv25519", "RSA-3072"
	Created    time.Time // key creation time
	Expires    time.Time // zero when the key does not expire
	Revoked    bool
	CanSign    bool // a currently valid signing-capable (sub)key exists
	CanEncrypt bool // a currently valid encryption-capable (sub)key exists
	SEIPDv2    bool // the key advertises support for SEIPD v2 (RFC 9580 §5.13.2)
	// Bits is the size of the smallest RSA, DSA or ElGamal key among the
	// primary key and the (sub)keys that sign and encrypt; 0 when none of
	// them is one (elliptic curves, whose strength is their curve's).
	Bits int
	// EncryptRefused and SignRefused name the algorithm of the (sub)key
	// that would encrypt (sign) but that Sealpost cannot use, e.g.
	// "RSA-768", when that is why CanEncrypt (CanSign) is false.
	EncryptRefused, SignRefused string
	// PostQuantum reports that what is encrypted to the key is protected
	// against a quantum computer: a currently valid ML-KEM encryption
	// (sub)key exists (RFC 9980 ML-KEM-768+X25519 or ML-KEM-1024+X448
	// for OpenPGP, an ML-KEM certificate, RFC 9935, for S/MIME), and
	// Sealpost encrypts to it.
	PostQuantum bool
	// Notes say what of the key Sealpost leaves unused and why (a
	// GnuPG 2.5 "Kyber" subkey in LibrePGP's format, say), in words for
	// the person who added it; none for most keys.
	Notes []string
}

// Expired reports whether the key had expired at now.
func (k KeyInfo) Expired(now time.Time) bool {
	return !k.Expires.IsZero() && !now.Before(k.Expires)
}

// FormatFingerprint writes a fingerprint in groups of four hex digits,
// as gpg shows it, for people to compare by eye.
func FormatFingerprint(fpr string) string {
	var b strings.Builder
	for i := 0; i < len(fpr); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fpr[i:min(i+4, len(fpr))])
	}
	return b.String()
}
