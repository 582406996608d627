package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// postFiles sends a multipart form with the session's CSRF token, fields
// and files (by field name), and follows the redirect.
func (cl *client) postFiles(path string, fields map[string]string, files map[string][]byte) page {
	cl.f.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf", cl.csrf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, data := range files {
		fw, _ := w.CreateFormFile(k, k+".bin")
		fw.Write(data)
	}
	w.Close()
	resp, err := cl.c.Post(cl.f.srv.URL+path, w.FormDataContentType(), &b)
	return read(cl.f.t, resp, err)
}

// TestNewListKeys: a new list is created in the UI with a self-signed
// S/MIME certificate, with a PKCS#12 file openssl made (its password
// right; a wrong one creates nothing), and with an existing OpenPGP key.
func TestNewListKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	adm := f.signedIn("admin@example.org")

	p := adm.postFiles("/lists", map[string]string{"address": "gen@lists.example.org", "key_algo": "ed25519", "smime": "generate"}, nil)
	if l, err := f.svc.List(ctx, "gen@lists.example.org"); p.status != http.StatusOK || err != nil || len(l.SMIMECert) == 0 {
		t.Fatalf("a made certificate: %d, %v\n%s", p.status, err, p.body)
	}

	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	leaf := ca.Issue("smime@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	p12 := o.PKCS12(leaf.Cert, leaf.Key, "p12 password")
	fields := map[string]string{"address": "smime@lists.example.org", "key_algo": "ed25519", "smime": "upload", "smime_password": "wrong"}
	if p := adm.postFiles("/lists", fields, map[string][]byte{"smime_p12": p12}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "password") {
		t.Errorf("a wrong PKCS#12 password: %d\n%s", p.status, p.body)
	}
	if _, err := f.svc.List(ctx, "smime@lists.example.org"); err == nil {
		t.Fatal("a list was created with a wrong PKCS#12 password")
	}
	fields["smime_password"] = "p12 password"
	p = adm.postFiles("/lists", fields, map[string][]byte{"smime_p12": p12})
	l, err := f.svc.List(ctx, "smime@lists.example.org")
	if p.status != http.StatusOK || err != nil || !bytes.Equal(l.SMIMECert, leaf.Cert.Raw) {
		t.Fatalf("an uploaded certificate: %d, %v\n%s", p.status, err, p.body)
	}

	k, err := pgp.GenerateKey("", "moved@lists.example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := k.ArmoredSecret()
	if err != nil {
		t.Fatal(err)
	}
	if p := adm.postFiles("/lists", map[string]string{"address": "moved@lists.example.org", "key_algo": "ed25519"},
		map[string][]byte{"list_key": k.Armored()}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a public key as the list's: %d, want 422", p.status)
	}
	if _, err := f.svc.List(ctx, "moved@lists.example.org"); err == nil {
		t.Fatal("a list was left behind by a refused key")
	}
	p = adm.postFiles("/lists", map[string]string{"address": "moved@lists.example.org", "key_algo": "ed25519"},
		map[string][]byte{"list_key": secret})
	if l, err := f.svc.List(ctx, "moved@lists.example.org"); p.status != http.StatusOK || err != nil || l.KeyFingerprint != k.Fingerprint() {
		t.Fatalf("an existing key: %d, %v, fingerprint %q, want %s\n%s", p.status, err, l.KeyFingerprint, k.Fingerprint(), p.body)
	}
}
