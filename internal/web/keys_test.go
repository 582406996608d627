package web_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// upload posts a multipart form with fields and the file data, named
// filename, in field "file", as the keys page's import form does.
func (cl *client) upload(path string, fields map[string]string, filename string, data []byte) page {
	cl.f.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf", cl.csrf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", filename)
	fw.Write(data)
	w.Close()
	resp, err := cl.c.Post(cl.f.srv.URL+path, w.FormDataContentType(), &b)
	return read(cl.f.t, resp, err)
}

// opensslCA makes, with openssl itself, a root CA named "Example Test CA"
// and a certificate it issues to alice@example.org, whose subject names
// the address as PKCS #9 emailAddress (as openssl writes it: IA5String)
// and whose SAN names it again. It returns the two in PEM and the
// certificate's and key's files.
func opensslCA(t *testing.T, o *openssltest.OpenSSL) (caPEM, leafPEM []byte, leafFile, keyFile string) {
	t.Helper()
	o.MustRun(nil, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
		"-out", "ca.pem", "-days", "365", "-subj", "/CN=Example Test CA",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	o.MustRun(nil, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "alice.key", "-out", "alice.csr",
		"-subj", "/O=Example/CN=Alice Example/emailAddress=alice@example.org")
	o.Write("alice.ext", []byte("subjectAltName=email:alice@example.org\nextendedKeyUsage=emailProtection\nkeyUsage=digitalSignature,keyEncipherment\n"))
	o.MustRun(nil, "x509", "-req", "-in", "alice.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x1F2E3D4C5B6A79880123456789ABCDEF",
		"-days", "200", "-extfile", "alice.ext", "-out", "alice.pem")
	return o.Read("ca.pem"), o.Read("alice.pem"), "alice.pem", "alice.key"
}

func fingerprintOf(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return smime.Fingerprint(c)
}

var flashText = regexp.MustCompile(`(?s)class="flash[^"]*"[^>]*>(.*?)</`)

// TestKeysImportPKCS12: an admin imports a PKCS#12 file made by
// `openssl pkcs12 -export` on the keys page: a wrong or missing
// password is refused in plain words, the right one imports the
// certificate; an owner may not import at all.
func TestKeysImportPKCS12(t *testing.T) {
	f := newFixture(t)
	o := openssltest.New(t)
	_, leafPEM, leafFile, keyFile := opensslCA(t, o)
	o.MustRun(nil, "pkcs12", "-export", "-in", leafFile, "-inkey", keyFile, "-passout", "pass:s3cret pass", "-out", "alice.p12")
	p12 := o.Read("alice.p12")
	fpr := fingerprintOf(t, leafPEM)

	cl := f.signedIn("admin@example.org")
	p := cl.upload("/keys/import", map[string]string{"kind": "keys", "password": "wrong"}, "alice.p12", p12)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "the PKCS#12 password is wrong, or the file is damaged") {
		t.Fatalf("wrong password: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, "smime:") || strings.Contains(p.body, "--passphrase") {
		t.Errorf("the refusal shows internals or command-line flags:\n%s", p.body)
	}
	p = cl.upload("/keys/import", map[string]string{"kind": "keys"}, "alice.p12", p12)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "The file alice.p12 is PKCS#12: give its password") {
		t.Fatalf("no password: %d\n%s", p.status, p.body)
	}
	p = cl.upload("/keys/import", map[string]string{"kind": "keys", "password": "s3cret pass"}, "alice.p12", p12)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Imported alice@example.org (new)") {
		t.Fatalf("right password: %d\n%s", p.status, p.body)
	}
	if row(p.body, "data-key", fpr) == "" {
		t.Errorf("the imported certificate is not in the keyring's listing:\n%s", p.body)
	}
	p = cl.upload("/keys/import", map[string]string{"kind": "keys"}, "junk.asc", []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "junk.asc") {
		t.Errorf("an unparseable file: %d\n%s", p.status, p.body)
	}

	alice := f.signedIn("alice@example.org")
	if p := alice.upload("/keys/import", map[string]string{"kind": "keys", "password": "s3cret pass"}, "alice.p12", p12); p.status != http.StatusForbidden {
		t.Errorf("an owner imported into the keyring: %d", p.status)
	}
	p = alice.get("/keys")
	if strings.Contains(p.body, `action="/keys/import"`) || strings.Contains(p.body, `id="trust"`) {
		t.Error("an owner sees the import form or the trust anchors")
	}
	// The owner's listing: list A's own key, not the certificate nobody uses.
	l, _ := f.svc.List(context.Background(), listA)
	if n := strings.Count(p.body, "<tr data-key="); n != 1 || row(p.body, "data-key", l.KeyFingerprint) == "" {
		t.Errorf("the owner's listing has %d keys, want list A's own only:\n%s", n, p.body)
	}
}

