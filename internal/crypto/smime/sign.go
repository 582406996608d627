package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cloudflare/circl/sign"
)

// SignOptions adjust Sign. The zero value signs with SHA-256 and
// RSA PKCS#1 v1.5 or ECDSA, content inside, signing time now.
type SignOptions struct {
	// Hash is the digest algorithm: crypto.SHA256 (default), SHA384 or
	// SHA512.
	Hash crypto.Hash
	// PSS selects RSASSA-PSS (RFC 4056) instead of PKCS#1 v1.5 for RSA
	// keys. It is an error with any other key type.
	PSS bool
	// Detached leaves out the eContent, for multipart/signed (RFC 8551
	// §3.5.3). When false the content is inside, for an opaque
	// application/pkcs7-mime signed-data body (§3.5.2).
	Detached bool
	// Extra are intermediate certificates to include with the signer's.
	Extra []*x509.Certificate
	// Now gives the signing-time attribute; default time.Now.
	Now func() time.Time
	// Rand is the randomness for the signature; default crypto/rand.
	Rand io.Reader
}

// ErrKeyMismatch: the private key given to Sign is not the certificate's.
var ErrKeyMismatch = errors.New("smime: private key does not match the certificate")

// sigCapabilities is the SMIMECapabilities list Sign announces (RFC 8551
// §2.5.2), strongest first: AES-256-GCM, AES-128-GCM, AES-256-CBC,
// AES-128-CBC. RFC 5084 §5 and RFC 3565 §5: parameters absent.
var sigCapabilities = []asn1.ObjectIdentifier{oidAES256GCM, oidAES128GCM, oidAES256CBC, oidAES128CBC}

// sigCapabilitiesFor is what Sign announces for a signer with public key
// pub: the content encryptions and, for an RSA key, the key transports
// it decrypts, RSAES-OAEP with SHA-256 first (RFC 3560 §5: with its
// parameters, rSAES-OAEP-SHA256-Identifier of RFC 4055 §4.1), then
// rsaEncryption (RFC 3370 §4.2.1: parameters absent in a capability).
func sigCapabilitiesFor(pub crypto.PublicKey) ([]sigCapability, error) {
	var caps []sigCapability
	for _, oid := range sigCapabilities {
		caps = append(caps, sigCapability{ID: oid})
	}
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return caps, nil
	}
	oaep, err := ktriOAEPSHA256Identifier()
	if err != nil {
		return nil, err
	}
	return append(caps, sigCapability{ID: oaep.Algorithm, Params: oaep.Parameters}, sigCapability{ID: oidRSAEncryption}), nil
}

// sigPlan is everything sigAssemble needs for the one SignerInfo.
type sigPlan struct {
	hash        crypto.Hash       // digest of content and signed attributes
	signerOpts  crypto.SignerOpts // crypto.Hash or *rsa.PSSOptions
	digestID    pkix.AlgorithmIdentifier
	signatureID pkix.AlgorithmIdentifier
	attrs       [][]byte // encoded Attributes in the order written; none: no signed attributes
	// pure: the key signs the signed bytes themselves, not their digest
	// (Ed25519, RFC 8419 §3.1).
	pure     bool
	detached bool
	certs    [][]byte // DER certificates for the certificates field
}

// Sign returns a DER ContentInfo holding SignedData (RFC 5652 §5) over
// content, signed by key whose certificate is cert. It has one SignerInfo
// (version 1, issuerAndSerialNumber) with the signed attributes
// content-type (id-data), signing-time, message-digest and
// SMIMECapabilities (RFC 8551 §2.5), and carries cert and opt.Extra.
//
// Signature algorithms: RSA PKCS#1 v1.5 (sha256WithRSAEncryption etc.),
// RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash,
// ECDSA (ecdsa-with-SHA256/384/512) on P-256, P-384 and P-521, and
// Ed25519 with SHA-512 (RFC 8419).
func Sign(content []byte, cert *x509.Certificate, key crypto.Signer, opt SignOptions) ([]byte, error) {
	if cert == nil || key == nil {
		return nil, errors.New("smime: sign: no certificate or key")
	}
	if len(content) > sigMaxContent {
		return nil, fmt.Errorf("smime: sign: content larger than %d bytes", sigMaxContent)
	}
	if err := sigKeyMatches(cert, key); err != nil {
		return nil, err
	}
	plan, err := sigNewPlan(key.Public(), opt)
	if err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if plan.attrs, err = sigSignedAttrs(content, plan.hash, now(), key.Public()); err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	sigSortAttrs(plan.attrs)
	plan.certs = sigCertSet(cert, opt.Extra)
	rnd := opt.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	return sigAssemble(content, cert, key, rnd, plan)
}

