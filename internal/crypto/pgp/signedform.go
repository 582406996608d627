package pgp

import (
	"bytes"
	"fmt"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Packets returns the signed message's packets (one-pass signature,
// literal data, signature: RFC 9580 §10.3), to be kept and encrypted
// later with SignedFrom. The slice is the message's own: do not change it.
func (s *Signed) Packets() []byte { return s.packets }

// SignedFrom returns the signed message whose packets Packets returned,
// to be encrypted under opt. The packets are not parsed again: they must
// come from Packets.
func SignedFrom(packets []byte, opt Options) *Signed {
	return &Signed{packets: packets, opt: opt}
}

// EncryptedContentType is the Content-Type field value of the RFC 3156
// §4 multipart/encrypted entity that WriteEncryptedBody writes.
func EncryptedContentType(boundary string) string {
	return `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="` + boundary + `"`
}

// WriteEncryptedBody writes the two body parts of an RFC 3156 §4
// multipart/encrypted entity around armored to b, with CRLF line ends.
func WriteEncryptedBody(b *bytes.Buffer, armored []byte, boundary string) {
	b.WriteString("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pgp-encrypted\r\n")
	b.WriteString("Content-Description: PGP/MIME version identification\r\n\r\n")
	b.WriteString("Version: 1\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n")
	b.WriteString("Content-Description: OpenPGP encrypted message\r\n")
	b.WriteString("Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n")
	writeCanonical(b, armored)
	b.WriteString("\r\n--" + boundary + "--\r\n")
}

// writeCanonical writes text to b with CRLF line ends, as
// mime.Canonicalize returns it, without a copy of its own.
func writeCanonical(b *bytes.Buffer, text []byte) {
	for len(text) > 0 {
		i := bytes.IndexAny(text, "\r\n")
		if i < 0 {
			b.Write(text)
			return
		}
		b.Write(text[:i])
		b.WriteString("\r\n")
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
}

// EncryptToBuffer is EncryptTo into b, grown first to the armored size:
// a large message is then written without the copies a growing buffer
// leaves behind.
func (s *Signed) EncryptToBuffer(b *bytes.Buffer, to *Key, allowV2 bool) error {
	// Base64 (4/3), a line end every 64 characters, packet headers.
	n := len(s.packets) + 1024
	b.Grow(n*4/3 + n/24 + 1024)
	aw, err := armorWriter(b, openpgp.MessageType)
	if err != nil {
		return fmt.Errorf("pgp: armor: %w", err)
	}
	if err := s.encryptTo(aw, to, allowV2); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("pgp: armor: %w", err)
	}
	b.WriteString("\r\n")
	return nil
}
