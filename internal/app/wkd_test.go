package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/wkd"
)

// TestWKDServesListKeys: with [http] listen, serve publishes every list's
// key as a Web Key Directory, by the advanced and the direct method.
func TestWKDServesListKeys(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := free.Addr().String()
	free.Close()
	dir := t.TempDir()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", httpAddr
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.Admin.CreateList(context.Background(), team, "", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	defer func() { cancel(); <-done }()
	<-ready

	get := func(host, path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	hash := wkd.Hash("team")
	for _, tc := range []struct{ host, path string }{
		{"openpgpkey.lists.example.org", "/.well-known/openpgpkey/lists.example.org/hu/" + hash + "?l=team"},
		{"lists.example.org", "/.well-known/openpgpkey/hu/" + hash + "?l=team"},
	} {
		code, body := get(tc.host, tc.path)
		if code != http.StatusOK || !bytes.Equal(body, l.PublicKey) {
			t.Errorf("%s%s: %d, %d bytes", tc.host, tc.path, code, len(body))
		}
		if k, err := pgp.ParseKey(body); err != nil || k.Fingerprint() != l.KeyFingerprint {
			t.Errorf("published key: %v", err)
		}
	}
	if code, _ := get("lists.example.org", "/.well-known/openpgpkey/hu/"+wkd.Hash("nobody")); code != http.StatusNotFound {
		t.Errorf("unknown address: %d", code)
	}
	if code, _ := get("other.example.org", "/.well-known/openpgpkey/hu/"+hash); code != http.StatusNotFound {
		t.Errorf("another domain: %d", code)
	}
}
