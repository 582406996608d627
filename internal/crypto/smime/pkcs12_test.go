package smime

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// --- corpus ---------------------------------------------------------------

// p12TestCorpus reads a file of the shared S/MIME corpus; the test is
// skipped when the corpus is not there.
func p12TestCorpus(t testing.TB, parts ...string) []byte {
	t.Helper()
	path := filepath.Join(append([]string{"..", "..", "..", "..", "shared", "corpus", "thunderbird-smime"}, parts...)...)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

// p12TestEmails lists a certificate's addresses (SAN rfc822Name and the
// subject's emailAddress attribute), lower-cased.
func p12TestEmails(c *x509.Certificate) []string {
	var out []string
	for _, a := range c.EmailAddresses {
		out = append(out, strings.ToLower(a))
	}
	oidEmail := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	for _, n := range c.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oidEmail) {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

func p12TestKeyName(key crypto.PrivateKey) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", key)
}

// p12TestMatches reports whether key is cert's private key.
func p12TestMatches(key crypto.PrivateKey, cert *x509.Certificate) bool {
	k, ok := key.(crypto.Signer)
	if !ok || cert == nil {
		return false
	}
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// TestP12Corpus opens every NSS-made identity of the corpus (PROVENANCE.md
// §1c): PBES2/AES + HMAC-SHA256 in BER with indefinite lengths, and the
// Fran files in legacy 3DES/SHA-1.
func TestP12Corpus(t *testing.T) {
	for _, tc := range []struct {
		dir, file, email, key string
		others                int
	}{
		{"mailnews-smime", "Alice.p12", "alice@example.com", "RSA-2048", 1},
		{"mailnews-smime", "Bob.p12", "bob@example.com", "RSA-2048", 1},
		{"mailnews-smime", "Dave.p12", "dave@example.com", "RSA-2048", 1},
		{"mailnews-smime", "Eve.p12", "eve@example.com", "RSA-2048", 1},
		{"mailnews-smime", "Alice-ec.p12", "alice-ec@example.com", "P-384", 1},
		{"mailnews-smime", "Fran.p12", "fran@example.com", "RSA-2048", 0},
		{"mailnews-smime", "Fran-ec.p12", "fran-ec@example.com", "P-384", 0},
		{"mailnews-smime-interop", "Fran.p12", "fran@example.com", "RSA-2048", 0},
		{"mailnews-smime-interop", "Fran-ec.p12", "fran-ec@example.com", "P-384", 0},
	} {
		t.Run(tc.dir+"/"+tc.file, func(t *testing.T) {
			data := p12TestCorpus(t, tc.dir, tc.file)
			key, cert, others, err := p12Decode(data, "nss")
			if err != nil {
				t.Fatal(err)
			}
			if !p12TestMatches(key, cert) {
				t.Error("the key does not match the certificate")
			}
			if got := p12TestKeyName(key); got != tc.key {
				t.Errorf("key %s, want %s", got, tc.key)
			}
			if emails := p12TestEmails(cert); !slices.Contains(emails, tc.email) {
				t.Errorf("certificate addresses %v, want %s among them", emails, tc.email)
			}
			if len(others) != tc.others {
				t.Errorf("%d other certificates, want %d", len(others), tc.others)
			}
			for _, c := range others {
				if !c.IsCA {
					t.Errorf("other certificate %q is not a CA", c.Subject)
				}
			}
			if _, _, _, err := p12Decode(data, "wrong"); !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "password") {
				t.Errorf("wrong password: err = %v, want the wrong-password error", err)
			}
		})
	}
}

// --- openssl interop ----------------------------------------------------------

// TestP12OpenSSL opens files written by `openssl pkcs12 -export` in every
// form we claim to read, and checks the refusals.
func TestP12OpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o.WriteCert("ca.pem", ca.Cert)
	reexport := "openssl pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC"
	variants := []struct {
		name, password string
		args           []string
		want           error  // nil: opens
		msg            string // in the error
	}{
		{"default PBES2 AES-256 HMAC-SHA256", "x", nil, nil, ""},
		{"AES-128", "x", []string{"-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC"}, nil, ""},
		{"AES-192", "x", []string{"-keypbe", "AES-192-CBC", "-certpbe", "AES-192-CBC"}, nil, ""},
		{"MAC SHA-512", "x", []string{"-macalg", "sha512"}, nil, ""},
		{"MAC SHA-384", "x", []string{"-macalg", "sha384"}, nil, ""},
		{"MAC SHA-1", "x", []string{"-macalg", "sha1"}, nil, ""},
		{"3DES", "x", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}, nil, ""},
		{"legacy (3DES key, RC2-40 certificates)", "x", []string{"-legacy"}, ErrUnsupported, reexport},
		{"legacy with 3DES certificates", "x", []string{"-legacy", "-certpbe", "PBE-SHA1-3DES"}, nil, ""},
		{"PBES2 DES-EDE3-CBC", "x", []string{"-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC"}, ErrUnsupported, reexport},
		{"no encryption", "x", []string{"-keypbe", "NONE", "-certpbe", "NONE"}, nil, ""},
		{"no MAC", "x", []string{"-nomac"}, ErrUnsupported, "no MAC"},
		{"no MAC, empty password", "", []string{"-nomac"}, nil, ""},
		{"empty password", "", nil, nil, ""},
		{"empty password 3DES", "", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}, nil, ""},
		{"UTF-8 password", "grüße €", nil, nil, ""},
		{"UTF-8 password 3DES", "grüße €", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES"}, nil, ""},
		{"one iteration", "x", []string{"-noiter", "-nomaciter"}, nil, ""},
	}
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256} {
		leaf := ca.Issue("p12-"+string(kt)+"@example.org", kt, openssltest.LeafOptions{})
		o.WriteKey(string(kt)+".key", leaf.Key)
		o.WriteCert(string(kt)+".crt", leaf.Cert)
		for i, v := range variants {
			t.Run(string(kt)+"/"+v.name, func(t *testing.T) {
				out := fmt.Sprintf("%s-%d.p12", kt, i)
				args := append([]string{"pkcs12", "-export", "-inkey", string(kt) + ".key", "-in", string(kt) + ".crt",
					"-certfile", "ca.pem", "-passout", "pass:" + v.password, "-out", out}, v.args...)
				if r := o.Run(nil, args...); r.Err != nil {
					if strings.Contains(v.name, "legacy") {
						t.Skipf("this openssl cannot write -legacy files: %s", r.Stderr)
					}
					t.Fatalf("openssl: %v\n%s", r.Err, r.Stderr)
				}
				data := o.Read(out)
				key, cert, others, err := p12Decode(data, v.password)
				if v.want != nil {
					if !errors.Is(err, v.want) || !strings.Contains(err.Error(), v.msg) {
						t.Fatalf("err = %v, want %v mentioning %q", err, v.want, v.msg)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !cert.Equal(leaf.Cert) || !p12TestMatches(key, cert) {
					t.Error("wrong certificate or key")
				}
				if len(others) != 1 || !others[0].Equal(ca.Cert) {
					t.Errorf("others = %d certificates, want the CA", len(others))
				}
				if v.password != "" || !slices.Contains(v.args, "-nomac") {
					if _, _, _, err := p12Decode(data, v.password+"y"); !errors.Is(err, ErrIntegrity) {
						t.Errorf("wrong password: err = %v, want ErrIntegrity", err)
					}
				}
			})
		}
	}
}

// TestP12KDF checks the RFC 7292 Appendix B KDF against a known vector and
// against `openssl kdf PKCS12KDF` for each hash, purpose and several
// output lengths (more than one hash block exercises step 6C).
func TestP12KDF(t *testing.T) {
	salt := bytes.Repeat([]byte{0xff}, 8)
	got := p12KDF(sha1.New, 1, p12BMPPassword("sesame"), salt, 2048, 24)
	if want, _ := hex.DecodeString("7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"); !bytes.Equal(got, want) {
		t.Fatalf("p12KDF = %x, want %x", got, want)
	}
	o := openssltest.New(t)
	for _, tc := range []struct {
		digest   string
		h        func() hash.Hash
		id       byte
		password string
		salt     string
		iter     int
		size     int
	}{
		{"SHA1", sha1.New, 2, "sesame", "0102030405060708", 1, 8},
		{"SHA1", sha1.New, 1, "grüße €", "00112233445566778899aabbccddeeff0011", 1000, 70},
		{"SHA256", sha256.New, 3, "", "a1a2a3a4a5a6a7a8", 3, 32},
		{"SHA256", sha256.New, 1, strings.Repeat("long password ", 10), "", 7, 100},
		{"SHA384", sha512.New384, 3, "nss", "0f0e0d0c0b0a09080706050403020100", 2048, 48},
		{"SHA512", sha512.New, 1, "x", "11", 5, 200},
	} {
		pw := p12BMPPassword(tc.password)
		s, _ := hex.DecodeString(tc.salt)
		args := []string{"kdf", "-keylen", fmt.Sprint(tc.size), "-kdfopt", "digest:" + tc.digest,
			"-kdfopt", "hexpass:" + hex.EncodeToString(pw), "-kdfopt", fmt.Sprintf("iter:%d", tc.iter),
			"-kdfopt", fmt.Sprintf("id:%d", tc.id)}
		if tc.salt != "" {
			args = append(args, "-kdfopt", "hexsalt:"+tc.salt)
		} else {
			args = append(args, "-kdfopt", "salt:")
		}
		r := o.Run(nil, append(args, "PKCS12KDF")...)
		if r.Err != nil {
			t.Errorf("%+v: openssl: %v %s", tc, r.Err, r.Stderr)
			continue
		}
		want, err := hex.DecodeString(strings.NewReplacer(":", "", "\n", "", " ", "").Replace(string(r.Stdout)))
		if err != nil {
			t.Fatal(err)
		}
		if got := p12KDF(tc.h, tc.id, pw, s, tc.iter, tc.size); !bytes.Equal(got, want) {
			t.Errorf("%s id %d size %d: p12KDF = %x\nopenssl = %x", tc.digest, tc.id, tc.size, got, want)
		}
	}
}

// --- PBMAC1 (RFC 9579) -------------------------------------------------------

// TestP12PBMAC1 opens the RFC 9579 Appendix A vectors (password "1234") and
// refuses their broken variants and a short-key MAC.
func TestP12PBMAC1(t *testing.T) {
	a1 := p12TestBase64(t, p12RFC9579A1)
	a3 := p12TestBase64(t, p12RFC9579A3)
	for name, data := range map[string][]byte{"A.1 SHA-256/SHA-256": a1, "A.3 SHA-512/SHA-512": a3} {
		key, cert, _, err := p12Decode(data, "1234")
		if err != nil || !p12TestMatches(key, cert) {
			t.Errorf("%s: err = %v, or the key does not match", name, err)
		}
		if _, _, _, err := p12Decode(data, "12345"); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s, wrong password: err = %v", name, err)
		}
	}
	authSafe := p12TestAuthSafeOf(t, a1)
	for _, tc := range []struct {
		name, macData string
		want          error
	}{
		// RFC 9579 A.4, A.5, A.6: the MacData of those vectors over A.1's authSafe.
		{"A.4 bad iteration count", "307d306d304906092a864886f70d01050e303c302c06092a864886f70d01050c301f04086f473c38b02e317302020801020120300c06082a864886f70d02090500300c06082a864886f70d0209050004207aa56d8539d702363f3bcd2eb83545c6dfa2b96970e714772d224e417f8906dd04084e4f54205553454402020800", ErrIntegrity},
		{"A.5 incorrect salt", "307c306d304906092a864886f70d01050e303c302c06092a864886f70d01050c301f04084e4f54205553454402020800020120300c06082a864886f70d02090500300c06082a864886f70d0209050004207aa56d8539d702363f3bcd2eb83545c6dfa2b96970e714772d224e417f8906dd04086f473c38b02e3173020101", ErrIntegrity},
		{"A.6 missing key length", "307a306a304606092a864886f70d01050e3039302906092a864886f70d01050c301c04086f473c38b02e317302020800300c06082a864886f70d02090500300c06082a864886f70d0209050004207aa56d8539d702363f3bcd2eb83545c6dfa2b96970e714772d224e417f8906dd04086f473c38b02e317302020800", ErrMalformed},
	} {
		md, _ := hex.DecodeString(tc.macData)
		if _, _, _, err := p12Decode(p12TestPFX(t, authSafe, md), "1234"); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A MAC made here with a correct key of one octet: refused, or an
	// attacker could forge it in 256 tries.
	short := p12TestPBMAC1(t, authSafe, "1234", p12OIDHMACWithSHA256, sha256.New, 1)
	if _, _, _, err := p12Decode(p12TestPFX(t, authSafe, short), "1234"); !errors.Is(err, ErrMalformed) {
		t.Errorf("1-octet PBMAC1 key: err = %v, want ErrMalformed", err)
	}
	good := p12TestPBMAC1(t, authSafe, "1234", p12OIDHMACWithSHA512, sha512.New, 64)
	if _, _, _, err := p12Decode(p12TestPFX(t, authSafe, good), "1234"); err != nil {
		t.Errorf("PBMAC1 HMAC-SHA512 made here: %v", err)
	}
}

// p12TestPBMAC1 makes an RFC 9579 MacData: PBKDF2 with prf over the
// UTF-8 password, HMAC with the same hash.
func p12TestPBMAC1(t testing.TB, authSafe []byte, password string, hmacOID asn1.ObjectIdentifier, h func() hash.Hash, keyLen int) []byte {
	t.Helper()
	salt := []byte("salt for PBMAC1!")
	key, err := pbkdf2.Key(h, password, salt, 2, keyLen)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(h, key)
	mac.Write(authSafe)
	hmacAlg := pkix.AlgorithmIdentifier{Algorithm: hmacOID, Parameters: asn1.NullRawValue}
	kdf := p12TestMarshal(t, p12PBKDF2Params{Salt: asn1.RawValue{FullBytes: p12TestMarshal(t, salt)}, Iterations: 2, KeyLength: keyLen, PRF: hmacAlg})
	params := p12TestMarshal(t, p12PBMAC1Params{
		KDF: pkix.AlgorithmIdentifier{Algorithm: p12OIDPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		MAC: hmacAlg,
	})
	return p12TestMarshal(t, p12MacData{
		Mac:        p12DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: p12OIDPBMAC1, Parameters: asn1.RawValue{FullBytes: params}}, Digest: mac.Sum(nil)},
		MacSalt:    []byte("NOT USED"),
		Iterations: 1,
	})
}

