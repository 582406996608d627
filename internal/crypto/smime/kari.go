package smime

// ECDH key agreement: KeyAgreeRecipientInfo (RFC 5652 §6.2.2) with
// ephemeral-static ECDH (RFC 5753 §3.1), the X9.63 KDF (SEC 1 §3.6.1)
// over ECC-CMS-SharedInfo (RFC 5753 §7.2) and AES key wrap (RFC 3394,
// RFC 3565 §2.3.2).

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
)

// Named curves (RFC 5480 §2.1.1.1).
var (
	kariOIDCurveP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	kariOIDCurveP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	kariOIDCurveP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// kariCurve describes a supported curve and the scheme Encrypt uses with
// it: RFC 5753 §8 pairs P-256 with SHA-256, P-384 with SHA-384 and
// P-521 with SHA-512.
type kariCurve struct {
	curve  ecdh.Curve
	name   string
	oid    asn1.ObjectIdentifier
	scheme asn1.ObjectIdentifier
}

var kariCurves = []kariCurve{
	{ecdh.P256(), "P256", kariOIDCurveP256, oidDHSinglePassStdDHSHA256KDF},
	{ecdh.P384(), "P384", kariOIDCurveP384, oidDHSinglePassStdDHSHA384KDF},
	{ecdh.P521(), "P521", kariOIDCurveP521, oidDHSinglePassStdDHSHA512KDF},
}

func kariCurveOf(c ecdh.Curve) (kariCurve, bool) {
	for _, k := range kariCurves {
		if k.curve == c {
			return k, true
		}
	}
	return kariCurve{}, false
}

// kariKDFHash maps a dhSinglePass-stdDH scheme (RFC 5753 §7.1.4) to
// its KDF hash.
func kariKDFHash(scheme asn1.ObjectIdentifier) (func() hash.Hash, string, bool) {
	switch {
	case scheme.Equal(oidDHSinglePassStdDHSHA1KDF):
		return sha1.New, "SHA1", true
	case scheme.Equal(oidDHSinglePassStdDHSHA256KDF):
		return sha256.New, "SHA256", true
	case scheme.Equal(oidDHSinglePassStdDHSHA384KDF):
		return sha512.New384, "SHA384", true
	case scheme.Equal(oidDHSinglePassStdDHSHA512KDF):
		return sha512.New, "SHA512", true
	}
	return nil, "", false
}

// kariWrapKeyLen maps an AES key-wrap OID to its KEK length.
func kariWrapKeyLen(oid asn1.ObjectIdentifier) (int, bool) {
	switch {
	case oid.Equal(oidAES128Wrap):
		return 16, true
	case oid.Equal(oidAES192Wrap):
		return 24, true
	case oid.Equal(oidAES256Wrap):
		return 32, true
	}
	return 0, false
}

// kariKDF is the ANSI X9.63 KDF (SEC 1 §3.6.1): the concatenation of
// Hash(Z || counter || SharedInfo) for counter = 1, 2, ... cut to n bytes.
func kariKDF(newHash func() hash.Hash, z, sharedInfo []byte, n int) []byte {
	var out []byte
	var counter [4]byte
	for i := uint32(1); len(out) < n; i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		h := newHash()
		h.Write(z)
		h.Write(counter[:])
		h.Write(sharedInfo)
		out = h.Sum(out)
	}
	return out[:n]
}

// kariKEK derives the key-encryption key from the shared secret z.
// RFC 5753 §7.2: SharedInfo is ECC-CMS-SharedInfo with keyInfo the key
// wrap algorithm (parameters absent, RFC 3565 §2.3.2), entityUInfo the
// ukm when present and suppPubInfo the KEK length in bits.
func kariKEK(newHash func() hash.Hash, z []byte, wrap asn1.ObjectIdentifier, kekLen int, ukm []byte) ([]byte, error) {
	var bits [4]byte
	binary.BigEndian.PutUint32(bits[:], uint32(kekLen*8))
	info, err := asn1.Marshal(kariSharedInfo{
		KeyInfo:     pkix.AlgorithmIdentifier{Algorithm: wrap},
		EntityUInfo: ukm,
		SuppPubInfo: bits[:],
	})
	if err != nil {
		return nil, err
	}
	return kariKDF(newHash, z, info, kekLen), nil
}

