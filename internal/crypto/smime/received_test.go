package smime

// S/MIME as other clients and CMS implementations send it (issue 15
// item 4): signatures without certificates, Ed25519, GCM nonces other
// than 12 bytes, bare CRs, algorithms refused by name, signed-data
// without smime-type, PEM-armoured PKCS#12.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// recvParse parses a whole message.
func recvParse(t *testing.T, raw []byte) *mime.Part {
	t.Helper()
	p, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVerifyWithoutCertificates: `openssl cms -sign -nocerts` leaves the
// signer's certificate out (RFC 5652 §5.1: optional); the signer is
// found among the certificates the caller knows, by issuer and serial or
// by subject key identifier (-keyid), and is unknown otherwise.
func TestVerifyWithoutCertificates(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	rsaLeaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("ec@example.org", openssltest.P256, openssltest.LeafOptions{})
	skiLeaf := sigLeafWithSKI(t, ca, []byte("sealpost-nocerts-ski"))
	other := ca.Issue("other@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	msg := o.Write("msg", []byte("Content-Type: text/plain\r\n\r\nNo certificate here.\r\n"))
	tests := []struct {
		name string
		leaf *openssltest.Leaf
		args []string
	}{
		{"RSA multipart/signed", rsaLeaf, nil},
		{"RSA opaque signed-data", rsaLeaf, []string{"-nodetach"}},
		{"ECDSA multipart/signed", ecLeaf, nil},
		{"subject key identifier", skiLeaf, []string{"-keyid"}},
		{"subject key identifier, opaque", skiLeaf, []string{"-keyid", "-nodetach"}},
	}
	for i, tt := range tests {
		n := string(rune('a' + i))
		args := append([]string{"cms", "-sign", "-nocerts", "-in", msg, "-signer", o.WriteCert("s"+n+".pem", tt.leaf.Cert),
			"-inkey", o.WriteKey("s"+n+".key", tt.leaf.Key), "-outform", "SMIME"}, tt.args...)
		raw := o.MustRun(nil, args...).Stdout
		if bytes.Contains(raw, tt.leaf.Cert.Raw[:64]) {
			t.Fatalf("%s: openssl carried the certificate", tt.name)
		}
		u := VerifySigned(recvParse(t, raw), Options{})
		if !errors.Is(u.SignatureError, ErrUnknownSigner) {
			t.Errorf("%s, nothing known: %v, want ErrUnknownSigner", tt.name, u.SignatureError)
		}
		u = VerifySigned(recvParse(t, raw), Options{Certificates: []*x509.Certificate{other.Cert, tt.leaf.Cert}})
		if u.Verified == nil || !u.Verified.Signer.Equal(tt.leaf.Cert) || len(u.Verified.Certificates) != 0 {
			t.Errorf("%s, signer known: %v, %+v", tt.name, u.SignatureError, u.Verified)
		}
		if !bytes.Contains(u.Content, []byte("No certificate here.")) {
			t.Errorf("%s: content %q", tt.name, u.Content)
		}
	}
}

// TestUnwrapWithoutCertificates: the same inside the encryption.
func TestUnwrapWithoutCertificates(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	list := ca.Issue("list@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	member := ca.Issue("member@example.org", openssltest.P256, openssltest.LeafOptions{})
	signed := o.MustRun(nil, "cms", "-sign", "-nocerts", "-in", o.Write("msg", []byte("Content-Type: text/plain\r\n\r\nhi\r\n")),
		"-signer", o.WriteCert("m.pem", member.Cert), "-inkey", o.WriteKey("m.key", member.Key), "-outform", "SMIME").Stdout
	for _, cipher := range []string{"-aes-256-gcm", "-aes256"} {
		enc := o.MustRun(signed, "cms", "-encrypt", cipher, "-recip", o.WriteCert("l.pem", list.Cert), "-outform", "SMIME").Stdout
		id := &Identity{Cert: list.Cert, Key: list.Key}
		u, err := Unwrap(recvParse(t, enc), id, Options{})
		if err != nil || !errors.Is(u.SignatureError, ErrUnknownSigner) {
			t.Errorf("%s, nothing known: %v, %v", cipher, err, u.SignatureError)
		}
		u, err = Unwrap(recvParse(t, enc), id, Options{Certificates: []*x509.Certificate{member.Cert}})
		if err != nil || u.Verified == nil || !u.Verified.Signer.Equal(member.Cert) || u.Protection.Integrity == "" {
			t.Errorf("%s, member known: %v, %+v", cipher, err, u)
		}
	}
}

// recvEd25519Leaf issues an Ed25519 S/MIME signing certificate.
func recvEd25519Leaf(t *testing.T, ca *openssltest.CA, email string) *openssltest.Leaf {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := sigCreateCert(t, &x509.Certificate{
		SerialNumber:   big.NewInt(7007),
		Subject:        pkix.Name{CommonName: email},
		EmailAddresses: []string{email},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().AddDate(1, 0, 0),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, ca.Cert, pub, ca.Key)
	return &openssltest.Leaf{Cert: cert, Key: priv}
}

// TestEd25519Signatures: RFC 8419. OpenSSL 3.0 can neither make nor
// check CMS Ed25519 signatures ("eddsa_digest_signverify_init: invalid
// digest") and gpgsm 2.2 has no EdDSA, so they are made with Sign, with
// RFC 9216's Carlos key and with a certificate of the test CA, and their
// form is checked here against RFC 8419 directly.
func TestEd25519Signatures(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaves := []*openssltest.Leaf{recvEd25519Leaf(t, ca, "ed@example.org")}
	cert, errCert := os.ReadFile(filepath.Join(sigCorpus, "rfc9216/certs/carlos@smime.example.sig.pem"))
	key, errKey := os.ReadFile(filepath.Join(sigCorpus, "rfc9216/keys/lamps-carlos.p8.pem"))
	if errCert == nil && errKey == nil {
		leaves = append(leaves, &openssltest.Leaf{Cert: sigPEMCert(t, cert), Key: sigPEMKey(t, key)})
	} else {
		t.Log("RFC 9216 corpus not present: Carlos's key not tried")
	}
	for _, leaf := range leaves {
		for _, detached := range []bool{true, false} {
			der, err := Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{Detached: detached})
			if err != nil {
				t.Fatal(err)
			}
			recvCheckRFC8419(t, der, leaf.Cert)
			var content []byte
			if detached {
				content = sigTestContent
			}
			v, err := Verify(der, content, nil)
			if err != nil || !v.Signer.Equal(leaf.Cert) || !bytes.Equal(v.Content, sigTestContent) {
				t.Fatalf("%s detached=%v: %v", leaf.Cert.Subject, detached, err)
			}
			if detached {
				changed := bytes.Replace(sigTestContent, []byte("Hello"), []byte("Jello"), 1)
				if _, err := Verify(der, changed, nil); !errors.Is(err, ErrBadSignature) {
					t.Errorf("changed content: %v", err)
				}
			}
		}
	}
	// RFC 8419 §3.1: SHA-512 with Ed25519; without signed attributes the
	// signature is over the content itself.
	leaf := recvEd25519Leaf(t, ca, "ed@example.org")
	noAttrs := sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) { p.attrs = nil })
	if v, err := Verify(noAttrs, nil, nil); err != nil || !v.Signer.Equal(leaf.Cert) {
		t.Errorf("Ed25519 without signed attributes: %v", err)
	}
	sha256Digest := sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) {
		p.hash, p.digestID = crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: oidSHA256}
		p.attrs = sigTestAttrs(t, sigTestContent, crypto.SHA256)
	})
	if _, err := Verify(sha256Digest, nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Ed25519 with a SHA-256 digest: %v, want ErrMalformed", err)
	}
	rsaLeaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	onRSA := sigRewriteSignerInfo(t, sigCraft(t, rsaLeaf, sigTestContent, SignOptions{Hash: crypto.SHA512}, nil), func(si *sigSignerInfo) {
		si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: sigOIDEd25519}
	})
	if _, err := Verify(onRSA, nil, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("id-Ed25519 on an RSA key: %v, want ErrBadSignature", err)
	}
}