// --- structures built here ---------------------------------------------------

func p12TestMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func p12TestBase64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// p12TestCtx0 wraps an element in [0] EXPLICIT.
func p12TestCtx0(inner []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
}

func p12TestBag(t testing.TB, id asn1.ObjectIdentifier, value []byte) []byte {
	return p12TestMarshal(t, p12SafeBag{ID: id, Value: p12TestCtx0(value)})
}

func p12TestKeyBag(t testing.TB, key crypto.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p12TestBag(t, p12OIDKeyBag, der)
}

func p12TestCertBag(t testing.TB, c *x509.Certificate) []byte {
	cb := p12TestMarshal(t, p12CertBag{ID: p12OIDX509Certificate, Value: p12TestCtx0(p12TestMarshal(t, c.Raw))})
	return p12TestBag(t, p12OIDCertBag, cb)
}

func p12TestSafeContents(t testing.TB, bags ...[]byte) []byte {
	raws := make([]asn1.RawValue, len(bags))
	for i, b := range bags {
		raws[i] = asn1.RawValue{FullBytes: b}
	}
	return p12TestMarshal(t, raws)
}

// p12TestAuthSafe makes an AuthenticatedSafe of unencrypted data safes.
func p12TestAuthSafe(t testing.TB, safes ...[]byte) []byte {
	cis := make([]p12ContentInfo, len(safes))
	for i, s := range safes {
		cis[i] = p12ContentInfo{ContentType: oidData, Content: p12TestCtx0(p12TestMarshal(t, s))}
	}
	return p12TestMarshal(t, cis)
}

