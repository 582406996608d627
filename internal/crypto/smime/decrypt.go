package smime

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Decrypt decrypts an EnvelopedData (RFC 5652 §6: AES-CBC) or
// AuthEnvelopedData (RFC 5083: AES-GCM) ContentInfo, DER or BER, for the
// recipient cert whose private key is key (*rsa.PrivateKey,
// *ecdsa.PrivateKey, *ecdh.PrivateKey or, for an ML-KEM certificate,
// *MLKEMPrivateKey).
//
// It finds the RecipientInfo for cert (KeyTransRecipientInfo by
// issuerAndSerialNumber or subjectKeyIdentifier; KeyAgreeRecipientInfo
// with an originatorKey, by issuerAndSerialNumber or rKeyId;
// KEMRecipientInfo in an ori, by either), recovers
// the content-encryption key and decrypts. Plaintext is returned only
// when all of that succeeded.
//
// Supported: AES-128/192/256-CBC (EnvelopedData), AES-128/192/256-GCM
// (AuthEnvelopedData, authAttrs included in the AAD; a nonce of 1 to 64
// bytes, with a 16-byte tag when it is not 12); RSA PKCS#1 v1.5 and
// RSA-OAEP with SHA-1/256/384/512, MGF1 and an optional label; ECDH
// P-256/P-384/P-521 with dhSinglePass-stdDH-sha1/256/384/512kdf and
// aes128/192/256-wrap; ML-KEM-512/768/1024 (RFC 9936) with
// HKDF-SHA256/384/512 and aes128/192/256-wrap. Limits: 1000 recipients, 64 MiB of ciphertext.
//
// Errors: ErrMalformed for structure errors and exceeded limits;
// ErrWeak (a kind of ErrUnsupported) for DES, 3DES, RC2 and RC4;
// ErrUnsupported for anything else not listed above and for contents
// other than id-data;
// ErrNoRecipient when no RecipientInfo names cert; ErrIntegrity, bare and
// the same for every cause, for any failure once a recipient matched
// (wrong key, failed key unwrap, bad CBC padding, bad GCM tag).
//
// EnvelopedData (CBC) has no integrity protection: a changed ciphertext
// is detected only when the change breaks the padding, otherwise it
// decrypts to changed plaintext. DecryptInfo.Authenticated says which
// kind the message was; AES-GCM is what Encrypt writes by default.
func Decrypt(ber []byte, cert *x509.Certificate, key crypto.PrivateKey) ([]byte, DecryptInfo, error) {
	if err := envCheckKeyPair(cert, key); err != nil {
		return nil, DecryptInfo{}, err
	}
	msg, err := envParse(ber)
	if err != nil {
		return nil, DecryptInfo{}, err
	}
	cek, transport, err := envRecoverCEK(msg.recipients, cert, key, msg.alg.keyLen)
	if err != nil {
		return nil, DecryptInfo{}, err
	}
	plaintext, err := msg.open(cek)
	clear(cek)
	if err != nil {
		return nil, DecryptInfo{}, ErrIntegrity
	}
	return plaintext, DecryptInfo{Cipher: msg.alg.name, Authenticated: msg.alg.gcm, KeyTransport: transport}, nil
}

// GCM nonce lengths.
const (
	// gcmStandardNonce is the nonce length RFC 5084 §3.1 recommends and
	// Encrypt writes.
	gcmStandardNonce = 12
	// envMaxGCMNonce bounds an untrusted aes-nonce (DESIGN §4.8).
	envMaxGCMNonce = 64
)

// envCheckKeyPair refuses a key that does not belong to cert: that is a
// caller's mistake, not a property of the message.
func envCheckKeyPair(cert *x509.Certificate, key crypto.PrivateKey) error {
	if cert == nil || key == nil {
		return errors.New("smime: decrypt: no certificate or key")
	}
	var match bool
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		match = ok && pub.Equal(&k.PublicKey)
	case *ecdsa.PrivateKey:
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		match = ok && pub.Equal(&k.PublicKey)
	case *ecdh.PrivateKey:
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if ok {
			epub, err := pub.ECDH()
			match = err == nil && epub.Equal(k.PublicKey())
		}
	case *MLKEMPrivateKey:
		match = k.matches(cert)
	default:
		return fmt.Errorf("%w: decryption key of type %T", ErrUnsupported, key)
	}
	if !match {
		return errors.New("smime: decrypt: private key does not belong to the certificate")
	}
	return nil
}

// envMessage is a parsed EnvelopedData or AuthEnvelopedData whose
// public parts have been checked.
type envMessage struct {
	alg        envContentAlg
	recipients []asn1.RawValue
	iv         []byte // CBC IV or GCM nonce
	tagLen     int    // GCM
	ciphertext []byte
	mac        []byte // GCM tag
	aad        []byte // GCM: RFC 5083 §2.2 authAttrs as SET OF
}

