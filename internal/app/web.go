package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/web"
	"github.com/sealpost/sealpost/internal/wkd"
)

// webServer is the HTTP listener: the admin UI, the REST API, health and
// metrics, and the Web Key Directory of the lists' keys. A nil
// *webServer serves nothing.
type webServer struct {
	srv *http.Server
	ln  net.Listener
}

// startHTTP starts the HTTP listener when [http] listen is set.
func (a *App) startHTTP() (*webServer, error) {
	if a.Config.HTTP.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.Config.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	w := &webServer{ln: ln, srv: &http.Server{Handler: a.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}}
	cert, key := a.Config.HTTP.TLSCert, a.Config.HTTP.TLSKey
	go func() {
		var err error
		if cert != "" {
			err = w.srv.ServeTLS(ln, cert, key)
		} else {
			err = w.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("http listener stopped", "err", err)
		}
	}()
	return w, nil
}

// HTTPHandler is everything the HTTP listener serves.
func (a *App) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/.well-known/openpgpkey/", wkd.Handler(a.wkdLookup))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", a.Metrics.Handler())
	mux.Handle(api.Prefix+"/", api.Handler(api.Options{Admin: a.Admin, Auth: a.Auth(), Notify: a.Queue.Notify,
		Logger: a.Logger, Metrics: a.Metrics}))
	mux.Handle("/", web.Handler(web.Options{Admin: a.Admin, Auth: a.Auth(), Notify: a.Queue.Notify,
		Logger: a.Logger, Metrics: a.Metrics}))
	return securityHeaders(mux)
}

// Auth is the authentication of the HTTP interface, made once.
func (a *App) Auth() *auth.Auth {
	a.authOnce.Do(func() {
		a.auth = auth.New(a.Admin, a.Store, auth.Options{SecureCookies: a.Config.HTTP.SecureCookies, Metrics: a.Metrics})
		if o := a.Config.OIDC; o.Issuer != "" {
			role := ""
			if o.CreateAccounts {
				role = o.DefaultRole
			}
			a.auth.EnableOIDC(auth.OIDCOptions{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: oidcSecret(o.ClientSecret),
				RedirectURL: o.RedirectURL, Name: o.Name, CreateRole: role})
		}
	})
	return a.auth
}

// OIDCSecretCredential is the systemd credential that holds the single
// sign-on client's secret, when [oidc] client_secret is empty.
const OIDCSecretCredential = "sealpost-oidc-client-secret"

// oidcSecret is the configured client secret, or the credential's.
func oidcSecret(configured string) string {
	if configured != "" {
		return configured
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, OIDCSecretCredential)); err == nil {
			return strings.TrimRight(string(b), "\r\n")
		}
	}
	return ""
}

// securityHeaders sets the headers every response carries: no framing,
// no sniffing, no referrer leaking list addresses in URLs.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// healthz answers whether Sealpost can work: its database answers.
func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := a.Store.Ping(ctx); err != nil {
		a.Logger.Warn("health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"status":"unavailable"}`)
		return
	}
	fmt.Fprintln(w, `{"status":"ok"}`)
}

// registerGauges makes /metrics report the queue and the holds, read
// from the database at each scrape.
func (a *App) registerGauges() {
	count := func(f func(ctx context.Context) (int, error)) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := f(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}
	}
	queued := func(state store.DeliveryState) func(ctx context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			m, err := a.Store.QueueCounts(ctx, nil)
			return m[state], err
		}
	}
	a.Metrics.GaugeFunc("sealpost_queue_pending", "Deliveries waiting in the outbound queue.", count(queued(store.Pending)))
	a.Metrics.GaugeFunc("sealpost_queue_failed", "Deliveries that failed for good and are still in the queue.", count(queued(store.Failed)))
	a.Metrics.GaugeFunc("sealpost_holds", "Messages held for a moderator.", count(a.Store.CountHolds))
	a.Metrics.GaugeFunc("sealpost_nodes", "Live sealpost serve nodes sharing the database (a heartbeat within the last 30 s).",
		count(func(ctx context.Context) (int, error) {
			now := time.Now()
			nodes, err := a.Store.Nodes(ctx, now, now.Add(-store.NodeTimeout))
			return len(nodes), err
		}))
	a.Metrics.GaugeFunc("sealpost_queue_claimed", "Deliveries claimed now for an attempt, by any node or process (their lease not over).",
		count(func(ctx context.Context) (int, error) { return a.Store.Claimed(ctx, time.Now()) }))
}

// countAttempt counts a delivery attempt for the metrics.
func (a *App) countAttempt(d *store.Delivery, at store.Attempt) {
	result := map[store.DeliveryState]string{store.Sent: "sent", store.Pending: "retry", store.Failed: "failed"}[at.State]
	a.Metrics.Delivery(d.Kind, result)
}

func (w *webServer) addr() string {
	if w == nil {
		return ""
	}
	return w.ln.Addr().String()
}

// Close stops the listener, letting requests in flight finish briefly.
func (w *webServer) Close() error {
	if w == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.srv.Shutdown(ctx)
}

// wkdLookup publishes each list's OpenPGP key under its address.
func (a *App) wkdLookup(ctx context.Context, domain, hash string) ([]byte, bool) {
	lists, err := a.Admin.Lists(ctx)
	if err != nil {
		a.Logger.Warn("wkd lookup", "err", err)
		return nil, false
	}
	for _, l := range lists {
		local, d := mail.Split(l.Address)
		if d == domain && wkd.Hash(local) == hash {
			return l.PublicKey, true
		}
	}
	return nil, false
}
