package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/maildir"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/queue"
	"github.com/sealpost/sealpost/internal/smtpclient"
	"github.com/sealpost/sealpost/internal/smtpserver"
	"github.com/sealpost/sealpost/internal/store"
)

// routes builds and keeps the transports of gateways' helpdesks, by
// their deliver_to.
type routes struct {
	hostname string
	mu       sync.Mutex
	byRoute  map[string]queue.Transport
}

// transport returns the transport for a gateway's deliver_to.
func (r *routes) transport(route string) (queue.Transport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.byRoute[route]; ok {
		return t, nil
	}
	dest, err := admin.ParseDestination(route)
	if err != nil {
		return nil, &queue.Permanent{Err: err}
	}
	var t queue.Transport
	switch dest.Scheme {
	case "maildir":
		ob, err := maildir.Open(filepath.Clean(dest.Addr), maildir.Options{Hostname: r.hostname})
		if err != nil {
			return nil, fmt.Errorf("helpdesk Maildir %s: %w", dest.Addr, err)
		}
		t = outbox{ob}
	default:
		t = relay{smtpclient.New(smtpclient.Options{Addr: dest.Addr, Network: dest.Network,
			LMTP: dest.Scheme == "lmtp", HeloName: r.hostname})}
	}
	if r.byRoute == nil {
		r.byRoute = map[string]queue.Transport{}
	}
	r.byRoute[route] = t
	return t, nil
}

// submissionBackend takes helpdesks' replies on the submission listener.
// A client may send when it authenticated as a gateway (SMTP AUTH) or
// connects from a network a gateway allows; which gateway a reply is
// from is its From address, and the pipeline checks that the client may
// send as it. Any recipient is accepted from such a client: that is the
// job of a submission service, and only gateways' helpdesks get here.
type submissionBackend struct{ a *App }

func (b *submissionBackend) authenticate(ctx context.Context, user, password string) (string, error) {
	gw, err := b.a.Admin.CheckSubmitPassword(ctx, user, password)
	if errors.Is(err, admin.ErrBadCredentials) {
		return "", smtpserver.ErrAuthFailed
	}
	if err != nil {
		return "", err
	}
	return gw.Address, nil
}

// clientAllowed reports whether env's client may submit without AUTH
// for some gateway (gw nil), or for gw.
func (b *submissionBackend) clientAllowed(ctx context.Context, env *smtpserver.Envelope, gw *store.List) (bool, error) {
	ap, err := netip.ParseAddrPort(env.RemoteAddr)
	if err != nil {
		return false, nil
	}
	if gw != nil {
		return admin.SubmitClientAllowed(gw, ap.Addr()), nil
	}
	lists, err := b.a.Store.Lists(ctx)
	if err != nil {
		return false, err
	}
	for i := range lists {
		if lists[i].IsGateway() && admin.SubmitClientAllowed(&lists[i], ap.Addr()) {
			return true, nil
		}
	}
	return false, nil
}

// Recipient accepts any recipient from a client that may submit.
func (b *submissionBackend) Recipient(ctx context.Context, env *smtpserver.Envelope, rcpt string) error {
	if _, err := mail.Normalize(rcpt); err != nil {
		return smtpserver.ErrNoSuchUser()
	}
	if env.Auth != "" {
		return nil
	}
	ok, err := b.clientAllowed(ctx, env, nil)
	if err != nil {
		return err
	}
	if !ok {
		// RFC 4954 §6: 530 5.7.0 Authentication required.
		return &smtpserver.Error{Code: 530, Enhanced: [3]int{5, 7, 0}, Message: "Authentication required"}
	}
	return nil
}

// Deliver hands the reply to the pipeline, which answers for it.
func (b *submissionBackend) Deliver(ctx context.Context, env *smtpserver.Envelope, raw []byte) error {
	rcpts := make([]string, 0, len(env.To))
	for _, to := range env.To {
		r, _ := mail.Normalize(to)
		rcpts = append(rcpts, r)
	}
	var authErr error
	err := b.a.Pipeline.Submit(ctx, pipeline.Submission{Ref: env.ID, EnvelopeFrom: env.From, Rcpts: rcpts, Raw: raw,
		Authorized: func(gw *store.List) bool {
			if env.Auth != "" {
				return env.Auth == gw.Address
			}
			ok, err := b.clientAllowed(ctx, env, gw)
			authErr = err
			return ok
		}})
	if authErr != nil {
		return authErr
	}
	return b.a.smtpReply(err)
}

// startSubmission starts the submission listener when one is configured;
// the returned server is nil otherwise.
func (a *App) startSubmission() (*smtpserver.Server, net.Listener, error) {
	cfg := a.Config.Submission
	if cfg.Listen == "" {
		return nil, nil, nil
	}
	b := &submissionBackend{a: a}
	opt := smtpserver.Options{
		Domain:          a.Config.Hostname,
		MaxMessageBytes: a.Config.SMTP.MaxMessageBytes,
		Logger:          a.Logger.With("listener", "submission"),
		NewID:           NewRef,
		Authenticate:    b.authenticate,
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, nil, &ConfigError{Problems: []string{"submission.tls_cert/tls_key: " + err.Error()}}
		}
		opt.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("submission listener: %w", err)
	}
	return smtpserver.New(b, opt), ln, nil
}
