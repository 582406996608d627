package smime

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// kemTestPEM reads the one PEM block of a testdata file.
func kemTestPEM(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	envMust(t, err)
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return block.Bytes
}

// kemTestLeaf is an ML-KEM certificate for email issued by ca, with its
// key, of the given parameter set.
type kemTestLeaf struct {
	Cert *x509.Certificate
	Key  *MLKEMPrivateKey
}

func kemTestIssue(t testing.TB, ca *openssltest.CA, email string, oid asn1.ObjectIdentifier, withSKI bool) kemTestLeaf {
	t.Helper()
	p, _ := mlkemParamsByOID(oid)
	seed := make([]byte, 64)
	copy(seed, email)
	key, err := newMLKEMPrivateKey(p, seed)
	envMust(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(time.Now().UnixNano()),
		Subject:        pkix.Name{CommonName: email},
		EmailAddresses: []string{email},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().AddDate(1, 0, 0),
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := CreateMLKEMCertificate(tmpl, ca.Cert, key, ca.Key)
	envMust(t, err)
	if !withSKI {
		// Issue again without the extension, for the
		// issuerAndSerialNumber rid: drop SKI by making crypto/x509 not
		// add one (it adds one only for CAs) and ours not either.
		der = kemTestWithoutSKI(t, der, ca)
	}
	c, err := x509.ParseCertificate(der)
	envMust(t, err)
	if err := c.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("ML-KEM certificate does not verify under its CA: %v", err)
	}
	return kemTestLeaf{c, key}
}

// kemTestWithoutSKI re-issues der's TBSCertificate without the
// subjectKeyIdentifier extension.
func kemTestWithoutSKI(t testing.TB, der []byte, ca *openssltest.CA) []byte {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	envMust(t, err)
	tmpl := *c
	tmpl.ExtraExtensions = nil
	tmpl.Extensions = nil
	tmpl.SubjectKeyId = []byte{} // non-nil, empty: crypto/x509 writes none
	tmpl.PublicKey = nil
	spkiDER := c.RawSubjectPublicKeyInfo
	out, err := x509.CreateCertificate(nil, &tmpl, ca.Cert, ca.Cert.PublicKey, ca.Key)
	envMust(t, err)
	out, err = resignWithSPKI(out, spkiDER, ca.Key)
	envMust(t, err)
	return out
}

// TestRFC9936Example decrypts the ML-KEM-512 AuthEnvelopedData example
// of RFC 9936 Appendix C with Bob's private key from the RFC, checking
// the key against Bob's published public key and key identifier.
func TestRFC9936Example(t *testing.T) {
	const dir = "testdata/rfc9936/"
	key, err := ParseMLKEMPrivateKey(kemTestPEM(t, dir+"bob-ML-KEM-512.priv.pem"))
	envMust(t, err)
	pub := kemTestPEM(t, dir+"bob-ML-KEM-512.pub.pem")
	p, ek, ok := parseMLKEMSPKI(pub)
	if !ok || p.name != "ML-KEM-512" || !bytes.Equal(ek, key.ek) {
		t.Fatalf("Bob's seed does not give his published ML-KEM-512 public key")
	}
	// RFC 9936 C.1: the key identifier, the SHA-1 of the public key.
	keyID, _ := hex.DecodeString("599788C37AED400EE405D1B2A3366AB17D824A51")
	if sum := sha1.Sum(ek); !bytes.Equal(sum[:], keyID) {
		t.Errorf("key identifier %X, want %X", sum, keyID)
	}
	// The RFC gives no certificate: Bob's is the public key and its
	// identifier, which is what Decrypt matches on.
	bob := &x509.Certificate{RawSubjectPublicKeyInfo: pub, SubjectKeyId: keyID}
	pt, info, err := Decrypt(kemTestPEM(t, dir+"ML-KEM-512.cms.pem"), bob, key)
	if err != nil || string(pt) != "Hello, world!" {
		t.Fatalf("Decrypt: %q, %v", pt, err)
	}
	want := DecryptInfo{Cipher: "AES-128-GCM", Authenticated: true, KeyTransport: "ML-KEM-512-HKDF-SHA256"}
	if info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
}

