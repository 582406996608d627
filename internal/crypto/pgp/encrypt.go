package pgp

import (
	"bufio"
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
	return sign(signers, mime.AsCanonical(entity), false, opt)
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
	// The literal data and its packet framing, and the signatures.
	b.Grow(len(data) + len(data)/256 + 4096)
	w, err := openpgp.SignWithParams(&b, entities, &openpgp.SignParams{
		Hints:   &openpgp.FileHints{IsUTF8: text},
		TextSig: text,
		Config:  opt.config(),
	})
	if err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	// In chunks: the library's partial-length writer buffers each write
	// whole, a second copy of a large post.
	if err := writeChunks(w, data); err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	return &Signed{packets: b.Bytes(), opt: opt}, nil
}

// Bytes returns the signed message's packets, to be kept (once per
// post) and turned back into a Signed by LoadSigned.
func (s *Signed) Bytes() []byte { return s.packets }

// LoadSigned returns the Signed whose packets are what Bytes returned.
// The packets are not checked again: they must come from Bytes, kept
// where only Sealpost writes.
func LoadSigned(packets []byte, opt Options) *Signed {
	return &Signed{packets: packets, opt: opt}
}

// EncryptTo encrypts the signed message to one recipient and returns it
// armored, as EncryptToWriter writes it.
func (s *Signed) EncryptTo(to *Key, allowV2 bool) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(s.packets)*4/3 + 1024)
	if err := s.EncryptToWriter(&out, to, allowV2); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// EncryptToWriter encrypts the signed message to one recipient and
// writes it armored to w (with the CRC24 footer, see armorWriter, and a
// final CRLF). SEIPD v2 is used only when allowV2 is set and the
// recipient key advertises it (RFC 9580 §5.13.2); otherwise SEIPD v1
// with MDC, which every OpenPGP implementation in use reads.
//
// The message is encrypted as it is written, in chunks of copyChunk
// bytes: the memory it takes does not depend on the message's size. On
// error part of the message may have been written.
func (s *Signed) EncryptToWriter(w io.Writer, to *Key, allowV2 bool) error {
	bw := bufferedWriter(w)
	if err := s.armoredTo(bw, to, allowV2); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	return nil
}

// armoredTo writes the armored message for to, then a CRLF.
func (s *Signed) armoredTo(w io.Writer, to *Key, allowV2 bool) error {
	return s.armoredToEOL(w, to, allowV2, "\n")
}