// recvCheckRFC8419 checks the SignerInfo of der against RFC 8419 §3.1
// without Verify: digest id-sha512, signature algorithm id-Ed25519 with
// no parameters, and a PureEdDSA signature over the DER of the signed
// attributes.
func recvCheckRFC8419(t *testing.T, der []byte, cert *x509.Certificate) {
	t.Helper()
	sd, err := sigParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	var si sigSignerInfo
	if _, err := asn1.Unmarshal(sd.SignerInfos[0].FullBytes, &si); err != nil {
		t.Fatal(err)
	}
	if !si.DigestAlgorithm.Algorithm.Equal(oidSHA512) || !si.SignatureAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 3, 101, 112}) ||
		len(si.SignatureAlgorithm.Parameters.FullBytes) != 0 {
		t.Fatalf("algorithms %v / %v %x", si.DigestAlgorithm.Algorithm, si.SignatureAlgorithm.Algorithm, si.SignatureAlgorithm.Parameters.FullBytes)
	}
	attrs := bytes.Clone(si.SignedAttrs.FullBytes)
	attrs[0] = 0x31
	if !ed25519.Verify(cert.PublicKey.(ed25519.PublicKey), attrs, si.Signature) {
		t.Fatal("not an Ed25519 signature over the signed attributes")
	}
}

