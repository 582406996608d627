package smime

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

const msgEntity = "Content-Type: text/plain; charset=utf-8\r\nSubject: inner\r\n\r\nHello S/MIME list. CANARY-smime\r\n"

func identityOf(l *openssltest.Leaf) *Identity { return &Identity{Cert: l.Cert, Key: l.Key} }

// wrapMessage builds a whole message around an application/pkcs7-mime body.
func wrapMessage(t *testing.T, ct string, body []byte) *mime.Part {
	t.Helper()
	raw := "From: alice@example.org\r\nTo: team@lists.example.org\r\nMIME-Version: 1.0\r\nContent-Type: " + ct +
		"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + string(body)
	p, err := mime.Parse([]byte(raw), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignEncryptRoundTrip: sign once, encrypt per recipient, and each
// recipient opens it — with us and with openssl cms.
func TestSignEncryptRoundTrip(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	list := identityOf(ca.Issue("team@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{}))
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	detached, err := SignEntity([]byte(msgEntity), list, Options{})
	if err != nil {
		t.Fatal(err)
	}
	opaque, err := SignOpaqueEntity([]byte(msgEntity), list, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, openssltest.P384} {
		for _, cipher := range []Cipher{AES256GCM, AES256CBC} {
			member := ca.Issue("m@example.org", kt, openssltest.LeafOptions{})
			signed := detached
			if i == 1 { // P-256 members get the opaque form
				signed = opaque
			}
			ct, body, err := EncryptEntity(signed, member.Cert, EncryptOptions{Cipher: cipher})
			if err != nil {
				t.Fatal(err)
			}
			u, err := Unwrap(wrapMessage(t, ct, body), identityOf(member), Options{})
			if err != nil {
				t.Fatalf("%s/%d: %v", kt, cipher, err)
			}
			if u.Verified == nil || !u.Verified.Signer.Equal(list.Cert) || string(u.Content) != msgEntity {
				t.Fatalf("%s/%d: Verified = %+v, err %v, content %q", kt, cipher, u.Verified, u.SignatureError, u.Content)
			}
			wantIntegrity := map[Cipher]string{AES256GCM: "aead", AES256CBC: "signature"}[cipher]
			if u.Protection.Integrity != wantIntegrity {
				t.Errorf("%s/%d: Integrity = %q, want %q", kt, cipher, u.Protection.Integrity, wantIntegrity)
			}
			// openssl: decrypt the whole message as a mail client would,
			// then verify the signed entity against the CA.
			o.Write("copy.eml", []byte("MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+string(body)))
			o.WriteCert("m.pem", member.Cert)
			o.WriteKey("m.key", member.Key)
			dec := o.MustRun(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "m.pem", "-inkey", "m.key")
			o.Write("signed.eml", dec.Stdout)
			ver := o.Run(nil, "cms", "-verify", "-in", "signed.eml", "-CAfile", caFile)
			if ver.Err != nil || !bytes.Contains(ver.Stdout, []byte("CANARY-smime")) {
				t.Errorf("%s/%d: openssl cms -verify: %v\n%s", kt, cipher, ver.Err, ver.Stderr)
			}
		}
	}
}

// TestUnwrapOpenSSLPosts: what openssl cms makes — sign (detached and
// opaque) then encrypt, as a client would — opens.
func TestUnwrapOpenSSLPosts(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	list := ca.Issue("team@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	o := openssltest.New(t)
	o.WriteCert("list.pem", list.Cert)
	o.WriteCert("alice.pem", alice.Cert)
	o.WriteKey("alice.key", alice.Key)
	o.Write("entity", []byte(msgEntity))
	for _, shape := range []struct {
		name string
		sign []string
	}{
		{"detached", []string{"cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed"}},
		{"opaque", []string{"cms", "-sign", "-nodetach", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed"}},
	} {
		for _, cipher := range []string{"-aes-256-gcm", "-aes-128-cbc"} {
			o.MustRun(nil, shape.sign...)
			o.MustRun(nil, "cms", "-encrypt", cipher, "-in", "signed", "-out", "post.eml", "list.pem")
			msg, err := mime.Parse(o.Read("post.eml"), mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			u, err := Unwrap(msg, identityOf(list), Options{})
			if err != nil {
				t.Fatalf("%s %s: %v", shape.name, cipher, err)
			}
			if u.Verified == nil || !u.Verified.Signer.Equal(alice.Cert) || !strings.Contains(string(u.Content), "CANARY-smime") {
				t.Errorf("%s %s: Verified = %v, err %v", shape.name, cipher, u.Verified, u.SignatureError)
			}
		}
	}
	// A signed but unencrypted message is not a post to an encrypted list.
	o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed")
	msg, _ := mime.Parse(o.Read("signed"), mime.Limits{})
	if _, err := Unwrap(msg, identityOf(list), Options{}); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("signed-only message: %v, want ErrNotEncrypted", err)
	}
}
