package smime

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// Each case starts from a valid message, breaks one thing and names the
// rule that refuses it.
func TestVerifyRules(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	rsaLeaf := ca.Issue("r@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("e@example.org", openssltest.P256, openssltest.LeafOptions{})
	other := ca.Issue("o@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	skiLeaf := sigLeafWithSKI(t, ca, []byte("sealpost-test-ski"))
	content := sigTestContent
	opaque := sigCraft(t, rsaLeaf, content, SignOptions{}, nil)
	detachedMsg := sigCraft(t, rsaLeaf, content, SignOptions{Detached: true}, nil)
	ecOpaque := sigCraft(t, ecLeaf, content, SignOptions{}, nil)

	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	changedContent := flip(content, len(content)-3)
	// The signing time is inside the signed attributes.
	timeAt := bytes.Index(opaque, []byte("250102030405Z"))
	if timeAt < 0 {
		t.Fatal("signing time not found")
	}
	sha1Plan := func(p *sigPlan) {
		p.hash, p.signerOpts = crypto.SHA1, crypto.SHA1
		p.digestID = pkix.AlgorithmIdentifier{Algorithm: oidSHA1}
		p.attrs = sigTestAttrs(t, content, crypto.SHA1)
	}
	pssWith := func(mgfHash asn1.ObjectIdentifier, pssHash asn1.ObjectIdentifier) func(p *sigPlan) {
		return func(p *sigPlan) {
			hashDER, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: mgfHash})
			params, _ := asn1.Marshal(sigPSSParams{
				Hash:         pkix.AlgorithmIdentifier{Algorithm: pssHash},
				MGF:          pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: hashDER}},
				SaltLength:   32,
				TrailerField: 1,
			})
			p.signatureID = pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}}
			p.signerOpts = &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}
		}
	}
	replaceAttr := func(oid asn1.ObjectIdentifier, v any) func(p *sigPlan) {
		return func(p *sigPlan) {
			var kept [][]byte
			for _, a := range p.attrs {
				var attr sigAttribute
				asn1.Unmarshal(a, &attr)
				if !attr.Type.Equal(oid) {
					kept = append(kept, a)
				}
			}
			p.attrs = append(kept, sigTestAttr(t, oid, v))
			sigSortAttrs(p.attrs)
		}
	}
	twoSigners := sigRewrite(t, opaque, func(sd *sigSignedData) {
		sd.SignerInfos = append(sd.SignerInfos, sd.SignerInfos[0])
	})
	noSigners := sigRewrite(t, opaque, func(sd *sigSignedData) { sd.SignerInfos = nil })

	tests := []struct {
		name     string
		msg      []byte
		detached []byte
		extra    []*x509.Certificate
		want     error // nil: verifies
	}{
		{"valid opaque", opaque, nil, nil, nil},
		{"valid detached", detachedMsg, content, nil, nil},
		{"valid ECDSA", ecOpaque, nil, nil, nil},

		// RFC 5652 §11.2: message-digest must be the content's digest.
		{"detached content changed", detachedMsg, changedContent, nil, ErrBadSignature},
		{"eContent changed", bytes.Replace(opaque, []byte("Hello from"), []byte("Hello frOm"), 1), nil, nil, ErrBadSignature},
		{"message-digest of other content, signed", sigCraft(t, rsaLeaf, content, SignOptions{},
			replaceAttr(oidAttrMessageDigest, sigDigest(crypto.SHA256, changedContent))), nil, nil, ErrBadSignature},
		// RFC 5652 §5.4: the signature covers the signed attributes.
		{"signed attribute byte changed", flip(opaque, timeAt+11), nil, nil, ErrBadSignature},
		{"ECDSA signed attribute byte changed", flip(ecOpaque, bytes.Index(ecOpaque, []byte("250102030405Z"))+11), nil, nil, ErrBadSignature},
		// RFC 5652 §11.1: content-type must equal eContentType.
		{"content-type attribute not id-data, signed", sigCraft(t, rsaLeaf, content, SignOptions{},
			replaceAttr(oidAttrContentType, oidSignedData)), nil, nil, ErrBadSignature},
		{"content-type attribute missing", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			p.attrs = slices.DeleteFunc(p.attrs, func(a []byte) bool { return bytes.Contains(a, []byte{6, 9, 42, 134, 72, 134, 247, 13, 1, 9, 3}) })
		}), nil, nil, ErrMalformed},
		{"two signing-time attributes", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			p.attrs = append(p.attrs, sigTestAttr(t, oidAttrSigningTime, sigTestNow.Add(1e9)))
		}), nil, nil, ErrMalformed},
		// Signed attributes are verified as received, not re-sorted.
		{"signed attributes not in DER order", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			slices.Reverse(p.attrs)
		}), nil, nil, nil},
		// RFC 5652 §5.3/§5.4: no signed attributes: signature over the content digest.
		{"no signed attributes", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) { p.attrs = nil }), nil, nil, nil},
		{"no signed attributes, content changed", sigCraft(t, rsaLeaf, content, SignOptions{Detached: true}, func(p *sigPlan) { p.attrs = nil }),
			changedContent, nil, ErrBadSignature},
		{"signed attributes stripped", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) { si.SignedAttrs = asn1.RawValue{} }),
			nil, nil, ErrBadSignature},
		// RFC 8551 §2.1, RFC 5754: SHA-1 and MD5 refused.
		{"SHA-1 digest", sigCraft(t, rsaLeaf, content, SignOptions{}, sha1Plan), nil, nil, ErrUnsupported},
		{"sha1WithRSAEncryption", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			sha1Plan(p)
			p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigOIDSHA1WithRSA, Parameters: asn1.NullRawValue}
		}), nil, nil, ErrUnsupported},
		{"sha1WithRSAEncryption with a SHA-256 digest", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigOIDSHA1WithRSA, Parameters: asn1.NullRawValue}
		}), nil, nil, ErrUnsupported},
		{"ecdsa-with-SHA1", sigCraft(t, ecLeaf, content, SignOptions{}, func(p *sigPlan) {
			sha1Plan(p)
			p.signatureID = pkix.AlgorithmIdentifier{Algorithm: sigOIDECDSAWithSHA1}
		}), nil, nil, ErrUnsupported},
		{"MD5 digest", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.DigestAlgorithm = pkix.AlgorithmIdentifier{Algorithm: sigOIDMD5}
		}), nil, nil, ErrUnsupported},
		{"md5WithRSAEncryption", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: sigOIDMD5WithRSA}
		}), nil, nil, ErrUnsupported},
		{"signature hash differs from digest", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidSHA384WithRSA, Parameters: asn1.NullRawValue}
		}), nil, nil, ErrMalformed},
		// RFC 4056 §3: MGF1 with the message hash.
		{"PSS valid, salt 32", sigCraft(t, rsaLeaf, content, SignOptions{}, pssWith(oidSHA256, oidSHA256)), nil, nil, nil},
		{"PSS with MGF1-SHA-1", sigCraft(t, rsaLeaf, content, SignOptions{}, pssWith(oidSHA1, oidSHA256)), nil, nil, ErrUnsupported},
		{"PSS with MGF1-SHA-384", sigCraft(t, rsaLeaf, content, SignOptions{}, pssWith(oidSHA384, oidSHA256)), nil, nil, ErrUnsupported},
		{"PSS hash differs from digest", sigCraft(t, rsaLeaf, content, SignOptions{}, pssWith(oidSHA384, oidSHA384)), nil, nil, ErrMalformed},
		{"PSS without parameters", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS}
		}), nil, nil, ErrUnsupported},
		{"PKCS#1 v1.5 signature labelled PSS", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) {
			id, _ := sigPSSID(crypto.SHA256)
			p.signatureID = id
		}), nil, nil, ErrBadSignature},
		{"ECDSA algorithm on an RSA key", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.SignatureAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
		}), nil, nil, ErrBadSignature},
		// Exactly one SignerInfo.
		{"two SignerInfos", twoSigners, nil, nil, ErrUnsupported},
		{"no SignerInfo", noSigners, nil, nil, ErrMalformed},
		// Signer lookup.
		{"signer certificate absent", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) { p.certs = nil }), nil, nil, ErrUnknownSigner},
		{"signer certificate from extra", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) { p.certs = nil }), nil,
			[]*x509.Certificate{other.Cert, rsaLeaf.Cert}, nil},
		{"only another certificate carried", sigCraft(t, rsaLeaf, content, SignOptions{}, func(p *sigPlan) { p.certs = [][]byte{other.Cert.Raw} }),
			nil, nil, ErrUnknownSigner},
		{"sid is subjectKeyIdentifier", sigRewriteSignerInfo(t, sigCraft(t, skiLeaf, content, SignOptions{}, nil), func(si *sigSignerInfo) {
			si.Version = 3
			si.SID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: skiLeaf.Cert.SubjectKeyId}
		}), nil, nil, nil},
		{"sid is another key's subjectKeyIdentifier", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.Version = 3
			si.SID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: skiLeaf.Cert.SubjectKeyId}
		}), nil, []*x509.Certificate{skiLeaf.Cert}, ErrBadSignature},
		{"empty subjectKeyIdentifier matches nothing", sigRewriteSignerInfo(t, opaque, func(si *sigSignerInfo) {
			si.Version = 3
			si.SID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: []byte{}}
		}), nil, nil, ErrUnknownSigner},
		// RFC 8551 §3.5.3: a detached signature carrying another eContent.
		{"eContent differs from detached content", opaque, changedContent, nil, ErrBadSignature},
		{"eContent equals detached content", opaque, content, nil, nil},
		{"detached signature without content", detachedMsg, nil, nil, ErrMalformed},
		{"eContentType not id-data", sigRewrite(t, opaque, func(sd *sigSignedData) {
			sd.EncapContentInfo.EContentType = oidEnvelopedData
		}), nil, nil, ErrUnsupported},
		{"not SignedData", sigRewriteContentType(t, opaque, oidEnvelopedData), nil, nil, ErrUnsupported},
	}
	for _, tt := range tests {
		v, err := Verify(tt.msg, tt.detached, tt.extra)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == nil && v.Signer == nil:
			t.Errorf("%s: no signer", tt.name)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		case tt.want != nil && v != nil:
			t.Errorf("%s: a result with an error", tt.name)
		}
	}
}

