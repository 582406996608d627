package smime

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Errors shared by the engine's parts. Callers branch on them with
// errors.Is; the wrapped detail is for logs.
var (
	ErrMalformed   = errors.New("smime: malformed CMS structure")
	ErrUnsupported = errors.New("smime: unsupported or refused algorithm")
	// ErrNoRecipient: the message is not encrypted to the given certificate.
	ErrNoRecipient = errors.New("smime: message is not encrypted to this certificate")
	// ErrIntegrity: decryption failed (wrong key, altered ciphertext, bad
	// padding or GCM tag). Nothing decrypted is returned with it.
	ErrIntegrity = errors.New("smime: decryption or integrity check failed")
	// ErrBadSignature: the signature or its signed attributes do not verify.
	ErrBadSignature = errors.New("smime: signature does not verify")
)

// contentInfo is RFC 5652 §3 ContentInfo.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

// parseContentInfo parses DER (BER with definite lengths is tolerated by
// encoding/asn1 only where it is also DER) and checks for trailing data.
func parseContentInfo(der []byte) (contentInfo, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return ci, fmt.Errorf("%w: ContentInfo: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return ci, fmt.Errorf("%w: %d bytes after ContentInfo", ErrMalformed, len(rest))
	}
	return ci, nil
}

// marshalContentInfo wraps the DER of a content of the given type.
func marshalContentInfo(contentType asn1.ObjectIdentifier, content []byte) ([]byte, error) {
	return asn1.Marshal(contentInfo{
		ContentType: contentType,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: content},
	})
}

// issuerAndSerialNumber is RFC 5652 §10.2.4.
type issuerAndSerialNumber struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}
