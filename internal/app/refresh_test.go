package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/wkd"
)

// TestRefreshFromWKD: the refresh fetches members' keys from a Web Key
// Directory (a local HTTPS server standing in for every domain) and
// merges a revocation published for a member's own key; a different key
// published for another member is reported and not taken.
func TestRefreshFromWKD(t *testing.T) {
	s := startServer(t)
	_, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]

	// Alice revokes her key; the revoked key is what her WKD publishes.
	cert, err := os.ReadFile(filepath.Join(alice.gpg.Home, "openpgp-revocs.d", alice.fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	alice.gpg.Import(bytes.Replace(cert, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1))
	published := map[string][]byte{
		wkd.Hash("alice"): alice.gpg.MustRun(nil, "--export", alice.fpr).Stdout,
		wkd.Hash("bob"):   bob.gpg.MustRun(nil, "--export", bob.gpg.GenKey("Bob Other <bob@example.org>")).Stdout,
	}
	srv := httptest.NewTLSServer(wkd.Handler(func(_ context.Context, domain, hash string) ([]byte, bool) {
		k, ok := published[hash]
		return k, ok && domain == "example.org"
	}))
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test server's certificate names no host
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	client := &wkd.Client{HTTP: &http.Client{Transport: tr}}
	fetch := func(ctx context.Context, addr string) ([]byte, error) {
		k, err := client.Fetch(ctx, addr)
		if errors.Is(err, wkd.ErrNotFound) {
			return nil, admin.ErrNoKeyPublished
		}
		return k, err
	}

	pauses := 0
	r, err := s.app.Admin.RefreshMemberKeys(context.Background(), fetch, func(context.Context, int) error { pauses++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if r.Checked != 2 || pauses != 2 || r.Failed != 0 || len(r.Updated) != 1 || r.Updated[0] != alice.fpr ||
		len(r.Different) != 1 || r.Different[0] != bob.addr {
		t.Fatalf("refresh = %+v (pauses %d)", r, pauses)
	}
	ds, err := s.app.Admin.FindKey(context.Background(), alice.addr)
	if err != nil || len(ds) != 1 || ds[0].Status != keyring.KeyRevoked {
		t.Fatalf("alice's key after the refresh: %+v, %v", ds, err)
	}
	// Bob keeps his key; the other one is not even in the keyring.
	if ds, err := s.app.Admin.FindKey(context.Background(), bob.addr); err != nil || len(ds) != 1 || ds[0].Fingerprint != bob.fpr {
		t.Errorf("bob's keys: %+v, %v", ds, err)
	}
	// Nothing changes on a second pass.
	if r, err := s.app.Admin.RefreshMemberKeys(context.Background(), fetch, nil); err != nil || len(r.Updated) != 0 {
		t.Errorf("second refresh = %+v, %v", r, err)
	}
}