// p12TestMAC makes a classic MacData (RFC 7292 §5.1) with SHA-256.
func p12TestMAC(t testing.TB, authSafe []byte, password string, iterations int) []byte {
	salt := []byte("12345678")
	mac := hmac.New(sha256.New, p12KDF(sha256.New, 3, p12BMPPassword(password), salt, iterations, 32))
	mac.Write(authSafe)
	return p12TestMarshal(t, p12MacData{
		Mac:        p12DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, Digest: mac.Sum(nil)},
		MacSalt:    salt,
		Iterations: iterations,
	})
}

// p12TestPFX assembles a PFX; macData may be nil.
func p12TestPFX(t testing.TB, authSafe, macData []byte) []byte {
	var md asn1.RawValue
	if macData != nil {
		md.FullBytes = macData
	}
	return p12TestMarshal(t, p12PFX{
		Version:  3,
		AuthSafe: p12ContentInfo{ContentType: oidData, Content: p12TestCtx0(p12TestMarshal(t, authSafe))},
		MacData:  md,
	})
}

// p12TestAuthSafeOf returns the MAC-covered octets of a PFX.
func p12TestAuthSafeOf(t testing.TB, pfxData []byte) []byte {
	t.Helper()
	var pfx p12PFX
	var content []byte
	if err := p12Unmarshal(pfxData, &pfx, "PFX"); err != nil {
		t.Fatal(err)
	}
	if err := p12UnmarshalDER(pfx.AuthSafe.Content.Bytes, &content, "authSafe"); err != nil {
		t.Fatal(err)
	}
	return content
}

