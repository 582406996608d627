package smime

// SignedData (RFC 5652 §5) structures and algorithm tables shared by Sign
// (sign.go) and Verify (verify.go).

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Object identifiers only the SignedData code uses. They are recognised
// so that they can be refused by name.
var (
	sigOIDMD5           = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	sigOIDMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	sigOIDSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	sigOIDECDSAWithSHA1 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	sigOIDDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}
	// RFC 8410 §3: id-Ed25519.
	sigOIDEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// Limits on untrusted SignedData (DESIGN §4.8).
const (
	sigMaxCertificates = 50
	sigMaxSignedAttrs  = 100
	sigMaxContent      = 64 << 20
	// sigMaxInput bounds the whole encoded message: the content plus
	// room for certificates, signer info and BER framing.
	sigMaxInput = sigMaxContent + 8<<20
)

// sigSignedData is RFC 5652 §5.1 SignedData. The certificate and CRL sets
// are kept raw ([0] and [1] IMPLICIT); each SignerInfo is kept raw.
type sigSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo sigEncapContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []asn1.RawValue `asn1:"set"`
}

// sigEncapContentInfo is RFC 5652 §5.2 EncapsulatedContentInfo. EContent
// is the [0] EXPLICIT wrapper; its Bytes hold the OCTET STRING.
type sigEncapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,tag:0"`
}

// sigSignerInfo is RFC 5652 §5.3 SignerInfo. SID is either an
// IssuerAndSerialNumber SEQUENCE or a [0] SubjectKeyIdentifier.
// SignedAttrs is the [0] IMPLICIT SET OF Attribute exactly as received.
type sigSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

// sigAttribute is RFC 5652 §5.3 Attribute; Values is the SET OF
// AttributeValue, checked by the reader.
type sigAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// sigCapability is RFC 8551 §2.5.2 SMIMECapability.
type sigCapability struct {
	ID     asn1.ObjectIdentifier
	Params asn1.RawValue `asn1:"optional"`
}

// sigPSSParams is RFC 4055 §3.1 RSASSA-PSS-params. Absent fields take the
// RFC's defaults (SHA-1, MGF1 with SHA-1, salt 20, trailer 1).
type sigPSSParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	SaltLength   int                      `asn1:"explicit,optional,default:20,tag:2"`
	TrailerField int                      `asn1:"explicit,optional,default:1,tag:3"`
}

// sigScheme is the signature scheme of a SignerInfo.
type sigScheme int

const (
	sigSchemePKCS1v15 sigScheme = iota + 1 // RFC 8017 §8.2, RFC 5754 §3.2
	sigSchemePSS                           // RFC 4056
	sigSchemeECDSA                         // RFC 5753 §2.1.1, RFC 5758 §3.2
	sigSchemeEd25519                       // RFC 8419: PureEdDSA over the signed bytes
	sigSchemeMLDSA                         // RFC 9882: pure ML-DSA over the signed bytes
)

// sigAlgorithm is a SignerInfo's digest and signature algorithm pair.
type sigAlgorithm struct {
	hash       crypto.Hash
	scheme     sigScheme
	saltLength int          // RSA-PSS only
	mldsa      *mldsaParams // ML-DSA only
}

// sigHashTable pairs hash-specific algorithm OIDs with their hashes.
type sigHashTable []struct {
	oid  asn1.ObjectIdentifier
	hash crypto.Hash
}

// hashOf returns the hash of oid, or 0 when the table lacks it.
func (t sigHashTable) hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, e := range t {
		if e.oid.Equal(oid) {
			return e.hash
		}
	}
	return 0
}

// oidOf returns the OID for hash h, or nil when the table lacks it.
func (t sigHashTable) oidOf(h crypto.Hash) asn1.ObjectIdentifier {
	for _, e := range t {
		if e.hash == h {
			return e.oid
		}
	}
	return nil
}

// The accepted digest algorithms (RFC 5754 §2) and hash-specific
// signature algorithms (RFC 5754 §3.2, RFC 5758 §3.2).
var (
	sigHashes      = sigHashTable{{oidSHA256, crypto.SHA256}, {oidSHA384, crypto.SHA384}, {oidSHA512, crypto.SHA512}}
	sigRSAHashes   = sigHashTable{{oidSHA256WithRSA, crypto.SHA256}, {oidSHA384WithRSA, crypto.SHA384}, {oidSHA512WithRSA, crypto.SHA512}}
	sigECDSAHashes = sigHashTable{{oidECDSAWithSHA256, crypto.SHA256}, {oidECDSAWithSHA384, crypto.SHA384}, {oidECDSAWithSHA512, crypto.SHA512}}
)

