package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Verified is the cryptographic outcome of a SignedData check: the
// signature over Content was made by Signer's key. Whether Signer is
// trusted, valid now and entitled to the sender address is checked
// separately (chain, trust, policy).
type Verified struct {
	// Signer is the certificate whose key made the signature.
	Signer *x509.Certificate
	// Certificates are all certificates carried in the message that Go
	// can parse, for chain building and harvesting. Signer is among them
	// unless it came from Verify's extra argument.
	Certificates []*x509.Certificate
	// Content is the signed content: the eContent of an opaque message,
	// or the detached content as given to Verify.
	Content []byte
	// SigningTime is the signing-time attribute; zero when absent.
	SigningTime time.Time
	// SignatureDigest is SHA-256 of the SignerInfo's signature value, a
	// key for replay detection (DESIGN §4.4).
	SignatureDigest []byte
	// Capabilities are the AES content encryptions (CBC and GCM) and RSA
	// key transports (rsaEncryption, RSAES-OAEP) listed in an
	// SMIMECapabilities attribute, in the sender's order of preference;
	// other capabilities are left out. Empty when absent.
	Capabilities []Capability
}

// sigAttrs is what the signed attributes of a SignerInfo say.
type sigAttrs struct {
	present      bool
	signed       []byte // the DER encoding that was signed (SET OF tag)
	contentType  asn1.ObjectIdentifier
	digest       []byte
	signingTime  time.Time
	capabilities []Capability
}

// Verify checks a ContentInfo holding SignedData, given as BER or DER.
// detached is the signed content of a multipart/signed message (RFC 8551
// §3.5.3), or nil for an opaque message whose content is inside.
//
// The SignedData must have exactly one SignerInfo. Its signer certificate
// is looked up by the SignerInfo's sid (issuerAndSerialNumber or
// subjectKeyIdentifier) among the message's certificates, then among
// extra (certificates the caller already knows).
//
// Accepted: digest SHA-256/384/512; RSA PKCS#1 v1.5, RSASSA-PSS (MGF1 with
// the message hash, any salt length), ECDSA on P-256/384/521, Ed25519
// with SHA-512 (RFC 8419) and pure ML-DSA-44/65/87 (RFC 9882) whose
// digest, with signed attributes, is at least as strong as the parameter
// set (SHA-384 for ML-DSA-65, SHA-512 or SHAKE256 for ML-DSA-87; a weaker
// one is ErrUnsupported). SHAKE256 (RFC 8702) is accepted with ML-DSA
// only.
//
// Signed attributes, when present, must hold content-type equal to the
// eContentType and message-digest equal to the content's digest, and the
// signature must cover their DER encoding as received, with the [0] tag
// replaced by the SET OF tag (RFC 5652 §5.4). A SignerInfo without signed
// attributes is accepted when its signature verifies directly over the
// content digest (RFC 5652 §5.3 allows it for id-data, the only content
// type accepted); it then has no signing time and no capabilities.
//
// Errors: ErrMalformed for structure and exceeded limits (50 certificates,
// 100 signed attributes, 64 MiB content); ErrBadAttributes (a kind of
// ErrMalformed) for signed attributes that break RFC 5652 §5.3 and §11
// (content-type or message-digest missing, an attribute given twice);
// ErrWeak (a kind of ErrUnsupported) for SHA-1 and MD5; ErrUnsupported
// for other refused algorithms, other content types and several signers;
// ErrUnknownSigner when no certificate matches the signer identifier;
// ErrBadSignature for anything that does not verify.
func Verify(ber []byte, detached []byte, extra []*x509.Certificate) (*Verified, error) {
	if len(ber) > sigMaxInput || len(detached) > sigMaxContent {
		return nil, fmt.Errorf("%w: message larger than the limit", ErrMalformed)
	}
	der, err := berToDER(ber)
	if err != nil {
		return nil, err
	}
	sd, err := sigParseSignedData(der)
	if err != nil {
		return nil, err
	}
	si, err := sigOneSignerInfo(sd.SignerInfos)
	if err != nil {
		return nil, err
	}
	alg, err := sigParseAlgorithm(si.DigestAlgorithm, si.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	certs, err := sigParseCertificates(sd.Certificates)
	if err != nil {
		return nil, err
	}
	content, err := sigContent(sd.EncapContentInfo, detached)
	if err != nil {
		return nil, err
	}
	attrs, err := sigParseSignedAttrs(si.SignedAttrs)
	if err != nil {
		return nil, err
	}
	if alg.scheme == sigSchemeMLDSA && attrs.present {
		if err := mldsaDigestStrong(alg.mldsa, alg.hash); err != nil {
			return nil, err
		}
	}
	toSign, err := sigSignedBytes(attrs, sd.EncapContentInfo.EContentType, alg.hash, content)
	if err != nil {
		return nil, err
	}
	signer, err := sigFindSigner(si, append(slices.Clip(certs), extra...), alg, toSign)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(si.Signature)
	return &Verified{
		Signer:          signer,
		Certificates:    certs,
		Content:         content,
		SigningTime:     attrs.signingTime,
		SignatureDigest: sum[:],
		Capabilities:    attrs.capabilities,
	}, nil
}

// sigParseSignedData parses a ContentInfo that must hold SignedData.
func sigParseSignedData(der []byte) (*sigSignedData, error) {
	ci, err := parseContentInfo(der)
	if err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type %v is not SignedData", ErrUnsupported, ci.ContentType)
	}
	var sd sigSignedData
	// encoding/asn1 keeps the [0] EXPLICIT wrapper in a RawValue:
	// Bytes is the SignedData element.
	rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd)
	if err != nil {
		return nil, fmt.Errorf("%w: SignedData: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: data after SignedData", ErrMalformed)
	}
	// RFC 5652 §5.1: versions 1, 3, 4 and 5 exist.
	if sd.Version < 1 || sd.Version > 5 {
		return nil, fmt.Errorf("%w: SignedData version %d", ErrMalformed, sd.Version)
	}
	return &sd, nil
}