// kariFind returns the RecipientEncryptedKey of ka that names cert, or
// nil. Each RecipientEncryptedKey is charged to budget.
func kariFind(ka *kariInfo, cert *x509.Certificate, budget *int) (*kariRecipientEncryptedKey, error) {
	reks := ka.RecipientEncryptedKeys
	if reks.Class != asn1.ClassUniversal || reks.Tag != asn1.TagSequence || !reks.IsCompound {
		return nil, envMalformed("RecipientEncryptedKeys is not a SEQUENCE", nil)
	}
	raws, err := envSplitSet(reks.Bytes, budget, "RecipientEncryptedKeys")
	if err != nil {
		return nil, err
	}
	for _, raw := range raws {
		var rek kariRecipientEncryptedKey
		if err := envUnmarshal(raw.FullBytes, &rek, "", "RecipientEncryptedKey"); err != nil {
			return nil, err
		}
		match, err := kariMatches(rek.RID, cert)
		if err != nil {
			return nil, err
		}
		if match {
			return &rek, nil
		}
	}
	return nil, nil
}

// kariMatches reports whether rid, a KeyAgreeRecipientIdentifier, names
// cert.
func kariMatches(rid asn1.RawValue, cert *x509.Certificate) (bool, error) {
	switch {
	case rid.Class == asn1.ClassUniversal && rid.Tag == asn1.TagSequence && rid.IsCompound:
		return envIssuerSerialMatches(rid.FullBytes, cert)
	case rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 && rid.IsCompound:
		// rKeyId [0] IMPLICIT RecipientKeyIdentifier: its first member
		// is the subjectKeyIdentifier; date and other do not matter here.
		var ski []byte
		if _, err := asn1.Unmarshal(rid.Bytes, &ski); err != nil {
			return false, envMalformed("RecipientKeyIdentifier", err)
		}
		return envSKIMatches(ski, cert), nil
	}
	return false, envMalformed("KeyAgreeRecipientIdentifier", nil)
}

// kariPrivateKey returns key as an ECDH key on a supported curve.
func kariPrivateKey(key crypto.PrivateKey) (*ecdh.PrivateKey, kariCurve, error) {
	var priv *ecdh.PrivateKey
	switch k := key.(type) {
	case *ecdh.PrivateKey:
		priv = k
	case *ecdsa.PrivateKey:
		var err error
		if priv, err = k.ECDH(); err != nil {
			return nil, kariCurve{}, fmt.Errorf("%w: EC key: %v", ErrUnsupported, err)
		}
	default:
		return nil, kariCurve{}, fmt.Errorf("%w: key agreement with a %T", ErrUnsupported, key)
	}
	c, ok := kariCurveOf(priv.Curve())
	if !ok {
		return nil, kariCurve{}, fmt.Errorf("%w: key agreement on this curve", ErrUnsupported)
	}
	return priv, c, nil
}

// kariDecrypt recovers the content-encryption key of keyLen bytes from
// rek, the entry of ka that names this recipient.
func kariDecrypt(ka *kariInfo, rek *kariRecipientEncryptedKey, key crypto.PrivateKey, keyLen int) ([]byte, string, error) {
	priv, curve, err := kariPrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	newHash, hashName, ok := kariKDFHash(ka.KeyEncryptionAlgorithm.Algorithm)
	if !ok {
		return nil, "", fmt.Errorf("%w: key agreement %v", ErrUnsupported, ka.KeyEncryptionAlgorithm.Algorithm)
	}
	var wrap pkix.AlgorithmIdentifier
	if err := envUnmarshal(ka.KeyEncryptionAlgorithm.Parameters.FullBytes, &wrap, "", "KeyWrapAlgorithm"); err != nil {
		return nil, "", err
	}
	kekLen, ok := kariWrapKeyLen(wrap.Algorithm)
	if !ok {
		return nil, "", fmt.Errorf("%w: key wrap %v", ErrUnsupported, wrap.Algorithm)
	}
	ephemeral, err := kariOriginatorKey(ka.Originator, curve)
	if err != nil {
		return nil, "", err
	}
	z, err := priv.ECDH(ephemeral)
	if err != nil {
		return nil, "", ErrIntegrity
	}
	kek, err := kariKEK(newHash, z, wrap.Algorithm, kekLen, ka.UKM)
	clear(z)
	if err != nil {
		return nil, "", ErrIntegrity
	}
	cek, err := keyUnwrap(kek, rek.EncryptedKey)
	clear(kek)
	if err != nil || len(cek) != keyLen {
		return nil, "", ErrIntegrity
	}
	return cek, "ECDH-" + curve.name + "-" + hashName, nil
}

