package smime

// Streaming S/MIME encryption of one entity to one recipient: the
// application/pkcs7-mime body written as it is made, in memory that does
// not grow with the entity for the CBC ciphers.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
)

// sealChunk is how much canonical content is encrypted at once.
const sealChunk = 64 << 10

// EncryptedEntityType returns the Content-Type field value of the
// application/pkcs7-mime part that EncryptEntityTo writes with opt (RFC
// 8551 §3.3; smime-type authEnveloped-data for GCM, RFC 8551 §3.2.2).
func EncryptedEntityType(opt EncryptOptions) string {
	smimeType := "authEnveloped-data"
	if opt.Cipher == AES256CBC || opt.Cipher == AES128CBC {
		smimeType = "enveloped-data"
	}
	return `application/pkcs7-mime; smime-type=` + smimeType + `; name="smime.p7m"`
}

// EncryptEntityTo encrypts entity for one recipient and writes the
// base64 body of the application/pkcs7-mime part (CRLF lines of 76
// characters, RFC 2045 §6.8) to w: the DER ContentInfo of Encrypt over
// the CRLF-canonical entity, the same bytes for the same randomness.
//
// DER needs every length in front of the content it counts; the
// ciphertext's length follows from the canonical entity's (RFC 5652
// §6.3 padding for CBC, a 16-byte tag for GCM), so the lengths are
// written first and the CBC ciphers encrypt as they write, sealChunk
// bytes at a time. AES-GCM cannot: Go's AEAD seals a whole plaintext
// at once, so for the GCM ciphers the canonical entity and its
// ciphertext are held in one buffer of the entity's size (still no
// DER or base64 copy). On error part of the body may have been written.
func EncryptEntityTo(w io.Writer, entity []byte, to *x509.Certificate, opt EncryptOptions) error {
	n := canonicalLen(entity)
	if n > envMaxCiphertext-aes.BlockSize {
		return fmt.Errorf("smime: encrypt: content exceeds %d bytes", envMaxCiphertext-aes.BlockSize)
	}
	alg, err := envContentAlgFor(opt.Cipher)
	if err != nil {
		return err
	}
	rnd := msgRand(opt.Rand)
	cek := make([]byte, alg.keyLen)
	defer clear(cek)
	if _, err := io.ReadFull(rnd, cek); err != nil {
		return fmt.Errorf("smime: encrypt: content key: %w", err)
	}
	ris, version, err := envRecipientInfos(rnd, []*x509.Certificate{to}, cek, opt.KeyTransport)
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return fmt.Errorf("smime: encrypt: %w", err)
	}
	out := newBase64Lines(w)
	enc := base64.NewEncoder(base64.StdEncoding, out)
	if alg.gcm {
		err = streamGCM(enc, rnd, alg, block, ris, entity, n)
	} else {
		err = streamCBC(enc, rnd, alg, block, ris, version, entity, n)
	}
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		return fmt.Errorf("smime: encrypt: %w", err)
	}
	return nil
}

// streamCBC writes the EnvelopedData ContentInfo (RFC 5652 §6.1) of the
// canonical entity, n bytes, encrypting it a chunk at a time.
func streamCBC(w io.Writer, rnd io.Reader, alg envContentAlg, block cipher.Block, ris asn1.RawValue, version int, entity []byte, n int) error {
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return err
	}
	// RFC 3565 §2.1: the IV is the parameters.
	params, err := asn1.Marshal(iv)
	if err != nil {
		return err
	}
	// RFC 5652 §6.3: 1 to 16 bytes of padding, each the padding's length.
	pad := aes.BlockSize - n%aes.BlockSize
	// version: RFC 5652 §6.1, as envRecipientInfos says.
	head, err := envHead(oidEnvelopedData, version, ris, alg, params, n+pad, 0)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	mode := cipher.NewCBCEncrypter(block, iv)
	buf := make([]byte, sealChunk+aes.BlockSize)
	src := canonReader{b: entity}
	fill := 0
	for {
		fill += src.fill(buf[fill:sealChunk])
		if src.done() {
			break
		}
		k := fill - fill%aes.BlockSize
		mode.CryptBlocks(buf[:k], buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		fill = copy(buf, buf[k:fill])
	}
	for i := range pad {
		buf[fill+i] = byte(pad)
	}
	fill += pad
	mode.CryptBlocks(buf[:fill], buf[:fill])
	_, err = w.Write(buf[:fill])
	return err
}

// streamGCM writes the AuthEnvelopedData ContentInfo (RFC 5083 §2.1) of
// the canonical entity, n bytes, sealed in one buffer: RFC 5084 §3.2, a
// 12-byte nonce and a 16-byte tag, written explicitly as aes-ICVlen 16.
func streamGCM(w io.Writer, rnd io.Reader, alg envContentAlg, block cipher.Block, ris asn1.RawValue, entity []byte, n int) error {
	const tagLen = 16
	gcm, err := cipher.NewGCMWithTagSize(block, tagLen)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return err
	}
	params, err := asn1.Marshal(envGCMParams{Nonce: nonce, ICVLen: tagLen})
	if err != nil {
		return err
	}
	buf := make([]byte, n, n+tagLen)
	src := canonReader{b: entity}
	src.fill(buf)
	sealed := gcm.Seal(buf[:0], nonce, buf, nil)
	mac, err := asn1.Marshal(sealed[n:])
	if err != nil {
		return err
	}
	// RFC 5083 §2.1: version is always 0.
	head, err := envHead(oidAuthEnvelopedData, 0, ris, alg, params, n, len(mac))
	if err != nil {
		return err
	}
	for _, b := range [][]byte{head, sealed[:n], mac} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// envHead is the DER of a ContentInfo of contentType holding an
