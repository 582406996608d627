// Package queue delivers the durable outbound queue: each pending delivery
// is handed to a Transport (the Maildir outbox or a smarthost), its result
// recorded, and temporary failures retried with backoff — 5 minutes,
// doubling to about an hour — until five days have passed (DESIGN §5).
//
// Delivery is at-least-once: a delivery is marked sent only after the
// transport accepted it, so a crash in between sends it again.
//
// Not done here yet: the RFC 3464 DSN on giving up (the give-up is
// recorded and logged; bounce handling is a later piece of work).
package queue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Store is what the queue needs from the repository.
type Store interface {
	// ClaimDue claims due deliveries (of one inbound message when ref is
	// not empty) so that no other process attempts them before lease ends.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, ref string, limit int) ([]store.Delivery, error)
	// RecordAttempts records results and ends their claims, atomically.
	RecordAttempts(ctx context.Context, attempts []store.Attempt) error
	NextDue(ctx context.Context) (time.Time, error)
}

// Transport hands one message to its next hop. It returns nil once the
// message is durably accepted. A *Permanent error (or one wrapping it) is
// not retried; every other error is.
type Transport interface {
	Deliver(ctx context.Context, from, to string, data []byte) error
}

// BatchTransport is a Transport that stores many messages more cheaply at
// once, each written as it is stored (the Maildir outbox: its files made
// durable together, a copy encrypted straight into its file; the relay:
// one connection for the batch). write(i, w) writes the message of ds[i];
// it is safe to call for several i at once, each once at most (a
// transport may send a stored message, see Opened, without it). errs[i]
// is the outcome of ds[i], with the same meaning as Deliver's error.
type BatchTransport interface {
	Transport
	DeliverBatch(ctx context.Context, ds []store.Delivery, write func(i int, w io.Writer) error) (errs []error)
}

// Options configure a Queue. The zero value is usable.
type Options struct {
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
	Workers int              // concurrent deliveries; default 4
	// Backoff is the delay after the nth failed attempt; the last entry
	// repeats. Default 5m, 10m, 20m, 40m, 1h.
	Backoff []time.Duration
	GiveUp  time.Duration // default 5 days after the delivery was queued
	// Poll is the longest the queue sleeps without being notified; default 1 minute.
	Poll time.Duration
	// Failed, when set, is told of each delivery that failed for good,
	// after that is recorded (a list counts it as a bounce).
	Failed func(ctx context.Context, d store.Delivery, reason string)
	// Route returns the transport of a delivery with a Route (a
	// gateway's helpdesk); an error is a temporary failure of it.
	Route func(route string) (Transport, error)
	// Render writes the message of a delivery that is not stored as it is
	// sent: a Sealed one, or one rendered from its post body (BodyID).
	// It is called as the delivery is attempted: a BatchTransport has it
	// written straight into where the message is stored; for another
	// Transport it is written into memory, one message per worker at a
	// time. An error is a temporary failure (the master key may come
	// back) unless it is a *Permanent.
	Render func(ctx context.Context, d *store.Delivery, w io.Writer) error
	// Recorded, when set, is told of each attempt's result once it is
	// recorded (for metrics).
	Recorded func(d *store.Delivery, a store.Attempt)
}

// Queue runs deliveries.
type Queue struct {
	st   Store
	tr   Transport
	opt  Options
	wake chan struct{}
}

// New returns a Queue over st that delivers through tr.
func New(st Store, tr Transport, opt Options) *Queue {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	if len(opt.Backoff) == 0 {
		opt.Backoff = []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour}
	}
	if opt.GiveUp <= 0 {
		opt.GiveUp = 5 * 24 * time.Hour
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Minute
	}
	return &Queue{st: st, tr: tr, opt: opt, wake: make(chan struct{}, 1)}
}

