package pgp

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/internal/mime"
)

// Unsigned is entity as Sign makes it, without a signature: a literal
// data packet alone (RFC 9580 §5.9), to be encrypted like a signed
// message. It is for mail that Sealpost sends in no list's name, which
// has no key to sign with (a password reset for an account that has no
// role on any list). The entity is canonicalised to CRLF line endings.
func Unsigned(entity []byte, opt Options) (*Signed, error) {
	var b bytes.Buffer
	w, err := packet.SerializeLiteral(nopCloser{&b}, true, "", uint32(opt.now().Unix()))
	if err != nil {
		return nil, fmt.Errorf("pgp: literal data: %w", err)
	}
	if err := writeChunks(w, mime.AsCanonical(entity)); err != nil {
		return nil, fmt.Errorf("pgp: literal data: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pgp: literal data: %w", err)
	}
	return &Signed{packets: b.Bytes(), opt: opt}, nil
}

// nopCloser is a writer whose Close does nothing.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
