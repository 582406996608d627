package smime

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// sigOpenSSLCase is one `openssl cms -sign` run and what Verify must say.
type sigOpenSSLCase struct {
	name     string
	key      openssltest.KeyType
	args     []string // extra arguments to openssl cms -sign
	detached bool     // no -nodetach
	smime    bool     // -outform SMIME instead of DER
	inter    bool     // signer under an intermediate, sent with -certfile
	noAttrs  bool     // -noattr: no signed attributes
	want     error
}

// TestVerifyFromOpenSSL: OpenSSL signs, Verify checks.
func TestVerifyFromOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	tests := []sigOpenSSLCase{
		{name: "RSA detached", key: openssltest.RSA2048, detached: true},
		{name: "RSA opaque", key: openssltest.RSA2048},
		{name: "RSA SHA-384 detached", key: openssltest.RSA2048, detached: true, args: []string{"-md", "sha384"}},
		{name: "RSA SHA-512 detached", key: openssltest.RSA2048, detached: true, args: []string{"-md", "sha512"}},
		{name: "RSA SHA-512 opaque", key: openssltest.RSA2048, args: []string{"-md", "sha512"}},
		{name: "RSA-PSS max salt detached", key: openssltest.RSA2048, detached: true, args: []string{"-keyopt", "rsa_padding_mode:pss"}},
		{name: "RSA-PSS digest salt SHA-384 opaque", key: openssltest.RSA2048,
			args: []string{"-md", "sha384", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:digest"}},
		{name: "RSA-PSS SHA-512 detached", key: openssltest.RSA2048, detached: true, args: []string{"-md", "sha512", "-keyopt", "rsa_padding_mode:pss"}},
		{name: "P-256 detached", key: openssltest.P256, detached: true},
		{name: "P-256 SHA-512 opaque", key: openssltest.P256, args: []string{"-md", "sha512"}},
		{name: "P-384 SHA-384 detached", key: openssltest.P384, detached: true, args: []string{"-md", "sha384"}},
		{name: "P-384 opaque", key: openssltest.P384},
		{name: "intermediate via -certfile", key: openssltest.RSA2048, detached: true, inter: true},
		{name: "SMIME multipart/signed", key: openssltest.RSA2048, detached: true, smime: true},
		{name: "SMIME application/pkcs7-mime", key: openssltest.P256, smime: true},
		{name: "streamed BER detached", key: openssltest.RSA2048, detached: true, args: []string{"-stream"}},
		{name: "streamed BER opaque", key: openssltest.RSA2048, args: []string{"-stream"}},
		{name: "indefinite-length BER opaque", key: openssltest.P256, args: []string{"-indef"}},
		{name: "streamed SMIME opaque", key: openssltest.RSA2048, smime: true, args: []string{"-stream"}},
		{name: "no signed attributes", key: openssltest.RSA2048, noAttrs: true, args: []string{"-noattr"}},
		{name: "no signed attributes ECDSA detached", key: openssltest.P384, detached: true, noAttrs: true, args: []string{"-noattr"}},
		{name: "SHA-1 RSA refused", key: openssltest.RSA2048, detached: true, args: []string{"-md", "sha1"}, want: ErrUnsupported},
		{name: "SHA-1 ECDSA refused", key: openssltest.P256, args: []string{"-md", "sha1"}, want: ErrUnsupported},
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o.WriteCert("ca.pem", ca.Cert)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigRunOpenSSLCase(t, o, ca, fmt.Sprint(i), tt)
		})
	}
}

func sigRunOpenSSLCase(t *testing.T, o *openssltest.OpenSSL, ca *openssltest.CA, id string, tt sigOpenSSLCase) {
	var (
		leaf  *openssltest.Leaf
		inter *x509.Certificate
	)
	if tt.inter {
		inter, leaf = sigIntermediate(t, ca, "inter@example.org")
	} else {
		leaf = ca.Issue("signer"+id+"@example.org", tt.key, openssltest.LeafOptions{})
	}
	content := sigTestContent
	args := []string{"cms", "-sign", "-binary", "-in", o.Write("msg"+id, content),
		"-signer", o.WriteCert("signer"+id+".pem", leaf.Cert), "-inkey", o.WriteKey("signer"+id+".key", leaf.Key)}
	if !tt.detached {
		args = append(args, "-nodetach")
	}
	if tt.inter {
		args = append(args, "-certfile", o.WriteCert("inter"+id+".pem", inter))
	}
	if tt.smime {
		args = append(args, "-outform", "SMIME")
	} else {
		args = append(args, "-outform", "DER")
	}
	out := o.MustRun(nil, append(args, tt.args...)...).Stdout
	sig, signed := out, content
	if tt.smime {
		sig, signed = sigFromSMIME(t, out)
		if tt.detached && !bytes.Equal(signed, content) {
			t.Fatalf("multipart/signed first part %q, want %q", signed, content)
		}
	}
	var detached []byte
	if tt.detached {
		detached = signed
	}
	v, err := Verify(sig, detached, nil)
	if tt.want != nil {
		if !errors.Is(err, tt.want) {
			t.Fatalf("Verify: %v, want %v", err, tt.want)
		}
		return
	}
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !v.Signer.Equal(leaf.Cert) || !bytes.Equal(v.Content, content) {
		t.Errorf("signer %s, content %q", v.Signer.Subject, v.Content)
	}
	if tt.noAttrs != v.SigningTime.IsZero() {
		t.Errorf("signing time %v with noAttrs=%v", v.SigningTime, tt.noAttrs)
	}
	if !tt.noAttrs && len(v.Capabilities) == 0 {
		t.Errorf("OpenSSL's SMIMECapabilities (AES-CBC) not reported")
	}
	if tt.inter {
		sigCheckChain(t, v, ca.Cert)
	}
	// One changed byte of content breaks it (opaque: the content given
	// differs from the eContent).
	changed := bytes.Replace(content, []byte("Hello"), []byte("Jello"), 1)
	if _, err := Verify(sig, changed, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed content: %v, want ErrBadSignature", err)
	}
}

