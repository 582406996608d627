package smime

// PKCS#12 (RFC 7292) reading, for importing a list's S/MIME identity as
// Thunderbird, Firefox (NSS) and OpenSSL export it.
//
// What is read: password integrity mode (macData with the PKCS#12 KDF
// and SHA-1/SHA-2, or PBMAC1 per RFC 9579); password privacy mode with
// PBES2 (RFC 8018: PBKDF2 + AES-CBC) or the legacy
// pbeWithSHAAnd3-KeyTripleDES-CBC; keyBag, pkcs8ShroudedKeyBag, certBag
// (X.509 only) and nested safeContentsBag. Every level may be BER with
// indefinite lengths and constructed OCTET STRINGs, as NSS writes it.
//
// What is refused: public-key integrity and privacy modes (signedData,
// envelopedData); RC2, RC4, two-key 3DES and PBES1 encryption
// (ErrUnsupported, with advice to re-export); a PFX without a MAC unless
// the password is empty; files with more than one private key.
//
// No primitive is implemented here except the RFC 7292 Appendix B key
// derivation, a few lines over a standard hash.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"slices"
	"unicode/utf16"
)

// Limits on an untrusted PKCS#12 file (DESIGN §4.8).
const (
	p12MaxInput = 1 << 20 // bytes
	p12MaxBags  = 100     // SafeBags and AuthenticatedSafe ContentInfos, nested ones included
	// p12MaxIterations bounds the iteration count of any one key
	// derivation: more is a denial of service, not protection.
	p12MaxIterations = 10_000_000
	// p12MaxWork bounds the hash iterations spent on one file (iterations
	// times output blocks, summed over all derivations): a MAC and two
	// encrypted parts at the per-derivation maximum fit.
	p12MaxWork = 5 * p12MaxIterations
	// p12MaxNesting bounds safeContentsBag recursion.
	p12MaxNesting = 4
)

// p12ReexportAdvice is what the operator is told when the file uses a
// cipher Sealpost does not read.
const p12ReexportAdvice = "re-export the identity with `openssl pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC`"

// p12ErrPassword is the one answer for a MAC that does not verify: the
// password is wrong or the file was altered, and nothing tells which.
var p12ErrPassword = fmt.Errorf("%w: PKCS#12 password is wrong or the file is damaged", ErrIntegrity)

var (
	// RFC 7292 §4.2: bag types.
	p12OIDKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	p12OIDShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	p12OIDCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	p12OIDSafeContentsBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	// RFC 7292 §4.2.3: certificate types.
	p12OIDX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	// RFC 5652 §8: EncryptedData.
	p12OIDEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}

	// RFC 7292 Appendix C: of pkcs-12PbeIds only 3-key 3DES is read.
	p12OIDPBEWithSHA3DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	p12OIDPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	p12OIDPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	p12OIDPBMAC1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	p12OIDHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	p12OIDHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	p12OIDHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	p12OIDHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	p12OIDPKCS8Ed25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	p12OIDPKCS8X25519    = asn1.ObjectIdentifier{1, 3, 101, 110}
)

// p12PFX is RFC 7292 §4 PFX.
type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

// p12ContentInfo is the RFC 5652 §3 ContentInfo; Content is the [0]
// wrapper, its Bytes the content's own encoding.
type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

// p12MacData is RFC 7292 §4 MacData.
type p12MacData struct {
	Mac        p12DigestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type p12DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// p12EncryptedData is RFC 5652 §8 EncryptedData.
type p12EncryptedData struct {
	Version          int
	EncryptedContent p12EncryptedContentInfo
	UnprotectedAttrs asn1.RawValue `asn1:"optional,tag:1"`
}

type p12EncryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     asn1.RawValue `asn1:"optional,tag:0"` // [0] IMPLICIT OCTET STRING
}

