// Package obs holds what Sealpost reports about itself: metrics for
// Prometheus, kept in a registry of Sealpost's own rather than the global
// default one, and served in the Prometheus text exposition format by
// [Metrics.Handler].
//
// obs is the foundation layer: it imports nothing from the rest of the
// module, so every other package may use it. Components take a *Metrics
// and may be given nil: every method of a nil *Metrics does nothing, so a
// component can be built, and tested, without metrics.
//
// Labels are deliberately coarse. Metrics are served without
// authentication, so no label carries a list address, an email address or
// anything else that would reveal which lists exist or who writes to them;
// HTTP requests are labelled by route pattern, never by raw URL path.
//
// obs does not log and does not trace; logging is log/slog, set up by the
// caller.
package obs

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// prefix starts the name of every metric Sealpost defines itself.
const prefix = "sealpost_"

// durationBuckets are the histogram buckets, in seconds, for both message
// processing and HTTP requests: 0.5 ms, then each 2.5 times the last, up
// to about 12 s.
var durationBuckets = prometheus.ExponentialBuckets(0.0005, 2.5, 12)

// Metrics is Sealpost's own Prometheus registry (not the global default
// one) and the metrics registered in it. It is safe for concurrent use. A
// nil *Metrics is valid: its methods do nothing.
//
// The label values are a closed set chosen by the code (a mode, an
// outcome, a route pattern, a status code), never data from a message or
// a request: metrics are served without authentication and must not leak
// which lists exist.
type Metrics struct {
	reg         *prometheus.Registry
	messages    *prometheus.CounterVec   // mode, outcome
	processing  *prometheus.HistogramVec // mode
	deliveries  *prometheus.CounterVec   // kind, result
	logins      *prometheus.CounterVec   // result
	httpCount   *prometheus.CounterVec   // route, code
	httpSeconds *prometheus.HistogramVec // route
}

// NewMetrics returns a fresh registry holding the Go runtime collector,
// the process collector and the sealpost_* metrics of the methods below.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "messages_total",
			Help: "Inbound messages processed, by mode (list, gateway) and outcome.",
		}, []string{"mode", "outcome"}),
		processing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "message_processing_seconds",
			Help:    "Time to process one inbound message, by mode.",
			Buckets: durationBuckets,
		}, []string{"mode"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "deliveries_total",
			Help: "Outbound delivery attempts, by kind (post, notice, helpdesk, reply) and result (sent, retry, failed).",
		}, []string{"kind", "result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "logins_total",
			Help: "Login attempts, by result (ok, failed, limited).",
		}, []string{"result"}),
		httpCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    prefix + "http_request_seconds",
			Help:    "Time to serve one HTTP request, by route pattern.",
			Buckets: durationBuckets,
		}, []string{"route"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.messages, m.processing, m.deliveries, m.logins,
		m.httpCount, m.httpSeconds,
	)
	return m
}

// Message counts one inbound message processed, in
// sealpost_messages_total{mode, outcome}. mode is "list" or "gateway";
// outcome is what became of the message, such as "delivered", "held",
// "rejected", "deferred" or "command".
func (m *Metrics) Message(mode, outcome string) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(mode, outcome).Inc()
}

// Processing records that processing one inbound message in mode took d,
// in the histogram sealpost_message_processing_seconds{mode}.
func (m *Metrics) Processing(mode string, d time.Duration) {
	if m == nil {
		return
	}
	m.processing.WithLabelValues(mode).Observe(d.Seconds())
}

// Delivery counts one outbound delivery attempt, in
// sealpost_deliveries_total{kind, result}. kind is "post", "notice",
// "helpdesk" or "reply"; result is "sent", "retry" or "failed".
func (m *Metrics) Delivery(kind, result string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(kind, result).Inc()
}

// Login counts one login attempt, in sealpost_logins_total{result}.
// result is "ok", "failed", "limited" (refused by the rate limit) or
// "password" (the password was right; a two-factor code is due).
func (m *Metrics) Login(result string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(result).Inc()
}

// HTTP records one HTTP request answered with status code after d, in
// sealpost_http_requests_total{route, code} and
// sealpost_http_request_seconds{route}.
//
// route is the pattern the request matched, such as
// "GET /api/v1/lists/{list}", never the raw URL path: raw paths would
// explode label cardinality, and would leak list addresses to anyone who
// can read the metrics.
func (m *Metrics) HTTP(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpCount.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpSeconds.WithLabelValues(route).Observe(d.Seconds())
}

// GaugeFunc registers a gauge called name whose value is f's result, read
// at each scrape; f must be safe to call concurrently. Use it for levels
// that another component already knows, such as sealpost_queue_pending.
//
// GaugeFunc panics if name is not "sealpost_" followed by lower-case
// letters, digits and underscores, or is already registered: each is a
// programming error.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	if m == nil {
		return
	}
	if err := checkName(name); err != nil {
		panic("obs: " + err.Error())
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: name,
		Help: help,
	}, f))
}

// Handler returns the HTTP handler that serves the registry in the
// Prometheus exposition format. A metric that fails to collect is left out
// and the rest are served. On a nil *Metrics, Handler answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// checkName reports whether name is fit for a metric of Sealpost's own:
// the prefix, then at least one of [a-z0-9_]. The client library accepts
// any UTF-8 name, but a name outside the classic syntax must be quoted in
// the exposition, which older scrapers reject.
func checkName(name string) error {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return fmt.Errorf("metric name %q does not start with %q", name, prefix)
	}
	if rest == "" {
		return fmt.Errorf("metric name %q is only the prefix", name)
	}
	for _, c := range rest {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return fmt.Errorf("metric name %q holds %q; use [a-z0-9_]", name, c)
		}
	}
	return nil
}
