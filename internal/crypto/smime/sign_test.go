package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestSignVerifyRoundTrip signs with every supported algorithm and form
// and verifies the result.
func TestSignVerifyRoundTrip(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaves := map[openssltest.KeyType]*openssltest.Leaf{
		openssltest.RSA2048: ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{}),
		openssltest.P256:    ca.Issue("p256@example.org", openssltest.P256, openssltest.LeafOptions{}),
		openssltest.P384:    ca.Issue("p384@example.org", openssltest.P384, openssltest.LeafOptions{}),
	}
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, openssltest.P384} {
		for _, pss := range []bool{false, true} {
			if pss && kt != openssltest.RSA2048 {
				continue
			}
			for _, h := range []crypto.Hash{0, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				for _, detached := range []bool{false, true} {
					name := fmt.Sprintf("%s/pss=%v/%v/detached=%v", kt, pss, h, detached)
					t.Run(name, func(t *testing.T) {
						leaf := leaves[kt]
						opt := SignOptions{Hash: h, PSS: pss, Detached: detached, Now: sigFixedNow}
						der, err := Sign(sigTestContent, leaf.Cert, leaf.Key, opt)
						if err != nil {
							t.Fatal(err)
						}
						var det []byte
						if detached {
							det = sigTestContent
						}
						v, err := Verify(der, det, nil)
						if err != nil {
							t.Fatal(err)
						}
						sigCheckVerified(t, v, leaf.Cert, sigTestContent)
						if detached {
							// No eContent: verifying as opaque has no content.
							if _, err := Verify(der, nil, nil); !errors.Is(err, ErrMalformed) {
								t.Errorf("detached without content: %v, want ErrMalformed", err)
							}
						}
					})
				}
			}
		}
	}
}

// sigCheckVerified checks the fields of a successful Verify of a message
// made by Sign with sigFixedNow.
func sigCheckVerified(t *testing.T, v *Verified, signer *x509.Certificate, content []byte) {
	t.Helper()
	if !v.Signer.Equal(signer) {
		t.Errorf("signer %s, want %s", v.Signer.Subject, signer.Subject)
	}
	if !bytes.Equal(v.Content, content) {
		t.Errorf("content %q, want %q", v.Content, content)
	}
	if !v.SigningTime.Equal(sigTestNow) {
		t.Errorf("signing time %v, want %v", v.SigningTime, sigTestNow)
	}
	if len(v.SignatureDigest) != 32 {
		t.Errorf("signature digest %x", v.SignatureDigest)
	}
	want := []string{"aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc"}
	if _, ok := signer.PublicKey.(*rsa.PublicKey); ok {
		want = append(want, "rsa-oaep-sha256", "rsa-pkcs1v15")
	}
	if got := CapabilityNames(v.Capabilities); !slices.Equal(got, want) || len(v.Capabilities) != len(want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	if !slices.ContainsFunc(v.Certificates, signer.Equal) {
		t.Errorf("signer certificate not among the %d carried", len(v.Certificates))
	}
}

// TestSignEncoding checks the DER details RFC 5652 and RFC 8551 ask for.
func TestSignEncoding(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue("a@example.org", openssltest.P256, openssltest.LeafOptions{})
	der, err := Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{Extra: []*x509.Certificate{ca.Cert, leaf.Cert}, Now: sigFixedNow})
	if err != nil {
		t.Fatal(err)
	}
	// berToDER changes nothing in DER.
	if again, err := berToDER(der); err != nil || !bytes.Equal(again, der) {
		t.Fatalf("not DER-shaped: %v", err)
	}
	sd, err := sigParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Version != 1 || len(sd.DigestAlgorithms) != 1 || !sd.DigestAlgorithms[0].Algorithm.Equal(oidSHA256) {
		t.Errorf("version %d, digest algorithms %v", sd.Version, sd.DigestAlgorithms)
	}
	certs, _ := sigParseCertificates(sd.Certificates)
	if len(certs) != 2 {
		t.Errorf("%d certificates, want 2 (leaf deduplicated, CA)", len(certs))
	}
	si, err := sigOneSignerInfo(sd.SignerInfos)
	if err != nil {
		t.Fatal(err)
	}
	if si.Version != 1 || si.SID.Tag != asn1.TagSequence {
		t.Errorf("SignerInfo version %d, sid tag %d", si.Version, si.SID.Tag)
	}
	els, err := sigElements(si.SignedAttrs.Bytes, 100, "attrs")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, el := range els {
		if i > 0 && bytes.Compare(els[i-1].FullBytes, el.FullBytes) > 0 {
			t.Errorf("signed attributes not in DER SET OF order")
		}
		var a sigAttribute
		asn1.Unmarshal(el.FullBytes, &a)
		types = append(types, a.Type.String())
	}
	slices.Sort(types)
	want := []string{"1.2.840.113549.1.9.15", "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.5"}
	if !slices.Equal(types, want) {
		t.Errorf("signed attribute types %v, want %v", types, want)
	}
	// RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime from 2050.
	if !bytes.Contains(der, append([]byte{asn1.TagUTCTime, 13}, "250102030405Z"...)) {
		t.Errorf("signing-time is not the UTCTime 250102030405Z")
	}
	late := func() time.Time { return time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC) }
	der, _ = Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{Now: late})
	if !bytes.Contains(der, append([]byte{asn1.TagGeneralizedTime, 15}, "20500101000000Z"...)) {
		t.Errorf("signing-time in 2050 is not a GeneralizedTime")
	}
}

func TestSignErrors(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	rsaLeaf := ca.Issue("r@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("e@example.org", openssltest.P256, openssltest.LeafOptions{})
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224Cert := sigCreateCert(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "p224"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}, ca.Cert, p224.Public(), ca.Key)
	tests := []struct {
		name string
		cert *x509.Certificate
		key  crypto.Signer
		opt  SignOptions
		want error
	}{
		{"key of another certificate", rsaLeaf.Cert, ecLeaf.Key, SignOptions{}, ErrKeyMismatch},
		{"PSS with ECDSA", ecLeaf.Cert, ecLeaf.Key, SignOptions{PSS: true}, ErrUnsupported},
		{"SHA-1", rsaLeaf.Cert, rsaLeaf.Key, SignOptions{Hash: crypto.SHA1}, ErrUnsupported},
		{"SHA-224", ecLeaf.Cert, ecLeaf.Key, SignOptions{Hash: crypto.SHA224}, ErrUnsupported},
		{"P-224", p224Cert, p224, SignOptions{}, ErrUnsupported},
	}
	for _, tt := range tests {
		if _, err := Sign(sigTestContent, tt.cert, tt.key, tt.opt); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := Sign(sigTestContent, nil, rsaLeaf.Key, SignOptions{}); err == nil {
		t.Error("nil certificate accepted")
	}
}

func ExampleSign() {
	// A throwaway self-signed signer; real ones come from the keyring.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(1),
		Subject:        pkix.Name{CommonName: "team@lists.example.org"},
		EmailAddresses: []string{"team@lists.example.org"},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(time.Hour),
	}
	certDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(certDER)

	content := []byte("Content-Type: text/plain\r\n\r\nHello\r\n")
	sig, err := Sign(content, cert, key, SignOptions{Detached: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The receiving side: the multipart/signed body part and its signature.
	v, err := Verify(sig, content, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Signer.EmailAddresses[0], len(v.Capabilities))
	// Output: team@lists.example.org 4
}