// sigHashOID returns the digest algorithm OID of h.
func sigHashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	if oid := sigHashes.oidOf(h); oid != nil {
		return oid, nil
	}
	return nil, fmt.Errorf("%w: hash %v (SHA-256, SHA-384 and SHA-512 only)", ErrUnsupported, h)
}

// sigHashFromID returns the hash a digest AlgorithmIdentifier names.
// RFC 5754 §2: the parameters are absent or NULL. SHA-1 and MD5 are refused
// (RFC 8551 §2.1: receivers SHOULD NOT accept them).
func sigHashFromID(id pkix.AlgorithmIdentifier) (crypto.Hash, error) {
	if h := sigHashes.hashOf(id.Algorithm); h != 0 {
		if !sigAbsentOrNull(id.Parameters) {
			return 0, fmt.Errorf("%w: parameters of digest algorithm %v", ErrMalformed, id.Algorithm)
		}
		return h, nil
	}
	switch {
	case id.Algorithm.Equal(oidSHA1):
		return 0, fmt.Errorf("%w: signed with SHA-1", ErrWeak)
	case id.Algorithm.Equal(sigOIDMD5):
		return 0, fmt.Errorf("%w: signed with MD5", ErrWeak)
	}
	return 0, fmt.Errorf("%w: digest algorithm %v", ErrUnsupported, id.Algorithm)
}

// sigAbsentOrNull reports whether AlgorithmIdentifier parameters are
// absent or an ASN.1 NULL.
func sigAbsentOrNull(p asn1.RawValue) bool {
	if len(p.FullBytes) == 0 {
		return true
	}
	return p.Class == asn1.ClassUniversal && p.Tag == asn1.TagNull && len(p.Bytes) == 0
}

// sigParseAlgorithm checks a SignerInfo's digestAlgorithm and
// signatureAlgorithm and returns the pair. The hash named by the signature
// algorithm, where it names one, must be the digest algorithm.
func sigParseAlgorithm(digestID, sigID pkix.AlgorithmIdentifier) (sigAlgorithm, error) {
	// Refuse SHA-1/MD5 signature algorithms by name, whatever the digest.
	for _, weak := range []asn1.ObjectIdentifier{sigOIDSHA1WithRSA, sigOIDECDSAWithSHA1, sigOIDDSAWithSHA1} {
		if sigID.Algorithm.Equal(weak) {
			return sigAlgorithm{}, fmt.Errorf("%w: signed with SHA-1 (signature algorithm %v)", ErrWeak, sigID.Algorithm)
		}
	}
	if sigID.Algorithm.Equal(sigOIDMD5WithRSA) {
		return sigAlgorithm{}, fmt.Errorf("%w: signed with MD5 (signature algorithm %v)", ErrWeak, sigID.Algorithm)
	}
	if p := mldsaByOID(sigID.Algorithm); p != nil {
		return mldsaAlgorithm(p, digestID, sigID)
	}
	hash, err := sigHashFromID(digestID)
	if err != nil {
		return sigAlgorithm{}, err
	}
	alg := sigAlgorithm{hash: hash}
	oid := sigID.Algorithm
	switch {
	case oid.Equal(oidRSAEncryption):
		// RFC 5754 §3.2 / RFC 3370 §3.2: rsaEncryption with the digest
		// algorithm's hash (what OpenSSL and NSS write).
		alg.scheme = sigSchemePKCS1v15
	case sigRSAHashes.hashOf(oid) != 0:
		alg.scheme = sigSchemePKCS1v15
		if err := sigSameHash(sigRSAHashes.hashOf(oid), hash); err != nil {
			return sigAlgorithm{}, err
		}
	case sigECDSAHashes.hashOf(oid) != 0:
		alg.scheme = sigSchemeECDSA
		if err := sigSameHash(sigECDSAHashes.hashOf(oid), hash); err != nil {
			return sigAlgorithm{}, err
		}
	case oid.Equal(oidRSAPSS):
		alg.scheme = sigSchemePSS
		if alg.saltLength, err = sigParsePSSParams(sigID.Parameters, hash); err != nil {
			return sigAlgorithm{}, err
		}
		return alg, nil
	case oid.Equal(sigOIDEd25519):
		// RFC 8419 §3.1: with Ed25519 the digest algorithm (of the
		// content, for the message-digest attribute) is SHA-512, and
		// RFC 8410 §3: the parameters are absent.
		alg.scheme = sigSchemeEd25519
		if err := sigSameHash(crypto.SHA512, hash); err != nil {
			return sigAlgorithm{}, err
		}
		if len(sigID.Parameters.FullBytes) != 0 {
			return sigAlgorithm{}, fmt.Errorf("%w: parameters of Ed25519", ErrMalformed)
		}
		return alg, nil
	default:
		return sigAlgorithm{}, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, oid)
	}
	// RFC 5754 §3.2 (NULL or absent), RFC 5758 §3.2 (absent).
	if !sigAbsentOrNull(sigID.Parameters) {
		return sigAlgorithm{}, fmt.Errorf("%w: parameters of signature algorithm %v", ErrMalformed, oid)
	}
	return alg, nil
}

