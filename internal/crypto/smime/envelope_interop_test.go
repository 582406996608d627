package smime

// Interop with the real openssl (`openssl cms`) in both directions. These
// tests skip without openssl unless REQUIRE_INTEROP=1.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"regexp"
	"testing"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// envTestSMIMEBody returns the decoded base64 body of an S/MIME message
// (`openssl cms -outform SMIME`).
func envTestSMIMEBody(t testing.TB, msg []byte) []byte {
	t.Helper()
	loc := regexp.MustCompile(`\r?\n\r?\n`).FindIndex(msg)
	if loc == nil {
		t.Fatalf("no header/body separator in %q", msg)
	}
	if !bytes.Contains(msg[:loc[0]], []byte("application/pkcs7-mime")) && !bytes.Contains(msg[:loc[0]], []byte("application/x-pkcs7-mime")) {
		t.Fatalf("not an S/MIME message: %q", msg[:loc[0]])
	}
	body := regexp.MustCompile(`\s+`).ReplaceAll(msg[loc[1]:], nil)
	der, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		t.Fatalf("base64 body: %v", err)
	}
	return der
}

// The output forms of `openssl cms -encrypt` that Decrypt must read.
var envTestOpenSSLForms = []struct {
	name string
	args []string
}{
	{"DER", []string{"-outform", "DER"}},
	{"SMIME", []string{"-outform", "SMIME"}},
	// Streamed BER: indefinite lengths, encryptedContent as a
	// constructed [0] of OCTET STRING segments.
	{"stream", []string{"-stream", "-outform", "DER"}},
	{"indef", []string{"-indef", "-outform", "DER"}},
}

var envTestOpenSSLCiphers = []struct {
	flag, name string
	gcm        bool
}{
	{"-aes-256-gcm", "AES-256-GCM", true},
	{"-aes-192-gcm", "AES-192-GCM", true},
	{"-aes-128-gcm", "AES-128-GCM", true},
	{"-aes-256-cbc", "AES-256-CBC", false},
	{"-aes-192-cbc", "AES-192-CBC", false},
	{"-aes-128-cbc", "AES-128-CBC", false},
}

type envTestTransport struct {
	keyopts []string
	name    string // DecryptInfo.KeyTransport
}