// p12SafeBag is RFC 7292 §4.2 SafeBag; Value.Bytes is the bag value's
// own encoding.
type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"explicit,tag:0"`
	Attributes asn1.RawValue `asn1:"optional"`
}

// p12CertBag is RFC 7292 §4.2.3 CertBag.
type p12CertBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"explicit,tag:0"`
}

// p12EncryptedPrivateKeyInfo is RFC 5958 §3.
type p12EncryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

// p12PBEParams is RFC 7292 Appendix C pkcs-12PbeParams.
type p12PBEParams struct {
	Salt       []byte
	Iterations int
}

// p12PBES2Params is RFC 8018 §A.4 PBES2-params.
type p12PBES2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

// p12PBKDF2Params is RFC 8018 §A.2 PBKDF2-params.
type p12PBKDF2Params struct {
	Salt       asn1.RawValue
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"` // DEFAULT hmacWithSHA1
}

// p12PBMAC1Params is RFC 8018 §A.5 PBMAC1-params.
type p12PBMAC1Params struct {
	KDF pkix.AlgorithmIdentifier
	MAC pkix.AlgorithmIdentifier
}

// p12PKCS8 is the head of RFC 5958 OneAsymmetricKey, enough to name the
// key's algorithm.
type p12PKCS8 struct {
	Version   int
	Algorithm pkix.AlgorithmIdentifier
}

// p12Decode reads a PKCS#12 PFX (RFC 7292) given as BER or DER and
// returns the private key, the certificate that matches it, and the
// other certificates.
//
// The MAC is checked before anything is decrypted or parsed; a wrong
// password and an altered file give the same ErrIntegrity error. A PFX
// without a MAC is refused unless password is empty (then nothing but
// the operator vouches for the file anyway).
func p12Decode(data []byte, password string) (key crypto.PrivateKey, cert *x509.Certificate, others []*x509.Certificate, err error) {
	if len(data) > p12MaxInput {
		return nil, nil, nil, fmt.Errorf("smime: PKCS#12 file is larger than %d bytes", p12MaxInput)
	}
	if der, armoured, err := p12Unarmour(data); armoured {
		if err != nil {
			return nil, nil, nil, err
		}
		data = der
	}
	d := &p12Decoder{password: password}
	authSafe, err := d.open(data)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := d.readAuthSafe(authSafe); err != nil {
		return nil, nil, nil, err
	}
	return d.result()
}

// p12PEMType is the PEM label of an armoured PKCS#12 file.
const p12PEMType = "PKCS12"

// IsPKCS12PEM reports whether data is a PEM-armoured PKCS#12 file.
func IsPKCS12PEM(data []byte) bool {
	_, armoured, _ := p12Unarmour(data)
	return armoured
}

// p12Unarmour returns the DER inside a PEM-armoured PKCS#12 file.
// QUIRK(pem-pkcs12): some tools write the PFX as base64 between
// "-----BEGIN PKCS12-----" lines (RFC 7468 §2 framing, a label RFC 7468
// does not list); the DER inside is an ordinary PFX. armoured is false
// for anything else, which is read as DER (or BER).
func p12Unarmour(data []byte) (der []byte, armoured bool, err error) {
	const begin = "-----BEGIN " + p12PEMType + "-----"
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(begin)) {
		return nil, false, nil
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != p12PEMType {
		return nil, true, fmt.Errorf("%w: the PEM armour of the PKCS#12 file is damaged", ErrMalformed)
	}
	return block.Bytes, true, nil
}

// p12Decoder holds what one p12Decode call has found so far.
type p12Decoder struct {
	password string
	bmp      []byte // the password as the PKCS#12 KDF takes it, fixed by the MAC check
	work     int    // hash iterations spent
	bags     int
	keys     []crypto.PrivateKey
	certs    []*x509.Certificate
}

