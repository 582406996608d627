package smime

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Encrypt encrypts content (a complete MIME entity, canonical CRLF) to
// each recipient certificate and returns a DER ContentInfo:
// AuthEnvelopedData (RFC 5083, RFC 5084) for the GCM ciphers,
// EnvelopedData (RFC 5652 §6) for CBC.
//
// RSA certificates get a KeyTransRecipientInfo (issuerAndSerialNumber)
// with opt.KeyTransport; EC certificates (P-256, P-384, P-521) a
// KeyAgreeRecipientInfo with ephemeral-static ECDH,
// dhSinglePass-stdDH-sha256kdf-scheme (sha384 for P-384, sha512 for
// P-521), the X9.63 KDF over ECC-CMS-SharedInfo (RFC 5753 §7.2) and
// aes128-wrap or aes256-wrap matching the content key; ML-KEM-768 and
// ML-KEM-1024 certificates (RFC 9935) a KEMRecipientInfo (RFC 9629,
// RFC 9936) with HKDF-SHA256 and aes256-wrap. The
// content-encryption key, IV and nonce are fresh for every call.
//
// Encrypt does not judge the certificates (validity, key usage,
// revocation): choosing them is the keyring's job.
func Encrypt(content []byte, recipients []*x509.Certificate, opt EncryptOptions) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("smime: encrypt: no recipients")
	}
	if len(recipients) > envMaxRecipients {
		return nil, fmt.Errorf("smime: encrypt: more than %d recipients", envMaxRecipients)
	}
	if len(content) > envMaxCiphertext-aes.BlockSize {
		return nil, fmt.Errorf("smime: encrypt: content exceeds %d bytes", envMaxCiphertext-aes.BlockSize)
	}
	alg, err := envContentAlgFor(opt.Cipher)
	if err != nil {
		return nil, err
	}
	rnd := opt.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	cek := make([]byte, alg.keyLen)
	defer clear(cek)
	if _, err := io.ReadFull(rnd, cek); err != nil {
		return nil, fmt.Errorf("smime: encrypt: content key: %w", err)
	}
	ris, version, err := envRecipientInfos(rnd, recipients, cek, opt.KeyTransport)
	if err != nil {
		return nil, err
	}
	eci, mac, err := envSeal(rnd, alg, cek, content)
	if err != nil {
		return nil, err
	}
	if alg.gcm {
		// RFC 5083 §2.1: version is always 0.
		der, err := asn1.Marshal(envAuthEnvelopedData{Version: 0, RecipientInfos: ris, AuthEncryptedContentInfo: eci, MAC: mac})
		if err != nil {
			return nil, fmt.Errorf("smime: encrypt: %w", err)
		}
		return marshalContentInfo(oidAuthEnvelopedData, der)
	}
	der, err := asn1.Marshal(envelopedData{Version: version, RecipientInfos: ris, EncryptedContentInfo: eci})
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: %w", err)
	}
	return marshalContentInfo(oidEnvelopedData, der)
}

// envRecipientInfos builds the RecipientInfos SET (DER: members sorted,
// X.690 §11.6) and returns the EnvelopedData version they call for
// (RFC 5652 §6.1, with no originatorInfo and no unprotectedAttrs): 3
// when there is an ori (a KEMRecipientInfo), else 0 when every member is
// version 0 (KeyTransRecipientInfos by issuerAndSerialNumber), else 2
// (a KeyAgreeRecipientInfo is version 3).
func envRecipientInfos(rnd io.Reader, recipients []*x509.Certificate, cek []byte, kt KeyTransport) (asn1.RawValue, int, error) {
	members := make([][]byte, 0, len(recipients))
	version := 0
	for i, cert := range recipients {
		if cert == nil {
			return asn1.RawValue{}, 0, fmt.Errorf("smime: encrypt: recipient %d: no certificate", i)
		}
		var (
			ri  []byte
			err error
		)
		switch pub := cert.PublicKey.(type) {
		case *rsa.PublicKey:
			ri, err = ktriEncrypt(rnd, cert, pub, cek, kt)
		case *ecdsa.PublicKey:
			ri, err = kariEncrypt(rnd, cert, pub, cek)
			version = max(version, 2)
		default:
			if p, ek, ok := certMLKEM(cert); ok {
				ri, err = kemriEncrypt(cert, p, ek, cek)
				version = 3
				break
			}
			err = fmt.Errorf("%w: recipient key %T", ErrUnsupported, cert.PublicKey)
		}
		if err != nil {
			return asn1.RawValue{}, 0, fmt.Errorf("smime: encrypt: recipient %d: %w", i, err)
		}
		members = append(members, ri)
	}
	slices.SortFunc(members, bytes.Compare)
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(members, nil)}, version, nil
}

// envSeal encrypts content under cek and returns the
// EncryptedContentInfo and, for GCM, the tag.
func envSeal(rnd io.Reader, alg envContentAlg, cek, content []byte) (envEncryptedContentInfo, []byte, error) {
	block, err := aes.NewCipher(cek)
	if err != nil {
		return envEncryptedContentInfo{}, nil, fmt.Errorf("smime: encrypt: %w", err)
	}
	var (
		params, ct, mac []byte
	)
	if alg.gcm {
		params, ct, mac, err = envSealGCM(rnd, block, content)
	} else {
		params, ct, err = envSealCBC(rnd, block, content)
	}
	if err != nil {
		return envEncryptedContentInfo{}, nil, fmt.Errorf("smime: encrypt: %w", err)
	}
	return envEncryptedContentInfo{
		ContentType:                oidData,
		ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: alg.oid, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
	}, mac, nil
}

// envSealGCM: RFC 5084 §3.2, a 12-byte nonce and a 16-byte tag, written
// explicitly as aes-ICVlen 16.
func envSealGCM(rnd io.Reader, block cipher.Block, content []byte) (params, ct, mac []byte, err error) {
	const tagLen = 16
	gcm, err := cipher.NewGCMWithTagSize(block, tagLen)
	if err != nil {
		return nil, nil, nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, nil, nil, err
	}
	params, err = asn1.Marshal(envGCMParams{Nonce: nonce, ICVLen: tagLen})
	if err != nil {
		return nil, nil, nil, err
	}
	sealed := gcm.Seal(nil, nonce, content, nil)
	n := len(sealed) - tagLen
	return params, sealed[:n:n], sealed[n:], nil
}

// envSealCBC: RFC 3565 §2.1 (IV as parameters), RFC 5652 §6.3 padding.
func envSealCBC(rnd io.Reader, block cipher.Block, content []byte) (params, ct []byte, err error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, nil, err
	}
	if params, err = asn1.Marshal(iv); err != nil {
		return nil, nil, err
	}
	pad := aes.BlockSize - len(content)%aes.BlockSize
	ct = make([]byte, len(content)+pad)
	copy(ct, content)
	for i := len(content); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	return params, ct, nil
}
