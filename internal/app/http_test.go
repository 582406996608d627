package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// TestHTTPInterface: the HTTP listener serves /healthz and /metrics
// without authentication, the API with it, and every response carries
// the security headers.
func TestHTTPInterface(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if _, err := s.app.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(s.app.HTTPHandler())
	defer web.Close()
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(web.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	if code, h, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != `{"status":"ok"}` || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("/healthz: %d %q %v", code, body, h)
	}
	// A copy claimed by this node (due later, so that its queue leaves
	// it alone), and a second node: the cluster gauges count them (before
	// anything else is queued, which the queue would claim meanwhile).
	l, err := s.app.Admin.List(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := s.app.Store.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{{Ref: "claimed", ListID: l.ID,
		Kind: store.KindPost, From: "team-bounce@lists.example.org", To: "carol@example.org", Data: []byte("c"), NextAttempt: later}}}); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.app.Store.ClaimDue(ctx, later, time.Minute, "claimed", 1); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	if err := s.app.Store.Heartbeat(ctx, store.Node{ID: "other", Hostname: "other", StartedAt: time.Now()}, time.Now()); err != nil {
		t.Fatal(err)
	}
	code, _, metrics := get("/metrics")
	for _, want := range []string{"sealpost_nodes 2", "sealpost_queue_claimed 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	// A post by a stranger is refused: counted, and the queue gauge read.
	if err := s.send(t, "stranger@example.net", []string{team}, []byte("From: stranger@example.net\r\nTo: "+team+"\r\nSubject: hi\r\n\r\nhi\r\n")); err == nil {
		t.Fatal("a stranger's post in clear was accepted")
	}
	code, _, metrics = get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{`sealpost_messages_total{mode="list",outcome="rejected"} 1`, "sealpost_queue_pending ", "sealpost_holds 0",
		"sealpost_message_processing_seconds_count", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "lists.example.org") {
		t.Error("/metrics names a list; it is served without authentication")
	}
	if code, _, _ := get("/api/v1/lists"); code != http.StatusUnauthorized {
		t.Errorf("/api/v1/lists without a token: %d", code)
	}
	if code, _, body := get("/api/v1/openapi.json"); code != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("/api/v1/openapi.json: %d", code)
	}
	s.app.Store.Close()
	if code, _, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Errorf("/healthz with the database closed: %d %q", code, body)
	}
}