// open parses the PFX, verifies its MAC and returns the content octets
// of the authSafe, the AuthenticatedSafe's BER.
func (d *p12Decoder) open(data []byte) ([]byte, error) {
	var pfx p12PFX
	if err := p12Unmarshal(data, &pfx, "PFX"); err != nil {
		return nil, err
	}
	if pfx.Version != 3 {
		return nil, fmt.Errorf("%w: PKCS#12 version %d", ErrMalformed, pfx.Version)
	}
	if !pfx.AuthSafe.ContentType.Equal(oidData) {
		// RFC 7292 §4: signedData is the public-key integrity mode.
		return nil, fmt.Errorf("%w: PKCS#12 authSafe of type %v (only password integrity is supported)", ErrUnsupported, pfx.AuthSafe.ContentType)
	}
	// RFC 7292 §5.1: the MAC covers the contents octets of the authSafe
	// OCTET STRING. berToDER joined a constructed OCTET STRING into
	// exactly these octets; the bytes inside are untouched.
	var content []byte
	if err := p12UnmarshalDER(pfx.AuthSafe.Content.Bytes, &content, "authSafe"); err != nil {
		return nil, err
	}
	if len(pfx.MacData.FullBytes) == 0 {
		if d.password != "" {
			return nil, fmt.Errorf("%w: the PKCS#12 file has no MAC, so its integrity cannot be checked; export it with a MAC (omit -nomac)", ErrUnsupported)
		}
		d.bmp = p12BMPPassword("")
		return content, nil
	}
	var md p12MacData
	if err := p12UnmarshalDER(pfx.MacData.FullBytes, &md, "MacData"); err != nil {
		return nil, err
	}
	return content, d.verifyMAC(md, content)
}

// verifyMAC checks macData over content (RFC 7292 §5.1, RFC 9579).
func (d *p12Decoder) verifyMAC(md p12MacData, content []byte) error {
	alg := md.Mac.Algorithm
	if alg.Algorithm.Equal(p12OIDPBMAC1) {
		return d.verifyPBMAC1(alg, md.Mac.Digest, content)
	}
	h := p12DigestHash(alg.Algorithm)
	if h == nil {
		return fmt.Errorf("%w: PKCS#12 MAC digest %v", ErrUnsupported, alg.Algorithm)
	}
	if err := p12CheckNullParams(alg, "MAC digest"); err != nil {
		return err
	}
	// QUIRK(openssl): an empty password is either the BMPString
	// terminator alone or no bytes at all; OpenSSL's PKCS12_parse tries
	// both, and so do we.
	candidates := [][]byte{p12BMPPassword(d.password)}
	if d.password == "" {
		candidates = append(candidates, nil)
	}
	size := h().Size()
	for _, pw := range candidates {
		if err := d.spend(md.Iterations, 1); err != nil {
			return err
		}
		// RFC 7292 Appendix B: purpose ID 3, a key as long as the hash output.
		mac := hmac.New(h, p12KDF(h, 3, pw, md.MacSalt, md.Iterations, size))
		mac.Write(content)
		if hmac.Equal(mac.Sum(nil), md.Mac.Digest) {
			d.bmp = pw
			return nil
		}
	}
	return p12ErrPassword
}

// verifyPBMAC1 checks an RFC 9579 PBMAC1 MAC; macSalt and iterations of
// MacData are not used.
func (d *p12Decoder) verifyPBMAC1(alg pkix.AlgorithmIdentifier, digest, content []byte) error {
	var params p12PBMAC1Params
	if err := p12UnmarshalDER(alg.Parameters.FullBytes, &params, "PBMAC1 parameters"); err != nil {
		return err
	}
	h := p12HMACHash(params.MAC.Algorithm)
	if h == nil {
		return fmt.Errorf("%w: PKCS#12 PBMAC1 MAC %v", ErrUnsupported, params.MAC.Algorithm)
	}
	kdf, err := p12ParsePBKDF2(params.KDF)
	if err != nil {
		return err
	}
	// RFC 9579: keyLength must be present. A short key makes the MAC
	// guessable without the password, so at least 20 octets, and at most
	// one SHA-512 output.
	if kdf.KeyLength < 20 || kdf.KeyLength > 64 {
		return fmt.Errorf("%w: PKCS#12 PBMAC1 key length %d (want 20 to 64 octets)", ErrMalformed, kdf.KeyLength)
	}
	// The password is UTF-8 here, as for PBES2 (the RFC 9579 vectors
	// verify only so).
	key, err := d.pbkdf2(kdf, kdf.KeyLength)
	if err != nil {
		return err
	}
	mac := hmac.New(h, key)
	mac.Write(content)
	if !hmac.Equal(mac.Sum(nil), digest) {
		return p12ErrPassword
	}
	d.bmp = p12BMPPassword(d.password)
	return nil
}

