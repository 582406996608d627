package smime

// ML-DSA (FIPS 204) as S/MIME uses it: public keys and signatures in
// certificates and CRLs (RFC 9881) and in SignedData (RFC 9882). Go 1.26's
// crypto/x509 parses such certificates but leaves PublicKey nil and
// SignatureAlgorithm 0, so the key and the signature algorithm are read
// here from the DER and verified with circl's ML-DSA (pure mode, empty
// context). Sign signs with ML-DSA too, for tests and for a list that
// would have an ML-DSA certificate; Sealpost's lists sign with their RSA
// or EC key, which every member can verify.

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// mldsaParams is one ML-DSA parameter set.
type mldsaParams struct {
	name   string
	oid    asn1.ObjectIdentifier
	scheme sign.Scheme
	// minDigest is the shortest content digest accepted with signed
	// attributes, in bytes: RFC 9882 §3.3, twice the collision strength
	// of the parameter set's internal commitment hash (λ = 128, 192, 256).
	minDigest int
}

// RFC 9881 §2 / RFC 9882 §2: id-ml-dsa-44, -65, -87 (sigAlgs 17, 18, 19).
var mldsaParamSets = []*mldsaParams{
	{"ML-DSA-44", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}, mldsa44.Scheme(), 32},
	{"ML-DSA-65", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}, mldsa65.Scheme(), 48},
	{"ML-DSA-87", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}, mldsa87.Scheme(), 64},
}

// mldsaByOID returns the parameter set an algorithm OID names, or nil.
func mldsaByOID(oid asn1.ObjectIdentifier) *mldsaParams {
	for _, p := range mldsaParamSets {
		if p.oid.Equal(oid) {
			return p
		}
	}
	return nil
}

// mldsaPublicKey is a certificate's ML-DSA public key.
type mldsaPublicKey struct {
	params *mldsaParams
	key    sign.PublicKey
}

// verify checks sig over msg: pure ML-DSA with the empty context string
// (RFC 9882 §3.2, RFC 9881 §3).
func (k *mldsaPublicKey) verify(msg, sig []byte) bool {
	if len(sig) != k.params.scheme.SignatureSize() {
		return false
	}
	return k.params.scheme.Verify(k.key, msg, sig, nil)
}

// spki is RFC 5280 §4.1 SubjectPublicKeyInfo.
type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// mldsaCertKey returns c's ML-DSA public key, or nil and no error when c
// has another kind of key. RFC 9881 §4: the parameters are absent and the
// BIT STRING holds the raw public key (1312, 1952 or 2592 bytes).
func mldsaCertKey(c *x509.Certificate) (*mldsaPublicKey, error) {
	if c.PublicKey != nil {
		return nil, nil
	}
	var info spki
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: subject public key info", ErrMalformed)
	}
	p := mldsaByOID(info.Algorithm.Algorithm)
	if p == nil {
		return nil, nil
	}
	if len(info.Algorithm.Parameters.FullBytes) != 0 {
		return nil, fmt.Errorf("%w: %s public key with parameters", ErrMalformed, p.name)
	}
	if info.PublicKey.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: %s public key is not whole bytes", ErrMalformed, p.name)
	}
	key, err := p.scheme.UnmarshalBinaryPublicKey(info.PublicKey.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s public key of %d bytes", ErrMalformed, p.name, len(info.PublicKey.Bytes))
	}
	return &mldsaPublicKey{params: p, key: key}, nil
}

// signedObject is the outer shape shared by Certificate and
// CertificateList (RFC 5280 §4.1, §5.1): what is signed, how, and the
// signature.
type signedObject struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// mldsaSignedWith returns the ML-DSA parameter set that signed a
// certificate or CRL (its DER), or nil when another algorithm did.
// RFC 9881 §2: parameters absent.
func mldsaSignedWith(der []byte) (*mldsaParams, error) {
	var o signedObject
	if _, err := asn1.Unmarshal(der, &o); err != nil {
		return nil, fmt.Errorf("%w: signed object: %v", ErrMalformed, err)
	}
	p := mldsaByOID(o.Algorithm.Algorithm)
	if p != nil && len(o.Algorithm.Parameters.FullBytes) != 0 {
		return nil, fmt.Errorf("%w: %s signature algorithm with parameters", ErrMalformed, p.name)
	}
	return p, nil
}