// sigOneSignerInfo parses the only SignerInfo. Sealpost accepts exactly
// one signer: with several, which one a policy should believe is
// ambiguous (and RFC 5652 §5.1 lets any one of them "verify" the message).
func sigOneSignerInfo(raw []asn1.RawValue) (*sigSignerInfo, error) {
	switch {
	case len(raw) == 0:
		return nil, fmt.Errorf("%w: SignedData without SignerInfo", ErrMalformed)
	case len(raw) > 1:
		return nil, fmt.Errorf("%w: %d SignerInfos, exactly one is accepted", ErrUnsupported, len(raw))
	}
	var si sigSignerInfo
	rest, err := asn1.Unmarshal(raw[0].FullBytes, &si)
	if err != nil {
		return nil, fmt.Errorf("%w: SignerInfo: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: data after SignerInfo", ErrMalformed)
	}
	// RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with
	// subjectKeyIdentifier.
	if si.Version != 1 && si.Version != 3 {
		return nil, fmt.Errorf("%w: SignerInfo version %d", ErrMalformed, si.Version)
	}
	return &si, nil
}

// sigElements splits the concatenated TLVs in b, at most max of them.
func sigElements(b []byte, max int, what string) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		if len(out) == max {
			return nil, fmt.Errorf("%w: more than %d %s", ErrMalformed, max, what)
		}
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
		}
		out = append(out, rv)
		b = rest
	}
	return out, nil
}

// sigParseCertificates parses the certificates field ([0] IMPLICIT
// CertificateSet). Other CertificateChoices (attribute certificates) and
// certificates Go cannot parse are skipped: an unusable certificate only
// means that it cannot be the signer.
func sigParseCertificates(raw asn1.RawValue) ([]*x509.Certificate, error) {
	if len(raw.FullBytes) == 0 {
		return nil, nil
	}
	if !raw.IsCompound {
		return nil, fmt.Errorf("%w: certificates field", ErrMalformed)
	}
	els, err := sigElements(raw.Bytes, sigMaxCertificates, "certificates")
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, el := range els {
		if el.Class != asn1.ClassUniversal || el.Tag != asn1.TagSequence {
			continue
		}
		if c, err := x509.ParseCertificate(el.FullBytes); err == nil {
			certs = append(certs, c)
		}
	}
	return certs, nil
}