// readAuthSafe reads RFC 7292 §4.1 AuthenticatedSafe.
func (d *p12Decoder) readAuthSafe(ber []byte) error {
	var safes []p12ContentInfo
	if err := p12Unmarshal(ber, &safes, "AuthenticatedSafe"); err != nil {
		return err
	}
	for _, ci := range safes {
		if err := d.count(); err != nil {
			return err
		}
		var contents []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if err := p12UnmarshalDER(ci.Content.Bytes, &contents, "data ContentInfo"); err != nil {
				return err
			}
		case ci.ContentType.Equal(p12OIDEncryptedData):
			var err error
			if contents, err = d.decryptData(ci.Content.Bytes); err != nil {
				return err
			}
		default:
			// envelopedData is the public-key privacy mode.
			return fmt.Errorf("%w: PKCS#12 safe of type %v", ErrUnsupported, ci.ContentType)
		}
		if err := d.readSafeContents(contents, 0); err != nil {
			return err
		}
	}
	return nil
}

// decryptData decrypts an EncryptedData (RFC 5652 §8) that holds
// SafeContents.
func (d *p12Decoder) decryptData(ber []byte) ([]byte, error) {
	var ed p12EncryptedData
	if err := p12Unmarshal(ber, &ed, "EncryptedData"); err != nil {
		return nil, err
	}
	eci := ed.EncryptedContent
	if !eci.ContentType.Equal(oidData) {
		return nil, fmt.Errorf("%w: PKCS#12 EncryptedData holds %v", ErrMalformed, eci.ContentType)
	}
	if eci.Content.Tag != 0 || eci.Content.Class != asn1.ClassContextSpecific {
		return nil, fmt.Errorf("%w: PKCS#12 EncryptedData without content", ErrMalformed)
	}
	ciphertext := eci.Content.Bytes
	if eci.Content.IsCompound {
		// The [0] IMPLICIT OCTET STRING in constructed form (NSS writes it
		// so): berToDER keeps the implicit tag, so join the segments here.
		var err error
		if ciphertext, err = joinSegments(ciphertext); err != nil {
			return nil, err
		}
	}
	return d.decrypt(eci.Algorithm, ciphertext, "encrypted safe (certificates)")
}

// readSafeContents reads RFC 7292 §4.2 SafeContents.
func (d *p12Decoder) readSafeContents(ber []byte, depth int) error {
	var bags []p12SafeBag
	if err := p12Unmarshal(ber, &bags, "SafeContents"); err != nil {
		return err
	}
	for _, bag := range bags {
		if err := d.count(); err != nil {
			return err
		}
		if err := d.readBag(bag, depth); err != nil {
			return err
		}
	}
	return nil
}