// armoredToEOL is armoredTo with eol ending the armor's lines.
func (s *Signed) armoredToEOL(w io.Writer, to *Key, allowV2 bool, eol string) error {
	aw, err := armorWriterEOL(w, openpgp.MessageType, eol)
	if err != nil {
		return fmt.Errorf("pgp: armor: %w", err)
	}
	if err := s.encryptTo(aw, to, allowV2); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("pgp: armor: %w", err)
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return fmt.Errorf("pgp: armor: %w", err)
	}
	return nil
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
		enc, ok := k.encryptionKey(now, cfg)
		if !ok {
			return ErrNoUsableKey
		}
		encKeys = append(encKeys, enc.PublicKey)
		prefs := recipientPrefs(k.e, now)
		useV2 = useV2 && prefs != nil && prefs.SEIPDv2
		if c := chooseCipher(prefs, k.hasPQKey()); c.KeySize() < cipher.KeySize() {
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
	if !useV2 {
		if err := writeSEIPDv1(out, sessionKey, s.packets, s.opt.rand()); err != nil {
			return fmt.Errorf("pgp: encrypt: %w", err)
		}
		return nil
	}
	suite := packet.CipherSuite{Cipher: cipher, Mode: packet.AEADModeOCB}
	pw, err := packet.SerializeSymmetricallyEncrypted(out, cipher, useV2, suite, sessionKey, cfg)
	if err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := writeChunks(pw, s.packets); err != nil {
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
// which RFC 9580 §9.3 makes mandatory to implement. RFC 9980 §9.1: a
// certificate with a post-quantum key (pq) lists AES-256 implicitly,
// every implementation of RFC 9980 having it, and it should be used.
func chooseCipher(prefs *packet.Signature, pq bool) packet.CipherFunction {
	if pq {
		return packet.CipherAES256
	}
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

// Sizes of the streaming writers.
const (
	// copyChunk is how much plaintext goes into the encryption at once.
	// The library's encrypting writer holds what it is given until the
	// next write (its partial-length packet writer) and copies each
	// write whole (cipher.StreamWriter), so one write of the whole
	// message would hold it twice more; chunks bound that. A message up
	// to copyChunk bytes is written in one partial body as before.
	copyChunk = 64 << 10
	// writeBuffer batches the small writes around the armor (its
	// header, the MIME parts' boundaries) with the armor's chunks, for a
	// writer that does not buffer already (bufferedWriter).
	writeBuffer = 16 << 10
)

// bufferedWriter returns w itself when it is a *bufio.Writer (the Maildir
// outbox's file is one: no second buffer per copy), else w behind a new
// one.
func bufferedWriter(w io.Writer) *bufio.Writer {
	if bw, ok := w.(*bufio.Writer); ok {
		return bw
	}
	return bufio.NewWriterSize(w, writeBuffer)
}

// writeChunks writes b to w in writes of at most copyChunk bytes.
func writeChunks(w io.Writer, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), copyChunk)
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// EncryptedContentType is the Content-Type field value of the RFC 3156
// §4 multipart/encrypted entity whose body EncryptedBody or
// EncryptBodyTo makes with boundary.
func EncryptedContentType(boundary string) string {
	return `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="` + boundary + `"`
}

// encryptedPrologue is the RFC 3156 §4 multipart/encrypted body up to
// the armored message: the preamble, the application/pgp-encrypted
// version part and the head of the application/octet-stream part.
func encryptedPrologue(boundary string) string {
	return "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: application/pgp-encrypted\r\n" +
		"Content-Description: PGP/MIME version identification\r\n\r\n" +
		"Version: 1\r\n\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n" +
		"Content-Description: OpenPGP encrypted message\r\n" +
		"Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
}

// encryptedEpilogue closes the multipart/encrypted body.
func encryptedEpilogue(boundary string) string {
	return "\r\n--" + boundary + "--\r\n"
}

// EncryptedBody returns the two body parts of an RFC 3156 §4
// multipart/encrypted entity around armored, and the Content-Type field
// value to put in front of it (EncryptedContentType).
func EncryptedBody(armored []byte, boundary string) (contentType string, body []byte) {
	var b bytes.Buffer
	b.Grow(len(armored) + len(armored)/32 + 512)
	b.WriteString(encryptedPrologue(boundary))
	b.Write(mime.Canonicalize(armored))
	b.WriteString(encryptedEpilogue(boundary))
	return EncryptedContentType(boundary), b.Bytes()
}

// EncryptBodyTo writes to w the body of the RFC 3156 §4
// multipart/encrypted entity holding the signed message encrypted to
// one recipient: what EncryptedBody(EncryptTo(to, allowV2), boundary)
// returns, made as it is written (see EncryptToWriter). The entity's
// Content-Type is EncryptedContentType(boundary).
func (s *Signed) EncryptBodyTo(w io.Writer, to *Key, allowV2 bool, boundary string) error {
	bw := bufferedWriter(w)
	if _, err := bw.WriteString(encryptedPrologue(boundary)); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	// RFC 3156 §4 and RFC 2046 §4.1.1: the armored text in the body,
	// like every MIME text, has CRLF line ends.
	if err := s.armoredToEOL(bw, to, allowV2, "\r\n"); err != nil {
		return err
	}
	if _, err := bw.WriteString(encryptedEpilogue(boundary)); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	return nil
}
