package smime

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// envTestContent is a small canonical MIME entity.
var envTestContent = []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nHello, list.\r\nSecond line \xc3\xa4.\r\n")

// envTestBigContent is large enough for OpenSSL to stream it in several
// segments and for CBC to need many blocks.
func envTestBigContent() []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: text/plain\r\n\r\n")
	for i := 0; b.Len() < 70000; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\r\n", i)
	}
	return b.Bytes()
}

// envTestLeaf issues a certificate for key from ca, with the given
// subjectKeyIdentifier (none when nil).
func envTestLeaf(t testing.TB, ca *openssltest.CA, key crypto.Signer, serial int64, ski []byte) *openssltest.Leaf {
	t.Helper()
	usage := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		usage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(serial),
		Subject:        pkix.Name{CommonName: "ski@example.org"},
		EmailAddresses: []string{"ski@example.org"},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().AddDate(1, 0, 0),
		KeyUsage:       usage,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		SubjectKeyId:   ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &openssltest.Leaf{Cert: cert, Key: key}
}

func envTestP521(t testing.TB, ca *openssltest.CA) *openssltest.Leaf {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return envTestLeaf(t, ca, k, 9521, nil)
}

// RFC 3394 §4.1, §4.3, §4.6.
func TestKeyWrapRFC3394Vectors(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kek128 := h("000102030405060708090A0B0C0D0E0F")
	kek256 := h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	tests := []struct {
		name          string
		kek, key, out []byte
	}{
		{"4.1 128-bit KEK, 128-bit key", kek128, h("00112233445566778899AABBCCDDEEFF"),
			h("1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5")},
		{"4.3 256-bit KEK, 128-bit key", kek256, h("00112233445566778899AABBCCDDEEFF"),
			h("64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7")},
		{"4.6 256-bit KEK, 256-bit key", kek256, h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"),
			h("28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21")},
	}
	for _, tt := range tests {
		got, err := keyWrap(tt.kek, tt.key)
		if err != nil || !bytes.Equal(got, tt.out) {
			t.Errorf("%s: wrap = %X, %v; want %X", tt.name, got, err, tt.out)
		}
		back, err := keyUnwrap(tt.kek, tt.out)
		if err != nil || !bytes.Equal(back, tt.key) {
			t.Errorf("%s: unwrap = %X, %v", tt.name, back, err)
		}
		for i := range tt.out {
			bad := bytes.Clone(tt.out)
			bad[i] ^= 1
			if _, err := keyUnwrap(tt.kek, bad); err == nil {
				t.Errorf("%s: unwrap accepted a change in byte %d", tt.name, i)
			}
		}
		if _, err := keyUnwrap(tt.kek, tt.out[:len(tt.out)-1]); err == nil {
			t.Errorf("%s: unwrap accepted a truncated input", tt.name)
		}
	}
}

// ANSI X9.63 KDF, NIST CAVS 12.0 ansx963_2001.rsp, SHA-256, first vector
// (192-bit Z, no SharedInfo, 128-bit output).
func TestKariKDFVector(t *testing.T) {
	z, _ := hex.DecodeString("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08")
	want, _ := hex.DecodeString("443024c3dae66b95e6f5670601558f71")
	if got := kariKDF(sha256.New, z, nil, 16); !bytes.Equal(got, want) {
		t.Errorf("KDF = %x, want %x", got, want)
	}
	// More than one hash block: the counter runs on.
	long := kariKDF(sha256.New, z, []byte("info"), 48)
	if !bytes.Equal(long[:32], kariKDF(sha256.New, z, []byte("info"), 32)) || len(long) != 48 {
		t.Errorf("KDF output is not a prefix-stable stream")
	}
}

func TestEnvUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'x'}, 32-len(tail))
		return append(b, tail...)
	}
	tests := []struct {
		in   []byte
		n    int
		good bool
	}{
		{block(1), 31, true},
		{block(3, 3, 3), 29, true},
		{append(bytes.Repeat([]byte{'x'}, 16), bytes.Repeat([]byte{16}, 16)...), 16, true},
		{block(0), 0, false},
		{block(17), 0, false},
		{block(2, 3, 3), 0, false},
		{block(0x81), 0, false},
		{nil, 0, false},
	}
	for i, tt := range tests {
		n, ok := envUnpad(tt.in)
		if ok != tt.good || (ok && n != tt.n) {
			t.Errorf("%d: envUnpad = %d, %v; want %d, %v", i, n, ok, tt.n, tt.good)
		}
	}
}

type envTestRecipient struct {
	name string
	leaf *openssltest.Leaf
	kt   string // KeyTransport in DecryptInfo
}