// p12TestBER re-encodes DER as BER the way NSS writes it: every
// constructed element with an indefinite length, every OCTET STRING of
// more than 16 bytes as a constructed string of 16-byte segments.
func p12TestBER(t testing.TB, der []byte) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		_, constructed, tl, err := readTag(der)
		if err != nil {
			t.Fatal(err)
		}
		n, ll, _, err := readLength(der[tl:])
		if err != nil {
			t.Fatal(err)
		}
		head, body := der[:tl], der[tl+ll:tl+ll+n]
		switch {
		case constructed:
			out = append(append(out, head...), 0x80)
			out = append(append(out, p12TestBER(t, body)...), 0, 0)
		case head[0] == 0x04 && n > 16:
			out = append(out, 0x24, 0x80)
			for len(body) > 0 {
				seg := body[:min(16, len(body))]
				out = append(append(out, 0x04, byte(len(seg))), seg...)
				body = body[len(seg):]
			}
			out = append(out, 0, 0)
		default:
			out = append(out, der[:tl+ll+n]...)
		}
		der = der[tl+ll+n:]
	}
	return out
}

// p12TestIdentity is a P-256 identity issued by a test CA (no openssl
// needed).
type p12TestIdentity struct {
	ca   *openssltest.CA
	leaf *openssltest.Leaf
}

func p12TestNewIdentity(t testing.TB) p12TestIdentity {
	ca := openssltest.NewCA(t, openssltest.P256)
	return p12TestIdentity{ca: ca, leaf: ca.Issue("p12@example.org", openssltest.P256, openssltest.LeafOptions{})}
}

// file builds a MAC-protected ("pw", one iteration) PFX of one data safe.
func (id p12TestIdentity) file(t testing.TB, bags ...[]byte) []byte {
	as := p12TestAuthSafe(t, p12TestSafeContents(t, bags...))
	return p12TestPFX(t, as, p12TestMAC(t, as, "pw", 1))
}

// TestP12Structure covers bag handling, nesting, limits, BER and the MAC
// policy on files built here.
func TestP12Structure(t *testing.T) {
	id := p12TestNewIdentity(t)
	keyBag := p12TestKeyBag(t, id.leaf.Key)
	leafBag, caBag := p12TestCertBag(t, id.leaf.Cert), p12TestCertBag(t, id.ca.Cert)
	nest := func(depth int, bags ...[]byte) []byte {
		for range depth {
			bags = [][]byte{p12TestBag(t, p12OIDSafeContentsBag, p12TestSafeContents(t, bags...))}
		}
		return bags[0]
	}
	otherKey := openssltest.NewKey(t, openssltest.P256)
	secretBag := p12TestBag(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 5}, p12TestMarshal(t, "secret"))
	sdsiBag := p12TestBag(t, p12OIDCertBag, p12TestMarshal(t, p12CertBag{
		ID: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 2}, Value: p12TestCtx0(p12TestMarshal(t, "sdsi"))}))
	dsaBag := p12TestBag(t, p12OIDKeyBag, p12TestMarshal(t, struct {
		Version   int
		Algorithm pkix.AlgorithmIdentifier
		Key       []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}}, []byte{2, 1, 1}}))
	many := func(n int) [][]byte {
		bags := [][]byte{keyBag, leafBag}
		for len(bags) < n {
			bags = append(bags, caBag)
		}
		return bags
	}
	as := p12TestAuthSafe(t, p12TestSafeContents(t, keyBag, leafBag, caBag))
	// Computing a real MAC at this count would take the time the limit
	// saves; the count is refused before the KDF runs, so any digest does.
	tooMany := p12TestMarshal(t, p12MacData{
		Mac:        p12DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, Digest: make([]byte, 32)},
		MacSalt:    []byte("salt"),
		Iterations: p12MaxIterations + 1,
	})
	berSafe := p12TestBER(t, p12TestSafeContents(t, caBag, leafBag, keyBag))
	berAS := p12TestBER(t, p12TestAuthSafe(t, berSafe))
	tests := []struct {
		name     string
		data     []byte
		password string
		want     error // nil: opens with the leaf and the CA
		msg      string
	}{
		{"key and certificates, duplicates dropped", id.file(t, caBag, leafBag, caBag, keyBag, leafBag), "pw", nil, ""},
		{"unknown bags ignored", id.file(t, secretBag, keyBag, sdsiBag, leafBag, caBag), "pw", nil, ""},
		{"nested 4 deep", id.file(t, nest(4, keyBag), leafBag, caBag), "pw", nil, ""},
		{"nested 5 deep", id.file(t, nest(5, keyBag), leafBag, caBag), "pw", ErrMalformed, "nested"},
		{"100 bags and safes", id.file(t, many(99)...), "pw", nil, ""},
		{"101 bags and safes", id.file(t, many(100)...), "pw", ErrUnsupported, "bags"},
		{"no key", id.file(t, leafBag, caBag), "pw", nil, "no private key"},
		{"two keys", id.file(t, keyBag, p12TestKeyBag(t, otherKey), leafBag), "pw", nil, "2 private keys"},
		{"no matching certificate", id.file(t, keyBag, caBag), "pw", nil, "no certificate"},
		{"DSA key", id.file(t, dsaBag, leafBag), "pw", ErrUnsupported, "algorithm 1.2.840.10040.4.1"},
		{"BER at every level", p12TestBER(t, p12TestPFX(t, berAS, p12TestMAC(t, berAS, "pw", 1))), "pw", nil, ""},
		{"BER, wrong password", p12TestBER(t, p12TestPFX(t, berAS, p12TestMAC(t, berAS, "pw", 1))), "px", ErrIntegrity, "password"},
		{"no MAC, empty password", p12TestPFX(t, as, nil), "", nil, ""},
		{"no MAC, password", p12TestPFX(t, as, nil), "pw", ErrUnsupported, "no MAC"},
		{"MAC with empty password", p12TestPFX(t, as, p12TestMAC(t, as, "", 1)), "", nil, ""},
		{"MAC iterations above the limit", p12TestPFX(t, as, tooMany), "pw", ErrUnsupported, "iteration count"},
		{"trailing data", append(id.file(t, keyBag, leafBag, caBag), 1, 2), "pw", ErrMalformed, "after"},
		{"too large", make([]byte, p12MaxInput+1), "pw", nil, "larger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, cert, others, err := p12Decode(tc.data, tc.password)
			if tc.want == nil && tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !cert.Equal(id.leaf.Cert) || !p12TestMatches(key, cert) || len(others) != 1 || !others[0].Equal(id.ca.Cert) {
					t.Errorf("got cert %v, %d others", cert.Subject, len(others))
				}
				return
			}
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

// TestP12DecryptCBCPadding: every padding byte is checked.
func TestP12DecryptCBCPadding(t *testing.T) {
	block, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	encrypt := func(plain []byte) []byte {
		out := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
		return out
	}
	msg := []byte("0123456789")
	for _, tc := range []struct {
		name  string
		plain []byte
		ok    bool
	}{
		{"6 bytes of 6", append(append([]byte{}, msg...), 6, 6, 6, 6, 6, 6), true},
		{"a full block of 16", append(bytes.Repeat([]byte{'x'}, 16), bytes.Repeat([]byte{16}, 16)...), true},
		{"zero", append(append([]byte{}, msg...), 6, 6, 6, 6, 6, 0), false},
		{"more than a block", append(bytes.Repeat([]byte{'x'}, 15), 17), false},
		{"one byte differs", append(append([]byte{}, msg...), 6, 6, 5, 6, 6, 6), false},
	} {
		got, ok := p12DecryptCBC(block, iv, encrypt(tc.plain))
		if ok != tc.ok || (ok && !bytes.Equal(got, tc.plain[:len(tc.plain)-int(tc.plain[len(tc.plain)-1])])) {
			t.Errorf("%s: %q, %v", tc.name, got, ok)
		}
	}
	for _, n := range []int{0, 15, 17} {
		if _, ok := p12DecryptCBC(block, iv, make([]byte, n)); ok {
			t.Errorf("%d bytes of ciphertext decrypted", n)
		}
	}
}

// --- damage ----------------------------------------------------------------------

// p12TestSamples are files to damage: one built here, one from openssl
// (one iteration, so that trying every byte is quick) and an NSS one.
func p12TestSamples(t *testing.T) map[string]struct {
	data     []byte
	password string
	stride   int
} {
	id := p12TestNewIdentity(t)
	out := map[string]struct {
		data     []byte
		password string
		stride   int
	}{
		"built": {id.file(t, p12TestKeyBag(t, id.leaf.Key), p12TestCertBag(t, id.leaf.Cert)), "pw", 1},
	}
	o := openssltest.New(t)
	o.WriteKey("k.pem", id.leaf.Key)
	o.WriteCert("c.pem", id.leaf.Cert)
	o.MustRun(nil, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-passout", "pass:x", "-noiter", "-nomaciter", "-out", "o.p12")
	out["openssl"] = struct {
		data     []byte
		password string
		stride   int
	}{o.Read("o.p12"), "x", 1}
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "corpus", "thunderbird-smime", "mailnews-smime", "Alice-ec.p12")); err == nil {
		out["nss"] = struct {
			data     []byte
			password string
			stride   int
		}{b, "nss", 53}
	}
	return out
}