// errNotSignedBy: a certificate's or CRL's signature was not made by the
// candidate issuer's key.
var errNotSignedBy = errors.New("signature does not verify with the issuer's key")

// mldsaCheck verifies that issuer's ML-DSA key of parameter set p made
// sig over tbs.
func mldsaCheck(issuer *x509.Certificate, p *mldsaParams, tbs, sig []byte) error {
	k, err := mldsaCertKey(issuer)
	if err != nil {
		return err
	}
	switch {
	case k == nil:
		return fmt.Errorf("%w: signed with %s, the issuer's key is %s", errNotSignedBy, p.name, keyAlgorithm(issuer))
	case k.params != p:
		return fmt.Errorf("%w: signed with %s, the issuer's key is %s", errNotSignedBy, p.name, k.params.name)
	case !k.verify(tbs, sig):
		return fmt.Errorf("%w (%s)", errNotSignedBy, p.name)
	}
	return nil
}

// certSignedBy reports whether issuer's key signed cert, with ML-DSA when
// cert says so. asLink applies crypto/x509's chain rules
// (CheckSignatureFrom): the issuer must be a CA that may sign
// certificates, and SHA-1 is refused. Without, any issuer certificate
// counts and SHA-1 is accepted (CheckSignature): a CRL revokes an old
// certificate like any other.
func certSignedBy(cert, issuer *x509.Certificate, asLink bool) error {
	p, err := mldsaSignedWith(cert.Raw)
	switch {
	case err != nil:
		return err
	case p == nil && asLink:
		return cert.CheckSignatureFrom(issuer)
	case p == nil:
		return issuer.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
	case asLink && (!issuer.BasicConstraintsValid || !issuer.IsCA || issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCertSign == 0):
		return errors.New("the issuer may not sign certificates")
	}
	return mldsaCheck(issuer, p, cert.RawTBSCertificate, cert.Signature)
}

// IssuedBy reports whether issuer, a CA allowed to sign certificates,
// signed cert: crypto/x509's CheckSignatureFrom, which also verifies
// ML-DSA signatures (RFC 9881) here.
func IssuedBy(cert, issuer *x509.Certificate) bool {
	return certSignedBy(cert, issuer, true) == nil
}

// crlSignedBy is crl.CheckSignatureFrom(issuer) that also knows ML-DSA:
// the issuer must be allowed to sign CRLs (RFC 5280 §4.2.1.3 cRLSign,
// when it has a key usage) and its key must have signed the CRL.
func crlSignedBy(crl *x509.RevocationList, issuer *x509.Certificate) error {
	p, err := mldsaSignedWith(crl.Raw)
	if err != nil {
		return err
	}
	if p == nil {
		return crl.CheckSignatureFrom(issuer)
	}
	if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return errors.New("issuer may not sign CRLs")
	}
	return mldsaCheck(issuer, p, crl.RawTBSRevocationList, crl.Signature)
}

// CRLSignedBy reports whether issuer signed crl (crypto/x509's
// CheckSignatureFrom, which also verifies ML-DSA signatures here).
func CRLSignedBy(crl *x509.RevocationList, issuer *x509.Certificate) bool {
	return crlSignedBy(crl, issuer) == nil
}

// mldsaSigned reports whether cert was signed with ML-DSA (a link that
// crypto/x509's chain building cannot check).
func mldsaSigned(cert *x509.Certificate) bool {
	p, _ := mldsaSignedWith(cert.Raw)
	return p != nil
}

// signerKey returns the key that verifies a SignerInfo made with cert:
// the key crypto/x509 parsed, or the ML-DSA key it could not.
func signerKey(cert *x509.Certificate) any {
	if cert.PublicKey != nil {
		return cert.PublicKey
	}
	if k, err := mldsaCertKey(cert); err == nil && k != nil {
		return k
	}
	return nil
}

// RFC 8702 §2: id-shake256 (parameters absent). As a CMS message digest
// its output is 512 bits (RFC 8702 §3.1).
var oidSHAKE256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 12}

const shake256DigestSize = 64