func (d *p12Decoder) readBag(bag p12SafeBag, depth int) error {
	switch {
	case bag.ID.Equal(p12OIDKeyBag):
		return d.addKey(bag.Value.Bytes)
	case bag.ID.Equal(p12OIDShroudedKeyBag):
		var epki p12EncryptedPrivateKeyInfo
		if err := p12Unmarshal(bag.Value.Bytes, &epki, "EncryptedPrivateKeyInfo"); err != nil {
			return err
		}
		plain, err := d.decrypt(epki.Algorithm, epki.Data, "private key")
		if err != nil {
			return err
		}
		return d.addKey(plain)
	case bag.ID.Equal(p12OIDCertBag):
		return d.addCert(bag.Value.Bytes)
	case bag.ID.Equal(p12OIDSafeContentsBag):
		if depth >= p12MaxNesting {
			return fmt.Errorf("%w: PKCS#12 safeContentsBag nested deeper than %d", ErrMalformed, p12MaxNesting)
		}
		return d.readSafeContents(bag.Value.Bytes, depth+1)
	}
	return nil // crlBag, secretBag and unknown bags carry nothing we use
}

// addKey parses a PKCS#8 private key (RFC 5958).
func (d *p12Decoder) addKey(ber []byte) error {
	der, err := berToDER(ber)
	if err != nil {
		return fmt.Errorf("%w (PKCS#12 private key)", err)
	}
	var head p12PKCS8
	if _, err := asn1.Unmarshal(der, &head); err != nil {
		return fmt.Errorf("%w: PKCS#12 private key: %v", ErrMalformed, err)
	}
	switch a := head.Algorithm.Algorithm; {
	case a.Equal(oidRSAEncryption), a.Equal(oidECPublicKey), a.Equal(p12OIDPKCS8Ed25519), a.Equal(p12OIDPKCS8X25519):
	default:
		return fmt.Errorf("%w: PKCS#12 private key of algorithm %v", ErrUnsupported, a)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("%w: PKCS#12 private key: %v", ErrMalformed, err)
	}
	d.keys = append(d.keys, key)
	return nil
}

// addCert parses a CertBag; certificates other than X.509 are skipped.
func (d *p12Decoder) addCert(der []byte) error {
	var cb p12CertBag
	if err := p12UnmarshalDER(der, &cb, "CertBag"); err != nil {
		return err
	}
	if !cb.ID.Equal(p12OIDX509Certificate) {
		return nil // sdsiCertificate and others
	}
	var certDER []byte
	if err := p12UnmarshalDER(cb.Value.Bytes, &certDER, "x509Certificate"); err != nil {
		return err
	}
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("%w: PKCS#12 certificate: %v", ErrMalformed, err)
	}
	d.certs = append(d.certs, c)
	return nil
}

// result picks the certificate whose public key is the private key's.
func (d *p12Decoder) result() (crypto.PrivateKey, *x509.Certificate, []*x509.Certificate, error) {
	switch len(d.keys) {
	case 0:
		return nil, nil, nil, errors.New("smime: the PKCS#12 file holds no private key")
	case 1:
	default:
		return nil, nil, nil, fmt.Errorf("smime: the PKCS#12 file holds %d private keys; export one identity per file", len(d.keys))
	}
	key := d.keys[0]
	type publicKeyer interface{ Public() crypto.PublicKey }
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pk, ok := key.(publicKeyer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: PKCS#12 private key of type %T", ErrUnsupported, key)
	}
	pub, ok := pk.Public().(equaler)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: PKCS#12 public key of type %T", ErrUnsupported, pk.Public())
	}
	var cert *x509.Certificate
	for _, c := range d.certs {
		if pub.Equal(c.PublicKey) {
			cert = c
			break
		}
	}
	if cert == nil {
		return nil, nil, nil, errors.New("smime: the PKCS#12 file holds no certificate for its private key")
	}
	var others []*x509.Certificate
	for _, c := range d.certs {
		if !c.Equal(cert) && !slices.ContainsFunc(others, c.Equal) {
			others = append(others, c)
		}
	}
	return key, cert, others, nil
}