// recvGCMNonce encrypts content to leaf as AuthEnvelopedData with an
// aes-nonce of nonceLen bytes (RFC 5084 §3.2). openssl cms always writes
// 12 bytes, so Encrypt writes the message with a content key it is
// given, and the content is sealed again under the longer nonce.
func recvGCMNonce(t *testing.T, leaf *x509.Certificate, content []byte, nonceLen int) []byte {
	t.Helper()
	cek := make([]byte, 32)
	if _, err := rand.Read(cek); err != nil {
		t.Fatal(err)
	}
	der, err := Encrypt(content, []*x509.Certificate{leaf}, EncryptOptions{Rand: io.MultiReader(bytes.NewReader(cek), rand.Reader)})
	if err != nil {
		t.Fatal(err)
	}
	aed := envTestParseAuth(t, der)
	block, _ := aes.NewCipher(cek)
	gcm, err := cipher.NewGCMWithNonceSize(block, nonceLen)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	sealed := gcm.Seal(nil, nonce, content, nil)
	params, _ := asn1.Marshal(envGCMParams{Nonce: nonce, ICVLen: 16})
	eci := &aed.AuthEncryptedContentInfo
	eci.ContentEncryptionAlgorithm.Parameters = asn1.RawValue{FullBytes: params}
	eci.EncryptedContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: sealed[:len(content)]}
	aed.MAC = sealed[len(content):]
	return envTestMarshalAuth(t, aed)
}

// TestDecryptGCMNonceLengths: RFC 5084 §3.2 lets aes-nonce be of any
// length (12 recommended). OpenSSL 3.0 writes 12 bytes only and cannot
// read other lengths ("Error decrypting CMS structure"), so it checks
// only that recvGCMNonce builds a sound message with 12 bytes; the other
// lengths differ from it in the nonce alone.
func TestDecryptGCMNonceLengths(t *testing.T) {
	o := openssltest.New(t)
	f := envTestNewFixture(t)
	o.WriteCert("rsa.pem", f.rsa.Cert)
	o.WriteKey("rsa.key", f.rsa.Key)
	r := o.MustRun(recvGCMNonce(t, f.rsa.Cert, envTestContent, 12), "cms", "-decrypt", "-inform", "DER", "-recip", "rsa.pem", "-inkey", "rsa.key")
	if !bytes.Equal(r.Stdout, envTestContent) {
		t.Fatalf("openssl decrypted %q", r.Stdout)
	}
	for _, n := range []int{16, 8, 64} {
		der := recvGCMNonce(t, f.rsa.Cert, envTestContent, n)
		pt, info, err := Decrypt(der, f.rsa.Cert, f.rsa.Key)
		if err != nil || !bytes.Equal(pt, envTestContent) || !info.Authenticated {
			t.Errorf("%d-byte nonce: %v", n, err)
		}
		flipped := envTestFlip(t, der, -1, 1)
		envTestWant(t, "changed ciphertext", flipped, f.rsa, ErrIntegrity)
	}
}