// TestDecryptFromOpenSSL: messages made by `openssl cms -encrypt` for
// RSA, P-256 and P-384 certificates, every AES cipher with every key
// transport and KDF hash in DER, and every cipher in S/MIME and streamed
// BER form.
func TestDecryptFromOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	content := envTestBigContent()
	o.Write("msg", content)
	ecKDFs := func(curve string) []envTestTransport {
		return []envTestTransport{
			// OpenSSL's default ECDH KDF hash is SHA-1.
			{nil, "ECDH-" + curve + "-SHA1"},
			{[]string{"-keyopt", "ecdh_kdf_md:sha256"}, "ECDH-" + curve + "-SHA256"},
			{[]string{"-keyopt", "ecdh_kdf_md:sha384"}, "ECDH-" + curve + "-SHA384"},
			{[]string{"-keyopt", "ecdh_kdf_md:sha512"}, "ECDH-" + curve + "-SHA512"},
		}
	}
	keys := []struct {
		kt         openssltest.KeyType
		transports []envTestTransport
	}{
		{openssltest.RSA2048, []envTestTransport{
			{nil, "RSA-PKCS1v15"},
			{[]string{"-keyopt", "rsa_padding_mode:oaep"}, "RSA-OAEP-SHA1"},
			{[]string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, "RSA-OAEP-SHA256"},
			{[]string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha1"}, "RSA-OAEP-SHA256-MGF1-SHA1"},
			{[]string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha512"}, "RSA-OAEP-SHA512"},
		}},
		{openssltest.P256, ecKDFs("P256")},
		{openssltest.P384, ecKDFs("P384")},
	}
	for _, k := range keys {
		leaf := ca.Issue(string(k.kt)+"@example.org", k.kt, openssltest.LeafOptions{})
		certFile := o.WriteCert(string(k.kt)+".pem", leaf.Cert)
		for _, c := range envTestOpenSSLCiphers {
			for i, tr := range k.transports {
				for j, form := range envTestOpenSSLForms {
					if i > 0 && j > 0 {
						// The output form is independent of the key
						// transport: every form once per cipher and key.
						continue
					}
					name := string(k.kt) + "/" + c.name + "/" + tr.name + "/" + form.name
					args := append([]string{"cms", "-encrypt", "-binary", "-in", "msg", c.flag, "-recip", certFile}, tr.keyopts...)
					out := o.MustRun(nil, append(args, form.args...)...).Stdout
					if form.name == "SMIME" {
						out = envTestSMIMEBody(t, out)
					}
					pt, info, err := Decrypt(out, leaf.Cert, leaf.Key)
					want := DecryptInfo{Cipher: c.name, Authenticated: c.gcm, KeyTransport: tr.name}
					if err != nil || !bytes.Equal(pt, content) || info != want {
						t.Errorf("%s: %d bytes, %+v, %v; want %d bytes, %+v", name, len(pt), info, err, len(content), want)
					}
				}
			}
		}
	}
}

// TestDecryptFromOpenSSLKeyID: `openssl cms -encrypt -keyid` names the
// recipient by subjectKeyIdentifier.
func TestDecryptFromOpenSSLKeyID(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o.Write("msg", envTestContent)
	for i, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, openssltest.P384} {
		leaf := envTestLeaf(t, ca, openssltest.NewKey(t, kt), int64(100+i), []byte{1, 2, 3, 4, 5, 6, 7, 8, byte(i)})
		certFile := o.WriteCert("ski.pem", leaf.Cert)
		for _, c := range []string{"-aes-256-gcm", "-aes-128-cbc"} {
			out := o.MustRun(nil, "cms", "-encrypt", "-binary", "-outform", "DER", "-in", "msg", c, "-keyid", "-recip", certFile).Stdout
			pt, _, err := Decrypt(out, leaf.Cert, leaf.Key)
			if err != nil || !bytes.Equal(pt, envTestContent) {
				t.Errorf("%s %s -keyid: %q, %v", kt, c, pt, err)
			}
		}
	}
}

// TestDecryptFromOpenSSLMultiRecipient: a message to RSA, P-256 and
// P-384 recipients at once is readable by each.
func TestDecryptFromOpenSSLMultiRecipient(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	o.Write("msg", envTestContent)
	var leaves []*openssltest.Leaf
	args := []string{"cms", "-encrypt", "-binary", "-outform", "DER", "-in", "msg", "-aes-256-gcm"}
	for i, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, openssltest.P384} {
		leaf := ca.Issue("m@example.org", kt, openssltest.LeafOptions{})
		leaves = append(leaves, leaf)
		args = append(args, "-recip", o.WriteCert(string(rune('a'+i))+".pem", leaf.Cert))
	}
	out := o.MustRun(nil, args...).Stdout
	for _, leaf := range leaves {
		if pt, _, err := Decrypt(out, leaf.Cert, leaf.Key); err != nil || !bytes.Equal(pt, envTestContent) {
			t.Errorf("%T recipient: %q, %v", leaf.Key, pt, err)
		}
	}
}

