package pgp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
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

// ClearSign signs text with a cleartext signature (RFC 9580 §7), as the
// list answers X-SIGN-THIS: readable as it is, checkable with any
// OpenPGP program.
func ClearSign(signer *Key, text []byte, opt Options) ([]byte, error) {
	cfg := opt.config()
	sk, ok := signer.e.SigningKey(opt.now(), cfg)
	if !ok || sk.PrivateKey == nil || sk.PrivateKey.Dummy() {
		return nil, errors.New("pgp: clearsign: key has no usable signing key")
	}
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, sk.PrivateKey, cfg)
	if err == nil {
		_, err = w.Write(text)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("pgp: clearsign: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}