func envTestRecipients(t *testing.T) []envTestRecipient {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	return []envTestRecipient{
		{"RSA", ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{}), ""},
		{"P256", ca.Issue("p256@example.org", openssltest.P256, openssltest.LeafOptions{}), "ECDH-P256-SHA256"},
		{"P384", ca.Issue("p384@example.org", openssltest.P384, openssltest.LeafOptions{}), "ECDH-P384-SHA384"},
		{"P521", envTestP521(t, ca), "ECDH-P521-SHA512"},
	}
}

var envTestCiphers = []struct {
	c    Cipher
	name string
	gcm  bool
}{
	{AES256GCM, "AES-256-GCM", true},
	{AES128GCM, "AES-128-GCM", true},
	{AES256CBC, "AES-256-CBC", false},
	{AES128CBC, "AES-128-CBC", false},
}

var envTestTransports = []struct {
	kt   KeyTransport
	name string
}{
	{RSAOAEPSHA256, "RSA-OAEP-SHA256"},
	{RSAPKCS1v15, "RSA-PKCS1v15"},
	{RSAOAEPSHA1, "RSA-OAEP-SHA1"},
}

// TestEncryptDecryptRoundTrip: one message to all recipient kinds at
// once, for every cipher and RSA key transport; each recipient reads it.
func TestEncryptDecryptRoundTrip(t *testing.T) {
	rs := envTestRecipients(t)
	certs := make([]*x509.Certificate, len(rs))
	for i, r := range rs {
		certs[i] = r.leaf.Cert
	}
	for _, c := range envTestCiphers {
		for _, kt := range envTestTransports {
			der, err := Encrypt(envTestContent, certs, EncryptOptions{Cipher: c.c, KeyTransport: kt.kt})
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, kt.name, err)
			}
			for _, r := range rs {
				want := DecryptInfo{Cipher: c.name, Authenticated: c.gcm, KeyTransport: r.kt}
				if want.KeyTransport == "" {
					want.KeyTransport = kt.name
				}
				pt, info, err := Decrypt(der, r.leaf.Cert, r.leaf.Key)
				if err != nil || !bytes.Equal(pt, envTestContent) || info != want {
					t.Errorf("%s/%s/%s: %q, %+v, %v; want %+v", c.name, kt.name, r.name, pt, info, err, want)
				}
			}
		}
	}
}

