package smime

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	"strings"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// The S/MIME message layer (RFC 8551 §3): application/pkcs7-mime for
// enveloped and opaque-signed data, multipart/signed with
// application/pkcs7-signature for detached signatures.

// Errors of Unwrap beside the engine's.
var (
	// ErrNotEncrypted: not an S/MIME enveloped message at the top level.
	ErrNotEncrypted = errors.New("smime: message is not S/MIME encrypted")
	// ErrTooLarge: the decrypted content exceeds Options.MaxPlaintext.
	ErrTooLarge = errors.New("smime: decrypted content exceeds the size limit")
)

// Options carry the environment of Unwrap and the wrapping functions.
type Options struct {
	Now  func() time.Time // default time.Now
	Rand io.Reader        // default crypto/rand
	// MaxPlaintext bounds the decrypted content; default 32 MiB.
	MaxPlaintext int64
	// Certificates are certificates the caller already knows (a list's
	// members'), among which a signer is looked up after the message's
	// own: RFC 5652 §5.1 lets a signer leave its certificate out
	// (openssl cms -nocerts).
	Certificates []*x509.Certificate
}

// msgRand returns r, or crypto/rand when r is nil.
func msgRand(r io.Reader) io.Reader {
	if r != nil {
		return r
	}
	return rand.Reader
}

func (o Options) maxPlaintext() int64 {
	if o.MaxPlaintext > 0 {
		return o.MaxPlaintext
	}
	return 32 << 20
}

// Unwrapped is what Unwrap learned from a message that decrypted.
type Unwrapped struct {
	Protection spcrypto.Protection
	// Verified is the cryptographic signature result when a signature
	// inside the encryption verified; nil otherwise. Trust in the signer
	// certificate is not decided here (see CheckCertificate).
	Verified *Verified
	// SignatureError says why a signature that was present did not
	// verify; nil when unsigned or verified.
	SignatureError error
	// Content is the signed content when a signature verified, else the
	// whole decrypted entity.
	Content []byte
}

// Signed reports whether the content carried a signature of any kind.
func (u *Unwrapped) Signed() bool { return u.Verified != nil || u.SignatureError != nil }

// Unwrap decrypts an S/MIME enveloped message (RFC 8551 §3.3) with id
// and verifies a signature inside it, detached (§3.5.3) or opaque
// (§3.5.2), to id's certificate or to its ML-KEM one (id.KEM). Errors: ErrNotEncrypted (also for signed-data, which is
// signed and not encrypted), ErrNoRecipient, ErrIntegrity, ErrMalformed,
// ErrWeak, ErrUnsupported; a missing or bad signature is not an error but
// shows in the result.
func Unwrap(msg *mime.Part, id *Identity, opt Options) (*Unwrapped, error) {
	if !isPKCS7MIME(msg) {
		return nil, ErrNotEncrypted
	}
	der, err := msg.Decoded(opt.maxPlaintext() * 2)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if signedDataType(msg, der) {
		return nil, fmt.Errorf("%w: signed-data", ErrNotEncrypted)
	}
	var plain []byte
	var info DecryptInfo
	err = ErrNoRecipient // an identity may hold an ML-KEM certificate alone (a retired one)
	if id.Cert != nil {
		plain, info, err = Decrypt(der, id.Cert, id.Key)
	}
	if errors.Is(err, ErrNoRecipient) && id.KEM != nil {
		// Not to the RSA/EC certificate: to the ML-KEM one, if any
		// RecipientInfo names it (Decrypt matches by rid).
		plain, info, err = Decrypt(der, id.KEM.Cert, id.KEM.Key)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(plain)) > opt.maxPlaintext() {
		return nil, ErrTooLarge
	}
	u := &Unwrapped{Content: plain, Protection: spcrypto.Protection{Encrypted: true, Cipher: info.Cipher}}
	if info.Authenticated {
		u.Protection.Integrity = "aead"
	}
	u.verifyInner(plain, opt)
	return u, nil
}