// envParse decodes ber and checks everything that does not need the key.
func envParse(ber []byte) (*envMessage, error) {
	if len(ber) > envMaxInput {
		return nil, fmt.Errorf("%w: input exceeds %d bytes", ErrMalformed, envMaxInput)
	}
	der, err := berToDER(ber)
	if err != nil {
		return nil, err
	}
	ci, err := parseContentInfo(der)
	if err != nil {
		return nil, err
	}
	// encoding/asn1 leaves an EXPLICIT-tagged RawValue wrapped: the
	// content proper is in Bytes.
	content := ci.Content.Bytes
	if len(content) == 0 {
		return nil, envMalformed("ContentInfo without content", nil)
	}
	var (
		msg  envMessage
		ris  asn1.RawValue
		eci  envEncryptedContentInfo
		auth bool
	)
	switch {
	case ci.ContentType.Equal(oidEnvelopedData):
		var ed envelopedData
		if err := envUnmarshal(content, &ed, "", "EnvelopedData"); err != nil {
			return nil, err
		}
		ris, eci = ed.RecipientInfos, ed.EncryptedContentInfo
	case ci.ContentType.Equal(oidAuthEnvelopedData):
		var aed envAuthEnvelopedData
		if err := envUnmarshal(content, &aed, "", "AuthEnvelopedData"); err != nil {
			return nil, err
		}
		ris, eci, auth = aed.RecipientInfos, aed.AuthEncryptedContentInfo, true
		msg.mac = aed.MAC
		if len(aed.AuthAttrs.FullBytes) > 0 {
			// RFC 5083 §2.2: the AAD is the DER of authAttrs with the
			// IMPLICIT [1] tag replaced by the SET OF tag.
			msg.aad = append([]byte{0x31}, aed.AuthAttrs.FullBytes[1:]...)
		}
	default:
		return nil, fmt.Errorf("%w: content type %v is not (Auth)EnvelopedData", ErrUnsupported, ci.ContentType)
	}
	if ris.Class != asn1.ClassUniversal || ris.Tag != asn1.TagSet || !ris.IsCompound {
		return nil, envMalformed("RecipientInfos is not a SET", nil)
	}
	budget := envMaxRecipients
	if msg.recipients, err = envSplitSet(ris.Bytes, &budget, "RecipientInfos"); err != nil {
		return nil, err
	}
	if len(msg.recipients) == 0 {
		return nil, envMalformed("no RecipientInfos", nil)
	}
	if err := msg.setContent(eci, auth); err != nil {
		return nil, err
	}
	return &msg, nil
}

// setContent checks the content-encryption algorithm and its parameters
// and extracts the ciphertext.
func (msg *envMessage) setContent(eci envEncryptedContentInfo, auth bool) error {
	// RFC 8551 §3.1: S/MIME encrypts MIME entities, content type id-data.
	if !eci.ContentType.Equal(oidData) {
		return fmt.Errorf("%w: encrypted content type %v", ErrUnsupported, eci.ContentType)
	}
	oid := eci.ContentEncryptionAlgorithm.Algorithm
	alg, ok := envContentAlgByOID(oid)
	if !ok {
		return refusedCipher(oid)
	}
	if alg.gcm != auth {
		// RFC 5084 §1: GCM belongs in AuthEnvelopedData, and only
		// authenticated encryption in AuthEnvelopedData (RFC 5083 §2.1).
		return fmt.Errorf("%w: %s in the wrong content type", ErrUnsupported, alg.name)
	}
	msg.alg = alg
	params := eci.ContentEncryptionAlgorithm.Parameters.FullBytes
	if alg.gcm {
		if err := msg.setGCMParams(params); err != nil {
			return err
		}
	} else if err := envUnmarshal(params, &msg.iv, "", "CBC IV"); err != nil || len(msg.iv) != aes.BlockSize {
		return envMalformed("CBC IV", err)
	}
	ec := eci.EncryptedContent
	if len(ec.FullBytes) == 0 {
		return fmt.Errorf("%w: detached encrypted content", ErrUnsupported)
	}
	msg.ciphertext = ec.Bytes
	if ec.IsCompound {
		// The BER streamed form: [0] constructed, holding OCTET STRING
		// segments (X.690 §8.7.3), already definite-length here.
		joined, err := joinSegments(ec.Bytes)
		if err != nil {
			return err
		}
		msg.ciphertext = joined
	}
	if len(msg.ciphertext) > envMaxCiphertext {
		return fmt.Errorf("%w: ciphertext exceeds %d bytes", ErrMalformed, envMaxCiphertext)
	}
	if !alg.gcm && (len(msg.ciphertext) == 0 || len(msg.ciphertext)%aes.BlockSize != 0) {
		return envMalformed("CBC ciphertext is not a whole number of blocks", nil)
	}
	return nil
}

