package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/smtpserver"
)

// Serve runs the SMTP listener and the delivery queue until ctx ends,
// then stops accepting (421), finishes messages in flight and returns.
// ready, when not nil, receives the listener's address once it accepts.
func (a *App) Serve(ctx context.Context, ready chan<- net.Addr) error {
	// Never fatal: a full disk must not keep the listener down (startup.go).
	a.startupMaintenance(ctx)
	ln, err := net.Listen("tcp", a.Config.SMTP.Listen)
	if err != nil {
		return fmt.Errorf("smtp listener: %w", err)
	}
	srv := smtpserver.New(&smtpBackend{a: a}, smtpserver.Options{
		Domain:          a.Config.Hostname,
		MaxMessageBytes: a.Config.SMTP.MaxMessageBytes,
		Logger:          a.Logger,
		NewID:           NewRef,
	})
	web, err := a.startHTTP()
	if err != nil {
		ln.Close()
		return err
	}
	defer web.Close()
	sub, subLn, err := a.startSubmission()
	if err != nil {
		ln.Close()
		return err
	}
	subServed := make(chan error, 1)
	if sub != nil {
		a.submissionAddr = subLn.Addr()
		go func() { subServed <- sub.Serve(subLn) }()
	}
	// This node's first heartbeat comes before its first claim: the
	// other nodes release the claims of nodes they do not see alive.
	a.node = newNode(ln.Addr().String())
	a.Store.SetNode(a.node.ID)
	a.heartbeat(ctx)
	qctx, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	beating := make(chan struct{})
	go func() { defer close(beating); a.runHeartbeat(qctx) }()
	queued := make(chan struct{})
	go func() { defer close(queued); a.Queue.Run(qctx) }()
	daily := make(chan struct{})
	go func() { defer close(daily); a.runDaily(qctx) }()
	refresh := make(chan struct{})
	go func() { defer close(refresh); a.runWKDRefresh(qctx) }()
	retried := make(chan struct{})
	go func() { defer close(retried); a.retries.run(qctx, a.Logger) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.Logger.Info("sealpost serving", "smtp", ln.Addr().String(), "http", web.addr(), "submission", a.Config.Submission.Listen,
		"data", a.Config.DataDir, "database", a.DatabaseName(), "node", a.node.ID, "relay", a.Config.Relay.Addr)
	if ready != nil {
		ready <- ln.Addr()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served: // the listener failed by itself
	}
	// DESIGN §5: stop accepting (421), finish what is in flight, then
	// stop the queue; unfinished deliveries stay claimed for the next start.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if serveErr == nil {
		serveErr = <-served
	}
	if sub != nil {
		shutdownErr = errors.Join(shutdownErr, sub.Shutdown(shutdownCtx))
		serveErr = errors.Join(serveErr, <-subServed)
	}
	stopQueue()
	<-queued
	<-daily
	<-refresh
	<-retried
	<-beating
	a.Logger.Info("sealpost stopped")
	return errors.Join(serveErr, shutdownErr)
}

// SubmissionAddr is the address the submission listener accepts on,
// once Serve has signalled that it is ready; nil when there is none.
func (a *App) SubmissionAddr() net.Addr { return a.submissionAddr }

// SpoolRetention is how long a message whose processing never finished
// stays in the spool (counting crashes, DESIGN §5): longer than the five
// days MTAs retry for.
const SpoolRetention = 7 * 24 * time.Hour

// NewRef returns a fresh reference ID for an inbound message.
func NewRef() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// smtpBackend connects the SMTP listener to the pipeline.
type smtpBackend struct{ a *App }