// TestEncryptToOpenSSL: `openssl cms -decrypt` reads what Encrypt writes,
// for every cipher, RSA key transport and EC curve, and a message to all
// of them at once.
func TestEncryptToOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	content := envTestBigContent()
	type recip struct {
		name       string
		leaf       *openssltest.Leaf
		transports []KeyTransport
	}
	rsaTransports := []KeyTransport{RSAOAEPSHA256, RSAPKCS1v15, RSAOAEPSHA1}
	recips := []recip{
		{"RSA", ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{}), rsaTransports},
		{"P256", ca.Issue("p256@example.org", openssltest.P256, openssltest.LeafOptions{}), []KeyTransport{0}},
		{"P384", ca.Issue("p384@example.org", openssltest.P384, openssltest.LeafOptions{}), []KeyTransport{0}},
		{"P521", envTestP521(t, ca), []KeyTransport{0}},
	}
	var all []*x509.Certificate
	for _, r := range recips {
		all = append(all, r.leaf.Cert)
		o.WriteCert(r.name+".pem", r.leaf.Cert)
		o.WriteKey(r.name+".key", r.leaf.Key)
	}
	decrypt := func(name, file, who string) {
		t.Helper()
		res := o.Run(nil, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", file, "-recip", who+".pem", "-inkey", who+".key")
		if res.Err != nil || !bytes.Equal(res.Stdout, content) {
			t.Errorf("%s: openssl: %v, %d bytes\n%s", name, res.Err, len(res.Stdout), res.Stderr)
		}
	}
	for _, c := range envTestCiphers {
		for _, r := range recips {
			for _, kt := range r.transports {
				name := r.name + "/" + c.name
				if r.name == "RSA" {
					name += "/" + envTestTransports[kt].name
				}
				der, err := Encrypt(content, []*x509.Certificate{r.leaf.Cert}, EncryptOptions{Cipher: c.c, KeyTransport: kt})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				decrypt(name, o.Write("out.der", der), r.name)
			}
		}
		der, err := Encrypt(content, all, EncryptOptions{Cipher: c.c})
		if err != nil {
			t.Fatal(err)
		}
		file := o.Write("all.der", der)
		for _, r := range recips {
			decrypt("all recipients/"+c.name+"/"+r.name, file, r.name)
		}
	}
}

// TestAuthAttrsToOpenSSL: OpenSSL computes the same AAD over authAttrs
// (RFC 5083 §2.2) as Decrypt. OpenSSL releases before the fix for
// openssl/openssl#26101 (PR #31695, mid-2026; 3.0.19 among them) decode
// authAttrs with the wrong tag ([2]) and cannot parse such a message at
// all; the test skips on them. Encrypt never writes authAttrs.
func TestAuthAttrsToOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	der, _ := envTestWithAuthAttrs(t, leaf.Cert, envTestContent)
	res := o.Run(nil, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", o.Write("a.der", der),
		"-recip", o.WriteCert("c.pem", leaf.Cert), "-inkey", o.WriteKey("k.pem", leaf.Key))
	if res.Err != nil && bytes.Contains(res.Stderr, []byte("Field=mac, Type=CMS_AuthEnvelopedData")) {
		t.Skipf("this openssl cannot parse authAttrs (openssl/openssl#26101):\n%s", res.Stderr)
	}
	if res.Err != nil || !bytes.Equal(res.Stdout, envTestContent) {
		t.Errorf("openssl: %v %q\n%s", res.Err, res.Stdout, res.Stderr)
	}
}

// TestDecryptRefusesOpenSSLCiphers: DES, 3DES, RC2 and other non-AES
// ciphers are ErrUnsupported, never decrypted.
func TestDecryptRefusesOpenSSLCiphers(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	certFile := o.WriteCert("c.pem", leaf.Cert)
	o.Write("msg", envTestContent)
	for _, c := range []string{"-des3", "-des", "-rc2", "-camellia-128-cbc", "-aria-128-cbc"} {
		args := []string{"cms", "-encrypt", "-binary", "-outform", "DER", "-in", "msg", c, "-recip", certFile}
		res := o.Run(nil, args...)
		if res.Err != nil {
			// DES and RC2 live in OpenSSL 3's legacy provider.
			res = o.Run(nil, append(args, "-provider", "legacy", "-provider", "default")...)
		}
		if res.Err != nil {
			if c == "-des3" {
				t.Fatalf("openssl %s: %v\n%s", c, res.Err, res.Stderr)
			}
			t.Logf("openssl cannot make %s here: %s", c, res.Stderr)
			continue
		}
		pt, _, err := Decrypt(res.Stdout, leaf.Cert, leaf.Key)
		if !errors.Is(err, ErrUnsupported) || pt != nil {
			t.Errorf("%s: %q, %v; want ErrUnsupported", c, pt, err)
		}
	}
}