// TestRFC9936Intermediates recomputes the example's published
// intermediate values (RFC 9936 C.1) from its shared secret.
func TestRFC9936Intermediates(t *testing.T) {
	hx := func(s string) []byte { b, err := hex.DecodeString(s); envMust(t, err); return b }
	shared := hx("7DF12D412AE299A24FDE6D7C3BB8E3194C80AD3C733DCF2775E09FE8BEDB86D8")
	wrap := pkix.AlgorithmIdentifier{Algorithm: oidAES128Wrap}
	info, err := asn1.Marshal(kemOtherInfo{Wrap: wrap, KEKLength: 16})
	envMust(t, err)
	if !bytes.Equal(info, hx("3010300B0609608648016503040105020110")) {
		t.Errorf("CMSORIforKEMOtherInfo %X", info)
	}
	kek, err := kemriKEK(sha256.New, shared, wrap, 16, nil)
	envMust(t, err)
	if !bytes.Equal(kek, hx("CF453A3E2BAE0A78701B8206C185A008")) {
		t.Errorf("KEK %X", kek)
	}
	cek, err := keyUnwrap(kek, hx("C050E4392F9C14DD0AC2220203F317D701F94F9DD92778F5"))
	if err != nil || !bytes.Equal(cek, hx("C5153005588269A0A59F3C01943FDD56")) {
		t.Errorf("CEK %X, %v", cek, err)
	}
}

// TestMLKEMPrivateKeyForms: RFC 9935 §6's three forms of the same seed.
// The seed and both forms load (both checked against its expanded key),
// the expanded form alone is refused by name, a both form whose expanded
// key is not the seed's is refused.
func TestMLKEMPrivateKeyForms(t *testing.T) {
	seed := make([]byte, 64)
	for i := range seed {
		seed[i] = byte(i)
	}
	for _, oid := range []asn1.ObjectIdentifier{oidMLKEM512, oidMLKEM768, oidMLKEM1024} {
		p, _ := mlkemParamsByOID(oid)
		k, err := newMLKEMPrivateKey(p, seed)
		envMust(t, err)
		seedDER, err := k.MarshalPKCS8()
		envMust(t, err)
		both := func(exp []byte) []byte {
			inner, err := asn1.Marshal(mlkemBoth{Seed: seed, ExpandedKey: exp})
			envMust(t, err)
			der, err := asn1.Marshal(pkcs8{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid}, PrivateKey: inner})
			envMust(t, err)
			return der
		}
		expOnly, err := asn1.Marshal(k.expanded())
		envMust(t, err)
		expDER, err := asn1.Marshal(pkcs8{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid}, PrivateKey: expOnly})
		envMust(t, err)
		bad := k.expanded()
		bad[0] ^= 1
		for _, c := range []struct {
			name string
			der  []byte
			ok   bool
		}{{"seed", seedDER, true}, {"both", both(k.expanded()), true}, {"expanded", expDER, false}, {"both-inconsistent", both(bad), false}} {
			got, err := ParseMLKEMPrivateKey(c.der)
			switch {
			case c.ok && (err != nil || !bytes.Equal(got.ek, k.ek)):
				t.Errorf("%s %s: %v", p.name, c.name, err)
			case !c.ok && err == nil:
				t.Errorf("%s %s: accepted", p.name, c.name)
			case c.name == "expanded" && !errors.Is(err, ErrExpandedOnly):
				t.Errorf("%s expanded: %v, want ErrExpandedOnly", p.name, err)
			}
		}
	}
	// RFC 9935 C.1.2.1: the ML-KEM-768 seed-form example, seed 00..3f.
	rfc := "MFQCAQAwCwYJYIZIAWUDBAQCBEKAQAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
	der, err := base64.StdEncoding.DecodeString(rfc)
	envMust(t, err)
	k, err := ParseMLKEMPrivateKey(der)
	if err != nil || k.Algorithm() != "ML-KEM-768" || !bytes.Equal(k.seed, seed) {
		t.Errorf("RFC 9935 ML-KEM-768 seed example: %v", err)
	}
	if mine, _ := k.MarshalPKCS8(); !bytes.Equal(mine, der) {
		t.Errorf("MarshalPKCS8 differs from RFC 9935's seed form")
	}
}