// sigRewriteContentType changes the outer ContentInfo's content type.
func sigRewriteContentType(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	ci, err := parseContentInfo(der)
	if err != nil {
		t.Fatal(err)
	}
	out, err := marshalContentInfo(oid, ci.Content.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyNoSignedAttributes(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue("a@example.org", openssltest.P384, openssltest.LeafOptions{})
	msg := sigCraft(t, leaf, sigTestContent, SignOptions{Hash: crypto.SHA384}, func(p *sigPlan) { p.attrs = nil })
	v, err := Verify(msg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.SigningTime.IsZero() || len(v.Capabilities) != 0 || !bytes.Equal(v.Content, sigTestContent) {
		t.Errorf("time %v, capabilities %v, content %q", v.SigningTime, v.Capabilities, v.Content)
	}
}

func TestVerifyLimits(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue("a@example.org", openssltest.P256, openssltest.LeafOptions{})
	manyCerts := func(n int) []byte {
		return sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) {
			p.certs = nil
			for range n {
				p.certs = append(p.certs, leaf.Cert.Raw)
			}
		})
	}
	manyAttrs := func(n int) []byte {
		return sigCraft(t, leaf, sigTestContent, SignOptions{}, func(p *sigPlan) {
			for i := len(p.attrs); i < n; i++ {
				p.attrs = append(p.attrs, sigTestAttr(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, i}, i))
			}
		})
	}
	if _, err := Verify(manyCerts(sigMaxCertificates), nil, nil); err != nil {
		t.Errorf("%d certificates: %v", sigMaxCertificates, err)
	}
	if _, err := Verify(manyCerts(sigMaxCertificates+1), nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d certificates: %v, want ErrMalformed", sigMaxCertificates+1, err)
	}
	if _, err := Verify(manyAttrs(sigMaxSignedAttrs), nil, nil); err != nil {
		t.Errorf("%d attributes: %v", sigMaxSignedAttrs, err)
	}
	if _, err := Verify(manyAttrs(sigMaxSignedAttrs+1), nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d attributes: %v, want ErrMalformed", sigMaxSignedAttrs+1, err)
	}
	detached := sigCraft(t, leaf, sigTestContent, SignOptions{Detached: true}, nil)
	if _, err := Verify(detached, make([]byte, sigMaxContent+1), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized detached content: %v, want ErrMalformed", err)
	}
	big := make([]byte, sigMaxContent+1)
	if _, err := Sign(big, leaf.Cert, leaf.Key, SignOptions{}); err == nil {
		t.Error("Sign accepted oversized content")
	}
}