// sigKeyMatches checks that key is the private half of cert's public key.
func sigKeyMatches(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	certPub := signerKey(cert)
	if k, isPQ := certPub.(*mldsaPublicKey); isPQ {
		certPub = k.key
	}
	if !ok || !pub.Equal(certPub) {
		return ErrKeyMismatch
	}
	return nil
}

// sigNewPlan chooses the algorithms for a public key and the options.
func sigNewPlan(pub crypto.PublicKey, opt SignOptions) (sigPlan, error) {
	p := sigPlan{hash: opt.Hash, detached: opt.Detached}
	if p.hash == 0 {
		p.hash = crypto.SHA256
	}
	var err error
	if p.digestID, err = sigDigestID(p.hash); err != nil {
		return p, err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if opt.PSS {
			p.signerOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: p.hash}
			p.signatureID, err = sigPSSID(p.hash)
			return p, err
		}
		p.signerOpts = p.hash
		p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigRSAHashes.oidOf(p.hash), Parameters: asn1.NullRawValue}
	case ed25519.PublicKey:
		// RFC 8419 §3.1: SHA-512 for the message digest, PureEdDSA over
		// the signed attributes; RFC 8410 §3: no parameters.
		if opt.PSS || opt.Hash != 0 && opt.Hash != crypto.SHA512 {
			return p, fmt.Errorf("%w: Ed25519 signs with SHA-512 only", ErrUnsupported)
		}
		p.hash, p.pure, p.signerOpts = crypto.SHA512, true, crypto.Hash(0)
		p.digestID, err = sigDigestID(p.hash)
		p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigOIDEd25519}
		return p, err
	case *ecdsa.PublicKey:
		if opt.PSS {
			return p, fmt.Errorf("%w: RSA-PSS with an ECDSA key", ErrUnsupported)
		}
		if !sigCurveSupported(k.Curve) {
			return p, fmt.Errorf("%w: curve %s", ErrUnsupported, k.Curve.Params().Name)
		}
		p.signerOpts = p.hash
		p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigECDSAHashes.oidOf(p.hash)}
	case sign.PublicKey:
		return mldsaPlan(p, k, opt)
	default:
		return p, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
	}
	return p, nil
}

// sigCurveSupported reports whether c is P-256, P-384 or P-521.
func sigCurveSupported(c elliptic.Curve) bool {
	return c == elliptic.P256() || c == elliptic.P384() || c == elliptic.P521()
}

// sigPSSID is the RSASSA-PSS AlgorithmIdentifier (RFC 4055 §3.1) for h:
// MGF1 with h and a salt of h's length. Hash identifiers carry NULL
// parameters, as RFC 4055 §2.1 writes them.
func sigPSSID(h crypto.Hash) (pkix.AlgorithmIdentifier, error) {
	oid, err := sigHashOID(h)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	hashID := pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
	hashDER, err := asn1.Marshal(hashID)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	params, err := asn1.Marshal(sigPSSParams{
		Hash:         hashID,
		MGF:          pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: hashDER}},
		SaltLength:   h.Size(),
		TrailerField: 1,
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}}, nil
}

