package smime

// KEM recipients: KEMRecipientInfo (RFC 9629) in an OtherRecipientInfo
// (RFC 5652 §6.2.5), with ML-KEM (RFC 9936), HKDF (RFC 8619) over
// CMSORIforKEMOtherInfo, and AES key wrap (RFC 3394, RFC 3565 §2.3.2).

import (
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
)

var (
	// RFC 9629 §3: id-ori-kem.
	oidORIKEM = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 13, 3}
	// RFC 8619 §2: id-alg-hkdf-with-sha256/384/512.
	oidHKDFSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 28}
	oidHKDFSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 29}
	oidHKDFSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 30}
)

// otherRecipientInfo is RFC 5652 §6.2.5 OtherRecipientInfo, the [4]
// IMPLICIT alternative of RecipientInfo.
type otherRecipientInfo struct {
	OriType  asn1.ObjectIdentifier
	OriValue asn1.RawValue
}

// kemriInfo is RFC 9629 §3 KEMRecipientInfo.
type kemriInfo struct {
	Version      int
	RID          asn1.RawValue
	KEM          pkix.AlgorithmIdentifier
	KEMCT        []byte
	KDF          pkix.AlgorithmIdentifier
	KEKLength    int
	UKM          []byte `asn1:"explicit,optional,tag:0"`
	Wrap         pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

// kemOtherInfo is RFC 9629 §5 CMSORIforKEMOtherInfo, the HKDF info.
type kemOtherInfo struct {
	Wrap      pkix.AlgorithmIdentifier
	KEKLength int
	UKM       []byte `asn1:"explicit,optional,tag:0"`
}

// kemriMaxKEK bounds kekLength (RFC 9629 allows up to 65535; AES key
// wrap takes 16, 24 or 32).
const kemriMaxKEK = 32

// kemriEncrypt returns the DER of an OtherRecipientInfo holding a
// KEMRecipientInfo (version 0) that carries cek for the ML-KEM
// certificate cert: RFC 9936 §3 with HKDF-SHA256, kekLength 32 and
// aes256-wrap, no ukm. rid is the subjectKeyIdentifier when the
// certificate has one, else issuerAndSerialNumber.
func kemriEncrypt(cert *x509.Certificate, p mlkemParams, ek, cek []byte) ([]byte, error) {
	shared, ct, err := mlkemEncapsulate(p, ek)
	if err != nil {
		return nil, err
	}
	defer clear(shared)
	wrap := pkix.AlgorithmIdentifier{Algorithm: oidAES256Wrap}
	const kekLen = 32
	kek, err := kemriKEK(sha256.New, shared, wrap, kekLen, nil)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	wrapped, err := keyWrap(kek, cek)
	if err != nil {
		return nil, err
	}
	rid, err := kemriRID(cert)
	if err != nil {
		return nil, err
	}
	val, err := asn1.Marshal(kemriInfo{
		Version:      0,
		RID:          rid,
		KEM:          pkix.AlgorithmIdentifier{Algorithm: p.oid},
		KEMCT:        ct,
		KDF:          pkix.AlgorithmIdentifier{Algorithm: oidHKDFSHA256},
		KEKLength:    kekLen,
		Wrap:         wrap,
		EncryptedKey: wrapped,
	})
	if err != nil {
		return nil, err
	}
	return asn1.MarshalWithParams(otherRecipientInfo{OriType: oidORIKEM, OriValue: asn1.RawValue{FullBytes: val}}, "tag:4")
}

// kemriRID is RFC 9629 §3's rid: RFC 5652 §6.2.1's RecipientIdentifier.
func kemriRID(cert *x509.Certificate) (asn1.RawValue, error) {
	if len(cert.SubjectKeyId) > 0 {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: cert.SubjectKeyId}, nil
	}
	der, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, SerialNumber: cert.SerialNumber})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("smime: encrypt: recipient identifier: %w", err)
	}
	return asn1.RawValue{FullBytes: der}, nil
}

// kemriKEK is RFC 9629 §5: KEK = KDF(IKM = shared secret, L = kekLength,
// info = DER(CMSORIforKEMOtherInfo)); HKDF with an empty salt (RFC 8619
// §3, RFC 9936 §3).
func kemriKEK(h func() hash.Hash, shared []byte, wrap pkix.AlgorithmIdentifier, kekLen int, ukm []byte) ([]byte, error) {
	info, err := asn1.Marshal(kemOtherInfo{Wrap: wrap, KEKLength: kekLen, UKM: ukm})
	if err != nil {
		return nil, err
	}
	return hkdf.Key(h, shared, nil, string(info), kekLen)
}

