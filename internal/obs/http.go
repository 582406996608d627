package obs

import (
	"net/http"
	"time"
)

// Instrument wraps h, recording each request under route with its status
// code and duration (see [Metrics.HTTP]; route is a pattern, never a raw
// path). The code is the first final status h wrote, 200 if it wrote none.
// A request whose handler panics is not recorded. On a nil *Metrics,
// Instrument returns h unchanged.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		m.HTTP(route, sw.code(), time.Since(start))
	})
}

// statusWriter is an http.ResponseWriter that remembers the status code
// written through it.
type statusWriter struct {
	http.ResponseWriter
	status int // first final (non-1xx) status written; 0 if none yet
}

func (w *statusWriter) WriteHeader(code int) {
	// RFC 9110 §15.2: 1xx responses are interim; the final status follows.
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends any buffered data to the client, for handlers that assert
// http.Flusher; a writer that cannot flush is left as it is.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer, for
// Flush, deadlines and hijacking.
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// code returns the status the client got: 200 if the handler wrote none.
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