// TestEncryptStructure checks the DER shape: content type, version
// numbers (RFC 5652 §6.1, RFC 5083 §2.1), GCM parameters, definite
// lengths, and that the zero options are AES-256-GCM with OAEP-SHA256.
func TestEncryptStructure(t *testing.T) {
	rs := envTestRecipients(t)
	rsaCert, ec := rs[0].leaf.Cert, rs[1].leaf.Cert
	tests := []struct {
		name        string
		certs       []*x509.Certificate
		opt         EncryptOptions
		contentType asn1.ObjectIdentifier
		version     int
	}{
		{"zero options", []*x509.Certificate{rsaCert}, EncryptOptions{}, oidAuthEnvelopedData, 0},
		{"GCM with kari", []*x509.Certificate{rsaCert, ec}, EncryptOptions{Cipher: AES128GCM}, oidAuthEnvelopedData, 0},
		{"CBC, ktri only", []*x509.Certificate{rsaCert}, EncryptOptions{Cipher: AES256CBC}, oidEnvelopedData, 0},
		{"CBC with kari", []*x509.Certificate{rsaCert, ec}, EncryptOptions{Cipher: AES128CBC}, oidEnvelopedData, 2},
	}
	for _, tt := range tests {
		der, err := Encrypt(envTestContent, tt.certs, tt.opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if again, err := berToDER(der); err != nil || !bytes.Equal(again, der) {
			t.Errorf("%s: output is not definite-length DER", tt.name)
		}
		ci, err := parseContentInfo(der)
		if err != nil || !ci.ContentType.Equal(tt.contentType) {
			t.Fatalf("%s: content type %v, %v", tt.name, ci.ContentType, err)
		}
		var version int
		var seq asn1.RawValue
		asn1.Unmarshal(ci.Content.Bytes, &seq)
		if _, err := asn1.Unmarshal(seq.Bytes, &version); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if version != tt.version {
			t.Errorf("%s: version %d, want %d", tt.name, version, tt.version)
		}
		msg, err := envParse(der)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if msg.alg.gcm && (len(msg.iv) != 12 || msg.tagLen != 16) {
			t.Errorf("%s: GCM nonce %d bytes, tag %d", tt.name, len(msg.iv), msg.tagLen)
		}
		if len(msg.recipients) != len(tt.certs) {
			t.Errorf("%s: %d RecipientInfos", tt.name, len(msg.recipients))
		}
	}
	// The zero value of KeyTransport writes RSAES-OAEP with SHA-256.
	der, _ := Encrypt(envTestContent, []*x509.Certificate{rsaCert}, EncryptOptions{})
	if _, info, err := Decrypt(der, rsaCert, rs[0].leaf.Key); err != nil || info.KeyTransport != "RSA-OAEP-SHA256" || info.Cipher != "AES-256-GCM" {
		t.Errorf("defaults: %+v, %v", info, err)
	}
}

func TestEncryptFreshKeys(t *testing.T) {
	rs := envTestRecipients(t)
	certs := []*x509.Certificate{rs[0].leaf.Cert}
	a, _ := Encrypt(envTestContent, certs, EncryptOptions{})
	b, _ := Encrypt(envTestContent, certs, EncryptOptions{})
	ma, _ := envParse(a)
	mb, _ := envParse(b)
	if bytes.Equal(ma.iv, mb.iv) || bytes.Equal(ma.ciphertext, mb.ciphertext) {
		t.Error("two encryptions share a nonce or ciphertext")
	}
}

func TestEncryptRefusals(t *testing.T) {
	rs := envTestRecipients(t)
	cert := rs[0].leaf.Cert
	if _, err := Encrypt(envTestContent, nil, EncryptOptions{}); err == nil {
		t.Error("no recipients accepted")
	}
	if _, err := Encrypt(envTestContent, []*x509.Certificate{nil}, EncryptOptions{}); err == nil {
		t.Error("nil certificate accepted")
	}
	if _, err := Encrypt(envTestContent, []*x509.Certificate{cert}, EncryptOptions{Cipher: 99}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown cipher: %v", err)
	}
	if _, err := Encrypt(envTestContent, []*x509.Certificate{cert}, EncryptOptions{KeyTransport: 99}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown key transport: %v", err)
	}
	ed := *cert
	ed.PublicKey = "not a key"
	if _, err := Encrypt(envTestContent, []*x509.Certificate{&ed}, EncryptOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unsupported key type: %v", err)
	}
	if _, err := Encrypt(envTestContent, []*x509.Certificate{cert}, EncryptOptions{Rand: bytes.NewReader(nil)}); err == nil {
		t.Error("exhausted Rand accepted")
	}
}

// TestDecryptSubjectKeyIdentifier: recipients named by
// subjectKeyIdentifier (ktri [0], kari rKeyId) are found.
func TestDecryptSubjectKeyIdentifier(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256} {
		leaf := envTestLeaf(t, ca, openssltest.NewKey(t, kt), 77, []byte("sealpost-ski-0001"))
		der, err := Encrypt(envTestContent, []*x509.Certificate{leaf.Cert}, EncryptOptions{})
		if err != nil {
			t.Fatal(err)
		}
		der = envTestRewriteRID(t, der, leaf.Cert.SubjectKeyId)
		pt, _, err := Decrypt(der, leaf.Cert, leaf.Key)
		if err != nil || !bytes.Equal(pt, envTestContent) {
			t.Errorf("%s by SKI: %q, %v", kt, pt, err)
		}
		other := envTestLeaf(t, ca, leaf.Key, 77, []byte("another-ski"))
		if _, _, err := Decrypt(der, other.Cert, other.Key); !errors.Is(err, ErrNoRecipient) {
			t.Errorf("%s with another SKI: %v", kt, err)
		}
	}
}

// envTestRewriteRID replaces the issuerAndSerialNumber of the (single)
// RecipientInfo of an AuthEnvelopedData with ski.
func envTestRewriteRID(t *testing.T, der, ski []byte) []byte {
	t.Helper()
	aed := envTestParseAuth(t, der)
	budget := 10
	ris, _ := envSplitSet(aed.RecipientInfos.Bytes, &budget, "")
	ri := ris[0]
	var out []byte
	var err error
	if ri.Tag == asn1.TagSequence {
		var kt ktriInfo
		envMust(t, envUnmarshal(ri.FullBytes, &kt, "", ""))
		kt.Version = 2
		kt.RID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ski}
		out, err = asn1.Marshal(kt)
	} else {
		var ka kariInfo
		envMust(t, envUnmarshal(ri.FullBytes, &ka, "tag:1", ""))
		var rek kariRecipientEncryptedKey
		envMust(t, envUnmarshal(ka.RecipientEncryptedKeys.Bytes, &rek, "", ""))
		skiDER, _ := asn1.Marshal(ski)
		rek.RID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: skiDER}
		rekDER, _ := asn1.Marshal(rek)
		ka.RecipientEncryptedKeys.Bytes, ka.RecipientEncryptedKeys.FullBytes = rekDER, nil
		out, err = asn1.MarshalWithParams(ka, "tag:1")
	}
	envMust(t, err)
	aed.RecipientInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: out}
	return envTestMarshalAuth(t, aed)
}

func envMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func envTestParseAuth(t testing.TB, der []byte) envAuthEnvelopedData {
	t.Helper()
	ci, err := parseContentInfo(der)
	envMust(t, err)
	var aed envAuthEnvelopedData
	envMust(t, envUnmarshal(ci.Content.Bytes, &aed, "", ""))
	return aed
}

func envTestMarshalAuth(t testing.TB, aed envAuthEnvelopedData) []byte {
	t.Helper()
	// Re-marshal raw members from their parts, not stale FullBytes.
	aed.RecipientInfos.FullBytes = nil
	aed.AuthEncryptedContentInfo.ContentEncryptionAlgorithm.Parameters.FullBytes = envTestFull(aed.AuthEncryptedContentInfo.ContentEncryptionAlgorithm.Parameters)
	aed.AuthEncryptedContentInfo.EncryptedContent.FullBytes = nil
	inner, err := asn1.Marshal(aed)
	envMust(t, err)
	out, err := marshalContentInfo(oidAuthEnvelopedData, inner)
	envMust(t, err)
	return out
}

func envTestFull(rv asn1.RawValue) []byte {
	if len(rv.FullBytes) > 0 {
		return rv.FullBytes
	}
	b, _ := asn1.Marshal(rv)
	return b
}

// TestDecryptAuthAttrs: RFC 5083 §2.2, authenticated attributes are the
// GCM AAD, as a DER SET OF. Changing them fails the tag.
func TestDecryptAuthAttrs(t *testing.T) {
	rs := envTestRecipients(t)
	leaf := rs[0].leaf
	der, attrs := envTestWithAuthAttrs(t, leaf.Cert, envTestContent)
	pt, info, err := Decrypt(der, leaf.Cert, leaf.Key)
	if err != nil || !bytes.Equal(pt, envTestContent) || !info.Authenticated {
		t.Fatalf("with authAttrs: %q, %+v, %v", pt, info, err)
	}
	i := bytes.Index(der, attrs)
	bad := bytes.Clone(der)
	bad[i+len(attrs)-1] ^= 1 // last byte of the content-type OID value
	if pt, _, err := Decrypt(bad, leaf.Cert, leaf.Key); err != ErrIntegrity || pt != nil {
		t.Errorf("changed authAttrs: %q, %v", pt, err)
	}
}

// envTestWithAuthAttrs builds an AuthEnvelopedData (AES-128-GCM,
// RSA-OAEP) whose authAttrs hold a content-type attribute, and returns it
// with the DER of the attributes' contents.
func envTestWithAuthAttrs(t testing.TB, cert *x509.Certificate, content []byte) ([]byte, []byte) {
	t.Helper()
	der, err := Encrypt([]byte("placeholder"), []*x509.Certificate{cert}, EncryptOptions{Cipher: AES128GCM})
	envMust(t, err)
	// Recover nothing from it but the shape; use a fresh CEK.
	cek := make([]byte, 16)
	rand.Read(cek)
	ri, err := ktriEncrypt(rand.Reader, cert, cert.PublicKey.(*rsa.PublicKey), cek, RSAOAEPSHA256)
	envMust(t, err)
	attr, err := asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.ObjectIdentifier `asn1:"set"`
	}{oidAttrContentType, []asn1.ObjectIdentifier{oidData}})
	envMust(t, err)
	aad := append([]byte{0x31, byte(len(attr))}, attr...)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	sealed := gcm.Seal(nil, nonce, content, aad)
	params, _ := asn1.Marshal(envGCMParams{Nonce: nonce, ICVLen: 16})
	aed := envTestParseAuth(t, der)
	aed.RecipientInfos.Bytes = ri
	aed.AuthEncryptedContentInfo.ContentEncryptionAlgorithm.Parameters = asn1.RawValue{FullBytes: params}
	aed.AuthEncryptedContentInfo.EncryptedContent.Bytes = sealed[:len(sealed)-16]
	aed.MAC = sealed[len(sealed)-16:]
	aed.AuthAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: attr}
	return envTestMarshalAuth(t, aed), attr
}