// kemriFind parses an OtherRecipientInfo and returns its
// KEMRecipientInfo when it is one and names cert; nil otherwise (another
// kind of OtherRecipientInfo is for someone else).
func kemriFind(ri asn1.RawValue, cert *x509.Certificate) (*kemriInfo, error) {
	var ori otherRecipientInfo
	if err := envUnmarshal(ri.FullBytes, &ori, "tag:4", "OtherRecipientInfo"); err != nil {
		return nil, err
	}
	if !ori.OriType.Equal(oidORIKEM) {
		return nil, nil
	}
	var kr kemriInfo
	if err := envUnmarshal(ori.OriValue.FullBytes, &kr, "", "KEMRecipientInfo"); err != nil {
		return nil, err
	}
	match, err := ktriMatches(kr.RID, cert)
	if err != nil || !match {
		return nil, err
	}
	return &kr, nil
}

// kemriDecrypt recovers the content-encryption key of keyLen bytes from
// kr with key. Once the parameters are acceptable every failure is
// ErrIntegrity: ML-KEM decapsulation rejects implicitly (a changed kemct
// gives a different secret), so a changed kemct or encryptedKey shows as
// a failed key unwrap.
func kemriDecrypt(kr *kemriInfo, key crypto.PrivateKey, keyLen int) ([]byte, string, error) {
	priv, ok := key.(*MLKEMPrivateKey)
	if !ok {
		return nil, "", fmt.Errorf("%w: a KEM recipient with a %T key", ErrUnsupported, key)
	}
	// RFC 9629 §3: version is always 0.
	if kr.Version != 0 {
		return nil, "", envMalformed(fmt.Sprintf("KEMRecipientInfo version %d", kr.Version), nil)
	}
	if !kr.KEM.Algorithm.Equal(priv.params.oid) || len(kr.KEM.Parameters.FullBytes) != 0 {
		return nil, "", fmt.Errorf("%w: KEM %v for a %s key", ErrUnsupported, kr.KEM.Algorithm, priv.params.name)
	}
	h, hname, ok := kemriKDF(kr.KDF)
	if !ok {
		return nil, "", fmt.Errorf("%w: KEM key derivation %v", ErrUnsupported, kr.KDF.Algorithm)
	}
	wrapLen, ok := kariWrapKeyLen(kr.Wrap.Algorithm)
	if !ok || len(kr.Wrap.Parameters.FullBytes) != 0 {
		return nil, "", fmt.Errorf("%w: key wrap %v", ErrUnsupported, kr.Wrap.Algorithm)
	}
	// RFC 9629 §3: kekLength is the wrap algorithm's key length.
	if kr.KEKLength != wrapLen || kr.KEKLength > kemriMaxKEK {
		return nil, "", envMalformed(fmt.Sprintf("kekLength %d for a %d-byte wrap key", kr.KEKLength, wrapLen), nil)
	}
	shared, err := priv.decapsulate(kr.KEMCT)
	if err != nil {
		return nil, "", ErrIntegrity
	}
	defer clear(shared)
	kek, err := kemriKEK(h, shared, kr.Wrap, kr.KEKLength, kr.UKM)
	if err != nil {
		return nil, "", ErrIntegrity
	}
	defer clear(kek)
	cek, err := keyUnwrap(kek, kr.EncryptedKey)
	if err != nil || len(cek) != keyLen {
		clear(cek)
		return nil, "", ErrIntegrity
	}
	return cek, priv.params.name + "-HKDF-" + hname, nil
}

// kemriKDF maps an HKDF algorithm identifier (RFC 8619 §2: parameters
// absent) to its hash.
func kemriKDF(alg pkix.AlgorithmIdentifier) (func() hash.Hash, string, bool) {
	if len(alg.Parameters.FullBytes) != 0 {
		return nil, "", false
	}
	switch {
	case alg.Algorithm.Equal(oidHKDFSHA256):
		return sha256.New, "SHA256", true
	case alg.Algorithm.Equal(oidHKDFSHA384):
		return sha512.New384, "SHA384", true
	case alg.Algorithm.Equal(oidHKDFSHA512):
		return sha512.New, "SHA512", true
	}
	return nil, "", false
}