// sigContent returns the signed content. RFC 5652 §5.2: eContentType must
// be id-data here (S/MIME, RFC 8551 §3.5). When the caller gives detached
// content and the message also carries an eContent, both must be the
// same bytes: otherwise the signature would cover something else than
// what is displayed.
func sigContent(eci sigEncapContentInfo, detached []byte) ([]byte, error) {
	if !eci.EContentType.Equal(oidData) {
		return nil, fmt.Errorf("%w: eContentType %v", ErrUnsupported, eci.EContentType)
	}
	var econtent []byte
	present := len(eci.EContent.FullBytes) > 0
	if present {
		rest, err := asn1.Unmarshal(eci.EContent.Bytes, &econtent)
		if err != nil || len(rest) != 0 || !eci.EContent.IsCompound {
			return nil, fmt.Errorf("%w: eContent", ErrMalformed)
		}
	}
	switch {
	case detached != nil && present:
		if !bytes.Equal(detached, econtent) {
			return nil, fmt.Errorf("%w: eContent differs from the detached content", ErrBadSignature)
		}
		return detached, nil
	case detached != nil:
		return detached, nil
	case present:
		if len(econtent) > sigMaxContent {
			return nil, fmt.Errorf("%w: content larger than %d bytes", ErrMalformed, sigMaxContent)
		}
		return econtent, nil
	}
	return nil, fmt.Errorf("%w: detached signature and no content given", ErrMalformed)
}

// sigParseSignedAttrs reads the signed attributes ([0] IMPLICIT SET OF
// Attribute). The bytes to verify are the received encoding with the tag
// changed to SET OF (RFC 5652 §5.4); they are never re-sorted.
func sigParseSignedAttrs(raw asn1.RawValue) (sigAttrs, error) {
	var a sigAttrs
	if len(raw.FullBytes) == 0 {
		return a, nil
	}
	if !raw.IsCompound {
		return a, fmt.Errorf("%w: signedAttrs", ErrMalformed)
	}
	a.present = true
	a.signed = bytes.Clone(raw.FullBytes)
	a.signed[0] = 0x31 // SET OF, constructed (X.690 §8.12)
	els, err := sigElements(raw.Bytes, sigMaxSignedAttrs, "signed attributes")
	if err != nil {
		return a, err
	}
	seen := map[string]bool{}
	for _, el := range els {
		if err := a.add(el.FullBytes, seen); err != nil {
			return a, err
		}
	}
	// RFC 5652 §5.3: content-type and message-digest are mandatory.
	if a.contentType == nil || a.digest == nil {
		return a, fmt.Errorf("%w: content-type or message-digest missing", ErrBadAttributes)
	}
	return a, nil
}

// add reads one Attribute. RFC 5652 §11.1–§11.3 and RFC 8551 §2.5: one
// instance each of content-type, message-digest, signing-time and
// SMIMECapabilities, each with a single value.
func (a *sigAttrs) add(der []byte, seen map[string]bool) error {
	var attr sigAttribute
	if rest, err := asn1.Unmarshal(der, &attr); err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: signed attribute", ErrMalformed)
	}
	v := attr.Values
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagSet || !v.IsCompound {
		return fmt.Errorf("%w: attribute %v values are not a SET", ErrMalformed, attr.Type)
	}
	var dst any
	switch {
	case attr.Type.Equal(oidAttrContentType):
		dst = &a.contentType
	case attr.Type.Equal(oidAttrMessageDigest):
		dst = &a.digest
	case attr.Type.Equal(oidAttrSigningTime):
		dst = &a.signingTime
	case attr.Type.Equal(oidAttrSMIMECapability):
		var caps []sigCapability
		if err := sigSingleValue(attr, &caps, seen); err != nil {
			return err
		}
		a.capabilities = sigKnownCapabilities(caps)
		return nil
	default:
		return nil // other attributes are signed but not interpreted
	}
	return sigSingleValue(attr, dst, seen)
}

// sigSingleValue decodes the one value of attr into dst and records the
// attribute type in seen, refusing a second instance.
func sigSingleValue(attr sigAttribute, dst any, seen map[string]bool) error {
	key := attr.Type.String()
	if seen[key] {
		return fmt.Errorf("%w: more than one %v attribute", ErrBadAttributes, attr.Type)
	}
	seen[key] = true
	rest, err := asn1.Unmarshal(attr.Values.Bytes, dst)
	if err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: attribute %v must have one valid value", ErrMalformed, attr.Type)
	}
	return nil
}

// sigSignedBytes checks the signed attributes against the content and
// returns what the signature covers (RFC 5652 §5.4, §11.1, §11.2).
func sigSignedBytes(a sigAttrs, eContentType asn1.ObjectIdentifier, h crypto.Hash, content []byte) ([]byte, error) {
	if !a.present {
		return content, nil
	}
	if !a.contentType.Equal(eContentType) {
		return nil, fmt.Errorf("%w: content-type attribute %v differs from eContentType %v", ErrBadSignature, a.contentType, eContentType)
	}
	if !bytes.Equal(a.digest, sigDigest(h, content)) {
		return nil, fmt.Errorf("%w: message-digest does not match the content", ErrBadSignature)
	}
	return a.signed, nil
}