// sigCheckChain builds the signer's chain from the message's certificates.
func sigCheckChain(t *testing.T, v *Verified, root *x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range v.Certificates {
		inters.AddCert(c)
	}
	if len(v.Certificates) != 2 {
		t.Errorf("%d certificates carried, want signer and intermediate", len(v.Certificates))
	}
	_, err := v.Signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	if err != nil {
		t.Errorf("chain: %v", err)
	}
}

// sigFromSMIME takes OpenSSL's -outform SMIME output apart: for
// multipart/signed the base64 signature and the canonical first part, for
// application/pkcs7-mime the decoded body and nil.
func sigFromSMIME(t *testing.T, msg []byte) (sig, signed []byte) {
	t.Helper()
	top, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	switch top.MediaType {
	case "multipart/signed":
		if len(top.Children) != 2 {
			t.Fatalf("multipart/signed with %d parts", len(top.Children))
		}
		sig, err = top.Children[1].Decoded(sigMaxInput)
		signed = mime.Canonicalize(top.Children[0].Raw)
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		sig, err = top.Decoded(sigMaxInput)
	default:
		t.Fatalf("unexpected media type %s", top.MediaType)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig, signed
}

// TestVerifyOpenSSLTwoSigners: `openssl cms -sign` with two -signer.
func TestVerifyOpenSSLTwoSigners(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	a := ca.Issue("a@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	b := ca.Issue("b@example.org", openssltest.P256, openssltest.LeafOptions{})
	for _, nodetach := range []bool{false, true} {
		args := []string{"cms", "-sign", "-binary", "-in", o.Write("msg", sigTestContent),
			"-signer", o.WriteCert("a.pem", a.Cert), "-inkey", o.WriteKey("a.key", a.Key),
			"-signer", o.WriteCert("b.pem", b.Cert), "-inkey", o.WriteKey("b.key", b.Key), "-outform", "DER"}
		var detached []byte = sigTestContent
		if nodetach {
			args, detached = append(args, "-nodetach"), nil
		}
		der := o.MustRun(nil, args...).Stdout
		v, err := Verify(der, detached, nil)
		if err == nil || v != nil || !errors.Is(err, ErrUnsupported) {
			t.Errorf("nodetach=%v: %v, want ErrUnsupported", nodetach, err)
		}
	}
}

// sigOurCase is one message made by Sign for OpenSSL to verify.
type sigOurCase struct {
	name string
	key  openssltest.KeyType
	pss  bool
	hash crypto.Hash
}

// TestSignToOpenSSL: Sign signs, `openssl cms -verify` checks with the
// default S/MIME signing purpose.
func TestSignToOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	msgFile := o.Write("msg", sigTestContent)
	leaves := map[openssltest.KeyType]*openssltest.Leaf{}
	var tests []sigOurCase
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, openssltest.P384} {
		leaves[kt] = ca.Issue(string(kt)+"@example.org", kt, openssltest.LeafOptions{})
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			tests = append(tests, sigOurCase{fmt.Sprintf("%s %v", kt, h), kt, false, h})
			if kt == openssltest.RSA2048 {
				tests = append(tests, sigOurCase{fmt.Sprintf("RSA-PSS %v", h), kt, true, h})
			}
		}
	}
	for _, tt := range tests {
		for _, detached := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s detached=%v", tt.name, detached), func(t *testing.T) {
				leaf := leaves[tt.key]
				der, err := Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{Hash: tt.hash, PSS: tt.pss, Detached: detached})
				if err != nil {
					t.Fatal(err)
				}
				args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", o.Write("sig.der", der), "-CAfile", caFile}
				if detached {
					args = append(args, "-content", msgFile)
				}
				r := o.MustRun(nil, args...)
				if !bytes.Equal(r.Stdout, sigTestContent) {
					t.Errorf("openssl output %q, want the content", r.Stdout)
				}
			})
		}
	}
}

// TestSignToOpenSSLChainAndPurpose: an intermediate in Extra lets OpenSSL
// build the chain; a certificate without the email-protection EKU fails
// OpenSSL's default smimesign purpose (so the purpose is really checked).
func TestSignToOpenSSLChainAndPurpose(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	inter, leaf := sigIntermediate(t, ca, "inter@example.org")
	verify := func(der []byte) openssltest.Result {
		return o.Run(nil, "cms", "-verify", "-binary", "-inform", "DER", "-in", o.Write("sig.der", der), "-CAfile", caFile)
	}
	der, err := Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{Extra: []*x509.Certificate{inter}})
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(der); r.Err != nil || !bytes.Equal(r.Stdout, sigTestContent) {
		t.Errorf("with intermediate: %v %s", r.Err, r.Stderr)
	}
	der, _ = Sign(sigTestContent, leaf.Cert, leaf.Key, SignOptions{})
	if r := verify(der); r.Err == nil {
		t.Error("OpenSSL verified without the intermediate")
	}
	noEKU := ca.Issue("noeku@example.org", openssltest.RSA2048, openssltest.LeafOptions{NoEmailEKU: true})
	der, _ = Sign(sigTestContent, noEKU.Cert, noEKU.Key, SignOptions{})
	if r := verify(der); r.Err == nil || !strings.Contains(string(r.Stderr), "purpose") {
		t.Errorf("certificate without email EKU: %v %s", r.Err, r.Stderr)
	}
}
