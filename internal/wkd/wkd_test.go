package wkd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHashVector: the draft's example, Joe.Doe@Example.ORG.
func TestHashVector(t *testing.T) {
	if got := Hash("Joe.Doe"); got != "iy9q119eutrkn8s1mk4r39qejnbu3n5q" {
		t.Errorf("Hash(Joe.Doe) = %s", got)
	}
	adv, direct, err := URLs("Joe.Doe@Example.ORG")
	if err != nil {
		t.Fatal(err)
	}
	if adv != "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe" ||
		direct != "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe" {
		t.Errorf("URLs = %s, %s", adv, direct)
	}
}

// TestClientAndHandler: the client fetches over HTTPS from the handler,
// by the advanced method or, when that host does not answer, the direct
// one; addresses nobody publishes are ErrNotFound.
func TestClientAndHandler(t *testing.T) {
	key := []byte{0x98, 1, 2, 3}
	h := Handler(func(_ context.Context, domain, hash string) ([]byte, bool) {
		return key, domain == "lists.example.org" && hash == Hash("team")
	})
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		name      string
		advanced  bool // whether openpgpkey.DOMAIN resolves
		addr      string
		wantFound bool
	}{
		{"advanced", true, "team@lists.example.org", true},
		{"direct", false, "team@lists.example.org", true},
		{"unknown", true, "nobody@lists.example.org", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{HTTP: clientTo(t, srv, tc.advanced)}
			got, err := c.Fetch(context.Background(), tc.addr)
			if tc.wantFound && (err != nil || !bytes.Equal(got, key)) {
				t.Fatalf("Fetch = %x, %v", got, err)
			}
			if !tc.wantFound && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Fetch = %v, want ErrNotFound", err)
			}
		})
	}
	// The policy file exists for every domain (§4.5).
	resp, err := clientTo(t, srv, true).Get("https://lists.example.org/.well-known/openpgpkey/policy")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("policy: %v, %v", resp, err)
	}
}

// clientTo returns an HTTP client that reaches the test server for any
// host name (no outside network), refusing openpgpkey.* hosts unless
// advanced is set.
func clientTo(t *testing.T, srv *httptest.Server, advanced bool) *http.Client {
	addr := srv.Listener.Addr().String()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test server's certificate names no host
	tr.DialContext = func(ctx context.Context, network, host string) (net.Conn, error) {
		if strings.HasPrefix(host, "openpgpkey.") && !advanced {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}