func (msg *envMessage) setGCMParams(params []byte) error {
	var p envGCMParams
	if err := envUnmarshal(params, &p, "", "GCMParameters"); err != nil {
		return err
	}
	// RFC 5084 §3.2: aes-ICVlen is 12..16.
	if p.ICVLen < 12 || p.ICVLen > 16 {
		return envMalformed(fmt.Sprintf("GCM ICV length %d", p.ICVLen), nil)
	}
	// RFC 5084 §3.2: aes-nonce has no fixed size; 12 octets is only
	// recommended (§3.1), and GCM takes any length (NIST SP 800-38D
	// §5.2.1.1). crypto/cipher takes another length with the full 16-byte
	// tag only, which is what every writer of such nonces uses.
	switch n := len(p.Nonce); {
	case n == 0 || n > envMaxGCMNonce:
		return envMalformed(fmt.Sprintf("GCM nonce of %d bytes", n), nil)
	case n != gcmStandardNonce && p.ICVLen != 16:
		return fmt.Errorf("%w: GCM nonce of %d bytes with a %d-byte tag", ErrUnsupported, n, p.ICVLen)
	}
	if len(msg.mac) != p.ICVLen {
		return envMalformed("GCM tag length differs from aes-ICVlen", nil)
	}
	msg.iv, msg.tagLen = p.Nonce, p.ICVLen
	return nil
}

// open decrypts the content with cek. Its errors are all the same to the
// caller, who reports ErrIntegrity.
func (msg *envMessage) open(cek []byte) ([]byte, error) {
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	if msg.alg.gcm {
		var gcm cipher.AEAD
		if len(msg.iv) == gcmStandardNonce {
			gcm, err = cipher.NewGCMWithTagSize(block, msg.tagLen)
		} else {
			gcm, err = cipher.NewGCMWithNonceSize(block, len(msg.iv))
		}
		if err != nil {
			return nil, err
		}
		sealed := make([]byte, 0, len(msg.ciphertext)+len(msg.mac))
		sealed = append(append(sealed, msg.ciphertext...), msg.mac...)
		return gcm.Open(sealed[:0], msg.iv, sealed, msg.aad)
	}
	out := make([]byte, len(msg.ciphertext))
	cipher.NewCBCDecrypter(block, msg.iv).CryptBlocks(out, msg.ciphertext)
	n, ok := envUnpad(out)
	if !ok {
		clear(out)
		return nil, ErrIntegrity
	}
	return out[:n], nil
}

// envUnpad checks RFC 5652 §6.3 padding (1 to 16 bytes, each holding the
// pad length) without branching on the plaintext, and returns the
// unpadded length.
func envUnpad(b []byte) (int, bool) {
	n := len(b)
	if n == 0 || n%aes.BlockSize != 0 {
		return 0, false
	}
	pad := int(b[n-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		same := subtle.ConstantTimeByteEq(b[n-i], byte(pad))
		good &= 1 ^ (inPad & (1 ^ same))
	}
	if good != 1 {
		return 0, false
	}
	return n - pad, true
}

// envRecoverCEK finds cert's RecipientInfo and recovers the
// content-encryption key of keyLen bytes from it.
func envRecoverCEK(ris []asn1.RawValue, cert *x509.Certificate, key crypto.PrivateKey, keyLen int) ([]byte, string, error) {
	budget := envMaxRecipients - len(ris)
	for _, ri := range ris {
		switch {
		case ri.Class == asn1.ClassUniversal && ri.Tag == asn1.TagSequence && ri.IsCompound:
			var kt ktriInfo
			if err := envUnmarshal(ri.FullBytes, &kt, "", "KeyTransRecipientInfo"); err != nil {
				return nil, "", err
			}
			match, err := ktriMatches(kt.RID, cert)
			if err != nil {
				return nil, "", err
			}
			if match {
				return ktriDecrypt(&kt, key, keyLen)
			}
		case ri.Class == asn1.ClassContextSpecific && ri.Tag == 1 && ri.IsCompound:
			var ka kariInfo
			if err := envUnmarshal(ri.FullBytes, &ka, "tag:1", "KeyAgreeRecipientInfo"); err != nil {
				return nil, "", err
			}
			rek, err := kariFind(&ka, cert, &budget)
			if err != nil {
				return nil, "", err
			}
			if rek != nil {
				return kariDecrypt(&ka, rek, key, keyLen)
			}
		case ri.Class == asn1.ClassContextSpecific && ri.Tag == 4 && ri.IsCompound:
			kr, err := kemriFind(ri, cert)
			if err != nil {
				return nil, "", err
			}
			if kr != nil {
				return kemriDecrypt(kr, key, keyLen)
			}
		default:
			// KEKRecipientInfo [2] and PasswordRecipientInfo [3] are for
			// someone else.
		}
	}
	return nil, "", ErrNoRecipient
}

// envIssuerSerialMatches reports whether der, an IssuerAndSerialNumber
// (RFC 5652 §10.2.4), names cert.
func envIssuerSerialMatches(der []byte, cert *x509.Certificate) (bool, error) {
	var ias issuerAndSerialNumber
	if err := envUnmarshal(der, &ias, "", "IssuerAndSerialNumber"); err != nil {
		return false, err
	}
	return bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) && ias.SerialNumber.Cmp(cert.SerialNumber) == 0, nil
}

// envSKIMatches reports whether ski is cert's subjectKeyIdentifier.
func envSKIMatches(ski []byte, cert *x509.Certificate) bool {
	return len(cert.SubjectKeyId) > 0 && bytes.Equal(ski, cert.SubjectKeyId)
}