// TestKEMRoundTrip: ML-KEM-768 and -1024 recipients, by key identifier
// and by issuer and serial, in AuthEnvelopedData and EnvelopedData
// (version 3 with an ori).
func TestKEMRoundTrip(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	for _, oid := range []asn1.ObjectIdentifier{oidMLKEM768, oidMLKEM1024} {
		for _, ski := range []bool{true, false} {
			leaf := kemTestIssue(t, ca, "pq@example.org", oid, ski)
			if got := len(leaf.Cert.SubjectKeyId) > 0; got != ski {
				t.Fatalf("certificate SKI present %v, want %v", got, ski)
			}
			p, _ := mlkemParamsByOID(oid)
			for _, c := range []Cipher{AES256GCM, AES128GCM, AES256CBC, AES128CBC} {
				name := p.name + "/" + map[bool]string{true: "ski", false: "issuer-serial"}[ski] + "/" + map[Cipher]string{AES256GCM: "AES-256-GCM", AES128GCM: "AES-128-GCM", AES256CBC: "AES-256-CBC", AES128CBC: "AES-128-CBC"}[c]
				der, err := Encrypt(envTestContent, []*x509.Certificate{leaf.Cert}, EncryptOptions{Cipher: c})
				envMust(t, err)
				pt, info, err := Decrypt(der, leaf.Cert, leaf.Key)
				if err != nil || !bytes.Equal(pt, envTestContent) || info.KeyTransport != p.name+"-HKDF-SHA256" {
					t.Errorf("%s: %q, %+v, %v", name, pt, info, err)
				}
				kemTestCheckStructure(t, name, der, leaf, c == AES256CBC || c == AES128CBC)
			}
		}
	}
}

// kemTestCheckStructure checks the parts of one message the RFCs fix:
// EnvelopedData version 3 (RFC 5652 §6.1, an ori present),
// AuthEnvelopedData version 0, and the KEMRecipientInfo of RFC 9936 §3.
func kemTestCheckStructure(t *testing.T, name string, der []byte, leaf kemTestLeaf, enveloped bool) {
	t.Helper()
	ci, err := parseContentInfo(der)
	envMust(t, err)
	var ris asn1.RawValue
	if enveloped {
		var ed envelopedData
		envMust(t, envUnmarshal(ci.Content.Bytes, &ed, "", "EnvelopedData"))
		if ed.Version != 3 {
			t.Errorf("%s: EnvelopedData version %d, want 3", name, ed.Version)
		}
		ris = ed.RecipientInfos
	} else {
		var aed envAuthEnvelopedData
		envMust(t, envUnmarshal(ci.Content.Bytes, &aed, "", "AuthEnvelopedData"))
		if aed.Version != 0 {
			t.Errorf("%s: AuthEnvelopedData version %d, want 0", name, aed.Version)
		}
		ris = aed.RecipientInfos
	}
	budget := 10
	members, err := envSplitSet(ris.Bytes, &budget, "RecipientInfos")
	envMust(t, err)
	kr, err := kemriFind(members[0], leaf.Cert)
	if err != nil || kr == nil {
		t.Fatalf("%s: no KEMRecipientInfo for the certificate: %v", name, err)
	}
	if !kr.KEM.Algorithm.Equal(leaf.Key.params.oid) || !kr.KDF.Algorithm.Equal(oidHKDFSHA256) ||
		kr.KEKLength != 32 || !kr.Wrap.Algorithm.Equal(oidAES256Wrap) || len(kr.KEMCT) != leaf.Key.params.ctLen || kr.UKM != nil {
		t.Errorf("%s: KEMRecipientInfo %+v", name, kr)
	}
	if ski := len(leaf.Cert.SubjectKeyId) > 0; ski != (kr.RID.Tag == 0 && kr.RID.Class == asn1.ClassContextSpecific) {
		t.Errorf("%s: rid %x with SKI %v", name, kr.RID.FullBytes, ski)
	}
}

// TestKEMTamper: a changed kemct or encryptedKey, the wrong key, or
// another certificate are refused, nothing decrypted returned.
func TestKEMTamper(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := kemTestIssue(t, ca, "pq@example.org", oidMLKEM768, true)
	other := kemTestIssue(t, ca, "other@example.org", oidMLKEM768, true)
	der, err := Encrypt(envTestContent, []*x509.Certificate{leaf.Cert}, EncryptOptions{})
	envMust(t, err)
	msg, err := envParse(der)
	envMust(t, err)
	kr, err := kemriFind(msg.recipients[0], leaf.Cert)
	envMust(t, err)
	flip := func(part []byte, i int) []byte {
		at := bytes.Index(der, part)
		out := bytes.Clone(der)
		out[at+i] ^= 0x40
		return out
	}
	cases := []struct {
		name string
		der  []byte
		want error
	}{
		{"kemct first byte", flip(kr.KEMCT, 0), ErrIntegrity},
		{"kemct last byte", flip(kr.KEMCT, len(kr.KEMCT)-1), ErrIntegrity},
		{"encryptedKey", flip(kr.EncryptedKey, 3), ErrIntegrity},
		{"content", envTestFlip(t, der, 0, 1), ErrIntegrity},
	}
	for _, c := range cases {
		pt, info, err := Decrypt(c.der, leaf.Cert, leaf.Key)
		if !errors.Is(err, c.want) || pt != nil || info != (DecryptInfo{}) {
			t.Errorf("%s: %q, %+v, %v; want %v", c.name, pt, info, err, c.want)
		}
	}
	if _, _, err := Decrypt(der, other.Cert, other.Key); !errors.Is(err, ErrNoRecipient) {
		t.Errorf("other recipient: %v, want ErrNoRecipient", err)
	}
	if _, _, err := Decrypt(der, leaf.Cert, other.Key); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("wrong key for the certificate: %v", err)
	}
}

