// Package smime is Sealpost's S/MIME engine: S/MIME 4.0 (RFC 8551) over
// the Cryptographic Message Syntax (RFC 5652), with AuthEnvelopedData
// (RFC 5083, AES-GCM per RFC 5084), RSA-OAEP (RFC 3560, RFC 8017), RSA-PSS
// (RFC 4056), ECDH key agreement (RFC 5753), Ed25519 signatures
// (RFC 8419), ML-KEM recipients: KEMRecipientInfo (RFC 9629) with
// ML-KEM (RFC 9936) for ML-KEM certificates and keys (RFC 9935), and
// ML-DSA signatures (RFC 9882) by ML-DSA certificates (RFC 9881), whose
// chains and CRLs are checked here (pqchain.go) as crypto/x509 checks
// classical ones.
//
// The CMS structures are written here on encoding/asn1 and the standard
// library's crypto packages (and circl for ML-KEM-512 and ML-DSA, which
// Go 1.26 lacks): no Go CMS library gets AuthEnvelopedData,
// OAEP-SHA256 parameters and ECDH key agreement right. No cryptographic
// primitive is implemented here.
//
// Deliberately not supported: DES, 3DES, RC2 and SHA-1 signatures, which
// are refused by name (ErrWeak); password (PWRI) and KEK recipients;
// EncryptedData and DigestedData content types; Ed448; encrypting to
// ML-KEM-512 (it decrypts); ML-KEM private keys in RFC 9935's
// expandedKey form alone (ErrExpandedOnly: crypto/mlkem loads seeds);
// name and policy constraints on a chain with an ML-DSA link (such a
// chain is refused).
//
// Known divergences: a detached signature verifies over either of two
// canonical forms of the signed part, OpenSSL's and the literal one of
// RFC 8551 §3.1.1 (canonical.go); a signer's certificate may come from
// the caller (Options.Certificates) when the message carries none.
package smime

import "encoding/asn1"

// Object identifiers used by the engine.
var (
	// RFC 5652 §4, §5.1, §6.1, RFC 5083 §1.1: content types.
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEnvelopedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidAuthEnvelopedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSMIMECapability = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 15}

	// Content encryption (RFC 3565, RFC 5084).
	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}
	oidAES192GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 26}
	oidAES256GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}

	// AES key wrap (RFC 3394, RFC 3565 §2.3.2).
	oidAES128Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 5}
	oidAES192Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 25}
	oidAES256Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 45}

	// Key transport and signature algorithms (RFC 8017, RFC 4055, RFC 5754, RFC 5758).
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAOAEP         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

	// Digests (RFC 5754).
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	// ECDH key agreement with the X9.63 KDF (RFC 5753 §7.1.4, RFC 8418 not used).
	oidDHSinglePassStdDHSHA256KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 1}
	oidDHSinglePassStdDHSHA384KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 2}
	oidDHSinglePassStdDHSHA512KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 3}
	oidDHSinglePassStdDHSHA1KDF   = asn1.ObjectIdentifier{1, 3, 133, 16, 840, 63, 0, 2}
)