// kariOriginatorKey decodes the ephemeral public key. RFC 5753 §3.1.1:
// ephemeral-static ECDH uses the originatorKey alternative, with
// id-ecPublicKey and absent or NULL parameters (the recipient's curve);
// a namedCurve equal to the recipient's is accepted too.
func kariOriginatorKey(explicit asn1.RawValue, curve kariCurve) (*ecdh.PublicKey, error) {
	// originator [0] EXPLICIT: encoding/asn1 leaves the wrapper on a
	// RawValue.
	var orig asn1.RawValue
	if err := envUnmarshal(explicit.Bytes, &orig, "", "OriginatorIdentifierOrKey"); err != nil {
		return nil, err
	}
	if orig.Class != asn1.ClassContextSpecific || orig.Tag != 1 || !orig.IsCompound {
		return nil, fmt.Errorf("%w: static-static ECDH (originator is not an originatorKey)", ErrUnsupported)
	}
	var opk kariOriginatorPublicKey
	if err := envUnmarshal(orig.FullBytes, &opk, "tag:1", "OriginatorPublicKey"); err != nil {
		return nil, err
	}
	if !opk.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("%w: originator key %v", ErrUnsupported, opk.Algorithm.Algorithm)
	}
	if p := opk.Algorithm.Parameters; len(p.FullBytes) > 0 && p.Tag != asn1.TagNull {
		var named asn1.ObjectIdentifier
		if err := envUnmarshal(p.FullBytes, &named, "", "originator key curve"); err != nil {
			return nil, err
		}
		if !named.Equal(curve.oid) {
			return nil, envMalformed("originator key on another curve than the recipient's", nil)
		}
	}
	if opk.PublicKey.BitLength%8 != 0 {
		return nil, envMalformed("originator key bit string", nil)
	}
	pub, err := curve.curve.NewPublicKey(opk.PublicKey.Bytes)
	if err != nil {
		return nil, envMalformed("originator key point", err)
	}
	return pub, nil
}

// kariEncrypt returns the DER of a KeyAgreeRecipientInfo (RFC 5753
// §3.1.1, version 3, fresh ephemeral key) carrying cek for cert.
func kariEncrypt(rnd io.Reader, cert *x509.Certificate, pub *ecdsa.PublicKey, cek []byte) ([]byte, error) {
	rpub, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: recipient EC key: %v", ErrUnsupported, err)
	}
	curve, ok := kariCurveOf(rpub.Curve())
	if !ok {
		return nil, fmt.Errorf("%w: recipient curve", ErrUnsupported)
	}
	// RFC 5753 §7.1.5 with RFC 3565 §2.3.2: wrap with AES of the
	// content key's strength.
	wrapOID := oidAES128Wrap
	if len(cek) > 16 {
		wrapOID = oidAES256Wrap
	}
	kekLen, _ := kariWrapKeyLen(wrapOID)
	eph, err := curve.curve.GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: ephemeral key: %w", err)
	}
	z, err := eph.ECDH(rpub)
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: ECDH: %w", err)
	}
	kek, err := kariKEK(kariCurveHash(curve), z, wrapOID, kekLen, nil)
	clear(z)
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: KDF: %w", err)
	}
	wrapped, err := keyWrap(kek, cek)
	clear(kek)
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: key wrap: %w", err)
	}
	return kariMarshal(cert, curve, eph.PublicKey().Bytes(), wrapOID, wrapped)
}

func kariCurveHash(c kariCurve) func() hash.Hash {
	h, _, _ := kariKDFHash(c.scheme)
	return h
}

// kariMarshal assembles the KeyAgreeRecipientInfo with its [1] tag.
func kariMarshal(cert *x509.Certificate, curve kariCurve, ephemeral []byte, wrapOID asn1.ObjectIdentifier, wrapped []byte) ([]byte, error) {
	opk, err := asn1.MarshalWithParams(kariOriginatorPublicKey{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey},
		PublicKey: asn1.BitString{Bytes: ephemeral, BitLength: 8 * len(ephemeral)},
	}, "tag:1")
	if err != nil {
		return nil, err
	}
	wrapParams, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: wrapOID})
	if err != nil {
		return nil, err
	}
	rid, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, SerialNumber: cert.SerialNumber})
	if err != nil {
		return nil, err
	}
	rek, err := asn1.Marshal(kariRecipientEncryptedKey{RID: asn1.RawValue{FullBytes: rid}, EncryptedKey: wrapped})
	if err != nil {
		return nil, err
	}
	return asn1.MarshalWithParams(kariInfo{
		Version: 3,
		// originator [0] EXPLICIT: the wrapper is written by hand,
		// encoding/asn1 ignores tags on a RawValue when marshalling.
		Originator:             asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: opk},
		KeyEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: curve.scheme, Parameters: asn1.RawValue{FullBytes: wrapParams}},
		RecipientEncryptedKeys: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: rek},
	}, "tag:1")
}