// TestKeyPageRendersSMIME: the key page of a certificate openssl made
// shows its subject's emailAddress by name, not as an OID; finds the
// issuer that is a trust anchor; shows the address once; groups the
// serial and fingerprints so the card wraps them.
func TestKeyPageRendersSMIME(t *testing.T) {
	f := newFixture(t)
	o := openssltest.New(t)
	caPEM, leafPEM, _, _ := opensslCA(t, o)
	fpr := fingerprintOf(t, leafPEM)
	cl := f.signedIn("admin@example.org")
	if p := cl.upload("/keys/import", map[string]string{"kind": "keys"}, "alice.pem", leafPEM); p.status != http.StatusOK {
		t.Fatalf("import: %d\n%s", p.status, p.body)
	}
	p := cl.get("/keys/" + fpr)
	if !strings.Contains(p.body, "issuer not known: CN=Example Test CA") {
		t.Errorf("before the CA is trusted, the page does not say so:\n%s", p.body)
	}

	p = cl.upload("/keys/import", map[string]string{"kind": "anchor"}, "ca.pem", caPEM)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Every list now trusts CN=Example Test CA") {
		t.Fatalf("trust anchor: %d\n%s", p.status, p.body)
	}
	if row(p.body, "data-anchor", fingerprintOf(t, caPEM)) == "" {
		t.Errorf("the trust anchor is not shown:\n%s", p.body)
	}
	p = cl.get("/keys/" + fpr)
	if p.status != http.StatusOK {
		t.Fatalf("key page: %d", p.status)
	}
	if strings.Contains(p.body, "1.2.840.113549.1.9.1") || !strings.Contains(p.body, "emailAddress=alice@example.org,CN=Alice Example,O=Example") {
		t.Errorf("the subject is not rendered by attribute name:\n%s", p.body)
	}
	if strings.Contains(p.body, "issuer not known") || !strings.Contains(p.body, "chains to a trusted certification authority") {
		t.Errorf("the issuer, a trust anchor, is not found:\n%s", p.body)
	}
	if n := strings.Count(p.body, `class="addr">alice@example.org<`); n != 1 {
		t.Errorf("the address is shown %d times, want once", n)
	}
	if !strings.Contains(p.body, `<code class="serial">1F2E 3D4C 5B6A 7988 0123 4567 89AB CDEF</code>`) {
		t.Errorf("the serial is not grouped:\n%s", p.body)
	}
	if !strings.Contains(p.body, `<code class="fpr-wrap">`+crypto.FormatFingerprint(fpr)+`</code>`) {
		t.Errorf("the chain's fingerprint is not grouped")
	}
	css, err := os.ReadFile(filepath.Join("static", "style.css"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\.fpr-big, \.fpr-wrap, \.serial, \.dn \{ overflow-wrap: anywhere;`).Match(css) {
		t.Error("the style sheet does not wrap fingerprints, serials and names")
	}
}

// TestKeysListingAndDelete: the keyring listed 50 a page with
// previous/next links and filters; a key in use is not deleted, the
// refusal naming its user; an unused one is.
func TestKeysListingAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var keys [][]byte
	for i := range admin.KeysPerPage + 3 {
		keys = append(keys, memberKey(t, fmt.Sprintf("user%02d@example.net", i)))
	}
	if _, err := f.svc.ImportKeys(ctx, "many.asc", bytes.Join(keys, nil), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	cl := f.signedIn("admin@example.org")
	p := cl.get("/keys")
	total := len(keys) + 2 // and the two lists' own keys
	if n := strings.Count(p.body, "<tr data-key="); n != admin.KeysPerPage {
		t.Fatalf("first page: %d keys, want %d", n, admin.KeysPerPage)
	}
	if !strings.Contains(p.body, fmt.Sprintf(`data-total="%d"`, total)) || strings.Contains(p.body, `rel="prev"`) {
		t.Errorf("first page: wrong total or a previous link")
	}
	next := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatalf("no next link on the first page")
	}
	p = cl.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(p.body, "<tr data-key="); n != total-admin.KeysPerPage || !strings.Contains(p.body, `rel="prev"`) || strings.Contains(p.body, `rel="next"`) {
		t.Errorf("second page: %d keys, want %d, with a previous link only", n, total-admin.KeysPerPage)
	}
	p = cl.get("/keys?address=user07&engine=openpgp&status=valid")
	if n := strings.Count(p.body, "<tr data-key="); n != 1 || !strings.Contains(p.body, "user07@example.net") {
		t.Errorf("filtered: %d keys", n)
	}
	if p := cl.get("/keys?status=lost"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown status: %d", p.status)
	}

	// user00's key, made a member's, is in use.
	if _, _, err := f.svc.AddMember(ctx, listA, "user00@example.net", keys[0], false); err != nil {
		t.Fatal(err)
	}
	ds, err := f.svc.FindKey(ctx, "user00@example.net")
	if err != nil {
		t.Fatal(err)
	}
	used := ds[0].Fingerprint
	p = cl.post("/keys/"+used+"/delete", nil)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "is in use, by user00@example.net on "+listA) {
		t.Errorf("deleting a key in use: %d\n%s", p.status, p.body)
	}
	ds, _ = f.svc.FindKey(ctx, "user01@example.net")
	unused := ds[0].Fingerprint
	if p := f.signedIn("alice@example.org").post("/keys/"+unused+"/delete", nil); p.status != http.StatusForbidden {
		t.Errorf("an owner deleted a key: %d", p.status)
	}
	p = cl.post("/keys/"+unused+"/delete", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Deleted "+crypto.FormatFingerprint(unused)) {
		t.Errorf("deleting an unused key: %d\n%s", p.status, p.body)
	}
	if _, err := f.svc.FindKey(ctx, unused); err == nil {
		t.Error("the key is still in the keyring")
	}
}

// TestKeysCRLs: a CRL made by `openssl ca -gencrl` is refused while its
// issuer is unknown, loaded and shown once the issuer is a trust anchor,
// and the trust anchor can be removed.
func TestKeysCRLs(t *testing.T) {
	f := newFixture(t)
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	crl := o.CRL(ca, 7, alice.Cert)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	cl := f.signedIn("admin@example.org")
	p := cl.upload("/keys/import", map[string]string{"kind": "crl"}, "ca.crl", crl)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "signed by no certification authority Sealpost knows") {
		t.Fatalf("CRL of an unknown issuer: %d\n%s", p.status, p.body)
	}
	if p := cl.upload("/keys/import", map[string]string{"kind": "anchor"}, "leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: alice.Cert.Raw})); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "is not a CA certificate") {
		t.Errorf("a leaf as trust anchor: %d", p.status)
	}
	if p := cl.upload("/keys/import", map[string]string{"kind": "anchor"}, "ca.pem", caPEM); p.status != http.StatusOK {
		t.Fatalf("trust anchor: %d", p.status)
	}
	p = cl.upload("/keys/import", map[string]string{"kind": "crl"}, "ca.crl", crl)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Loaded the CRL of CN=Sealpost Test CA p256 (1 revoked") {
		t.Fatalf("CRL: %d\n%s", p.status, p.body)
	}
	if r := row(p.body, "data-crl", "CN=Sealpost Test CA p256"); r == "" || !strings.Contains(r, "added here") {
		t.Errorf("the CRL is not shown:\n%s", p.body)
	}
	caFpr := smime.Fingerprint(ca.Cert)
	p = cl.post("/keys/anchors/"+caFpr+"/remove", nil)
	if p.status != http.StatusOK || row(p.body, "data-anchor", caFpr) != "" {
		t.Errorf("removing the trust anchor: %d", p.status)
	}
}