// TestP12Tamper flips bits across whole files: nothing opens, and a flip
// in the MAC-covered octets is the wrong-password/damaged error.
func TestP12Tamper(t *testing.T) {
	for name, s := range p12TestSamples(t) {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := p12Decode(s.data, s.password); err != nil {
				t.Fatalf("undamaged: %v", err)
			}
			covered := p12TestAuthSafeOf(t, s.data)
			start := bytes.Index(s.data, covered)
			if start < 0 {
				t.Fatal("authSafe octets not found verbatim")
			}
			buf := make([]byte, len(s.data))
			for i := 0; i < len(s.data); i += s.stride {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					copy(buf, s.data)
					buf[i] ^= mask
					_, _, _, err := p12Decode(buf, s.password)
					inside := i >= start && i < start+len(covered)
					if err == nil || (inside && !errors.Is(err, ErrIntegrity)) {
						t.Fatalf("byte %d ^ %#x (inside MAC: %v): err = %v", i, mask, inside, err)
					}
				}
			}
		})
	}
}

// TestP12Truncated: every prefix is an error, never a panic.
func TestP12Truncated(t *testing.T) {
	for name, s := range p12TestSamples(t) {
		for n := 0; n < len(s.data); n += max(1, s.stride/4) {
			if _, _, _, err := p12Decode(s.data[:n], s.password); err == nil {
				t.Errorf("%s: %d of %d bytes opened", name, n, len(s.data))
			}
		}
	}
}

// FuzzP12Decode feeds damaged files with the empty password, so that
// inputs without a MAC reach the bag parsers.
func FuzzP12Decode(f *testing.F) {
	ca := openssltest.NewCA(f, openssltest.P256)
	leaf := ca.Issue("fuzz@example.org", openssltest.P256, openssltest.LeafOptions{})
	bags := p12TestSafeContents(f, p12TestKeyBag(f, leaf.Key), p12TestCertBag(f, leaf.Cert), p12TestBag(f, p12OIDSafeContentsBag, p12TestSafeContents(f, p12TestCertBag(f, ca.Cert))))
	as := p12TestAuthSafe(f, bags)
	f.Add(p12TestPFX(f, as, nil))
	f.Add(p12TestBER(f, p12TestPFX(f, p12TestBER(f, as), nil)))
	f.Add(p12TestPFX(f, as, p12TestMAC(f, as, "", 1)))
	for _, name := range []string{"Alice.p12", "Fran-ec.p12"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "corpus", "thunderbird-smime", "mailnews-smime", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, cert, _, err := p12Decode(data, "")
		if err == nil && !p12TestMatches(key, cert) {
			t.Fatal("opened with a key that does not match its certificate")
		}
	})
}

