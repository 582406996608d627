package smime

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// mldsaCraft builds an ML-DSA SignedData over content as RFC 9882 says:
// signed attributes (content-type, signing-time, message-digest) with
// digest h, the SignerInfo's signatureAlgorithm the key's set, parameters
// absent, pure ML-DSA over the DER of the attributes. key signs (the
// leaf's unless another is given, for the wrong-key test); edit may
// change the plan before signing.
func mldsaCraft(t *testing.T, cert *x509.Certificate, key *openssltest.MLDSAKey, content []byte, h crypto.Hash, extra []*x509.Certificate, edit func(p *sigPlan)) []byte {
	t.Helper()
	digestOID := sigHashes.oidOf(h)
	if h == hashSHAKE256 {
		digestOID = oidSHAKE256
	}
	p := sigPlan{
		hash:        h,
		signerOpts:  crypto.Hash(0),
		digestID:    pkix.AlgorithmIdentifier{Algorithm: digestOID},
		signatureID: pkix.AlgorithmIdentifier{Algorithm: key.Set.OID()},
		attrs:       sigTestAttrs(t, content, h),
		pure:        true,
		certs:       sigCertSet(cert, extra),
	}
	if edit != nil {
		edit(&p)
	}
	der, err := sigAssemble(content, cert, key.Signer(), rand.Reader, p)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestMLDSAVerify: a member's ML-DSA-44/65/87 signature with SHA-512
// and signed attributes verifies; the certificate is named by its
// algorithm, signs and does not encrypt.
func TestMLDSAVerify(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	for _, set := range []openssltest.MLDSA{openssltest.MLDSA44, openssltest.MLDSA65, openssltest.MLDSA87} {
		t.Run(string(set), func(t *testing.T) {
			leaf := ca.Issue("alice@example.org", set, openssltest.LeafOptions{})
			der := mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, crypto.SHA512, nil, nil)
			v, err := Verify(der, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sigCheckVerified(t, v, leaf.Cert, sigTestContent)
			info := CertInfo(v.Signer)
			if info.Algorithm != string(set) || !info.CanSign || info.CanEncrypt || info.PostQuantum {
				t.Errorf("CertInfo: algorithm %q sign %v encrypt %v pq %v; want %s, true, false, false",
					info.Algorithm, info.CanSign, info.CanEncrypt, info.PostQuantum, set)
			}
			// Detached (multipart/signed) form.
			det := mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, crypto.SHA512, nil, func(p *sigPlan) { p.detached = true })
			if _, err := Verify(det, sigTestContent, nil); err != nil {
				t.Errorf("detached: %v", err)
			}
		})
	}
}

// TestMLDSADigestStrength: RFC 9882 §3.3, the content digest must be as
// strong as the parameter set; a weaker one is refused as unsupported
// (not as tampering). Without signed attributes the digest algorithm has
// no meaning (RFC 9882 §3.3) and the signature is over the content.
func TestMLDSADigestStrength(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA87, "PQ Root")
	leaves := map[openssltest.MLDSA]*openssltest.MLDSALeaf{}
	for _, set := range []openssltest.MLDSA{openssltest.MLDSA44, openssltest.MLDSA65, openssltest.MLDSA87} {
		leaves[set] = ca.Issue("alice@example.org", set, openssltest.LeafOptions{})
	}
	for _, tc := range []struct {
		set  openssltest.MLDSA
		hash crypto.Hash
		ok   bool
	}{
		{openssltest.MLDSA44, crypto.SHA256, true},
		{openssltest.MLDSA65, crypto.SHA256, false},
		{openssltest.MLDSA65, crypto.SHA384, true},
		{openssltest.MLDSA65, crypto.SHA512, true},
		{openssltest.MLDSA87, crypto.SHA384, false},
		{openssltest.MLDSA87, crypto.SHA512, true},
		{openssltest.MLDSA65, hashSHAKE256, true},
		{openssltest.MLDSA87, hashSHAKE256, true},
	} {
		leaf := leaves[tc.set]
		der := mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, tc.hash, nil, nil)
		_, err := Verify(der, nil, nil)
		t.Logf("%s with %v: %v", tc.set, tc.hash, err)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, ErrUnsupported) || errors.Is(err, ErrBadSignature))) {
			t.Errorf("%s with %v: %v, want ok=%v (else ErrUnsupported)", tc.set, tc.hash, err, tc.ok)
		}
	}
	// SHAKE256 is for ML-DSA only here: with ECDSA it is refused.
	ec := openssltest.NewCA(t, openssltest.P256).Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	ecShake := sigRewriteSignerInfo(t, sigCraft(t, ec, sigTestContent, SignOptions{Hash: crypto.SHA512}, nil), func(si *sigSignerInfo) {
		si.DigestAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidSHAKE256}
	})
	if _, err := Verify(ecShake, nil, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ECDSA with a SHAKE256 digest: %v, want ErrUnsupported", err)
	}
	leaf := leaves[openssltest.MLDSA87]
	noAttrs := mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, crypto.SHA256, nil, func(p *sigPlan) { p.attrs = nil })
	if _, err := Verify(noAttrs, nil, nil); err != nil {
		t.Errorf("ML-DSA-87 without signed attributes, SHA-256 named: %v", err)
	}
}