// TestOpenSSLLineEndings: RFC 8551 §3.1.1 as openssl cms does it. A
// message is signed by `openssl cms -sign` in its default (text) mode,
// the result changed as mail systems change line endings; each variant
// that `openssl cms -verify` accepts verifies, each it refuses does not.
func TestOpenSSLLineEndings(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("cr@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("ca.pem", ca.Cert)
	long := strings.Repeat("a", opensslLineMax-1)
	content := "Content-Type: text/plain; charset=us-ascii\r\n\r\n" +
		"a line with a bare CR\rinside it\r\n" +
		"ends in two CRs\r\r\n" +
		long + "\rand a CR where OpenSSL reads a line in two\r\n" +
		"last line\r\n"
	signed := o.MustRun(nil, "cms", "-sign", "-in", o.Write("msg", []byte(content)), "-signer", o.WriteCert("s.pem", leaf.Cert),
		"-inkey", o.WriteKey("s.key", leaf.Key), "-outform", "SMIME").Stdout
	firstPart := func(b []byte) (head, part, tail []byte) {
		top := recvParse(t, b)
		raw := top.Children[0].Raw
		i := bytes.Index(b, raw)
		return b[:i], raw, b[i+len(raw):]
	}
	edit := func(f func(part []byte) []byte) []byte {
		head, part, tail := firstPart(signed)
		return append(append(bytes.Clone(head), f(bytes.Clone(part))...), tail...)
	}
	tests := []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"as openssl wrote it", signed, true},
		{"LF line endings", bytes.ReplaceAll(signed, []byte("\r\n"), []byte("\n")), true},
		{"CRs doubled at line ends", edit(func(p []byte) []byte {
			head, body, _ := bytes.Cut(p, []byte("\r\n\r\n"))
			return append(append(head, "\r\n\r\n"...), bytes.ReplaceAll(body, []byte("\r\n"), []byte("\r\r\n"))...)
		}), true},
		{"a CR where OpenSSL cuts the long line", edit(func(p []byte) []byte {
			return bytes.Replace(p, []byte(long+"and"), []byte(long+"\rand"), 1)
		}), true},
		{"bare CR made a line break", edit(func(p []byte) []byte { return bytes.Replace(p, []byte("CR\rinside"), []byte("CR\ninside"), 1) }), false},
		{"bare CR dropped", edit(func(p []byte) []byte { return bytes.Replace(p, []byte("CR\rinside"), []byte("CRinside"), 1) }), false},
	}
	if !bytes.Contains(signed, []byte("CR\rinside")) {
		t.Fatal("openssl did not keep the bare CR")
	}
	for i, tt := range tests {
		r := o.Run(nil, "cms", "-verify", "-in", o.Write("v"+string(rune('a'+i)), tt.msg), "-CAfile", "ca.pem", "-out", "/dev/null")
		if (r.Err == nil) != tt.ok {
			t.Fatalf("%s: openssl verify %v, the test expects ok=%v: %s", tt.name, r.Err, tt.ok, r.Stderr)
		}
		u := VerifySigned(recvParse(t, tt.msg), Options{})
		if (u.Verified != nil) != tt.ok {
			t.Errorf("%s: verified %v (%v), openssl says %v", tt.name, u.Verified != nil, u.SignatureError, tt.ok)
		}
	}
}

// TestOpenSSLCanonicalForm: the rule of SMIME_crlf_copy and multi_split,
// byte by byte.
func TestOpenSSLCanonicalForm(t *testing.T) {
	long := strings.Repeat("x", opensslLineMax)
	for _, tt := range []struct{ raw, want string }{
		{"a\r\nb", "a\r\nb"},
		{"a\nb", "a\r\nb"},
		{"a\rb\r\nc", "a\rb\r\nc"},
		{"a\r\r\nb\r", "a\r\nb"},
		{"a\n\nb", "a\r\n\r\nb"},
		{"a\r\n", "a\r\n"},
		{"", ""},
		{long + "\rb", long + "\rb"}, // the CR begins the second piece
		{long[1:] + "\rb", long[1:] + "b"},
	} {
		if got := string(opensslCanonical([]byte(tt.raw))); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestRefusedAlgorithmsNamed: what is refused says why, for the pipeline
// to tell the list owner: SHA-1 signatures and 3DES encryption as weak,
// other unknown ciphers as unsupported, broken signed attributes as
// malformed.
func TestRefusedAlgorithmsNamed(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("x@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("l.pem", leaf.Cert)
	o.WriteKey("l.key", leaf.Key)
	msg := o.Write("msg", []byte("Content-Type: text/plain\r\n\r\nold\r\n"))
	for _, md := range []string{"sha1", "md5"} {
		sig := o.MustRun(nil, "cms", "-sign", "-md", md, "-in", msg, "-signer", "l.pem", "-inkey", "l.key", "-outform", "SMIME").Stdout
		if u := VerifySigned(recvParse(t, sig), Options{}); !errors.Is(u.SignatureError, ErrWeak) {
			t.Errorf("%s signature: %v, want ErrWeak", md, u.SignatureError)
		}
	}
	for _, tt := range []struct {
		cipher string
		want   error
		weak   bool
	}{
		{"-des3", ErrWeak, true},
		{"-camellia256", ErrUnsupported, false},
		{"-aria256", ErrUnsupported, false},
	} {
		enc := o.MustRun(nil, "cms", "-encrypt", tt.cipher, "-in", msg, "-recip", "l.pem", "-outform", "DER").Stdout
		_, _, err := Decrypt(enc, leaf.Cert, leaf.Key)
		if !errors.Is(err, tt.want) || errors.Is(err, ErrWeak) != tt.weak {
			t.Errorf("%s: %v, want %v", tt.cipher, err, tt.want)
		}
	}
}

// TestBadAttributesNamed: signed attributes that break RFC 5652 §5.3
// and §11 are told apart from DER that does not parse, which a changed
// byte of CBC ciphertext makes.
func TestBadAttributesNamed(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("x@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	drop := func(oid asn1.ObjectIdentifier) func(p *sigPlan) {
		return func(p *sigPlan) {
			var kept [][]byte
			for _, a := range p.attrs {
				var attr sigAttribute
				if _, err := asn1.Unmarshal(a, &attr); err == nil && !attr.Type.Equal(oid) {
					kept = append(kept, a)
				}
			}
			p.attrs = kept
		}
	}
	for name, der := range map[string][]byte{
		"signing-time twice": sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) {
			p.attrs = append(p.attrs, sigTestAttr(t, oidAttrSigningTime, sigTestNow.Add(time.Second)))
		}),
		"message-digest twice": sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) {
			p.attrs = append(p.attrs, sigTestAttr(t, oidAttrMessageDigest, sigDigest(crypto.SHA256, sigTestContent)))
		}),
		"no message-digest": sigCraft(t, leaf, sigTestContent, SignOptions{}, drop(oidAttrMessageDigest)),
		"no content-type":   sigCraft(t, leaf, sigTestContent, SignOptions{}, drop(oidAttrContentType)),
	} {
		if _, err := Verify(der, nil, nil); !errors.Is(err, ErrBadAttributes) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrBadAttributes", name, err)
		}
	}
	good := sigCraft(t, leaf, sigTestContent, SignOptions{}, nil)
	if _, err := Verify(good[:len(good)-40], nil, nil); !errors.Is(err, ErrMalformed) || errors.Is(err, ErrBadAttributes) {
		t.Errorf("truncated: %v, want ErrMalformed only", err)
	}
}