// EnvelopedData or AuthEnvelopedData up to its encrypted content, which
// is ctLen bytes and followed by tail bytes (the AuthEnvelopedData's
// mac): what asn1.Marshal writes for envelopedData and
// envAuthEnvelopedData, with the content left out.
func envHead(contentType asn1.ObjectIdentifier, version int, ris asn1.RawValue, alg envContentAlg, params []byte, ctLen, tail int) ([]byte, error) {
	ver, err := asn1.Marshal(version)
	if err != nil {
		return nil, err
	}
	risDER, err := asn1.Marshal(ris)
	if err != nil {
		return nil, err
	}
	data, err := asn1.Marshal(oidData)
	if err != nil {
		return nil, err
	}
	algID, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: alg.oid, Parameters: asn1.RawValue{FullBytes: params}})
	if err != nil {
		return nil, err
	}
	ct, err := asn1.Marshal(contentType)
	if err != nil {
		return nil, err
	}
	// RFC 5652 §6.1: encryptedContent [0] IMPLICIT OCTET STRING, primitive.
	ecHead := derHead(0x80, ctLen)
	eciLen := len(data) + len(algID) + len(ecHead) + ctLen
	eciHead := derHead(0x30, eciLen)
	envLen := len(ver) + len(risDER) + len(eciHead) + eciLen + tail
	envHead := derHead(0x30, envLen)
	// RFC 5652 §3: content [0] EXPLICIT.
	explicit := derHead(0xa0, len(envHead)+envLen)
	ciHead := derHead(0x30, len(ct)+len(explicit)+len(envHead)+envLen)
	return bytes.Join([][]byte{ciHead, ct, explicit, envHead, ver, risDER, eciHead, data, algID, ecHead}, nil), nil
}

// derHead is the identifier octet tag and the definite length n in its
// shortest form (X.690 §8.1.3, §10.1).
func derHead(tag byte, n int) []byte {
	if n < 0x80 {
		return []byte{tag, byte(n)}
	}
	var l []byte
	for v := n; v > 0; v >>= 8 {
		l = append([]byte{byte(v)}, l...)
	}
	return append([]byte{tag, 0x80 | byte(len(l))}, l...)
}

// canonicalLen is the length of mime.Canonicalize(b): every lone CR or
// LF becomes CRLF.
func canonicalLen(b []byte) int {
	n := len(b)
	for i := lineBreak(b); i >= 0; i = lineBreak(b) {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		} else {
			n++
		}
		b = b[i+1:]
	}
	return n
}

// lineBreak is the index of the first CR or LF in b, or -1.
func lineBreak(b []byte) int {
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		j = len(b)
	}
	if k := bytes.IndexByte(b[:j], '\r'); k >= 0 {
		return k
	}
	if j == len(b) {
		return -1
	}
	return j
}

// canonReader hands out mime.Canonicalize(b) in pieces without making
// it whole.
type canonReader struct {
	b   []byte
	pos int
}

func (c *canonReader) done() bool { return c.pos == len(c.b) }

// fill copies the next canonical bytes into dst, as many as fit
// (a CRLF whole or not at all), and returns how many.
func (c *canonReader) fill(dst []byte) int {
	n := 0
	for c.pos < len(c.b) && n < len(dst) {
		rest := c.b[c.pos:]
		run := rest[:min(len(rest), len(dst)-n)]
		i := lineBreak(run)
		if i < 0 {
			n += copy(dst[n:], run)
			c.pos += len(run)
			continue
		}
		n += copy(dst[n:], run[:i])
		c.pos += i
		if len(dst)-n < 2 {
			break
		}
		dst[n], dst[n+1] = '\r', '\n'
		n += 2
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			c.pos++
		}
		c.pos++
	}
	return n
}

// base64Lines breaks base64 text into CRLF lines of 76 characters (RFC
// 2045 §6.8), the last one ended too, batching its writes to w.
type base64Lines struct {
	w   io.Writer
	buf []byte
	col int
}

const base64LineLength = 76

func newBase64Lines(w io.Writer) *base64Lines {
	return &base64Lines{w: w, buf: make([]byte, 0, 8<<10)}
}

func (l *base64Lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(base64LineLength-l.col, len(p))
		l.buf = append(l.buf, p[:k]...)
		p = p[k:]
		if l.col += k; l.col == base64LineLength {
			l.buf = append(l.buf, '\r', '\n')
			l.col = 0
		}
		if cap(l.buf)-len(l.buf) < base64LineLength+2 {
			if err := l.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Close ends the last line and writes what is buffered.
func (l *base64Lines) Close() error {
	if l.col > 0 {
		l.buf = append(l.buf, '\r', '\n')
		l.col = 0
	}
	return l.flush()
}

func (l *base64Lines) flush() error {
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}
