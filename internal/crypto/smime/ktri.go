package smime

// RSA key transport: KeyTransRecipientInfo (RFC 5652 §6.2.1) with
// rsaEncryption (RFC 3370 §4.2.1) or RSAES-OAEP (RFC 3560, RFC 8017).

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
)

// ktriMatches reports whether rid, a RecipientIdentifier (of a
// KeyTransRecipientInfo or a KEMRecipientInfo), names cert.
func ktriMatches(rid asn1.RawValue, cert *x509.Certificate) (bool, error) {
	switch {
	case rid.Class == asn1.ClassUniversal && rid.Tag == asn1.TagSequence && rid.IsCompound:
		return envIssuerSerialMatches(rid.FullBytes, cert)
	case rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 && !rid.IsCompound:
		// RFC 5652 §6.2.1: subjectKeyIdentifier [0] IMPLICIT OCTET STRING.
		return envSKIMatches(rid.Bytes, cert), nil
	}
	return false, envMalformed("RecipientIdentifier (KeyTransRecipientInfo or KEMRecipientInfo rid)", nil)
}

// ktriDecrypt recovers the content-encryption key of keyLen bytes.
func ktriDecrypt(kt *ktriInfo, key crypto.PrivateKey, keyLen int) ([]byte, string, error) {
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, "", fmt.Errorf("%w: key transport to a %T", ErrUnsupported, key)
	}
	alg := kt.KeyEncryptionAlgorithm
	switch {
	case alg.Algorithm.Equal(oidRSAEncryption):
		// RFC 3218 §2.3.2: on a padding failure carry on with a random
		// key, so that the failure surfaces only as the same
		// ErrIntegrity the content decryption gives for any wrong key.
		cek := make([]byte, keyLen)
		rand.Read(cek)
		if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, kt.EncryptedKey, cek); err != nil {
			// Only for a ciphertext of the wrong length: public data.
			return nil, "", ErrIntegrity
		}
		return cek, "RSA-PKCS1v15", nil
	case alg.Algorithm.Equal(oidRSAOAEP):
		opts, name, err := ktriOAEPOptions(alg.Parameters.FullBytes)
		if err != nil {
			return nil, "", err
		}
		cek, err := priv.Decrypt(nil, kt.EncryptedKey, opts)
		if err != nil || len(cek) != keyLen {
			return nil, "", ErrIntegrity
		}
		return cek, name, nil
	}
	return nil, "", fmt.Errorf("%w: key transport %v", ErrUnsupported, alg.Algorithm)
}

// ktriOAEPOptions decodes RSAES-OAEP-params (RFC 8017 Appendix A.2.1).
// Absent parameters and an empty SEQUENCE both mean the SHA-1 defaults.
func ktriOAEPOptions(params []byte) (*rsa.OAEPOptions, string, error) {
	var p envOAEPParams
	if len(params) > 0 {
		if err := envUnmarshal(params, &p, "", "RSAES-OAEP-params"); err != nil {
			return nil, "", err
		}
	}
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	hashName, mgfName := "SHA1", "SHA1"
	var ok bool
	if len(p.HashFunc.Algorithm) > 0 {
		if opts.Hash, hashName, ok = envHashByOID(p.HashFunc.Algorithm); !ok {
			return nil, "", fmt.Errorf("%w: OAEP hash %v", ErrUnsupported, p.HashFunc.Algorithm)
		}
	}
	if len(p.MaskGenFunc.Algorithm) > 0 {
		if !p.MaskGenFunc.Algorithm.Equal(oidMGF1) {
			return nil, "", fmt.Errorf("%w: OAEP mask generation %v", ErrUnsupported, p.MaskGenFunc.Algorithm)
		}
		var h pkix.AlgorithmIdentifier
		if err := envUnmarshal(p.MaskGenFunc.Parameters.FullBytes, &h, "", "MGF1 hash"); err != nil {
			return nil, "", err
		}
		if opts.MGFHash, mgfName, ok = envHashByOID(h.Algorithm); !ok {
			return nil, "", fmt.Errorf("%w: MGF1 hash %v", ErrUnsupported, h.Algorithm)
		}
	}
	if len(p.PSourceFunc.Algorithm) > 0 {
		if !p.PSourceFunc.Algorithm.Equal(envOIDPSpecified) {
			return nil, "", fmt.Errorf("%w: OAEP pSourceFunc %v", ErrUnsupported, p.PSourceFunc.Algorithm)
		}
		if err := envUnmarshal(p.PSourceFunc.Parameters.FullBytes, &opts.Label, "", "OAEP label"); err != nil {
			return nil, "", err
		}
	}
	name := "RSA-OAEP-" + hashName
	if mgfName != hashName {
		name += "-MGF1-" + mgfName
	}
	return opts, name, nil
}

// ktriEncrypt returns the DER of a KeyTransRecipientInfo (version 0,
// issuerAndSerialNumber) carrying cek for cert.
func ktriEncrypt(rnd io.Reader, cert *x509.Certificate, pub *rsa.PublicKey, cek []byte, kt KeyTransport) ([]byte, error) {
	var (
		alg pkix.AlgorithmIdentifier
		ek  []byte
		err error
	)
	switch kt {
	case RSAOAEPSHA256:
		if alg, err = ktriOAEPSHA256Identifier(); err == nil {
			ek, err = rsa.EncryptOAEPWithOptions(rnd, pub, cek, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
		}
	case RSAOAEPSHA1:
		ek, err = rsa.EncryptOAEPWithOptions(rnd, pub, cek, &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1})
		// RFC 4055 §4.1 rSAES-OAEP-Default-Identifier: an empty SEQUENCE.
		alg = pkix.AlgorithmIdentifier{Algorithm: oidRSAOAEP, Parameters: asn1.RawValue{FullBytes: []byte{0x30, 0x00}}}
	case RSAPKCS1v15:
		ek, err = rsa.EncryptPKCS1v15(rnd, pub, cek)
		alg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
	default:
		return nil, fmt.Errorf("%w: key transport %d", ErrUnsupported, kt)
	}
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: RSA key transport: %w", err)
	}
	rid, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, SerialNumber: cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: recipient identifier: %w", err)
	}
	return asn1.Marshal(ktriInfo{Version: 0, RID: asn1.RawValue{FullBytes: rid}, KeyEncryptionAlgorithm: alg, EncryptedKey: ek})
}

// ktriOAEPSHA256Identifier is RFC 4055 §4.1 rSAES-OAEP-SHA256-Identifier:
// hashFunc sha256 and mgf1 with sha256, each with NULL parameters as
// RFC 4055 §2.1 prescribes, pSourceFunc absent (default).
func ktriOAEPSHA256Identifier() (pkix.AlgorithmIdentifier, error) {
	sha256ID := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
	mgfParams, err := asn1.Marshal(sha256ID)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	params, err := asn1.Marshal(envOAEPParams{
		HashFunc:    sha256ID,
		MaskGenFunc: pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mgfParams}},
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidRSAOAEP, Parameters: asn1.RawValue{FullBytes: params}}, nil
}