// decrypt decrypts a password-encrypted part with the algorithm named by
// alg: PBES2 or the PKCS#12 3DES scheme.
func (d *p12Decoder) decrypt(alg pkix.AlgorithmIdentifier, ciphertext []byte, what string) ([]byte, error) {
	var (
		block cipher.Block
		iv    []byte
		err   error
	)
	switch a := alg.Algorithm; {
	case a.Equal(p12OIDPBES2):
		block, iv, err = d.pbes2(alg)
	case a.Equal(p12OIDPBEWithSHA3DES):
		block, iv, err = d.pbeSHA3DES(alg)
	default:
		return nil, fmt.Errorf("%w: the PKCS#12 %s is encrypted with %s, which Sealpost does not read; %s", ErrUnsupported, what, p12LegacyName(a), p12ReexportAdvice)
	}
	if err != nil {
		return nil, err
	}
	plain, ok := p12DecryptCBC(block, iv, ciphertext)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#12 %s does not decrypt with this password", ErrIntegrity, what)
	}
	return plain, nil
}

// pbes2 derives the AES-CBC cipher and IV of RFC 8018 §6.2 PBES2 with
// PBKDF2 (§5.2); the password is its UTF-8 bytes, as NSS and OpenSSL
// use it.
func (d *p12Decoder) pbes2(alg pkix.AlgorithmIdentifier) (cipher.Block, []byte, error) {
	var params p12PBES2Params
	if err := p12UnmarshalDER(alg.Parameters.FullBytes, &params, "PBES2 parameters"); err != nil {
		return nil, nil, err
	}
	var keySize int
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keySize = 16
	case s.Equal(oidAES192CBC):
		keySize = 24
	case s.Equal(oidAES256CBC):
		keySize = 32
	default: // DES-EDE3-CBC, RC2-CBC (1.2.840.113549.3.x) and others
		return nil, nil, fmt.Errorf("%w: PKCS#12 PBES2 with cipher %v, which Sealpost does not read; %s", ErrUnsupported, s, p12ReexportAdvice)
	}
	var iv []byte
	if err := p12UnmarshalDER(params.Scheme.Parameters.FullBytes, &iv, "AES-CBC IV"); err != nil {
		return nil, nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, nil, fmt.Errorf("%w: PKCS#12 AES-CBC IV of %d bytes", ErrMalformed, len(iv))
	}
	kdf, err := p12ParsePBKDF2(params.KDF)
	if err != nil {
		return nil, nil, err
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keySize {
		return nil, nil, fmt.Errorf("%w: PKCS#12 PBKDF2 key length %d for a %d-byte AES key", ErrMalformed, kdf.KeyLength, keySize)
	}
	key, err := d.pbkdf2(kdf, keySize)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	return block, iv, err
}