// Notify wakes the queue: new deliveries were committed.
func (q *Queue) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is cancelled. Deliveries in flight when ctx ends
// are finished or left pending for the next start.
func (q *Queue) Run(ctx context.Context) error {
	for {
		if _, err := q.Flush(ctx); err != nil && ctx.Err() == nil {
			q.opt.Logger.Error("queue: delivery round failed", "err", err)
		}
		wait := q.opt.Poll
		if next, err := q.st.NextDue(ctx); err == nil && !next.IsZero() {
			if d := next.Sub(q.opt.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// lease is how long a claimed delivery is left to the process that
// claimed it; past it, another process may attempt it again.
const lease = 10 * time.Minute

// claimSize is how many deliveries one round claims: a batch transport
// writes them together and makes them durable together, so a large
// list's copies take a few rounds, not one per hundred; a transport
// that hands over one copy at a time records its results every hundred,
// so that a crash sends again at most that many.
func (q *Queue) claimSize() int {
	if _, ok := q.tr.(BatchTransport); ok {
		return 1000
	}
	return 100
}

// Flush attempts every delivery that is due now and returns how many were
// attempted.
func (q *Queue) Flush(ctx context.Context) (int, error) { return q.flush(ctx, "") }

// FlushRef attempts the due deliveries of one inbound message.
func (q *Queue) FlushRef(ctx context.Context, ref string) (int, error) { return q.flush(ctx, ref) }

func (q *Queue) flush(ctx context.Context, ref string) (int, error) {
	total := 0
	for ctx.Err() == nil {
		due, err := q.st.ClaimDue(ctx, q.opt.Now(), lease, ref, q.claimSize())
		if err != nil {
			return total, err
		}
		if len(due) == 0 {
			return total, nil
		}
		if err := q.attemptAll(ctx, due); err != nil {
			return total, err
		}
		total += len(due)
	}
	return total, ctx.Err()
}

// attemptAll runs one batch and records the results in one transaction:
// the deliveries through the default transport together when it is a
// BatchTransport, the others (routed to a gateway's helpdesk, or all of
// them for a transport that takes one message at a time) on the workers.
// A crash before the record records nothing: the claims lapse and the
// batch is delivered again (at-least-once).
func (q *Queue) attemptAll(ctx context.Context, due []store.Delivery) error {
	results := make([]store.Attempt, len(due))
	var batch, single []int // indices into due
	bt, batching := q.tr.(BatchTransport)
	for i := range due {
		if batching && due[i].Route == "" {
			batch = append(batch, i)
		} else {
			single = append(single, i)
		}
	}
	if len(batch) > 0 {
		ds := make([]store.Delivery, len(batch))
		for j, i := range batch {
			ds[j] = due[i]
		}
		errs := bt.DeliverBatch(ctx, ds, func(j int, w io.Writer) error { return q.write(ctx, &ds[j], w) })
		for j, err := range errs {
			results[batch[j]] = q.result(ctx, &due[batch[j]], err)
		}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(q.opt.Workers, len(single)) {
		wg.Go(func() {
			for i := range jobs {
				results[i] = q.result(ctx, &due[i], q.deliver(ctx, &due[i]))
			}
		})
	}
	for _, i := range single {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return q.record(ctx, due, results)
}

// Opened reports whether a delivery's message must be written by
// Options.Render (it is sealed, or rendered from its post body); if not,
// its message is d.Data as stored, and a BatchTransport may compare it.
func Opened(d *store.Delivery) bool { return d.Sealed || d.BodyID != 0 }

// write writes d's message to w: rendered, or as stored.
func (q *Queue) write(ctx context.Context, d *store.Delivery, w io.Writer) error {
	if !Opened(d) {
		_, err := w.Write(d.Data)
		return err
	}
	if q.opt.Render == nil {
		return errors.New("queue: cannot open sealed deliveries")
	}
	return q.opt.Render(ctx, d, w)
}

// deliver hands one delivery to its transport, opening it first when it
// is sealed or rendered from its post body.
func (q *Queue) deliver(ctx context.Context, d *store.Delivery) error {
	tr, data := q.tr, d.Data
	if d.Route != "" {
		if q.opt.Route == nil {
			return &Permanent{Err: errors.New("queue: no transport for routed deliveries")}
		}
		var err error
		if tr, err = q.opt.Route(d.Route); err != nil {
			return err
		}
	}
	if Opened(d) {
		var b bytes.Buffer
		if err := q.write(ctx, d, &b); err != nil {
			return err
		}
		data = b.Bytes()
	}
	return tr.Deliver(ctx, d.From, d.To, data)
}

// record stores the results that have something to record, then tells
// Options.Failed of the deliveries that failed for good.
func (q *Queue) record(ctx context.Context, due []store.Delivery, results []store.Attempt) error {
	var done []store.Attempt
	for _, r := range results {
		if r.ID != 0 {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return nil
	}
	// Record even when ctx ended: what was delivered must not be sent twice.
	ctx = context.WithoutCancel(ctx)
	if err := q.st.RecordAttempts(ctx, done); err != nil {
		return err
	}
	for i, r := range results {
		if r.ID != 0 && q.opt.Recorded != nil {
			q.opt.Recorded(&due[i], r)
		}
		if r.State == store.Failed && q.opt.Failed != nil {
			q.opt.Failed(ctx, due[i], r.Error)
		}
	}
	return nil
}

// result turns the outcome of one delivery attempt into what to record;
// an attempt cut short by shutdown gives a zero Attempt (nothing to record).
func (q *Queue) result(ctx context.Context, d *store.Delivery, err error) store.Attempt {
	log := q.opt.Logger.With("msgid", d.Ref, "delivery", d.ID, "rcpt", d.To)
	now := q.opt.Now()
	a := store.Attempt{ID: d.ID, At: now}
	switch {
	case err == nil:
		log.Info("delivered", "kind", d.Kind, "attempts", d.Attempts+1)
		a.State = store.Sent
	case ctx.Err() != nil:
		// Shutting down: leave it pending; its claim lapses.
		return store.Attempt{}
	case !Temporary(err):
		log.Warn("delivery failed permanently", "err", err)
		a.State, a.Error = store.Failed, err.Error()
	case now.Sub(d.CreatedAt) >= q.opt.GiveUp:
		log.Warn("delivery given up after retrying", "err", err, "attempts", d.Attempts+1)
		a.State, a.Error = store.Failed, "gave up: "+err.Error()
	default:
		a.State, a.Next, a.Error = store.Pending, now.Add(q.backoff(d.Attempts)), err.Error()
		log.Info("delivery deferred", "err", err, "next", a.Next)
	}
	return a
}

// backoff returns the delay after a delivery's (attempts+1)th failure.
func (q *Queue) backoff(attempts int) time.Duration {
	return q.opt.Backoff[min(attempts, len(q.opt.Backoff)-1)]
}

// Permanent marks a transport error that retrying cannot fix, such as a
// 5xx reply from the relay.
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// Temporary reports whether a transport error should be retried.
func Temporary(err error) bool {
	var p *Permanent
	return !errors.As(err, &p)
}
