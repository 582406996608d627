package smime

// Types, algorithm tables and ASN.1 structures shared by Encrypt and
// Decrypt: EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083).

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
)

// Cipher selects content encryption.
type Cipher int

// Content-encryption choices for Encrypt. The zero value is AES-256-GCM.
const (
	// AES256GCM writes AuthEnvelopedData (RFC 5083, RFC 5084): the
	// content is authenticated. The default.
	AES256GCM Cipher = iota
	// AES128GCM writes AuthEnvelopedData with AES-128-GCM.
	AES128GCM
	// AES256CBC writes EnvelopedData (RFC 5652 §6, RFC 3565), which
	// every client reads (DefaultCipher). CBC has no integrity
	// protection: a changed ciphertext decrypts to changed plaintext
	// unless the change happens to break the padding, so the content
	// must carry a signature.
	AES256CBC
	// AES128CBC writes EnvelopedData with AES-128-CBC.
	AES128CBC
)

// KeyTransport selects RSA key transport. It does not apply to EC
// recipients, which always get ECDH key agreement.
type KeyTransport int

// RSA key-transport choices for Encrypt. The zero value is RSA-OAEP with
// SHA-256.
const (
	// RSAOAEPSHA256 is RSAES-OAEP (RFC 8017) with the RFC 4055 §4.1
	// parameters hashFunc sha256, maskGenFunc mgf1 with sha256 and the
	// default (empty) label. The default.
	RSAOAEPSHA256 KeyTransport = iota
	// RSAPKCS1v15 is RSAES-PKCS1-v1_5 (rsaEncryption), which every
	// S/MIME client reads (DefaultKeyTransport).
	RSAPKCS1v15
	// RSAOAEPSHA1 is RSAES-OAEP with the default (SHA-1) parameters.
	RSAOAEPSHA1
)

// EncryptOptions adjust Encrypt; the zero value is AES-256-GCM content
// encryption with RSA-OAEP-SHA256 key transport, which many clients
// cannot read: Choose picks what a recipient's client reads.
type EncryptOptions struct {
	Cipher       Cipher
	KeyTransport KeyTransport
	// Rand supplies the content-encryption key, the IV or nonce. nil
	// means crypto/rand. Since Go 1.26 the standard library draws RSA
	// padding and ephemeral ECDH keys from its own secure source
	// whatever is passed here.
	Rand io.Reader
}

// DecryptInfo says how a message was protected.
type DecryptInfo struct {
	// Cipher is the content encryption, e.g. "AES-256-GCM", "AES-128-CBC".
	Cipher string
	// Authenticated is true for AuthEnvelopedData (AES-GCM), whose tag
	// was checked; EnvelopedData (CBC) has no integrity protection.
	Authenticated bool
	// KeyTransport is how the content-encryption key reached this
	// recipient: "RSA-OAEP-SHA256", "RSA-OAEP-SHA1", "RSA-PKCS1v15",
	// "ECDH-P256-SHA256", "ECDH-P384-SHA384", ... An OAEP mask
	// generation hash other than the OAEP hash is added as
	// "-MGF1-SHA1" and so on.
	KeyTransport string
}

// Limits on untrusted input (DESIGN §4.8).
const (
	// envMaxRecipients bounds RecipientInfos, and RecipientEncryptedKeys
	// summed over all KeyAgreeRecipientInfos, of one message.
	envMaxRecipients = 1000
	// envMaxCiphertext bounds the encrypted content (and so the
	// plaintext Encrypt accepts).
	envMaxCiphertext = 64 << 20
	// envMaxInput bounds the whole BER input: the ciphertext plus room
	// for envMaxRecipients recipient infos.
	envMaxInput = envMaxCiphertext + 8<<20
)

// envContentAlg describes one content-encryption algorithm.
type envContentAlg struct {
	name   string
	oid    asn1.ObjectIdentifier
	keyLen int
	gcm    bool
}

// RFC 3565 §4.1 (AES-CBC), RFC 5084 §3.2 (AES-GCM).
var envContentAlgs = []envContentAlg{
	{"AES-128-CBC", oidAES128CBC, 16, false},
	{"AES-192-CBC", oidAES192CBC, 24, false},
	{"AES-256-CBC", oidAES256CBC, 32, false},
	{"AES-128-GCM", oidAES128GCM, 16, true},
	{"AES-192-GCM", oidAES192GCM, 24, true},
	{"AES-256-GCM", oidAES256GCM, 32, true},
}

func envContentAlgByOID(oid asn1.ObjectIdentifier) (envContentAlg, bool) {
	for _, a := range envContentAlgs {
		if a.oid.Equal(oid) {
			return a, true
		}
	}
	return envContentAlg{}, false
}

// envContentAlgFor maps the Encrypt option to its algorithm.
func envContentAlgFor(c Cipher) (envContentAlg, error) {
	var oid asn1.ObjectIdentifier
	switch c {
	case AES256GCM:
		oid = oidAES256GCM
	case AES128GCM:
		oid = oidAES128GCM
	case AES256CBC:
		oid = oidAES256CBC
	case AES128CBC:
		oid = oidAES128CBC
	default:
		return envContentAlg{}, fmt.Errorf("%w: cipher %d", ErrUnsupported, c)
	}
	a, _ := envContentAlgByOID(oid)
	return a, nil
}