// hashSHAKE256 stands for SHAKE256 with a 512-bit output where the
// SignedData code expects a crypto.Hash, which has no value for an XOF.
// It is outside crypto.Hash's range and is accepted only with ML-DSA
// (mldsaAlgorithm), so it never reaches crypto/rsa or crypto/ecdsa; only
// sigDigest and mldsaDigestStrong see it.
const hashSHAKE256 = crypto.Hash(1 << 16)

// mldsaAlgorithm is sigParseAlgorithm for an ML-DSA signatureAlgorithm
// (RFC 9882 §3.3): pure ML-DSA, parameters absent; the digest
// algorithm SHA-256/384/512 or SHAKE256 (which RFC 9882 says SHOULD be
// supported). Its strength is checked once the signed attributes are
// known (mldsaDigestStrong): without them it has no meaning.
func mldsaAlgorithm(p *mldsaParams, digestID, sigID pkix.AlgorithmIdentifier) (sigAlgorithm, error) {
	if len(sigID.Parameters.FullBytes) != 0 {
		return sigAlgorithm{}, fmt.Errorf("%w: parameters of %s", ErrMalformed, p.name)
	}
	alg := sigAlgorithm{scheme: sigSchemeMLDSA, mldsa: p, hash: hashSHAKE256}
	if digestID.Algorithm.Equal(oidSHAKE256) {
		if len(digestID.Parameters.FullBytes) != 0 {
			return sigAlgorithm{}, fmt.Errorf("%w: parameters of SHAKE256", ErrMalformed)
		}
		return alg, nil
	}
	var err error
	alg.hash, err = sigHashFromID(digestID)
	return alg, err
}

// mldsaDigestStrong checks the digest algorithm of a SignerInfo with
// signed attributes against its ML-DSA parameter set (RFC 9882 §3.3: the
// digest SHOULD be at least twice the collision strength: SHA-256 and
// stronger for ML-DSA-44, SHA-384 and stronger for ML-DSA-65, SHA-512 for
// ML-DSA-87). Without signed attributes the digest algorithm has no
// meaning and is not checked (RFC 9882 §3.3).
func mldsaDigestStrong(p *mldsaParams, h crypto.Hash) error {
	if h == hashSHAKE256 {
		return nil // 256-bit collision strength, enough for every set
	}
	if h.Size() < p.minDigest {
		return fmt.Errorf("%w: %s signature over a %v digest (RFC 9882 asks for a digest of %d bits or more)",
			ErrUnsupported, p.name, h, p.minDigest*8)
	}
	return nil
}

// mldsaByScheme returns the parameter set of a circl scheme, or nil.
func mldsaByScheme(s sign.Scheme) *mldsaParams {
	for _, p := range mldsaParamSets {
		if p.scheme.Name() == s.Name() {
			return p
		}
	}
	return nil
}

// mldsaPlan completes a signing plan for an ML-DSA key (RFC 9882 §3):
// pure ML-DSA over the signed attributes, SHA-512 for the content
// digest unless a hash strong enough for the set was asked for, the
// set's OID without parameters.
func mldsaPlan(p sigPlan, k sign.PublicKey, opt SignOptions) (sigPlan, error) {
	params := mldsaByScheme(k.Scheme())
	if params == nil || opt.PSS {
		return p, fmt.Errorf("%w: key type %T", ErrUnsupported, k)
	}
	if opt.Hash == 0 {
		p.hash = crypto.SHA512
	}
	if err := mldsaDigestStrong(params, p.hash); err != nil {
		return p, err
	}
	var err error
	p.digestID, err = sigDigestID(p.hash)
	p.pure, p.signerOpts = true, crypto.Hash(0)
	p.signatureID = pkix.AlgorithmIdentifier{Algorithm: params.oid}
	return p, err
}

// micalgOf is the micalg parameter (RFC 8551 §3.5.3.2) for signatures by
// key: SHA-512 for Ed25519 (RFC 8419 §3.1) and ML-DSA (Sign's default,
// RFC 9882 §3.3), SHA-256 otherwise.
func micalgOf(key crypto.Signer) string {
	switch key.Public().(type) {
	case ed25519.PublicKey, sign.PublicKey:
		return "sha-512"
	}
	return "sha-256"
}