// sigFindSigner returns the first certificate among candidates that
// matches the sid and whose key verifies the signature over signed (the
// DER of the signed attributes, or the content when there are none).
func sigFindSigner(si *sigSignerInfo, candidates []*x509.Certificate, alg sigAlgorithm, signed []byte) (*x509.Certificate, error) {
	match, err := sigSIDMatcher(si.SID)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, c := range candidates {
		if c == nil || !match(c) {
			continue
		}
		err := sigCheckSignature(signerKey(c), alg, signed, si.Signature)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		return nil, ErrUnknownSigner
	}
	return nil, firstErr
}

// sigSIDMatcher returns a test for certificates named by a
// SignerIdentifier (RFC 5652 §5.3). Issuer names are compared as encoded.
func sigSIDMatcher(sid asn1.RawValue) (func(*x509.Certificate) bool, error) {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerialNumber
		rest, err := asn1.Unmarshal(sid.FullBytes, &ias)
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: issuerAndSerialNumber", ErrMalformed)
		}
		return func(c *x509.Certificate) bool {
			return bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && sigSameSerial(c.SerialNumber, ias.SerialNumber)
		}, nil
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		ski := sid.Bytes
		return func(c *x509.Certificate) bool {
			return len(ski) > 0 && bytes.Equal(c.SubjectKeyId, ski)
		}, nil
	}
	return nil, fmt.Errorf("%w: signer identifier", ErrMalformed)
}

func sigSameSerial(a, b *big.Int) bool {
	return a != nil && b != nil && a.Cmp(b) == 0
}

// sigCheckSignature verifies sig over signed with pub.
func sigCheckSignature(pub any, alg sigAlgorithm, signed, sig []byte) error {
	var err error
	if k, ok := pub.(*mldsaPublicKey); ok {
		// RFC 9882 §3.2: pure ML-DSA over the signed bytes, empty
		// context. The signature algorithm must be the key's parameter
		// set: an ML-DSA-44 key does not verify an "ML-DSA-65" signature.
		switch {
		case alg.scheme != sigSchemeMLDSA:
			return fmt.Errorf("%w: %s key, non-ML-DSA signature algorithm", ErrBadSignature, k.params.name)
		case alg.mldsa != k.params:
			return fmt.Errorf("%w: %s signature algorithm on an %s key", ErrBadSignature, alg.mldsa.name, k.params.name)
		case !k.verify(signed, sig):
			return fmt.Errorf("%w: %s verification failed", ErrBadSignature, k.params.name)
		}
		return nil
	}
	if alg.scheme == sigSchemeMLDSA {
		return fmt.Errorf("%w: %s signature algorithm on a %T key", ErrBadSignature, alg.mldsa.name, pub)
	}
	if k, ok := pub.(ed25519.PublicKey); ok {
		// RFC 8419 §3.1: PureEdDSA over the signed bytes themselves, no
		// context string.
		if alg.scheme != sigSchemeEd25519 || !ed25519.Verify(k, signed, sig) {
			return fmt.Errorf("%w: Ed25519 verification failed", ErrBadSignature)
		}
		return nil
	}
	if alg.scheme == sigSchemeEd25519 {
		return fmt.Errorf("%w: Ed25519 signature algorithm on a %T key", ErrBadSignature, pub)
	}
	digest := sigDigest(alg.hash, signed)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg.scheme {
		case sigSchemePKCS1v15:
			err = rsa.VerifyPKCS1v15(k, alg.hash, digest, sig)
		case sigSchemePSS:
			// A salt length of 0 is PSSSaltLengthAuto in Go: any salt
			// length is then accepted, which includes the 0 given.
			err = rsa.VerifyPSS(k, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: alg.saltLength, Hash: alg.hash})
		default:
			err = errors.New("RSA key, non-RSA signature algorithm")
		}
	case *ecdsa.PublicKey:
		switch {
		case alg.scheme != sigSchemeECDSA:
			err = errors.New("ECDSA key, non-ECDSA signature algorithm")
		case !sigCurveSupported(k.Curve):
			return fmt.Errorf("%w: curve %s", ErrUnsupported, k.Curve.Params().Name)
		case !ecdsa.VerifyASN1(k, digest, sig):
			err = errors.New("ECDSA verification failed")
		}
	default:
		return fmt.Errorf("%w: signer key type %T", ErrUnsupported, pub)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}
