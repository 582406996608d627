package pgp

import (
	"bytes"
	"errors"
	"fmt"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/mime"
)

// MICAlg is the micalg parameter of the multipart/signed entities
// DetachSign signs for (RFC 3156 §5): the hash Options.config uses.
const MICAlg = "pgp-sha512"

// DetachSign makes an ASCII-armored detached signature over entity, a
// complete MIME entity, canonicalised to CRLF line endings first: the
// second part of a PGP/MIME multipart/signed message (RFC 3156 §5).
func DetachSign(signer *Key, entity []byte, opt Options) ([]byte, error) {
	if !signer.HasSecret() {
		return nil, errors.New("pgp: sign: key has no secret part")
	}
	var b bytes.Buffer
	err := openpgp.ArmoredDetachSign(&b, []*openpgp.Entity{signer.e}, bytes.NewReader(mime.Canonicalize(entity)),
		&openpgp.SignParams{Config: opt.config()})
	if err != nil {
		return nil, fmt.Errorf("pgp: detached signature: %w", err)
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
