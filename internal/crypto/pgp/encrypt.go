package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/mime"
)

// ErrNoUsableKey is returned by EncryptTo when the recipient's key has no
// currently valid encryption-capable (sub)key.
var ErrNoUsableKey = errors.New("pgp: recipient key has no usable encryption key")

// Signed is one signed OpenPGP message over one MIME entity: one-pass
// signature, literal data and signature packets (RFC 9580 §10.3), not yet
// encrypted. It is made once per post and encrypted to each recipient.
type Signed struct {
	packets []byte
	opt     Options
}

// Sign signs entity, a complete MIME entity, with signer's key. The entity
// is canonicalised to CRLF line endings first (RFC 3156 §5).
func Sign(signer *Key, entity []byte, opt Options) (*Signed, error) {
	return SignBy([]*Key{signer}, entity, opt)
}

// SignBy signs entity with each of signers: one signature each, as a
// list key rotation is announced under the old and the new key.
func SignBy(signers []*Key, entity []byte, opt Options) (*Signed, error) {
	return sign(signers, mime.Canonicalize(entity), false, opt)
}

// SignBinary signs data as it is, for attachments whose bytes must not
// change (RFC 9580 §5.2.1 binary signature).
func SignBinary(signer *Key, data []byte, opt Options) (*Signed, error) {
	return sign([]*Key{signer}, data, false, opt)
}

// SignText signs text, which must be UTF-8, as OpenPGP text, as inline
// PGP carries a message's text: a literal data packet of format 'u' with
// CRLF line ends (RFC 9580 §5.9) under a text signature (RFC 9580
// §5.2.1.2). Readers convert the line ends of text data to their own
// (RFC 9580 §5.9): gpg on Unix decrypts it to LF text, as it gives back
// an LF file it signed, and mutt and NeoMutt show it without a ^M on
// every line.
func SignText(signer *Key, text []byte, opt Options) (*Signed, error) {
	if !utf8.Valid(text) {
		return nil, errors.New("pgp: sign: text is not UTF-8")
	}
	return sign([]*Key{signer}, mime.Canonicalize(text), true, opt)
}

// sign makes the signed message of data: a 'u' literal under text
// signatures when text is set, else a 'b' literal under binary ones.
func sign(signers []*Key, data []byte, text bool, opt Options) (*Signed, error) {
	entities := make([]*openpgp.Entity, 0, len(signers))
	for _, k := range signers {
		if !k.HasSecret() {
			return nil, errors.New("pgp: sign: key has no secret part")
		}
		entities = append(entities, k.e)
	}
	var b bytes.Buffer
	w, err := openpgp.SignWithParams(&b, entities, &openpgp.SignParams{
		Hints:   &openpgp.FileHints{IsUTF8: text},
		TextSig: text,
		Config:  opt.config(),
	})
	if err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	return &Signed{packets: b.Bytes(), opt: opt}, nil
}

// EncryptTo encrypts the signed message to one recipient and returns it
// armored. SEIPD v2 is used only when allowV2 is set and the recipient key
// advertises it (RFC 9580 §5.13.2); otherwise SEIPD v1 with MDC, which
// every OpenPGP implementation in use reads.
func (s *Signed) EncryptTo(to *Key, allowV2 bool) ([]byte, error) {
	var out bytes.Buffer
	aw, err := armorWriter(&out, openpgp.MessageType)
	if err != nil {
		return nil, fmt.Errorf("pgp: armor: %w", err)
	}
	if err := s.encryptTo(aw, to, allowV2); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("pgp: armor: %w", err)
	}
	out.WriteString("\r\n")
	return out.Bytes(), nil
}

// EncryptBinaryTo is EncryptTo without the armor: the binary OpenPGP
// message, as *.pgp attachments carry it.
func (s *Signed) EncryptBinaryTo(to *Key, allowV2 bool) ([]byte, error) {
	var out bytes.Buffer
	if err := s.encryptTo(&out, to, allowV2); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// encryptTo writes the encrypted message's packets to out.
func (s *Signed) encryptTo(out io.Writer, to *Key, allowV2 bool) error {
	return s.encryptToAll(out, []*Key{to}, allowV2)
}

// EncryptToAll encrypts the signed message once, readable by each of to
// (one session key, one PKESK per recipient), armored: one message for
// several people (X-RESEND-CC). It uses SEIPD v1 and the strongest AES
// every recipient lists.
func (s *Signed) EncryptToAll(to []*Key) ([]byte, error) {
	var out bytes.Buffer
	aw, err := armorWriter(&out, openpgp.MessageType)
	if err != nil {
		return nil, fmt.Errorf("pgp: armor: %w", err)
	}
	if err := s.encryptToAll(aw, to, false); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("pgp: armor: %w", err)
	}
	out.WriteString("\r\n")
	return out.Bytes(), nil
}

func (s *Signed) encryptToAll(out io.Writer, to []*Key, allowV2 bool) error {
	if len(to) == 0 {
		return ErrNoUsableKey
	}
	cfg := s.opt.config()
	now := s.opt.now()
	useV2 := allowV2 && len(to) == 1
	cipher := packet.CipherAES256
	var encKeys []*packet.PublicKey
	for _, k := range to {
		enc, ok := k.e.EncryptionKey(now, cfg)
		if !ok {
			return ErrNoUsableKey
		}
		encKeys = append(encKeys, enc.PublicKey)
		prefs := recipientPrefs(k.e, now)
		useV2 = useV2 && prefs != nil && prefs.SEIPDv2
		if c := chooseCipher(prefs); c.KeySize() < cipher.KeySize() {
			cipher = c
		}
	}
	sessionKey := make([]byte, cipher.KeySize())
	if _, err := io.ReadFull(s.opt.rand(), sessionKey); err != nil {
		return fmt.Errorf("pgp: session key: %w", err)
	}
	for _, pub := range encKeys {
		if err := packet.SerializeEncryptedKeyAEAD(out, pub, cipher, useV2, sessionKey, cfg); err != nil {
			return fmt.Errorf("pgp: encrypt session key: %w", err)
		}
	}
	suite := packet.CipherSuite{Cipher: cipher, Mode: packet.AEADModeOCB}
	pw, err := packet.SerializeSymmetricallyEncrypted(out, cipher, useV2, suite, sessionKey, cfg)
	if err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	if _, err := pw.Write(s.packets); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	return nil
}

func recipientPrefs(e *openpgp.Entity, now time.Time) *packet.Signature {
	sig, err := e.PrimarySelfSignature(now, keyConfig())
	if err != nil {
		return nil
	}
	return sig
}

// chooseCipher picks the strongest AES the recipient lists, else AES-128,
// which RFC 9580 §9.3 makes mandatory to implement.
func chooseCipher(prefs *packet.Signature) packet.CipherFunction {
	if prefs == nil {
		return packet.CipherAES128
	}
	for _, want := range []packet.CipherFunction{packet.CipherAES256, packet.CipherAES192} {
		for _, p := range prefs.PreferredSymmetric {
			if packet.CipherFunction(p) == want {
				return want
			}
		}
	}
	return packet.CipherAES128
}

// EncryptedBody returns the two body parts of an RFC 3156 §4
// multipart/encrypted entity around armored, and the Content-Type field
// value to put in front of it.
func EncryptedBody(armored []byte, boundary string) (contentType string, body []byte) {
	var b bytes.Buffer
	b.Grow(len(armored) + len(armored)/32 + 512)
	WriteEncryptedBody(&b, armored, boundary)
	return EncryptedContentType(boundary), b.Bytes()
}
