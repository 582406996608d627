package obs

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// scrape serves one GET of m.Handler() and returns the exposition text.
func scrape(t testing.TB, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d, body:\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// hasLine reports whether text holds line as a whole line.
func hasLine(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.Message("list", "delivered")
	m.Message("list", "delivered")
	m.Message("gateway", "held")
	m.Processing("list", 250*time.Millisecond)
	m.Processing("list", 2*time.Second)
	m.Delivery("post", "sent")
	m.Delivery("notice", "retry")
	m.Login("ok")
	m.Login("limited")
	m.Login("limited")
	m.HTTP("GET /api/v1/lists/{list}", 200, 100*time.Millisecond)
	m.HTTP("GET /api/v1/lists/{list}", 404, 100*time.Millisecond)
	m.HTTP("GET /api/v1/lists/{list}", 200, 100*time.Millisecond)
	text := scrape(t, m)

	for _, line := range []string{
		`sealpost_messages_total{mode="list",outcome="delivered"} 2`,
		`sealpost_messages_total{mode="gateway",outcome="held"} 1`,
		`sealpost_message_processing_seconds_count{mode="list"} 2`,
		`sealpost_message_processing_seconds_sum{mode="list"} 2.25`,
		`sealpost_message_processing_seconds_bucket{mode="list",le="0.0005"} 0`,
		`sealpost_message_processing_seconds_bucket{mode="list",le="+Inf"} 2`,
		`sealpost_deliveries_total{kind="post",result="sent"} 1`,
		`sealpost_deliveries_total{kind="notice",result="retry"} 1`,
		`sealpost_logins_total{result="ok"} 1`,
		`sealpost_logins_total{result="limited"} 2`,
		`sealpost_http_requests_total{code="200",route="GET /api/v1/lists/{list}"} 2`,
		`sealpost_http_requests_total{code="404",route="GET /api/v1/lists/{list}"} 1`,
		`sealpost_http_request_seconds_count{route="GET /api/v1/lists/{list}"} 3`,
		`# TYPE sealpost_message_processing_seconds histogram`,
		`# TYPE sealpost_http_request_seconds histogram`,
	} {
		if !hasLine(text, line) {
			t.Errorf("exposition lacks line %s", line)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
}

func TestMetricsRuntimeCollectors(t *testing.T) {
	text := scrape(t, NewMetrics())
	if !strings.Contains(text, "\ngo_goroutines ") {
		t.Error("exposition lacks go_goroutines")
	}
	// The process collector reports on Linux; elsewhere it may not.
	if runtime.GOOS == "linux" && !strings.Contains(text, "\nprocess_") {
		t.Error("exposition lacks process_ metrics")
	}
}

func TestGaugeFuncReadAtScrape(t *testing.T) {
	m := NewMetrics()
	pending := 3.0
	m.GaugeFunc("sealpost_queue_pending", "Messages waiting in the outbound queue.",
		func() float64 { return pending })

	if text := scrape(t, m); !hasLine(text, "sealpost_queue_pending 3") {
		t.Errorf("first scrape lacks sealpost_queue_pending 3:\n%s", text)
	}
	pending = 7
	if text := scrape(t, m); !hasLine(text, "sealpost_queue_pending 7") {
		t.Errorf("second scrape lacks sealpost_queue_pending 7:\n%s", text)
	}
}

func TestGaugeFuncPanics(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		names        []string // registered in order; the last must panic
	}{
		{"no prefix", "name lacks sealpost_", []string{"queue_pending"}},
		{"foreign prefix", "name lacks sealpost_", []string{"go_queue_pending"}},
		{"dash", "name holds a dash", []string{"sealpost_queue-pending"}},
		{"upper case", "name holds upper case", []string{"sealpost_Queue"}},
		{"prefix only", "name is only the prefix", []string{"sealpost_"}},
		{"twice", "name already registered", []string{"sealpost_x", "sealpost_x"}},
		{"clashes", "name of a built-in metric", []string{"sealpost_logins_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			last := len(tc.names) - 1
			for _, n := range tc.names[:last] {
				m.GaugeFunc(n, "help", func() float64 { return 0 })
			}
			defer func() {
				if recover() == nil {
					t.Errorf("GaugeFunc(%q) did not panic; %s", tc.names[last], tc.reason)
				}
			}()
			m.GaugeFunc(tc.names[last], "help", func() float64 { return 0 })
		})
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Message("list", "delivered")
	m.Processing("list", time.Second)
	m.Delivery("post", "sent")
	m.Login("ok")
	m.HTTP("GET /", 200, time.Second)
	m.GaugeFunc("sealpost_queue_pending", "help", func() float64 { return 1 })

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler: status %d, want 404", rec.Code)
	}

	called := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	got := m.Instrument("GET /", h)
	// Handlers are not comparable; a pointer to the same func is the test.
	if fmt.Sprintf("%p", got) != fmt.Sprintf("%p", h) {
		t.Error("nil Instrument did not return the handler unchanged")
	}
	got.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !called {
		t.Error("nil Instrument: handler not called")
	}
}

func TestInstrumentStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string // status code label
	}{
		{"explicit 404", func(w http.ResponseWriter, _ *http.Request) {
			http.NotFound(w, nil)
		}, "404"},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, "200"},
		{"body only", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "ok")
		}, "200"},
		{"status twice", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusInternalServerError) // ignored by net/http
		}, "409"},
		{"interim then final", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, "201"},
		{"flush", func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
		}, "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			const route = "GET /api/v1/lists/{list}"
			h := m.Instrument(route, tc.handler)
			h.ServeHTTP(httptest.NewRecorder(),
				httptest.NewRequest(http.MethodGet, "/api/v1/lists/x", nil))

			text := scrape(t, m)
			want := fmt.Sprintf(`sealpost_http_requests_total{code=%q,route=%q} 1`, tc.want, route)
			if !hasLine(text, want) {
				t.Errorf("exposition lacks line %s", want)
			}
			count := fmt.Sprintf(`sealpost_http_request_seconds_count{route=%q} 1`, route)
			if !hasLine(text, count) {
				t.Errorf("exposition lacks line %s", count)
			}
			if strings.Contains(text, "/api/v1/lists/x") {
				t.Error("exposition holds the raw request path")
			}
		})
	}
}

// A component reports a level it already knows with GaugeFunc; Handler
// serves it, read at scrape time.
func ExampleMetrics_GaugeFunc() {
	m := NewMetrics()
	pending := 0
	m.GaugeFunc("sealpost_queue_pending", "Messages waiting in the outbound queue.",
		func() float64 { return float64(pending) })
	pending = 4

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "sealpost_queue_pending ") {
			fmt.Print(l)
		}
	}
	// Output: sealpost_queue_pending 4
}

// Instrument wraps each route's handler under the route's pattern, the
// same pattern it is registered with, never the request's path.
func ExampleMetrics_Instrument() {
	m := NewMetrics()
	mux := http.NewServeMux()
	const route = "GET /api/v1/lists/{list}"
	mux.Handle(route, m.Instrument(route, http.NotFoundHandler()))
	mux.Handle("GET /metrics", m.Handler())

	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/lists/x", nil))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "sealpost_http_requests_total{") {
			fmt.Print(l)
		}
	}
	// Output: sealpost_http_requests_total{code="404",route="GET /api/v1/lists/{list}"} 1
}