// pbeSHA3DES derives the key (ID 1) and IV (ID 2) of
// pbeWithSHAAnd3-KeyTripleDES-CBC with the RFC 7292 Appendix B KDF over
// SHA-1. Reading it is acceptable: it only opens an identity the
// operator hands us; Sealpost never writes it.
func (d *p12Decoder) pbeSHA3DES(alg pkix.AlgorithmIdentifier) (cipher.Block, []byte, error) {
	var params p12PBEParams
	if err := p12UnmarshalDER(alg.Parameters.FullBytes, &params, "PBE parameters"); err != nil {
		return nil, nil, err
	}
	if err := d.spend(params.Iterations, 2); err != nil {
		return nil, nil, err
	}
	key := p12KDF(sha1.New, 1, d.bmp, params.Salt, params.Iterations, 24)
	iv := p12KDF(sha1.New, 2, d.bmp, params.Salt, params.Iterations, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	return block, iv, err
}

// p12ParsePBKDF2 reads the PBKDF2 AlgorithmIdentifier of RFC 8018 §A.2.
func p12ParsePBKDF2(alg pkix.AlgorithmIdentifier) (p12PBKDF2Params, error) {
	var params p12PBKDF2Params
	if !alg.Algorithm.Equal(p12OIDPBKDF2) {
		return params, fmt.Errorf("%w: PKCS#12 key derivation %v", ErrUnsupported, alg.Algorithm)
	}
	if err := p12UnmarshalDER(alg.Parameters.FullBytes, &params, "PBKDF2 parameters"); err != nil {
		return params, err
	}
	if params.Salt.Class != asn1.ClassUniversal || params.Salt.Tag != asn1.TagOctetString || params.Salt.IsCompound {
		return params, fmt.Errorf("%w: PKCS#12 PBKDF2 salt is not an OCTET STRING", ErrUnsupported)
	}
	if params.KeyLength < 0 || params.KeyLength > 64 {
		return params, fmt.Errorf("%w: PKCS#12 PBKDF2 key length %d", ErrMalformed, params.KeyLength)
	}
	return params, nil
}

// pbkdf2 derives size bytes per RFC 8018 §5.2 from the UTF-8 password.
func (d *p12Decoder) pbkdf2(params p12PBKDF2Params, size int) ([]byte, error) {
	prf := params.PRF.Algorithm
	if prf == nil {
		prf = p12OIDHMACWithSHA1 // RFC 8018 §A.2: DEFAULT algid-hmacWithSHA1
	}
	h := p12HMACHash(prf)
	if h == nil {
		return nil, fmt.Errorf("%w: PKCS#12 PBKDF2 PRF %v", ErrUnsupported, prf)
	}
	hLen := h().Size()
	if err := d.spend(params.Iterations, (size+hLen-1)/hLen); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(h, d.password, params.Salt.Bytes, params.Iterations, size)
	if err != nil {
		return nil, fmt.Errorf("smime: PKCS#12 PBKDF2: %w", err)
	}
	return key, nil
}

// spend checks an iteration count and charges iterations × blocks hash
// iterations to the file's budget.
func (d *p12Decoder) spend(iterations, blocks int) error {
	if iterations < 1 || iterations > p12MaxIterations {
		return fmt.Errorf("%w: PKCS#12 iteration count %d (allowed 1 to %d)", ErrUnsupported, iterations, p12MaxIterations)
	}
	d.work += iterations * blocks
	if d.work > p12MaxWork {
		return fmt.Errorf("%w: PKCS#12 file needs more than %d key-derivation iterations in total", ErrUnsupported, p12MaxWork)
	}
	return nil
}

// count charges one bag or safe against p12MaxBags.
func (d *p12Decoder) count() error {
	d.bags++
	if d.bags > p12MaxBags {
		return fmt.Errorf("%w: PKCS#12 file has more than %d bags", ErrUnsupported, p12MaxBags)
	}
	return nil
}

// p12KDF is the key derivation of RFC 7292 Appendix B.2: size bytes for
// purpose id (1 key, 2 IV, 3 MAC key) from the BMPString password and
// the salt, iterating h.
func p12KDF(h func() hash.Hash, id byte, password, salt []byte, iterations, size int) []byte {
	hh := h()
	u, v := hh.Size(), hh.BlockSize()
	D := bytes.Repeat([]byte{id}, v)
	I := append(p12Fill(salt, v), p12Fill(password, v)...)
	B := make([]byte, v)
	out := make([]byte, 0, size+u)
	for {
		hh.Reset()
		hh.Write(D)
		hh.Write(I)
		A := hh.Sum(nil)
		for r := 1; r < iterations; r++ {
			hh.Reset()
			hh.Write(A)
			A = hh.Sum(A[:0])
		}
		if out = append(out, A...); len(out) >= size {
			return out[:size]
		}
		// B.2 step 6B, 6C: I_j = (I_j + B + 1) mod 2^(8v) for each block.
		for i := range B {
			B[i] = A[i%u]
		}
		for j := 0; j < len(I); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(I[j+k]) + int(B[k]) + carry
				I[j+k], carry = byte(sum), sum>>8
			}
		}
	}
}

// p12Fill repeats b to the next multiple of v bytes (RFC 7292 B.2 steps
// 2 and 3); empty stays empty.
func p12Fill(b []byte, v int) []byte {
	if len(b) == 0 {
		return nil
	}
	out := make([]byte, v*((len(b)+v-1)/v))
	for i := range out {
		out[i] = b[i%len(b)]
	}
	return out
}

