package pgp

// Cleartext-signed text (RFC 9580 §7, RFC 4880 §7): what Thunderbird's
// Enigmail wrote for "signed inline" and what RT sends as its clear-signed
// mail. The signed text counts as signed by its signer wherever it is the
// whole of a text/plain body: inside PGP/MIME encryption, inside an inline
// PGP ciphertext, or as an unencrypted post on a list that takes those.
// Text beside the signed block was not signed and is never distributed as
// if it were: such a message is refused, as inline PGP refuses clear text
// beside ciphertext.

import (
	"bytes"
	"crypto"
	"io"
	stdmime "mime"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// VerifySigned checks a message that is not encrypted, for lists that
// take such posts: a PGP/MIME multipart/signed message (RFC 3156 §5) is
// verified with signers and its Content is the signed part; a text/plain
// message whose body is one cleartext-signed text (RFC 9580 §7) is
// verified and its Content is that text as a text/plain entity; any other
// message is StatusUnsigned and its Content is the whole message.
// Protection is zero: nothing was encrypted.
func VerifySigned(msg *mime.Part, signers []*Key, opt Options) *Unwrapped {
	u := &Unwrapped{}
	keyring := make(openpgp.EntityList, 0, len(signers))
	for _, k := range signers {
		keyring = append(keyring, k.e)
	}
	u.verifyInner(msg.Raw, keyring, opt)
	return u
}

// maxClearSignature bounds the signature block of a cleartext-signed text.
const maxClearSignature = 1 << 20

// verifyClearText sets u from text, the decoded body of a text/plain
// entity whose charset is charset, when the text holds a cleartext-signed
// message, and reports whether it did. u.Content is then the signed text
// alone as a text/plain entity (RFC 9580 §7.2: dash-escaping undone,
// trailing whitespace, which is not signed, removed), or, when clearSigned
// gave none (StatusBad), the whole text, which is never distributed as
// signed: the pipeline can still read it, and refuse it for its status.
func (u *Unwrapped) verifyClearText(text []byte, charset string, keyring openpgp.EntityList, opt Options) bool {
	signed, r := clearSigned(text, keyring, opt)
	if r == nil {
		return false
	}
	u.Status, u.Reason, u.Signer = r.Status, r.Reason, r.Signer
	u.SignatureDigest, u.SignatureTime = r.SignatureDigest, r.SignatureTime
	u.IntendedRecipients, u.IssuerKeyID = r.IntendedRecipients, r.IssuerKeyID
	if signed == nil {
		signed = text
	}
	var b bytes.Buffer
	writeTextEntity(&b, charset, signed)
	u.Content = b.Bytes()
	return true
}

// clearSigned verifies text when it holds a cleartext-signed message (RFC
// 9580 §7): a line "-----BEGIN PGP SIGNED MESSAGE-----". It returns no
// result for other text. When the text is, apart from surrounding
// whitespace, exactly one such message, it returns the signed text
// (dash-escaping undone, lines ending in CRLF, RFC 9580 §7.1) with the
// result; when anything else is beside it (text before or after, a second
// signed message), or it is malformed, it returns a StatusBad result and
// no text: unsigned text must not pass as signed.
func clearSigned(text []byte, keyring openpgp.EntityList, opt Options) ([]byte, *Unwrapped) {
	t := trimWS(text)
	begin := bytes.HasPrefix(t, []byte(signedBegin))
	if !begin && !bytes.Contains(t, []byte("\n"+signedBegin)) {
		return nil, nil
	}
	r := &Unwrapped{Status: spcrypto.StatusBad}
	if !begin {
		r.Reason = "text before the cleartext-signed message"
		return nil, r
	}
	b, rest := clearsign.Decode(t)
	switch {
	case b == nil:
		r.Reason = "cleartext signature is malformed"
		return nil, r
	case len(trimWS(rest)) != 0:
		r.Reason = "text after the cleartext-signed message"
		return nil, r
	}
	sigBin, err := io.ReadAll(io.LimitReader(b.ArmoredSignature.Body, maxClearSignature+1))
	if err != nil || len(sigBin) > maxClearSignature {
		r.Reason = "cleartext signature cannot be read"
		return nil, r
	}
	sig, signer, verr := openpgp.VerifyDetachedSignature(keyring,
		bytes.NewReader(b.Bytes), bytes.NewReader(sigBin), opt.config())
	r = signatureResult(sig, keyOf(signer), verr, opt)
	if r.Status == spcrypto.StatusUnknownSigner {
		r.IssuerKeyID = issuerOf(sigBin)
	}
	// RFC 9580 §7.1: a Hash header that does not name the signature's
	// digest algorithm makes the message misleading; it is not accepted.
	if sig != nil && !hashHeaderMatches(b.Headers.Values("Hash"), sig.Hash) {
		r.Status, r.Reason, r.Signer = spcrypto.StatusBad, "cleartext Hash header does not match the signature", nil
	}
	// RFC 9580 §7.2: the line break after the last line is not signed.
	return append(b.Bytes, "\r\n"...), r
}

// issuerOf returns the issuer key ID the first signature packet in sigBin
// names, "" when it names none.
func issuerOf(sigBin []byte) string {
	p, err := packet.Read(bytes.NewReader(sigBin))
	if err != nil {
		return ""
	}
	if s, ok := p.(*packet.Signature); ok && s.IssuerKeyId != nil {
		return keyIDString(*s.IssuerKeyId)
	}
	return ""
}

// hashHeaderMatches reports whether the cleartext Hash header values
// (none: no claim) name h.
func hashHeaderMatches(names []string, h crypto.Hash) bool {
	if len(names) == 0 {
		return true
	}
	want := hashName(h)
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, want) })
}

// hashName is the RFC 9580 §9.5 text name of h, as in a Hash header.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA1"
	case crypto.RIPEMD160:
		return "RIPEMD160"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return strings.ReplaceAll(h.String(), "-", "") // SHA-256 → SHA256
}

// writeTextEntity writes text as a text/plain entity in charset (utf-8
// when charset is not a plain token), 8bit, with CRLF line endings.
func writeTextEntity(b *bytes.Buffer, charset string, text []byte) {
	ct := stdmime.FormatMediaType("text/plain", map[string]string{"charset": plainCharset(charset)})
	b.WriteString("Content-Type: " + ct + "\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
	b.Write(mime.Canonicalize(text))
}