// RFC 9579 Appendix A.1 and A.3 (password "1234"): PBMAC1 with
// PBKDF2-HMAC-SHA256/HMAC-SHA256 and PBKDF2-HMAC-SHA512/HMAC-SHA512.
const p12RFC9579A1 = `
MIIKigIBAzCCCgUGCSqGSIb3DQEHAaCCCfYEggnyMIIJ7jCCBGIGCSqGSIb3DQEH
BqCCBFMwggRPAgEAMIIESAYJKoZIhvcNAQcBMFcGCSqGSIb3DQEFDTBKMCkGCSqG
SIb3DQEFDDAcBAg9pxXxY2yscwICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQME
ASoEEK7yYaFQDi1pYwWzm9F/fs+AggPgFIT2XapyaFgDppdvLkdvaF3HXw+zjzKb
7xFC76DtVPhVTWVHD+kIss+jsj+XyvMwY0aCuAhAG/Dig+vzWomnsqB5ssw5/kTb
+TMQ5PXLkNeoBmB6ArKeGc/QmCBQvQG/a6b+nXSWmxNpP+71772dmWmB8gcSJ0kF
Fj75NrIbmNiDMCb71Q8gOzBMFf6BpXf/3xWAJtxyic+tSNETfOJa8zTZb0+lV0w9
5eUmDrPUpuxEVbb0KJtIc63gRkcfrPtDd6Ii4Zzbzj2Evr4/S4hnrQBsiryVzJWy
IEjaD0y6+DmG0JwMgRuGi1wBoGowi37GMrDCOyOZWC4n5wHLtYyhR6JaElxbrhxP
H46z2USLKmZoF+YgEQgYcSBXMgP0t36+XQocFWYi2N5niy02TnctwF430FYsQlhJ
Suma4I33E808dJuMv8T/soF66HsD4Zj46hOf4nWmas7IaoSAbGKXgIa7KhGRJvij
xM3WOX0aqNi/8bhnxSA7fCmIy/7opyx5UYJFWGBSmHP1pBHBVmx7Ad8SAsB9MSsh
nbGjGiUk4h0QcOi29/M9WwFlo4urePyI8PK2qtVAmpD3rTLlsmgzguZ69L0Q/CFU
fbtqsMF0bgEuh8cfivd1DYFABEt1gypuwCUtCqQ7AXK2nQqOjsQCxVz9i9K8NDeD
aau98VAl0To2sk3/VR/QUq0PRwU1jPN5BzUevhE7SOy/ImuJKwpGqqFljYdrQmj5
jDe+LmYH9QGVRlfN8zuU+48FY8CAoeBeHn5AAPml0PYPVUnt3/jQN1+v+CahNVI+
La8q1Nen+j1R44aa2I3y/pUgtzXRwK+tPrxTQbG030EU51LYJn8amPWmn3w75ZIA
MJrXWeKj44de7u4zdUsEBVC2uM44rIHM8MFjyYAwYsey0rcp0emsaxzar+7ZA67r
lDoXvvS3NqsnTXHcn3T9tkPRoee6L7Dh3x4Od96lcRwgdYT5BwyH7e34ld4VTUmJ
bDEq7Ijvn4JKrwQJh1RCC+Z/ObfkC42xAm7G010u3g08xB0Qujpdg4a7VcuWrywF
c7hLNquuaF4qoDaVwYXHH3iuX6YlJ/3siTKbYCVXPEZOAMBP9lF/OU76UMJBQNfU
0xjDx+3AhUVgnGuCsmYlK6ETDp8qOZKGyV0KrNSGtqLx3uMhd7PETeW+ML3tDQ/0
X9fMkcZHi4C2fXnoHV/qa2dGhBj4jjQ0Xh1poU6mxGn2Mebe2hDsBZkkBpnn7pK4
wP/VqXdQTwqEuvzGHLVFsCuADe40ZFBmtBrf70wG7ZkO8SUZ8Zz1IX3+S024g7yj
QRev/6x6TtkwggWEBgkqhkiG9w0BBwGgggV1BIIFcTCCBW0wggVpBgsqhkiG9w0B
DAoBAqCCBTEwggUtMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhTxzw+
VptrYAICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEK9nSqc1I2t4tMVG
bWHpdtQEggTQzCwI7j34gCTvfj6nuOSndAjShGv7mN2j7WMV0pslTpq2b9Bn3vn1
Y0JMvL4E7sLrUzNU02pdOcfCnEpMFccNv2sQrLp1mOCKxu8OjSqHZLoKVL0ROVsZ
8dMECLLigDlPKRiSyLErl14tErX4/zbkUaWMROO28kFbTbubQ8YoHlRUwsKW1xLg
vfi0gRkG/zHXRfQHjX/8NStv7hXlehn7/Gy2EKPsRFhadm/iUHAfmCMkMgHTU248
JER9+nsXltd59H+IeDpj/kbxZ+YvHow9XUZKu828d3MQnUpLZ1BfJGhMBPVwbVUD
A40CiQBVdCoGtPJyalL28xoS3H0ILFCnwQOr6u0HwleNJPGHq78HUyH6Hwxnh0b0
5o163r6wTFZn5cMOxpbs/Ttd+3TrxmrYpd2XnuRme3cnaYJ0ILvpc/8eLLR7SKjD
T4JhZ0h/CfcV2WWvhpQugkY0pWrZ+EIMneB1dZB96mJVLxOi148OeSgi0PsxZMNi
YM33rTpwQT5WqOsEyDwUQpne5b8Kkt/s7EN0LJNnPyJJRL1LcqOdr6j+6YqRtPa7
a9oWJqMcuTP+bqzGRJh+3HDlFBw2Yzp9iadv4KmB2MzhStLUoi2MSjvnnkkd5Led
sshAd6WbKfF7kLAHQHT4Ai6dMEO4EKkEVF9JBtxCR4JEn6C98Lpg+Lk+rfY7gHOf
ZxtgGURwgXRY3aLUrdT55ZKgk3ExVKPzi5EhdpAau7JKhpOwyKozAp/OKWMNrz6h
obu2Mbn1B+IA60psYHHxynBgsJHv7WQmbYh8HyGfHgVvaA8pZCYqxxjpLjSJrR8B
Bu9H9xkTh7KlhxgreXYv19uAYbUd95kcox9izad6VPnovgFSb+Omdy6PJACPj6hF
W6PJbucP0YPpO0VtWtQdZZ3df1P0hZ7qvKwOPFA+gKZSckgqASfygiP9V3Zc8jIi
wjNzoDM2QT+UUJKiiGYXJUEOO9hxzFHlGj759DcNRhpgl5AgR57ofISD9yBuCAJY
PQ/aZHPFuRTrcVG3RaIbCAS73nEznKyFaLOXfzyfyaSmyhsH253tnyL1MejC+2bR
Eko/yldgFUxvU5JI+Q3KJ6Awj+PnduHXx71E4UwSuu2xXYMpxnQwI6rroQpZBX82
HhqgcLV83P8lpzQwPdHjH5zkoxmWdC0+jU/tcQfNXYpJdyoaX7tDmVclLhwl9ps/
O841pIsNLJWXwvxG6B+3LN/kw4QjwN194PopiOD7+oDm5mhttO78CrBrRxHMD/0Q
qniZjKzSZepxlZq+J792u8vtMnuzzChxu0Bf3PhIXcJNcVhwUtr0yKe/N+NvC0tm
p8wyik/BlndxN9eKbdTOi2wIi64h2QG8nOk66wQ/PSIJYwZl6eDNEQSzH/1mGCfU
QnUT17UC/p+Qgenf6Auap2GWlvsJrB7u/pytz65rtjt/ouo6Ih6EwWqwVVpGXZD0
7gVWH0Ke/Vr6aPGNvkLcmftPuDZsn9jiig3guhdeyRVf10Ox369kKWcG75q77hxE
IzSzDyUlBNbnom9SIjut3r+qVYmWONatC6q/4D0I42Lnjd3dEyZx7jmH3g/S2ASM
FzWr9pvXc61dsYOkdZ4PYa9XPUZxXFagZsoS3F1sU799+IJVU0tC0MExJTAjBgkq
hkiG9w0BCRUxFgQUwWO5DorvVWYF3BWUmAw0rUEajScwfDBtMEkGCSqGSIb3DQEF
DjA8MCwGCSqGSIb3DQEFDDAfBAhvRzw4sC4xcwICCAACASAwDAYIKoZIhvcNAgkF
ADAMBggqhkiG9w0CCQUABCB6pW2FOdcCNj87zS64NUXG36K5aXDnFHctIk5Bf4kG
3QQITk9UIFVTRUQCAQE=
`