// TestMLDSATamper: start valid, break one thing; each is refused with the
// error kind a classical signature gets.
func TestMLDSATamper(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	leaf := ca.Issue("alice@example.org", openssltest.MLDSA65, openssltest.LeafOptions{})
	leaf44 := ca.Issue("alice@example.org", openssltest.MLDSA44, openssltest.LeafOptions{})
	otherKey := openssltest.NewMLDSAKey(t, openssltest.MLDSA65)
	key44 := openssltest.NewMLDSAKey(t, openssltest.MLDSA44)
	valid := mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, crypto.SHA512, nil, nil)
	if _, err := Verify(valid, nil, nil); err != nil {
		t.Fatalf("valid: %v", err)
	}
	changed := []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the lost.\r\n")
	for _, tc := range []struct {
		name     string
		der      []byte
		detached []byte
		want     error
	}{
		{"changed content", valid, nil, nil}, // replaced below
		{"changed detached content", mldsaCraft(t, leaf.Cert, leaf.Key, sigTestContent, crypto.SHA512, nil,
			func(p *sigPlan) { p.detached = true }), changed, ErrBadSignature},
		{"changed signed attributes", sigRewriteSignerInfo(t, valid, func(si *sigSignerInfo) {
			attrs, err := sigSignedAttrs(sigTestContent, crypto.SHA512, sigTestNow.Add(time.Hour), nil)
			if err != nil {
				t.Fatal(err)
			}
			sigSortAttrs(attrs)
			si.SignedAttrs.Bytes, si.SignedAttrs.FullBytes = bytes.Join(attrs, nil), nil
		}), nil, ErrBadSignature},
		{"wrong key", mldsaCraft(t, leaf.Cert, otherKey, sigTestContent, crypto.SHA512, nil, func(p *sigPlan) {
			p.signatureID.Algorithm = openssltest.MLDSA65.OID()
		}), nil, ErrBadSignature},
		{"ML-DSA-44 signature claimed as ML-DSA-65, 44 certificate", mldsaCraft(t, leaf44.Cert, leaf44.Key, sigTestContent, crypto.SHA512, nil,
			func(p *sigPlan) { p.signatureID.Algorithm = openssltest.MLDSA65.OID() }), nil, ErrBadSignature},
		{"ML-DSA-44 signature claimed as ML-DSA-65, 65 certificate", mldsaCraft(t, leaf.Cert, key44, sigTestContent, crypto.SHA512, nil,
			func(p *sigPlan) { p.signatureID.Algorithm = openssltest.MLDSA65.OID() }), nil, ErrBadSignature},
		{"ML-DSA-65 claimed as Ed25519", sigRewriteSignerInfo(t, valid, func(si *sigSignerInfo) {
			si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: sigOIDEd25519}
		}), nil, ErrBadSignature},
		{"parameters on the ML-DSA identifier", sigRewriteSignerInfo(t, valid, func(si *sigSignerInfo) {
			si.SignatureAlgorithm.Parameters = asn1.NullRawValue
		}), nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := tc.der
			if tc.name == "changed content" {
				der = sigRewrite(t, valid, func(sd *sigSignedData) {
					oct, _ := asn1.Marshal(changed)
					sd.EncapContentInfo.EContent.Bytes, sd.EncapContentInfo.EContent.FullBytes = oct, nil
				})
				tc.want = ErrBadSignature
			}
			v, err := Verify(der, tc.detached, nil)
			t.Log(err)
			if !errors.Is(err, tc.want) || v != nil {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestMLDSASign: Sign and SignEntity make ML-DSA signatures (SHA-512,
// pure ML-DSA, RFC 9882) that Verify accepts; a key that is not the
// certificate's is refused; a digest too weak for the set is refused.
func TestMLDSASign(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	leaf := ca.Issue("alice@example.org", openssltest.MLDSA87, openssltest.LeafOptions{})
	der, err := Sign(sigTestContent, leaf.Cert, leaf.Key.Signer(), SignOptions{Now: sigFixedNow})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(der, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigCheckVerified(t, v, leaf.Cert, sigTestContent)
	if _, err := Sign(sigTestContent, leaf.Cert, openssltest.NewMLDSAKey(t, openssltest.MLDSA87).Signer(), SignOptions{}); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("another key: %v, want ErrKeyMismatch", err)
	}
	if _, err := Sign(sigTestContent, leaf.Cert, leaf.Key.Signer(), SignOptions{Hash: crypto.SHA384}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ML-DSA-87 with SHA-384: %v, want ErrUnsupported", err)
	}
	entity, err := SignEntity(sigTestContent, &Identity{Cert: leaf.Cert, Key: leaf.Key.Signer()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(entity, []byte(`micalg=sha-512`)) {
		t.Errorf("multipart/signed without micalg=sha-512:\n%.300s", entity)
	}
}

// TestSHAKE256Digest: the message digest for id-shake256 is SHAKE256
// with 512 bits of output (RFC 8702 §3.1); the empty input's is the
// FIPS 202 known answer.
func TestSHAKE256Digest(t *testing.T) {
	const want = "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f" +
		"d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be"
	if got := hex.EncodeToString(sigDigest(hashSHAKE256, nil)); got != want {
		t.Errorf("SHAKE256(\"\", 512) = %s", got)
	}
}

// BenchmarkVerifySigned: Verify of an opaque SignedData over
// sigTestContent signed with ML-DSA-44/65/87 (SHA-512) beside ECDSA P-256
// and RSA-2048 (SHA-256), the signer's certificate in the message.
func BenchmarkVerifySigned(b *testing.B) {
	pqCA := openssltest.NewMLDSACA(b, openssltest.MLDSA65, "PQ Root")
	ca := openssltest.NewCA(b, openssltest.RSA2048)
	type signer struct {
		name string
		cert *x509.Certificate
		key  crypto.Signer
	}
	var signers []signer
	for _, set := range []openssltest.MLDSA{openssltest.MLDSA44, openssltest.MLDSA65, openssltest.MLDSA87} {
		l := pqCA.Issue("alice@example.org", set, openssltest.LeafOptions{})
		signers = append(signers, signer{string(set), l.Cert, l.Key.Signer()})
	}
	for _, kt := range []openssltest.KeyType{openssltest.P256, openssltest.RSA2048} {
		l := ca.Issue("alice@example.org", kt, openssltest.LeafOptions{})
		signers = append(signers, signer{string(kt), l.Cert, l.Key})
	}
	for _, s := range signers {
		der, err := Sign(sigTestContent, s.cert, s.key, SignOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Verify(der, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(der)), "bytes/msg")
		})
	}
}