// sigSignedAttrs returns the encoded signed attributes of RFC 8551 §2.5
// for content and a signer whose public key is pub, unsorted.
func sigSignedAttrs(content []byte, h crypto.Hash, now time.Time, pub crypto.PublicKey) ([][]byte, error) {
	digest := sigDigest(h, content)
	caps, err := sigCapabilitiesFor(pub)
	if err != nil {
		return nil, err
	}
	// RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime after, in
	// whole seconds; encoding/asn1 picks the type by year.
	values := []struct {
		oid   asn1.ObjectIdentifier
		value any
	}{
		{oidAttrContentType, oidData},
		{oidAttrSigningTime, now.UTC().Truncate(time.Second)},
		{oidAttrMessageDigest, digest},
		{oidAttrSMIMECapability, caps},
	}
	var attrs [][]byte
	for _, v := range values {
		a, err := sigEncodeAttribute(v.oid, v.value)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// sigEncodeAttribute encodes an Attribute with the single value v.
func sigEncodeAttribute(oid asn1.ObjectIdentifier, v any) ([]byte, error) {
	val, err := asn1.Marshal(v)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(sigAttribute{
		Type:   oid,
		Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: val},
	})
}

// sigSortAttrs puts encoded attributes in DER SET OF order: by their
// encodings (X.690 §11.6).
func sigSortAttrs(attrs [][]byte) {
	slices.SortFunc(attrs, bytes.Compare)
}

// sigDigest hashes b with h.
func sigDigest(h crypto.Hash, b []byte) []byte {
	if h == hashSHAKE256 {
		return sha3.SumSHAKE256(b, shake256DigestSize)
	}
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

// sigCertSet returns the DER certificates for the certificates field:
// cert and extra without duplicates, in DER SET OF order (X.690 §11.6).
func sigCertSet(cert *x509.Certificate, extra []*x509.Certificate) [][]byte {
	certs := [][]byte{cert.Raw}
	for _, c := range extra {
		if c != nil && !slices.ContainsFunc(certs, func(b []byte) bool { return bytes.Equal(b, c.Raw) }) {
			certs = append(certs, c.Raw)
		}
	}
	slices.SortFunc(certs, bytes.Compare)
	return certs
}

// sigAssemble signs and encodes the ContentInfo. RFC 5652 §5.4: with
// signed attributes the signature covers their DER encoding with the SET
// OF tag; without, the content digest itself.
func sigAssemble(content []byte, cert *x509.Certificate, key crypto.Signer, rnd io.Reader, p sigPlan) ([]byte, error) {
	si := sigSignerInfo{Version: 1, DigestAlgorithm: p.digestID, SignatureAlgorithm: p.signatureID}
	sid, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, SerialNumber: cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	si.SID = asn1.RawValue{FullBytes: sid}
	toSign := content
	if len(p.attrs) > 0 {
		body := bytes.Join(p.attrs, nil)
		si.SignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: body}
		if toSign, err = asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body}); err != nil {
			return nil, fmt.Errorf("smime: sign: %w", err)
		}
	}
	if !p.pure {
		toSign = sigDigest(p.hash, toSign)
	}
	if si.Signature, err = key.Sign(rnd, toSign, p.signerOpts); err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	siDER, err := asn1.Marshal(si)
	if err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	sd, err := sigEncodeSignedData(content, siDER, p)
	if err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	return marshalContentInfo(oidSignedData, sd)
}

// sigEncodeSignedData encodes SignedData version 1 (RFC 5652 §5.1: only
// issuerAndSerialNumber, id-data, X.509 certificates).
func sigEncodeSignedData(content, signerInfo []byte, p sigPlan) ([]byte, error) {
	sd := sigSignedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{p.digestID},
		EncapContentInfo: sigEncapContentInfo{EContentType: oidData},
		SignerInfos:      []asn1.RawValue{{FullBytes: signerInfo}},
	}
	if !p.detached {
		oct, err := asn1.Marshal(content)
		if err != nil {
			return nil, err
		}
		sd.EncapContentInfo.EContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}
	}
	if len(p.certs) > 0 {
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(p.certs, nil)}
	}
	return asn1.Marshal(sd)
}