const p12RFC9579A3 = `
MIIKrAIBAzCCCgUGCSqGSIb3DQEHAaCCCfYEggnyMIIJ7jCCBGIGCSqGSIb3DQEH
BqCCBFMwggRPAgEAMIIESAYJKoZIhvcNAQcBMFcGCSqGSIb3DQEFDTBKMCkGCSqG
SIb3DQEFDDAcBAisrqL8obSBaQICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQME
ASoEECjXYYca0pwsgn1Imb9WqFGAggPgT7RcF5YzEJANZU9G3tSdpCHnyWatTlhm
iCEcBGgwI5gz0+GoX+JCojgYY4g+KxeqznyCu+6GeD00T4Em7SWme9nzAfBFzng0
3lYCSnahSEKfgHerbzAtq9kgXkclPVk0Liy92/buf0Mqotjjs/5o78AqP86Pwbj8
xYNuXOU1ivO0JiW2c2HefKYvUvMYlOh99LCoZPLHPkaaZ4scAwDjFeTICU8oowVk
LKvslrg1pHbfmXHMFJ4yqub37hRtj2CoJNy4+UA2hBYlBi9WnuAJIsjv0qS3kpLe
4+J2DGe31GNG8pD01XD0l69OlailK1ykh4ap2u0KeD2z357+trCFbpWMMXQcSUCO
OcVjxYqgv/l1++9huOHoPSt224x4wZfJ7cO2zbAAx/K2CPhdvi4CBaDHADsRq/c8
SAi+LX5SCocGT51zL5KQD6pnr2ExaVum+U8a3nMPPMv9R2MfFUksYNGgFvS+lcZf
R3qk/G9iXtSgray0mwRA8pWzoXl43vc9HJuuCU+ryOc/h36NChhQ9ltivUNaiUc2
b9AAQSrZD8Z7KtxjbH3noS+gjDtimDB0Uh199zaCwQ95y463zdYsNCESm1OT979o
Y+81BWFMFM/Hog5s7Ynhoi2E9+ZlyLK2UeKwvWjGzvcdPvxHR+5l/h6PyWROlpaZ
zmzZBm+NKmbXtMD2AEa5+Q32ZqJQhijXZyIji3NS65y81j/a1ZrvU0lOVKA+MSPN
KU27/eKZuF1LEL6qaazTUmpznLLdaVQy5aZ1qz5dyCziKcuHIclhh+RCblHU6XdE
6pUTZSRQQiGUIkPUTnU9SFlZc7VwvxgeynLyXPCSzOKNWYGajy1LxDvv28uhMgNd
WF51bNkl1QYl0fNunGO7YFt4wk+g7CQ/Yu2w4P7S3ZLMw0g4eYclcvyIMt4vxXfp
VTKIPyzMqLr+0dp1eCPm8fIdaBZUhMUC/OVqLwgnPNY9cXCrn2R1cGKo5LtvtjbH
2skz/D5DIOErfZSBJ8LE3De4j8MAjOeC8ia8LaM4PNfW/noQP1LBsZtTDTqEy01N
Z5uliIocyQzlyWChErJv/Wxh+zBpbk1iXc2Owmh2GKjx0VSe7XbiqdoKkONUNUIE
siseASiU/oXdJYUnBYVEUDJ1HPz7qnKiFhSgxNJZnoPfzbbx1hEzV+wxQqNnWIqQ
U0s7Jt22wDBzPBHGao2tnGRLuBZWVePJGbsxThGKwrf3vYsNJTxme5KJiaxcPMwE
r+ln2AqVOzzXHXgIxv/dvK0Qa7pH3AvGzcFjQChTRipgqiRrLor0//8580h+Ly2l
IFo7bCuztmcwggWEBgkqhkiG9w0BBwGgggV1BIIFcTCCBW0wggVpBgsqhkiG9w0B
DAoBAqCCBTEwggUtMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAi1c7S5
IEG77wICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEN6rzRtIdYxqOnY+
aDS3AFYEggTQNdwUoZDXCryOFBUI/z71vfoyAxlnwJLRHNXQUlI7w0KkH22aNnSm
xiaXHoCP1HgcmsYORS7p/ITi/9atCHqnGR4zHmePNhoMpNHFehdjlUUWgt004vUJ
5ZwTdXweM+K4We6CfWA/tyvsyGNAsuunel+8243Zsv0mGLKpjA+ZyALt51s0knmX
OD2DW49FckImUVnNC5LmvEIAmVC/ZNycryZQI+2EBkJKe+BC3834GexJnSwtUBg3
Xg33ZV7X66kw8tK1Ws5zND5GQAJyIu47mnjZkIWQBY+XbWowrBZ8uXIQuxMZC0p8
u62oIAtZaVQoVTR1LyR/7PISFW6ApwtbTn6uQxsb16qF8lEM0S1+x0AfJY6Zm11t
yCqbb2tYZF+X34MoUkR/IYC/KCq/KJdpnd8Yqgfrwjg8dR2WGIxbp2GBHq6BK/DI
ehOLMcLcsOuP0DEXppfcelMOGNIs+4h4KsjWiHVDMPsqLdozBdm6FLGcno3lY5FO
+avVrlElAOB+9evgaBbD2lSrEMoOjAoD090tgXXwYBEnWnIpdk+56cf5IpshrLBA
/+H13LBLes+X1o5dd0Mu+3abp5RtAv7zLPRRtXkDYJPzgNcTvJ2Wxw2C+zrAclzZ
7IRdcLESUa4CsN01aEvQgOtkCNVjSCtkJGP0FstsWM4hP7lfSB7P2tDL+ugy6GvB
X1sz9fMC7QMAFL98nDm/yqcnejG1BcQXZho8n0svSfbcVByGlPZGMuI9t25+0B2M
TAx0f6zoD8+fFmhcVgS6MQPybGKFawckYl0zulsePqs+G4voIW17owGKsRiv06Jm
ZSwd3KoGmjM49ADzuG9yrQ5PSa0nhVk1tybNape4HNYHrAmmN0ILlN+E0Bs/Edz4
ntYZuoc/Z35tCgm79dV4/Vl6HUZ1JrLsLrEWCByVytwVFyf3/MwTWdf+Ac+XzBuC
yEMqPlvnPWswdnaid35pxios79fPl1Hr0/Q6+DoA5GyYq8SFdP7EYLrGMGa5GJ+x
5nS7z6U4UmZ2sXuKYHnuhB0zi6Y04a+fhT71x02eTeC7aPlEB319UqysujJVJnso
bkcwOu/Jj0Is9YeFd693dB44xeZuYyvlwoD19lqcim0TSa2Tw7D1W/yu47dKrVP2
VKxRqomuAQOpoZiuSfq1/7ysrV8U4hIlIU2vnrSVJ8EtPQKsoBW5l70dQGwXyxBk
BUTHqfJ4LG/kPGRMOtUzgqFw2DjJtbym1q1MZgp2ycMon4vp7DeQLGs2XfEANB+Y
nRwtjpevqAnIuK6K3Y02LY4FXTNQpC37Xb04bmdIQAcE0MaoP4/hY87aS82PQ68g
3bI79uKo4we2g+WaEJlEzQ7147ZzV2wbDq89W69x1MWTfaDwlEtd4UaacYchAv7B
TVaaVFiRAUywWaHGePpZG2WV1feH/zd+temxWR9qMFgBZySg1jipBPVciwl0LqlW
s/raIBYmLmAaMMgM3759UkNVznDoFHrY4z2EADXp0RHHVzJS1x+yYvp/9I+AcW55
oN0UP/3uQ6eyz/ix22sovQwhMJ8rmgR6CfyRPKmXu1RPK3puNv7mbFTfTXpYN2vX
vhEZReXY8hJF/9o4G3UrJ1F0MgUHMCG86cw1z0bhPSaXVoufOnx/fRoxJTAjBgkq
hkiG9w0BCRUxFgQUwWO5DorvVWYF3BWUmAw0rUEajScwgZ0wgY0wSQYJKoZIhvcN
AQUOMDwwLAYJKoZIhvcNAQUMMB8ECFDaXOUaOcUPAgIIAAIBQDAMBggqhkiG9w0C
CwUAMAwGCCqGSIb3DQILBQAEQHIAM8C9OAsHUCj9CmOJioqf7YwD4O/b3UiZ3Wqo
F6OmQIRDc68SdkZJ6024l4nWlnhTE7a4lb2Tru4k3NOTa1oECE5PVCBVU0VEAgEB
`