// TestVerifyTruncated feeds every prefix and some corruptions of a valid
// message: never a panic, never success.
func TestVerifyTruncated(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue("a@example.org", openssltest.P256, openssltest.LeafOptions{})
	msg, err := Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(msg) {
		if _, err := Verify(msg[:n], nil, nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: %v, want ErrMalformed", n, err)
		}
	}
	for _, garbage := range [][]byte{nil, {0}, {0x30}, {0x30, 0x80}, []byte("not a CMS message at all"), bytes.Repeat([]byte{0x30, 0x80}, 200)} {
		if _, err := Verify(garbage, nil, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("garbage %x: %v, want ErrMalformed", garbage, err)
		}
	}
	for i := range msg {
		if _, err := Verify(flipByte(msg, i), nil, nil); err == nil && !sigHarmlessFlip(msg, i) {
			t.Errorf("flipping byte %d still verifies", i)
		}
	}
}

func flipByte(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x80
	return b
}

// sigHarmlessFlip reports whether byte i lies outside what the signature
// protects: in the certificates (whose own signatures are for chain
// validation, not Verify) or in SignedData's digestAlgorithms, a hint
// for one-pass processing (RFC 5652 §5.1) that Verify does not use.
func sigHarmlessFlip(msg []byte, i int) bool {
	sd, err := sigParseSignedData(msg)
	if err != nil {
		return false
	}
	digestAlgs, _ := asn1.MarshalWithParams(sd.DigestAlgorithms, "set")
	for _, field := range [][]byte{sd.Certificates.FullBytes, digestAlgs} {
		start := bytes.Index(msg, field)
		if start >= 0 && i >= start && i < start+len(field) {
			return true
		}
	}
	return false
}

// sigLeafWithSKI issues an RSA leaf that has a subjectKeyIdentifier.
func sigLeafWithSKI(t *testing.T, ca *openssltest.CA, ski []byte) *openssltest.Leaf {
	key := openssltest.NewKey(t, openssltest.RSA2048)
	cert := sigCreateCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "ski@example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		SubjectKeyId: ski,
	}, ca.Cert, key.Public(), ca.Key)
	return &openssltest.Leaf{Cert: cert, Key: key}
}