// TestMLKEMCertInfo: an ML-KEM-768 certificate encrypts, does not sign,
// and is post-quantum; one with another key usage than keyEncipherment
// is not used.
func TestMLKEMCertInfo(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := kemTestIssue(t, ca, "pq@example.org", oidMLKEM768, true)
	info := CertInfo(leaf.Cert)
	if info.Algorithm != "ML-KEM-768" || !info.CanEncrypt || info.CanSign || !info.PostQuantum || len(info.Addresses) != 1 {
		t.Errorf("CertInfo %+v", info)
	}
	if leaf.Cert.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Errorf("key usage %v, want keyEncipherment alone", leaf.Cert.KeyUsage)
	}
	bad := *leaf.Cert
	bad.KeyUsage |= x509.KeyUsageDigitalSignature
	if info := CertInfo(&bad); info.CanEncrypt || info.PostQuantum || len(info.Notes) == 0 {
		t.Errorf("CertInfo with digitalSignature: %+v", info)
	}
	l1024 := kemTestIssue(t, ca, "pq@example.org", oidMLKEM1024, true)
	if info := CertInfo(l1024.Cert); info.Algorithm != "ML-KEM-1024" || !info.PostQuantum {
		t.Errorf("CertInfo ML-KEM-1024 %+v", info)
	}
}

// TestKEMMixedRecipientsOpenSSL: one message to an RSA, an EC and an
// ML-KEM-768 recipient. Debian's OpenSSL 3.0 knows no KEMRecipientInfo:
// it must skip the ori and decrypt the RSA and EC recipients' copies,
// and Sealpost the ML-KEM one.
func TestKEMMixedRecipientsOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	rsaLeaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("ec@example.org", openssltest.P256, openssltest.LeafOptions{})
	pq := kemTestIssue(t, ca, "pq@example.org", oidMLKEM768, true)
	recips := []*x509.Certificate{pq.Cert, rsaLeaf.Cert, ecLeaf.Cert}
	for _, c := range []struct {
		name string
		opt  EncryptOptions
	}{{"AES-256-GCM", EncryptOptions{Cipher: AES256GCM, KeyTransport: RSAOAEPSHA256}}, {"AES-256-CBC", EncryptOptions{Cipher: AES256CBC, KeyTransport: RSAPKCS1v15}}} {
		der, err := Encrypt(envTestContent, recips, c.opt)
		envMust(t, err)
		o.Write("msg.der", der)
		for _, leaf := range []*openssltest.Leaf{rsaLeaf, ecLeaf} {
			certFile := o.WriteCert("cert.pem", leaf.Cert)
			keyFile := o.WriteKey("key.pem", leaf.Key)
			r := o.Run(nil, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "msg.der", "-recip", certFile, "-inkey", keyFile)
			if r.Err != nil || !bytes.Equal(r.Stdout, envTestContent) {
				t.Errorf("%s: openssl for %s: %q, %v\n%s", c.name, leaf.Cert.EmailAddresses[0], r.Stdout, r.Err, r.Stderr)
			}
		}
		pt, _, err := Decrypt(der, pq.Cert, pq.Key)
		if err != nil || !bytes.Equal(pt, envTestContent) {
			t.Errorf("%s: Sealpost for the ML-KEM recipient: %q, %v", c.name, pt, err)
		}
		// OpenSSL 3.0 with only the key (no -recip) tries every
		// RecipientInfo it knows; it must not choke on the ori either.
		keyFile := o.WriteKey("key.pem", rsaLeaf.Key)
		if r := o.Run(nil, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "msg.der", "-inkey", keyFile); r.Err != nil || !bytes.Equal(r.Stdout, envTestContent) {
			t.Errorf("%s: openssl with the RSA key alone: %v\n%s", c.name, r.Err, r.Stderr)
		}
		// What openssl says of the ori, for the record.
		if r := o.Run(nil, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "msg.der"); r.Err == nil {
			t.Logf("%s: openssl cms -print shows the ori as:\n%s", c.name, kemTestOriLines(r.Stdout))
		}
	}
}

