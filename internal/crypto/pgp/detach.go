package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
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
	sig, err := detachSign(signer, mime.Canonicalize(entity), false, opt)
	if err != nil {
		return nil, fmt.Errorf("pgp: detached signature: %w", err)
	}
	armored, err := armorBlock(openpgp.SignatureType, sig)
	if err != nil {
		return nil, fmt.Errorf("pgp: detached signature: %w", err)
	}
	return armored, nil
}

// detachSign returns the binary signature packet over data by signer: a
// text signature (RFC 9580 §5.2.1.2) when text is set, else binary.
func detachSign(signer *Key, data []byte, text bool, opt Options) ([]byte, error) {
	if !signer.HasSecret() {
		return nil, errors.New("key has no secret part")
	}
	var b bytes.Buffer
	err := openpgp.DetachSignWithParams(&b, []*openpgp.Entity{signer.e}, bytes.NewReader(data),
		&openpgp.SignParams{TextSig: text, Config: opt.config()})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ClearSign signs text with a cleartext signature (RFC 9580 §7), as the
// list answers X-SIGN-THIS: readable as it is, checkable with any
// OpenPGP program. Line ends become LF and trailing spaces and tabs are
// dropped, in what is shown and in what is signed alike.
func ClearSign(signer *Key, text []byte, opt Options) ([]byte, error) {
	lines := strings.Split(string(mime.Canonicalize(text)), "\r\n")
	for i, ln := range lines {
		// RFC 9580 §7.2: trailing whitespace is removed when the
		// cleartext signature is generated.
		lines[i] = strings.TrimRight(ln, " \t")
	}
	// RFC 9580 §7.2: the signature covers the lines with CRLF line ends,
	// not the line end before the signature block; it is a text
	// signature (§7).
	sig, err := detachSign(signer, []byte(strings.Join(lines, "\r\n")), true, opt)
	if err != nil {
		return nil, fmt.Errorf("pgp: clearsign: %w", err)
	}
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		return nil, fmt.Errorf("pgp: clearsign: reading back the signature: %w", err)
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return nil, errors.New("pgp: clearsign: the signature is not a signature packet")
	}
	var b bytes.Buffer
	// RFC 9580 §7.1: a Hash header must name the signature's digest
	// algorithm; readers of RFC 4880 §7 take MD5 when there is none.
	b.WriteString(signedBegin + "\nHash: " + hashName(s.Hash) + "\n\n")
	for _, ln := range lines {
		// RFC 9580 §7.2: a line starting with a dash is prefixed by "- ".
		if strings.HasPrefix(ln, "-") {
			b.WriteString("- ")
		}
		b.WriteString(ln + "\n")
	}
	armored, err := armorBlock(openpgp.SignatureType, sig)
	if err != nil {
		return nil, fmt.Errorf("pgp: clearsign: %w", err)
	}
	b.Write(armored)
	return b.Bytes(), nil
}
