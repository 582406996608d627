package app_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestGatewaySMIMESignatures: at a gateway, with openssl cms as the
// customer's client, an S/MIME signature is reported as S/MIME whatever
// its verdict, with its real reason; a signer who left the certificate
// out (-nocerts) is found among the certificates on file; and a CBC
// message whose signature is refused for its algorithm is refused, as
// CBC content is authenticated by nothing else (DESIGN §4.1).
func TestGatewaySMIMESignatures(t *testing.T) {
	desk, s, _, gwCert := startSMIMEGateway(t)
	ctx := context.Background()
	ca := openssltest.NewCA(t, openssltest.RSA2048) // not a trust anchor
	carol := ca.Issue("carol@example.net", openssltest.RSA2048, openssltest.LeafOptions{})
	if _, _, err := s.app.Admin.AddMemberWith(ctx, support, "carol@example.net", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: carol.Cert.Raw}), quiet(false)); err != nil {
		t.Fatal(err)
	}
	o := openssltest.New(t)
	o.Write("gw.pem", gwCert)
	o.WriteCert("carol.pem", carol.Cert)
	o.WriteKey("carol.key", carol.Key)
	n := 0
	sign := func(args ...string) []byte {
		n++
		entity := "From: carol@example.net\r\nTo: " + support + "\r\nSubject: Case " + string(rune('0'+n)) + "\r\n" +
			"Content-Type: text/plain\r\n\r\nThe printer is on fire.\r\n"
		return o.MustRun([]byte(entity), append([]string{"cms", "-sign", "-signer", "carol.pem", "-inkey", "carol.key", "-outform", "SMIME"}, args...)...).Stdout
	}
	encrypt := func(signed []byte, cipherOpt string) []byte {
		return o.MustRun(signed, "cms", "-encrypt", cipherOpt, "-recip", "gw.pem", "-from", "carol@example.net", "-to", support,
			"-subject", "...", "-outform", "SMIME").Stdout
	}
	header := []byte("From: carol@example.net\r\nTo: " + support + "\r\nSubject: clear\r\n")
	fpr := smime.Fingerprint(carol.Cert)
	tests := []struct {
		name      string
		msg       []byte
		signature string // prefix of X-Sealpost-Signature
		reason    string // in it
	}{
		{"-nocerts, encrypted", encrypt(sign("-nocerts"), "-aes-256-gcm"),
			"good; engine=smime; signer=" + fpr + "; address=carol@example.net; trust=pinned", ""},
		{"-nocerts, in clear", append(header, sign("-nocerts")...),
			"good; engine=smime; signer=" + fpr + "; address=carol@example.net; trust=pinned", ""},
		{"altered, in clear", append(header, bytes.Replace(sign(), []byte("on fire"), []byte("on FIRE"), 1)...), "bad; engine=smime", "does not verify"},
		{"SHA-1, encrypted with GCM", encrypt(sign("-md", "sha1"), "-aes-256-gcm"), "bad; engine=smime", "SHA-1"},
	}
	for _, tt := range tests {
		if err := s.send(t, "carol@example.net", []string{support}, tt.msg); err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
			continue
		}
		got := desk.next(t)
		sig := fieldValues(t, got.data, "X-Sealpost-Signature")
		if len(sig) != 1 || !strings.HasPrefix(sig[0], tt.signature) || !strings.Contains(sig[0], tt.reason) {
			t.Errorf("%s: X-Sealpost-Signature = %q, want %q with %q", tt.name, sig, tt.signature, tt.reason)
		}
	}
	if err := s.send(t, "carol@example.net", []string{support}, encrypt(sign("-md", "sha1"), "-aes256")); smtpCode(err) != 550 {
		t.Errorf("SHA-1 signature in CBC EnvelopedData: %v, want 550", err)
	}
}