// VerifySigned checks a message that is not encrypted: one signed as a
// whole, in multipart/signed (RFC 8551 §3.5.3) or opaque signed-data
// (§3.5.2) form, the signer looked up among opt.Certificates too.
// Content is the signed content when the signature verified, else the
// whole message; Protection is zero. Trust in the signer's certificate
// is not decided here.
func VerifySigned(msg *mime.Part, opt Options) *Unwrapped {
	u := &Unwrapped{Content: msg.Raw}
	u.verifyInner(msg.Raw, opt)
	u.Protection = spcrypto.Protection{}
	return u
}

// verifyInner checks a signature that is the decrypted entity itself.
func (u *Unwrapped) verifyInner(plain []byte, opt Options) {
	inner, err := mime.Parse(plain, mime.Limits{MaxSize: opt.maxPlaintext()})
	if err != nil {
		return
	}
	switch {
	case inner.MediaType == "multipart/signed" && isPKCS7Signature(inner.Params["protocol"]):
		// RFC 8551 §3.5.3: two parts, the second the signature.
		if len(inner.Children) != 2 || !isPKCS7Signature(inner.Children[1].MediaType) {
			u.SignatureError = fmt.Errorf("%w: multipart/signed is not in the RFC 8551 shape", ErrMalformed)
			return
		}
		sig, err := inner.Children[1].Decoded(int64(len(inner.Children[1].Body)) + 1)
		if err != nil {
			u.SignatureError = fmt.Errorf("%w: signature part: %v", ErrMalformed, err)
			return
		}
		signed := inner.Children[0].Raw
		v, err := verifyDetached(sig, signed, opt.Certificates)
		u.record(v, err, signed)
	case isPKCS7MIME(inner) && (signedDataParam(inner) || inner.Params["smime-type"] == ""):
		body, err := inner.Decoded(opt.maxPlaintext() * 2)
		if err != nil {
			if signedDataParam(inner) {
				u.SignatureError = fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			return
		}
		if !signedDataType(inner, body) {
			return // enveloped again: not a signature
		}
		v, err := Verify(body, nil, opt.Certificates)
		if err == nil {
			u.record(v, nil, v.Content)
			return
		}
		u.SignatureError = err
	}
}

// verifyDetached checks the signature sig over signed, the first part of
// a multipart/signed as received, in its canonical form (RFC 8551
// §3.1.1), trying each of the forms signedForms gives.
func verifyDetached(sig, signed []byte, known []*x509.Certificate) (*Verified, error) {
	var err error
	for _, form := range signedForms(signed) {
		var v *Verified
		if v, err = Verify(sig, form, known); !errors.Is(err, ErrBadSignature) {
			return v, err
		}
	}
	return nil, err
}

func (u *Unwrapped) record(v *Verified, err error, content []byte) {
	if err != nil {
		u.SignatureError = err
		return
	}
	u.Verified, u.Content = v, content
	if u.Protection.Integrity == "" {
		// EnvelopedData (CBC) has no integrity of its own; a signature
		// inside that verifies over the content authenticates it.
		u.Protection.Integrity = "signature"
	}
}

func isPKCS7MIME(p *mime.Part) bool {
	return p.MediaType == "application/pkcs7-mime" || p.MediaType == "application/x-pkcs7-mime"
}

func isPKCS7Signature(t string) bool {
	t = strings.ToLower(t)
	return t == "application/pkcs7-signature" || t == "application/x-pkcs7-signature"
}

// SignedOnly reports whether msg is an application/pkcs7-mime entity
// holding signed data (RFC 8551 §3.5.2), which is signed and not
// encrypted: VerifySigned reads it, Unwrap refuses it as ErrNotEncrypted.
func SignedOnly(msg *mime.Part) bool {
	if !isPKCS7MIME(msg) {
		return false
	}
	if signedDataParam(msg) {
		return true
	}
	// Looking into the body costs a decoding: only when the type does
	// not say.
	if _, ok := msg.Params["smime-type"]; ok {
		return false
	}
	der, err := msg.Decoded(sigMaxInput)
	return err == nil && signedDataType(msg, der)
}

// signedDataType reports whether an application/pkcs7-mime part whose
// decoded body is der holds signed data, which is not encryption: RFC
// 8551 §3.2.2 smime-type says so. QUIRK(no-smime-type): the parameter is
// optional (RFC 8551 §3.2.2) and some clients leave it out, so without
// it the ContentInfo's content type decides.
func signedDataType(p *mime.Part, der []byte) bool {
	if t, ok := p.Params["smime-type"]; ok {
		return strings.EqualFold(t, "signed-data")
	}
	ct, ok := outerContentType(der)
	return ok && ct.Equal(oidSignedData)
}

// outerContentType reads the content type of the ContentInfo (RFC 5652
// §3) at the start of ber without decoding the rest.
func outerContentType(ber []byte) (asn1.ObjectIdentifier, bool) {
	tag, constructed, n, err := readTag(ber)
	if err != nil || tag != asn1.TagSequence || !constructed {
		return nil, false
	}
	_, m, _, err := readLength(ber[n:])
	if err != nil {
		return nil, false
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ber[n+m:], &oid); err != nil {
		return nil, false
	}
	return oid, true
}

// signedDataParam reports whether the smime-type parameter says
// signed-data.
func signedDataParam(p *mime.Part) bool {
	return strings.EqualFold(p.Params["smime-type"], "signed-data")
}

// SignEntity makes the multipart/signed entity (RFC 8551 §3.5.3) for
// entity, a complete MIME entity, signed by id. It is made once per post
// and then encrypted for each recipient.
func SignEntity(entity []byte, id *Identity, opt Options) ([]byte, error) {
	canon := mime.Canonicalize(entity)
	sig, err := Sign(canon, id.Cert, id.Key, SignOptions{Detached: true, Extra: id.Chain, Now: opt.Now, Rand: opt.Rand})
	if err != nil {
		return nil, err
	}
	boundary, err := mime.NewBoundary(msgRand(opt.Rand))
	if err != nil {
		return nil, err
	}
	// RFC 8551 §3.5.3.2: micalg names the digest.
	micalg := micalgOf(id.Key)
	var b bytes.Buffer
	b.WriteString("Content-Type: " + stdmime.FormatMediaType("multipart/signed", map[string]string{
		"protocol": "application/pkcs7-signature", "micalg": micalg, "boundary": boundary}) + "\r\n\r\n")
	b.WriteString("This is a cryptographically signed message in MIME format.\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	b.Write(canon)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n")
	writeBase64(&b, sig)
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// SignOpaqueEntity makes an application/pkcs7-mime signed-data entity
// (RFC 8551 §3.5.2) carrying entity inside the signature: for clients
// that lose multipart/signed structure on the way, at the cost of being
// unreadable without S/MIME support.
func SignOpaqueEntity(entity []byte, id *Identity, opt Options) ([]byte, error) {
	der, err := Sign(mime.Canonicalize(entity), id.Cert, id.Key, SignOptions{Extra: id.Chain, Now: opt.Now, Rand: opt.Rand})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n")
	writeBase64(&b, der)
	return b.Bytes(), nil
}

// EncryptEntity encrypts entity for one recipient and returns the
// Content-Type value and base64 body of the application/pkcs7-mime part
// (RFC 8551 §3.3; smime-type authEnveloped-data for GCM, RFC 8551 §3.2.2):
// EncryptedEntityType and what EncryptEntityTo writes.
func EncryptEntity(entity []byte, to *x509.Certificate, opt EncryptOptions) (contentType string, body []byte, err error) {
	var b bytes.Buffer
	if n := canonicalLen(entity); n <= envMaxCiphertext {
		b.Grow(n*4/3 + n/38 + 4096)
	}
	if err := EncryptEntityTo(&b, entity, to, opt); err != nil {
		return "", nil, err
	}
	return EncryptedEntityType(opt), b.Bytes(), nil
}

// writeBase64 writes data base64-encoded in CRLF lines of 76 characters
// (RFC 2045 §6.8).
func writeBase64(b *bytes.Buffer, data []byte) {
	out := newBase64Lines(b)
	enc := base64.NewEncoder(base64.StdEncoding, out)
	enc.Write(data) // a bytes.Buffer does not fail
	enc.Close()
	out.Close()
}