// Key-encryption OIDs not in smime.go.
var (
	// RFC 8017 Appendix A.2.1: pSourceFunc pSpecified (the OAEP label).
	envOIDPSpecified = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 9}
)

// envHashByOID maps the digest OIDs allowed in OAEP parameters.
func envHashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, string, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, "SHA1", true
	case oid.Equal(oidSHA256):
		return crypto.SHA256, "SHA256", true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, "SHA384", true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, "SHA512", true
	}
	return 0, "", false
}

// envEncryptedContentInfo is RFC 5652 §6.1 EncryptedContentInfo. The
// encryptedContent [0] IMPLICIT OCTET STRING is primitive (0x80) in DER
// and constructed (0xA0, OCTET STRING segments) in OpenSSL's streamed BER.
type envEncryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"optional,tag:0"`
}

// envelopedData is RFC 5652 §6.1 EnvelopedData. RecipientInfos stays raw
// so that its members are counted before any is decoded.
type envelopedData struct {
	Version              int
	OriginatorInfo       asn1.RawValue `asn1:"optional,tag:0"`
	RecipientInfos       asn1.RawValue
	EncryptedContentInfo envEncryptedContentInfo
	UnprotectedAttrs     asn1.RawValue `asn1:"optional,tag:1"`
}

// envAuthEnvelopedData is RFC 5083 §2.1 AuthEnvelopedData.
type envAuthEnvelopedData struct {
	Version                  int
	OriginatorInfo           asn1.RawValue `asn1:"optional,tag:0"`
	RecipientInfos           asn1.RawValue
	AuthEncryptedContentInfo envEncryptedContentInfo
	AuthAttrs                asn1.RawValue `asn1:"optional,tag:1"`
	MAC                      []byte
	UnauthAttrs              asn1.RawValue `asn1:"optional,tag:2"`
}

// envGCMParams is RFC 5084 §3.2 GCMParameters.
type envGCMParams struct {
	Nonce  []byte
	ICVLen int `asn1:"optional,default:12"`
}

// envOAEPParams is RFC 8017 Appendix A.2.1 RSAES-OAEP-params. Absent
// fields take the defaults sha1, mgf1SHA1 and an empty label.
type envOAEPParams struct {
	HashFunc    pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MaskGenFunc pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	PSourceFunc pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:2"`
}

// ktriInfo is RFC 5652 §6.2.1 KeyTransRecipientInfo. RID is an
// IssuerAndSerialNumber (SEQUENCE) or [0] IMPLICIT SubjectKeyIdentifier.
type ktriInfo struct {
	Version                int
	RID                    asn1.RawValue
	KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedKey           []byte
}

// kariInfo is RFC 5652 §6.2.2 KeyAgreeRecipientInfo, the [1] alternative
// of RecipientInfo. RecipientEncryptedKeys stays raw to be counted.
type kariInfo struct {
	Version                int
	Originator             asn1.RawValue `asn1:"explicit,tag:0"`
	UKM                    []byte        `asn1:"explicit,optional,tag:1"`
	KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
	RecipientEncryptedKeys asn1.RawValue
}

// kariRecipientEncryptedKey is RFC 5652 §6.2.2 RecipientEncryptedKey. RID
// is an IssuerAndSerialNumber or [0] IMPLICIT RecipientKeyIdentifier.
type kariRecipientEncryptedKey struct {
	RID          asn1.RawValue
	EncryptedKey []byte
}

// kariOriginatorPublicKey is RFC 5652 §6.2.2 OriginatorPublicKey, the
// [1] alternative of OriginatorIdentifierOrKey.
type kariOriginatorPublicKey struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// kariSharedInfo is RFC 5753 §7.2 ECC-CMS-SharedInfo.
type kariSharedInfo struct {
	KeyInfo     pkix.AlgorithmIdentifier
	EntityUInfo []byte `asn1:"optional,explicit,tag:0"`
	SuppPubInfo []byte `asn1:"explicit,tag:2"`
}

// envMalformed wraps ErrMalformed with what was being parsed.
func envMalformed(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	if errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
}

// envUnmarshal decodes all of der into v (with asn1 params) and refuses
// trailing bytes.
func envUnmarshal(der []byte, v any, params, what string) error {
	rest, err := asn1.UnmarshalWithParams(der, v, params)
	if err != nil {
		return envMalformed(what, err)
	}
	if len(rest) != 0 {
		return envMalformed(what+": trailing data", nil)
	}
	return nil
}

// envSplitSet returns the DER members of the SET OF or SEQUENCE OF whose
// contents are b, refusing more than *budget of them and charging them to
// it.
func envSplitSet(b []byte, budget *int, what string) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		if *budget <= 0 {
			return nil, fmt.Errorf("%w: more than %d recipients", ErrMalformed, envMaxRecipients)
		}
		*budget--
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			return nil, envMalformed(what, err)
		}
		out = append(out, rv)
		b = rest
	}
	return out, nil
}