// TestSignedDataWithoutSMIMEType: RFC 8551 §3.2.2 makes smime-type
// optional; signed-data without it is still signed, not encrypted.
func TestSignedDataWithoutSMIMEType(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("x@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	id := &Identity{Cert: leaf.Cert, Key: leaf.Key}
	entity, err := SignOpaqueEntity(sigTestContent, id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bare := bytes.Replace(entity, []byte("; smime-type=signed-data"), nil, 1)
	for _, raw := range [][]byte{entity, bare} {
		msg := recvParse(t, raw)
		if !SignedOnly(msg) {
			t.Errorf("not seen as signed-data: %s", raw[:80])
		}
		if _, err := Unwrap(msg, id, Options{}); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("Unwrap: %v, want ErrNotEncrypted", err)
		}
		if u := VerifySigned(msg, Options{}); u.Verified == nil || !bytes.Equal(u.Content, sigTestContent) {
			t.Errorf("VerifySigned: %v", u.SignatureError)
		}
	}
	ct, body, err := EncryptEntity(sigTestContent, leaf.Cert, EncryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ct = strings.Replace(ct, "; smime-type=authEnveloped-data", "", 1)
	enveloped := recvParse(t, []byte("Content-Type: "+ct+"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+string(body)))
	if SignedOnly(enveloped) {
		t.Error("enveloped data without smime-type seen as signed-data")
	}
}

// TestPKCS12PEM: a PFX as base64 between -----BEGIN PKCS12----- lines.
func TestPKCS12PEM(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("list@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("l.pem", leaf.Cert)
	o.WriteKey("l.key", leaf.Key)
	der := o.MustRun(nil, "pkcs12", "-export", "-inkey", "l.key", "-in", "l.pem", "-passout", "pass:pw").Stdout
	armoured := append([]byte("-----BEGIN PKCS12-----\n"), o.MustRun(der, "base64").Stdout...)
	armoured = append(armoured, "-----END PKCS12-----\n"...)
	if !IsPKCS12PEM(armoured) || IsPKCS12PEM(der) {
		t.Error("IsPKCS12PEM")
	}
	for _, data := range [][]byte{armoured, append([]byte("\n\n"), armoured...)} {
		id, err := ParsePKCS12(data, "pw")
		if err != nil || !id.Cert.Equal(leaf.Cert) {
			t.Fatalf("PEM PKCS#12: %v", err)
		}
	}
	if _, err := ParsePKCS12(armoured, "wrong"); !errors.Is(err, ErrIntegrity) {
		t.Errorf("wrong password: %v", err)
	}
	damaged := bytes.Replace(armoured, []byte("-----END PKCS12-----"), []byte("-----END PKCS 12-----"), 1)
	if _, err := ParsePKCS12(damaged, "pw"); !errors.Is(err, ErrMalformed) {
		t.Errorf("damaged armour: %v", err)
	}
}
