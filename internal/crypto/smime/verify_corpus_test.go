package smime

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// sigCorpus is ../shared/corpus seen from this package's directory.
const sigCorpus = "../../../../shared/corpus"

// sigCorpusFile reads a corpus file, skipping the test when the corpus is
// not there.
func sigCorpusFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sigCorpus, rel))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("corpus file %s not present", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sigNSSTime is inside the NSS test certificates' validity
// (2026-01-26 → 2031-01-26, mailnews-smime/expiration.txt).
var sigNSSTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// sigLayer is one signature layer found in a message.
type sigLayer struct {
	sig, detached []byte // detached is nil for opaque signed-data
	date          string // Date header of the entity holding the layer
}

// sigFindLayer returns the first S/MIME signature in the MIME tree of
// raw, depth first: a multipart/signed (signature part and the
// canonicalised first part) or an application/pkcs7-mime signed-data body.
func sigFindLayer(t *testing.T, raw []byte) (sigLayer, bool) {
	t.Helper()
	top, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return sigWalk(t, top, top.Header.Get("Date"))
}

func sigWalk(t *testing.T, p *mime.Part, date string) (sigLayer, bool) {
	t.Helper()
	switch {
	case p.MediaType == "multipart/signed" && len(p.Children) == 2:
		sig, err := p.Children[1].Decoded(sigMaxInput)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 8551 §3.5.3.1: the first part, canonicalised, is what was signed.
		return sigLayer{sig: sig, detached: mime.Canonicalize(p.Children[0].Raw), date: date}, true
	case (p.MediaType == "application/pkcs7-mime" || p.MediaType == "application/x-pkcs7-mime") &&
		strings.EqualFold(p.Params["smime-type"], "signed-data"):
		sig, err := p.Decoded(sigMaxInput)
		if err != nil {
			t.Fatal(err)
		}
		return sigLayer{sig: sig, date: date}, true
	}
	for _, c := range p.Children {
		if l, ok := sigWalk(t, c, date); ok {
			return l, true
		}
	}
	return sigLayer{}, false
}

// sigCorpusCase is the expected outcome for one Thunderbird message, from
// PROVENANCE.md. signers lists the CN of each nested signature layer
// verified in turn (outermost first); want is the error of the first
// layer that must fail.
type sigCorpusCase struct {
	file    string
	signers []string
	want    error
	chain   bool // the signers chain to TestCA.pem
	skewed  bool // signing time hours away from the Date header
}

func TestVerifyThunderbirdCorpus(t *testing.T) {
	const ms = "thunderbird-smime/mailnews-smime/"
	const bs = "thunderbird-smime/browser-smime/"
	tests := []sigCorpusCase{
		// dsig[sha-256/384/512]: GOOD Alice.
		{file: ms + "alice.dsig.SHA256.multipart.eml", signers: []string{"Alice"}, chain: true},
		{file: ms + "alice.dsig.SHA384.multipart.eml", signers: []string{"Alice"}, chain: true},
		{file: ms + "alice.dsig.SHA512.multipart.eml", signers: []string{"Alice"}, chain: true},
		// opaque-sig[sha256/384/512]: GOOD Alice.
		{file: ms + "alice.sig.SHA256.opaque.eml", signers: []string{"Alice"}, chain: true},
		{file: ms + "alice.sig.SHA384.opaque.eml", signers: []string{"Alice"}, chain: true},
		{file: ms + "alice.html.sig.SHA512.opaque.eml", signers: []string{"Alice"}, chain: true},
		// Signing time ~6 h before Date: the crypto is GOOD (the skew is policy).
		{file: ms + "alice.future.dsig.SHA256.multipart.eml", signers: []string{"Alice"}, chain: true, skewed: true},
		// Nested: Dave over Alice, each GOOD.
		{file: ms + "alice.plain.sig.SHA256.opaque.dave.sig.SHA256.opaque.eml", signers: []string{"Dave", "Alice"}, chain: true},
		{file: ms + "alice.plain.dsig.SHA384.multipart.dave.dsig.SHA384.multipart.eml", signers: []string{"Dave", "Alice"}, chain: true},
		{file: ms + "alice.plain.sig.SHA512.opaque.dave.dsig.SHA512.multipart.eml", signers: []string{"Dave", "Alice"}, chain: true},
		// opaque-sig GOOD Alice around an enveloped part.
		{file: ms + "alice.env.sig.SHA256.opaque.eml", signers: []string{"Alice"}, chain: true},
		// SHA-1: refused.
		{file: ms + "alice.dsig.SHA1.multipart.eml", want: ErrUnsupported},
		{file: ms + "alice.sig.SHA1.opaque.eml", want: ErrUnsupported},
		{file: ms + "alice.html.sig.SHA1.opaque.eml", want: ErrUnsupported},
		{file: ms + "alice.dsig.SHA1.multipart.bad.eml", want: ErrUnsupported},
		{file: ms + "alice.plain.sig.SHA1.opaque.dave.sig.SHA1.opaque.eml", want: ErrUnsupported},
		// Body changed after signing / eContent differs from the body: BAD.
		{file: ms + "alice.dsig.SHA256.multipart.bad.eml", want: ErrBadSignature},
		{file: ms + "alice.dsig.SHA384.multipart.bad.eml", want: ErrBadSignature},
		{file: ms + "alice.dsig.SHA512.multipart.bad.eml", want: ErrBadSignature},
		{file: ms + "alice.dsig.SHA256.multipart.mismatch-econtent.eml", want: ErrBadSignature},
		{file: ms + "alice.dsig.SHA512.multipart.mismatch-econtent.eml", want: ErrBadSignature},
		// BAD: micalg says sha-1, the SignerInfo uses SHA-512, the digest
		// does not match the canonicalised body.
		{file: bs + "nested-sigs.eml", want: ErrBadSignature},
		// Detached signature around an enveloped part, not matching it: BAD.
		{file: ms + "alice.env.dsig.SHA256.multipart.eml", want: ErrBadSignature},
		// Outer Dave GOOD, inner Alice dsig over the enveloped part BAD.
		{file: ms + "alice.env.dsig.SHA256.multipart.dave.sig.SHA256.opaque.eml", signers: []string{"Dave"}, want: ErrBadSignature, chain: true},
		{file: "thunderbird-smime/mailnews-smime-manual/outer-smime-bad-sig-inner-smime-enc.eml", want: ErrBadSignature},
		// browser-smime: signature inside multipart/mixed: GOOD Alice.
		{file: bs + "alice.dsig.SHA256.multipart.in.mixed.eml", signers: []string{"Alice"}, chain: true},
		// Math OK, but the embedded Alice cert is not from TestCA.
		{file: bs + "alice.html.sig.SHA256.opaque.eml", signers: []string{"Alice"}, chain: false},
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sigCorpusFile(t, "thunderbird-smime/mailnews-smime/TestCA.pem")) {
		t.Fatal("TestCA.pem")
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			sigCheckCorpusCase(t, tt, roots)
		})
	}
}

