package app_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestFetchedCRLs: with fetch_crls and require_crl, the CRL named in a
// member's certificate is fetched (from a loopback HTTP server here): a
// revoked certificate is refused, a missing CRL is "No CRL known", and a
// certificate the current CRL does not list is accepted.
func TestFetchedCRLs(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	var revoked []*big.Int
	mux := http.NewServeMux()
	mux.HandleFunc("/ca.crl", func(w http.ResponseWriter, r *http.Request) {
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
		for _, s := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, smime.CertsPEM(ca.Cert), 0o600)
	os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte("[smime]\ntrust_anchors = \""+caFile+"\"\nfetch_crls = true\nrequire_crl = true\n"), 0o600)
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := a.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	members := map[string]openssltest.LeafOptions{
		"frank@example.org": {CRLURL: srv.URL + "/ca.crl"},
		"gina@example.org":  {CRLURL: srv.URL + "/ca.crl"},
		"hugo@example.org":  {CRLURL: srv.URL + "/missing.crl"},
	}
	ids := map[string]*smime.Identity{}
	for addr, opt := range members {
		if err := a.Store.AddMember(ctx, &store.Member{ListID: l.ID, Email: addr}); err != nil {
			t.Fatal(err)
		}
		leaf := ca.Issue(addr, openssltest.P256, opt)
		ids[addr] = &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
	}
	revoked = append(revoked, ids["gina@example.org"].Cert.SerialNumber)

	for _, tc := range []struct {
		from string
		want policy.Reason
	}{
		{"frank@example.org", policy.OK},
		{"gina@example.org", policy.Untrusted},
		{"hugo@example.org", policy.Untrusted},
	} {
		_, err := a.Process(ctx, team, tc.from, signedPost(t, ids[tc.from], tc.from, listLeaf.Cert, "Hello. "+canary+"\r\n"))
		var rej *pipeline.Rejection
		switch {
		case tc.want == policy.OK && err != nil:
			t.Errorf("%s: %v", tc.from, err)
		case tc.want != policy.OK && (!errors.As(err, &rej) || rej.Reason != tc.want):
			t.Errorf("%s: %v, want %v", tc.from, err, tc.want)
		}
	}
}

// signedPost is an S/MIME post by id from from, encrypted to the list.
func signedPost(t testing.TB, id *smime.Identity, from string, list *x509.Certificate, body string) []byte {
	t.Helper()
	inner := "Content-Type: text/plain\r\nFrom: " + from + "\r\nTo: " + team + "\r\n\r\n" + body
	signed, err := smime.SignEntity([]byte(inner), id, smime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct, enc, err := smime.EncryptEntity(signed, list, smime.EncryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\nContent-Transfer-Encoding: base64\r\n\r\n"), enc...)
}
