package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/wkd"
)

// webServer is the HTTP listener: for now the Web Key Directory of the
// lists' keys. A nil *webServer serves nothing.
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
	mux := http.NewServeMux()
	mux.Handle("/.well-known/openpgpkey/", wkd.Handler(a.wkdLookup))
	w := &webServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("http listener stopped", "err", err)
		}
	}()
	return w, nil
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
