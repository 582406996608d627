package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealpost/sealpost/internal/queue"
	"github.com/sealpost/sealpost/internal/smtpclient"
	"github.com/sealpost/sealpost/internal/store"
)

// maxRcpts is the most recipients one transaction of a batch gets: RFC
// 5321 §4.5.3.1.8 makes every server take at least 100.
const maxRcpts = 100

// checkRelayTimeout bounds `sealpost check`'s probe of the relay.
const checkRelayTimeout = 30 * time.Second

// How long a batch may finish the step it is in once its ctx ended:
// serve stopping finishes what is in flight (DESIGN §5) and leaves the
// relay with QUIT. A working relay opens a session in milliseconds; one
// that has not within openGrace is left without waiting longer.
const (
	openGrace = 2 * time.Second  // opening the session
	sendGrace = 10 * time.Second // a copy's transaction
)

// newRelayClient returns the client for cfg's relay.
func newRelayClient(cfg *Config) *smtpclient.Client {
	return smtpclient.New(smtpclient.Options{Addr: cfg.Relay.Addr, HeloName: cfg.Hostname, TLS: cfg.RelayTLS()})
}

// relay adapts the smarthost client to queue.BatchTransport: a batch goes
// over one session, one transaction per copy, or per group of identical
// copies (see batchGroups). A gateway's SMTP or LMTP helpdesk uses Deliver
// only.
type relay struct{ c *smtpclient.Client }

func (t relay) Deliver(ctx context.Context, from, to string, data []byte) error {
	res, err := t.c.Send(ctx, from, []string{to}, data)
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	return relayError(err)
}

// DeliverBatch sends ds over one session, and opens one more if that one
// breaks; when that one breaks too, or the relay cannot be reached, the
// copies not sent yet fail with its temporary error. Each copy's error
// is its own: a refused RCPT fails that copy only. When ctx ends (serve
// stops), the step in flight has openGrace or sendGrace to finish, the
// copies not begun are left with ctx's error, and the session ends with
// QUIT.
func (t relay) DeliverBatch(ctx context.Context, ds []store.Delivery, write func(i int, w io.Writer) error) []error {
	openCtx, openDone := withGrace(ctx, openGrace)
	defer openDone()
	sendCtx, sendDone := withGrace(ctx, sendGrace)
	defer sendDone()
	errs := make([]error, len(ds))
	groups := batchGroups(ds)
	var s *smtpclient.Session
	opens := 0
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	for n, g := range groups {
		if err := ctx.Err(); err != nil {
			failRest(errs, groups[n:], err)
			break
		}
		if s == nil || s.Err() != nil && opens < 2 {
			if s != nil {
				s.Close()
			}
			var err error
			if s, err = t.c.Open(openCtx); err != nil {
				s = nil
				failRest(errs, groups[n:], relayError(err))
				break
			}
			opens++
		}
		if err := s.Err(); err != nil {
			failRest(errs, groups[n:], relayError(err))
			break
		}
		t.send(sendCtx, s, ds, g, write, errs)
	}
	return errs
}

// withGrace returns a context that ends grace after ctx ends, or when
// done is called.
func withGrace(ctx context.Context, grace time.Duration) (c context.Context, done func()) {
	c, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel(context.Cause(ctx))
		case <-c.Done():
		}
	})
	return c, func() { stop(); cancel(nil) }
}

// send sends the copies of group g, identical, in one transaction.
func (t relay) send(ctx context.Context, s *smtpclient.Session, ds []store.Delivery, g []int, write func(int, io.Writer) error, errs []error) {
	var msg bytes.Buffer
	if err := write(g[0], &msg); err != nil {
		for _, i := range g {
			errs[i] = err
		}
		return
	}
	rcpts := make([]string, len(g))
	for k, i := range g {
		rcpts[k] = ds[i].To
	}
	results, _ := s.Send(ctx, ds[g[0]].From, rcpts, msg.Bytes())
	for k, i := range g {
		errs[i] = relayError(results[k].Err)
	}
}

// failRest gives err to every copy of groups.
func failRest(errs []error, groups [][]int, err error) {
	for _, g := range groups {
		for _, i := range g {
			errs[i] = err
		}
	}
}