// kemTestOriLines keeps the lines of an `openssl cms -print` around the
// other recipient info.
func kemTestOriLines(out []byte) string {
	var keep []string
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "d.ori:" {
			keep = append(keep, lines[i:min(i+3, len(lines))]...)
		}
	}
	return strings.Join(keep, "\n")
}

// BenchmarkEncryptPerRecipient is the cost of one 4 KiB copy
// (AES-256-GCM) by the kind of the recipient's certificate: RSA-2048
// with OAEP, P-256 ECDH, ML-KEM-768 and ML-KEM-1024 KEMRecipientInfo.
func BenchmarkEncryptPerRecipient(b *testing.B) {
	ca := openssltest.NewCA(b, openssltest.P256)
	entity := bytes.Repeat([]byte("0123456789abcdef"), 256)
	certs := []struct {
		name string
		cert *x509.Certificate
	}{
		{"rsa2048", ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{}).Cert},
		{"p256", ca.Issue("ec@example.org", openssltest.P256, openssltest.LeafOptions{}).Cert},
		{"mlkem768", kemTestIssue(b, ca, "pq@example.org", oidMLKEM768, true).Cert},
		{"mlkem1024", kemTestIssue(b, ca, "pq@example.org", oidMLKEM1024, true).Cert},
	}
	for _, c := range certs {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Encrypt(entity, []*x509.Certificate{c.cert}, EncryptOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecryptMLKEM768 is the list's cost of opening one 4 KiB post
// encrypted to its ML-KEM-768 certificate.
func BenchmarkDecryptMLKEM768(b *testing.B) {
	ca := openssltest.NewCA(b, openssltest.P256)
	leaf := kemTestIssue(b, ca, "pq@example.org", oidMLKEM768, true)
	der, err := Encrypt(bytes.Repeat([]byte("x"), 4096), []*x509.Certificate{leaf.Cert}, EncryptOptions{})
	envMust(b, err)
	for b.Loop() {
		if _, _, err := Decrypt(der, leaf.Cert, leaf.Key); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRFC9935Example: the ML-KEM-768 example certificate of RFC 9935
// Appendix C.3 (issued by an ML-DSA-65 CA) and the seed-form private key
// of C.1.2.1 (seed 00..3f): the seed's key is the certificate's, the
// certificate reads as an ML-KEM-768 encryption certificate, and a
// message encrypted to it opens with the seed key.
func TestRFC9935Example(t *testing.T) {
	const dir = "testdata/rfc9935/"
	cert, err := x509.ParseCertificate(kemTestPEM(t, dir+"ML-KEM-768.crt.pem"))
	envMust(t, err)
	key, err := ParseMLKEMPrivateKey(kemTestPEM(t, dir+"ML-KEM-768-seed.priv.pem"))
	envMust(t, err)
	if !key.matches(cert) {
		t.Fatal("the seed-derived ML-KEM-768 key is not the certificate's")
	}
	ski, _ := hex.DecodeString("42bcb5a167fa330449612dbd8187056a7518f787")
	if name, ok := MLKEMAlgorithm(cert); !ok || name != "ML-KEM-768" || cert.KeyUsage != x509.KeyUsageKeyEncipherment || !bytes.Equal(cert.SubjectKeyId, ski) {
		t.Errorf("certificate: %q %v, usage %v, SKI %x", name, ok, cert.KeyUsage, cert.SubjectKeyId)
	}
	if info := CertInfo(cert); info.Algorithm != "ML-KEM-768" || !info.CanEncrypt || info.CanSign || !info.PostQuantum {
		t.Errorf("CertInfo %+v", info)
	}
	der, err := Encrypt(envTestContent, []*x509.Certificate{cert}, EncryptOptions{})
	envMust(t, err)
	if pt, _, err := Decrypt(der, cert, key); err != nil || !bytes.Equal(pt, envTestContent) {
		t.Errorf("round trip with the RFC's certificate and key: %q, %v", pt, err)
	}
}
