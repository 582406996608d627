package smime

// Refusals that callers tell apart, so that a sender's mail program can
// be told what it did that Sealpost does not take (issue 15).

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

var (
	// ErrWeak: the message uses an algorithm that is no longer accepted
	// because it is broken or obsolete: SHA-1 or MD5 signatures (RFC 8551
	// §2.1), DES, 3DES or RC2 encryption (RFC 8551 §2.7). It is a kind of
	// ErrUnsupported; the wrapped text names the algorithm.
	ErrWeak error = weakError{}
	// ErrUnknownSigner: no certificate matching the signer identifier is
	// in the message or among the certificates the caller knows, so the
	// signature cannot be checked at all (RFC 5652 §5.1 lets a signer
	// leave its certificate out: openssl cms -nocerts).
	ErrUnknownSigner = errors.New("smime: the signer's certificate is neither in the message nor known")
	// ErrBadAttributes: a signature's signed attributes are well-formed
	// DER but break RFC 5652 §5.3 and §11: content-type or
	// message-digest missing, or an attribute given twice. It is a kind
	// of ErrMalformed; unlike DER that does not parse, it is not what
	// a changed byte makes.
	ErrBadAttributes = fmt.Errorf("%w: signed attributes break RFC 5652", ErrMalformed)
)

type weakError struct{}

func (weakError) Error() string { return "smime: algorithm no longer accepted" }

// Is makes ErrWeak a kind of ErrUnsupported.
func (weakError) Is(target error) bool { return target == ErrUnsupported }

// Content-encryption algorithms that are recognised only to be refused
// by name (RFC 8551 §2.7: SHOULD NOT decrypt with them; RFC 3370 §5).
var refusedCiphers = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}, "3DES"},    // des-ede3-cbc
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}, "DES"},           // desCBC
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}, "RC2"},     // rc2-cbc
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 4}, "RC4"},     // rc4
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 17}, "two-key 3DES"}, // desEDE
}

// refusedCipher returns the error for a content-encryption algorithm that
// is not one of the AES modes Sealpost reads: ErrWeak for the old ones it
// names, ErrUnsupported for any other (Camellia, ChaCha20-Poly1305,
// AES-CCM, ...).
func refusedCipher(oid asn1.ObjectIdentifier) error {
	for _, c := range refusedCiphers {
		if c.oid.Equal(oid) {
			return fmt.Errorf("%w: content encrypted with %s", ErrWeak, c.name)
		}
	}
	return fmt.Errorf("%w: content encryption %v", ErrUnsupported, oid)
}