// sigCheckCorpusCase peels the signature layers of one message.
func sigCheckCorpusCase(t *testing.T, tt sigCorpusCase, roots *x509.CertPool) {
	raw := sigCorpusFile(t, tt.file)
	for depth := 0; ; depth++ {
		layer, ok := sigFindLayer(t, raw)
		if !ok {
			t.Fatalf("layer %d: no signature found", depth)
		}
		v, err := Verify(layer.sig, layer.detached, nil)
		if depth == len(tt.signers) {
			if !errors.Is(err, tt.want) || tt.want == nil {
				t.Fatalf("layer %d: %v, want %v", depth, err, tt.want)
			}
			return
		}
		if err != nil {
			t.Fatalf("layer %d: %v", depth, err)
		}
		if cn := v.Signer.Subject.CommonName; cn != tt.signers[depth] {
			t.Errorf("layer %d: signer %q, want %q", depth, cn, tt.signers[depth])
		}
		sigCheckNSSLayer(t, v, layer, roots, tt)
		if depth == len(tt.signers)-1 && tt.want == nil {
			return
		}
		raw = v.Content
	}
}

// sigCheckNSSLayer checks the signing time against the Date header and
// the chain to the NSS test CA at a time the certificates are valid.
func sigCheckNSSLayer(t *testing.T, v *Verified, layer sigLayer, roots *x509.CertPool, tt sigCorpusCase) {
	t.Helper()
	if v.SigningTime.IsZero() {
		t.Error("no signing time")
	}
	if date, err := mail.ParseDate(layer.date); err == nil {
		skew := v.SigningTime.Sub(date).Abs()
		if tt.skewed != (skew > 5*time.Hour) {
			t.Errorf("signing time %v, Date %v", v.SigningTime, date)
		}
	}
	inters := x509.NewCertPool()
	for _, c := range v.Certificates {
		inters.AddCert(c)
	}
	_, err := v.Signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: sigNSSTime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	if tt.chain != (err == nil) {
		t.Errorf("chain to TestCA: %v, want ok=%v", err, tt.chain)
	}
}

// TestRFC9216 signs as the RFC 9216 sample signer Alice and checks the
// result with OpenSSL against the sample RSA CA, and the other way round.
func TestRFC9216(t *testing.T) {
	certPEM := sigCorpusFile(t, "rfc9216/certs/alice@smime.example.sig.pem")
	keyPEM := sigCorpusFile(t, "rfc9216/keys/lamps-alice.p8.pem")
	caPEM := sigCorpusFile(t, "rfc9216/certs/Sample_LAMPS_RSA_Certification_Authority.selfsigned.pem")
	cert, key := sigPEMCert(t, certPEM), sigPEMKey(t, keyPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Fatalf("sample Alice does not chain: %v", err)
	}
	o := openssltest.New(t)
	caFile := o.Write("ca.pem", caPEM)
	msgFile := o.Write("msg", sigTestContent)
	for _, opt := range []SignOptions{{}, {Detached: true}, {PSS: true, Hash: crypto.SHA512}, {PSS: true, Detached: true}} {
		der, err := Sign(sigTestContent, cert, key, opt)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", o.Write("sig.der", der), "-CAfile", caFile}
		if opt.Detached {
			args = append(args, "-content", msgFile)
		}
		if r := o.MustRun(nil, args...); !bytes.Equal(r.Stdout, sigTestContent) {
			t.Errorf("%+v: openssl output %q", opt, r.Stdout)
		}
	}
	// OpenSSL signs as Alice, with the key file as published.
	r := o.MustRun(nil, "cms", "-sign", "-binary", "-in", msgFile, "-signer", o.Write("alice.pem", certPEM),
		"-inkey", o.Write("alice.key", keyPEM), "-outform", "DER")
	v, err := Verify(r.Stdout, sigTestContent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Signer.Equal(cert) || v.Signer.EmailAddresses[0] != "alice@smime.example" {
		t.Errorf("signer %v", v.Signer.Subject)
	}
}

func sigPEMCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatal("no certificate")
	return nil
}

func sigPEMKey(t *testing.T, b []byte) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}