// Recipient accepts only addresses of lists this Sealpost serves (DESIGN
// §4.9), one list address per transaction.
func (b *smtpBackend) Recipient(ctx context.Context, env *smtpserver.Envelope, rcpt string) error {
	addr, err := mail.Normalize(rcpt)
	if err != nil {
		return smtpserver.ErrNoSuchUser()
	}
	if _, _, err := b.a.Pipeline.Resolve(ctx, addr); errors.Is(err, pipeline.ErrUnknownList) {
		return smtpserver.ErrNoSuchUser()
	} else if err != nil {
		return err
	}
	if len(env.To) > 0 {
		// RFC 5321 §3.3: a 452 makes the client send the message to this
		// recipient again in a separate transaction, so each list decides
		// on its own copy.
		return &smtpserver.Error{Code: 452, Enhanced: [3]int{4, 5, 3}, Message: "One Sealpost address per message, please send this recipient separately"}
	}
	return nil
}

// Deliver processes the message synchronously: the reply reflects the
// list's decision, and a 250 means the outcome is durable.
func (b *smtpBackend) Deliver(ctx context.Context, env *smtpserver.Envelope, raw []byte) error {
	rcpt, _ := mail.Normalize(env.To[0])
	res, err := b.a.Pipeline.ProcessResult(ctx, pipeline.Message{Ref: env.ID, EnvelopeFrom: env.From, Rcpt: rcpt, Raw: raw})
	if res.Held {
		// The reply is 250 as for a distributed post (the message is
		// taken); the log says what `sealpost process` prints.
		b.a.Logger.Info("smtp: message held for the moderator", "msgid", env.ID, "rcpt", rcpt)
	}
	return b.a.smtpReply(err)
}

// smtpReply turns the pipeline's answer into the SMTP one: nil, or a
// rejection's 5xx, wakes the queue (for what was queued, or an owner's
// notice) and the start-up maintenance still to do (the store took a
// write, so there is space again); anything else stays transient: 451
// 4.3.0 with a reference (DESIGN §5), a full disk too.
func (a *App) smtpReply(err error) error {
	var rej *pipeline.Rejection
	switch {
	case err == nil:
		a.Queue.Notify()
		a.retries.poke()
		return nil
	case errors.As(err, &rej):
		a.Queue.Notify()
		a.retries.poke()
		return &smtpserver.Error{Code: rej.Code, Enhanced: rej.Enhanced, Message: rej.Text, Err: err}
	}
	return err
}

// Process handles one message to list synchronously, as an MTA pipe
// does, and then delivers what it queued. It returns the message's
// reference, and a *pipeline.Rejection for a policy refusal.
func (a *App) Process(ctx context.Context, list, sender string, raw []byte) (string, error) {
	ref := NewRef()
	_, err := a.ProcessRef(ctx, ref, list, sender, raw)
	return ref, err
}

// largeMessage is the size from which ProcessRef collects the garbage
// of a message before delivering its copies.
const largeMessage = 4 << 20

// ProcessRef is Process with the message's reference ID given; it tells
// what became of a message it took (held, or not).
func (a *App) ProcessRef(ctx context.Context, ref, list, sender string, raw []byte) (pipeline.Result, error) {
	rcpt, err := mail.Normalize(list)
	if err != nil {
		return pipeline.Result{}, err
	}
	res, err := a.Pipeline.ProcessResult(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: sender, Rcpt: rcpt, Raw: raw})
	var rej *pipeline.Rejection
	if err != nil && !errors.As(err, &rej) {
		return res, err
	}
	// DESIGN §5: what the pipeline committed (the spooled message, its
	// outcome, the replay digest) is durable before the first copy
	// leaves and before the MTA is answered. Opened with
	// Options.OneMessage, this is the one fsync of the database's log
	// (see cli/process.go for the count); otherwise each commit was
	// synced already.
	if serr := a.Store.Sync(); serr != nil {
		return res, serr
	}
	if len(raw) >= largeMessage {
		// The message's buffers (decrypted, signed, sealed: several
		// times its size) are garbage once it is
		// committed. Collected before its copies are made, they do not
		// add to the memory the copies take: the peak is that of the
		// larger step, not of both.
		runtime.GC()
	}
	if _, ferr := a.Queue.FlushRef(ctx, ref); ferr != nil {
		a.Logger.Warn("delivery after process failed; the queue will retry", "msgid", ref, "err", ferr)
	}
	return res, err
}