// p12BMPPassword is the password as RFC 7292 Appendix B.1 wants it:
// big-endian UTF-16 with a two-byte zero terminator.
func p12BMPPassword(password string) []byte {
	units := utf16.Encode([]rune(password))
	out := make([]byte, 0, 2*len(units)+2)
	for _, u := range units {
		out = append(out, byte(u>>8), byte(u))
	}
	return append(out, 0, 0)
}

// p12DecryptCBC decrypts CBC and strips the padding of RFC 8018 §6.1.1
// step 4 and §B.2.5, checking every padding byte.
func p12DecryptCBC(block cipher.Block, iv, ciphertext []byte) ([]byte, bool) {
	bs := block.BlockSize()
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 || len(iv) != bs {
		return nil, false
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	n := int(plain[len(plain)-1])
	if n == 0 || n > bs {
		return nil, false
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, false
		}
	}
	return plain[:len(plain)-n], true
}

// p12DigestHash maps a MAC digest OID to its hash (RFC 7292 §5.1 allows
// any; these are the ones in use).
func p12DigestHash(oid asn1.ObjectIdentifier) func() hash.Hash {
	if h, _, ok := envHashByOID(oid); ok { // the same four digests
		return h.New
	}
	return nil
}

// p12HMACHash maps an RFC 8018 §B.1 HMAC OID to its hash.
func p12HMACHash(oid asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case oid.Equal(p12OIDHMACWithSHA1):
		return sha1.New
	case oid.Equal(p12OIDHMACWithSHA256):
		return sha256.New
	case oid.Equal(p12OIDHMACWithSHA384):
		return sha512.New384
	case oid.Equal(p12OIDHMACWithSHA512):
		return sha512.New
	}
	return nil
}

// p12CheckNullParams accepts absent or NULL parameters only, so that no
// byte of the MacData can change without the file being refused.
func p12CheckNullParams(alg pkix.AlgorithmIdentifier, what string) error {
	if p := alg.Parameters.FullBytes; len(p) != 0 && !bytes.Equal(p, asn1.NullBytes) {
		return fmt.Errorf("%w: PKCS#12 %s parameters", ErrMalformed, what)
	}
	return nil
}

// p12LegacyName names the password-based encryption schemes of RFC 7292
// Appendix C and RFC 8018 §6.1 (PBES1) that are refused.
func p12LegacyName(oid asn1.ObjectIdentifier) string {
	names := map[string]string{
		"1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
		"1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
		"1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
		"1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
		"1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC",
		"1.2.840.113549.1.5.1":    "pbeWithMD2AndDES-CBC",
		"1.2.840.113549.1.5.3":    "pbeWithMD5AndDES-CBC",
		"1.2.840.113549.1.5.4":    "pbeWithMD2AndRC2-CBC",
		"1.2.840.113549.1.5.6":    "pbeWithMD5AndRC2-CBC",
		"1.2.840.113549.1.5.10":   "pbeWithSHA1AndDES-CBC",
		"1.2.840.113549.1.5.11":   "pbeWithSHA1AndRC2-CBC",
	}
	if n, ok := names[oid.String()]; ok {
		return n
	}
	return "algorithm " + oid.String()
}

// p12Unmarshal converts BER to DER and unmarshals one element that must
// fill ber.
func p12Unmarshal(ber []byte, v any, what string) error {
	der, err := berToDER(ber)
	if err != nil {
		return fmt.Errorf("%w (PKCS#12 %s)", err, what)
	}
	return p12UnmarshalDER(der, v, what)
}

// p12UnmarshalDER unmarshals one element that must fill der.
func p12UnmarshalDER(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%w: PKCS#12 %s: %v", ErrMalformed, what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: PKCS#12 %s: %d bytes after it", ErrMalformed, what, len(rest))
	}
	return nil
}