// batchGroups splits ds into transactions: copies stored as they are sent
// (notices; see queue.Opened) with the same envelope sender and the same
// bytes share one, with up to maxRcpts distinct recipients; every other
// copy (encrypted for its recipient as it is sent) has its own. The
// groups keep the order of ds by first copy.
func batchGroups(ds []store.Delivery) [][]int {
	var groups [][]int
	open := map[[sha256.Size]byte]int{} // a stored message's group still taking recipients
	for i := range ds {
		d := &ds[i]
		if queue.Opened(d) {
			groups = append(groups, []int{i})
			continue
		}
		key := sha256.Sum256(append([]byte(d.From+"\x00"), d.Data...))
		if j, ok := open[key]; ok && len(groups[j]) < maxRcpts && !hasRcpt(ds, groups[j], d.To) {
			groups[j] = append(groups[j], i)
			continue
		}
		open[key] = len(groups)
		groups = append(groups, []int{i})
	}
	return groups
}

// hasRcpt reports whether a copy of g goes to rcpt.
func hasRcpt(ds []store.Delivery, g []int, rcpt string) bool {
	for _, i := range g {
		if ds[i].To == rcpt {
			return true
		}
	}
	return false
}

// relayError is err for the queue: permanent ones marked so, and TLS
// failures with the configuration that fixes them.
func relayError(err error) error {
	if err == nil {
		return nil
	}
	if hint := relayHint(err); hint != "" {
		err = fmt.Errorf("%w; %s", err, hint)
	}
	if !smtpclient.Temporary(err) {
		return &queue.Permanent{Err: err}
	}
	return err
}

// relayHint says how to fix a TLS failure with the relay, in terms of
// the configuration; "" for other errors.
func relayHint(err error) string {
	var te *smtpclient.TLSError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &host):
		return `use [relay] tls = "may" or "encrypt" (--relay-tls), which encrypt without verifying the certificate, or a relay address with a name the certificate is valid for`
	case errors.As(err, &unknown):
		return `use [relay] tls = "may" or "encrypt" (--relay-tls), which encrypt without verifying the certificate, or make this system trust the relay's certificate authority`
	case errors.As(err, &te):
		return `check the relay's TLS setup, or use [relay] tls = "none" (--relay-tls) to send in plaintext`
	case errors.Is(err, smtpclient.ErrTLSUnavailable):
		return `enable STARTTLS on the relay, or use [relay] tls = "may" (--relay-tls) to send in plaintext when it offers none`
	}
	return ""
}

// CheckRelay connects to the configured relay as a delivery does (EHLO,
// STARTTLS as [relay] tls says, QUIT) and says in one line how that went
// and, if it failed, how to fix it. The line is "" without a relay.
func (a *App) CheckRelay(ctx context.Context) (line string, ok bool) {
	cfg := a.Config
	if cfg.Relay.Addr == "" {
		return "", true
	}
	level := cfg.RelayTLS()
	ctx, cancel := context.WithTimeout(ctx, checkRelayTimeout)
	defer cancel()
	s, err := newRelayClient(cfg).Open(ctx)
	if err != nil {
		if hint := relayHint(err); hint != "" {
			return fmt.Sprintf("relay %s (tls = %q): %v; %s", cfg.Relay.Addr, level, err, hint), false
		}
		return fmt.Sprintf("relay %s (tls = %q): %v; is it running, and is [relay] addr (--relay) right?", cfg.Relay.Addr, level, err), false
	}
	inTLS := s.TLS()
	if err := s.Close(); err != nil {
		return fmt.Sprintf("relay %s (tls = %q): %v", cfg.Relay.Addr, level, err), false
	}
	how := "in plaintext"
	switch {
	case inTLS && level == smtpclient.TLSVerify:
		how = "in TLS, certificate verified"
	case inTLS:
		how = "in TLS, certificate not verified"
	case level == smtpclient.TLSMay:
		how = "in plaintext: the relay offers no STARTTLS"
	}
	return fmt.Sprintf("relay %s answers, %s (tls = %q)", cfg.Relay.Addr, how, level), true
}