// sigSameHash requires the signature algorithm's hash to be the digest
// algorithm (RFC 5652 §5.4: one hash for content and signed attributes).
func sigSameHash(sigHash, digestHash crypto.Hash) error {
	if sigHash != digestHash {
		return fmt.Errorf("%w: signature hash %v differs from digest %v", ErrMalformed, sigHash, digestHash)
	}
	return nil
}

// sigParsePSSParams checks RSASSA-PSS-params (RFC 4056 §3) and returns
// the salt length. The hash must be the SignerInfo's digest algorithm and
// the mask generation MGF1 with that same hash; the salt length is taken
// as given.
func sigParsePSSParams(raw asn1.RawValue, hash crypto.Hash) (int, error) {
	if len(raw.FullBytes) == 0 {
		// All defaults: SHA-1.
		return 0, fmt.Errorf("%w: RSASSA-PSS with default (SHA-1) parameters", ErrUnsupported)
	}
	var p sigPSSParams
	if rest, err := asn1.Unmarshal(raw.FullBytes, &p); err != nil || len(rest) != 0 {
		return 0, fmt.Errorf("%w: RSASSA-PSS-params", ErrMalformed)
	}
	pssHash, err := sigPSSHash(p.Hash)
	if err != nil {
		return 0, err
	}
	if err := sigSameHash(pssHash, hash); err != nil {
		return 0, err
	}
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return 0, fmt.Errorf("%w: RSASSA-PSS mask generation %v", ErrUnsupported, p.MGF.Algorithm)
	}
	var mgfHashID pkix.AlgorithmIdentifier
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHashID); err != nil || len(rest) != 0 {
		return 0, fmt.Errorf("%w: MGF1 parameters", ErrMalformed)
	}
	mgfHash, err := sigPSSHash(mgfHashID)
	if err != nil {
		return 0, err
	}
	if mgfHash != hash {
		return 0, fmt.Errorf("%w: MGF1 hash %v differs from message hash %v", ErrUnsupported, mgfHash, hash)
	}
	// RFC 4055 §3.1: trailerField 1 (0xBC) is the only one defined.
	if p.TrailerField != 1 || p.SaltLength < 0 {
		return 0, fmt.Errorf("%w: RSASSA-PSS trailer or salt length", ErrMalformed)
	}
	return p.SaltLength, nil
}

// sigPSSHash returns the hash of a PSS hashAlgorithm or MGF1 parameter;
// an absent identifier is the RFC 4055 default, SHA-1.
func sigPSSHash(id pkix.AlgorithmIdentifier) (crypto.Hash, error) {
	if len(id.Algorithm) == 0 {
		return 0, fmt.Errorf("%w: RSASSA-PSS default hash SHA-1", ErrUnsupported)
	}
	return sigHashFromID(id)
}

// sigDigestID is the digest AlgorithmIdentifier written for h: RFC 5754
// §2, parameters absent.
func sigDigestID(h crypto.Hash) (pkix.AlgorithmIdentifier, error) {
	oid, err := sigHashOID(h)
	return pkix.AlgorithmIdentifier{Algorithm: oid}, err
}
