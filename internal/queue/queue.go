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
	"context"
	"errors"
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
	RecordAttempt(ctx context.Context, id int64, state store.DeliveryState, next time.Time, lastErr string, now time.Time) error
	NextDue(ctx context.Context) (time.Time, error)
}

// Transport hands one message to its next hop. It returns nil once the
// message is durably accepted. A *Permanent error (or one wrapping it) is
// not retried; every other error is.
type Transport interface {
	Deliver(ctx context.Context, from, to string, data []byte) error
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

// Flush attempts every delivery that is due now and returns how many were
// attempted.
func (q *Queue) Flush(ctx context.Context) (int, error) { return q.flush(ctx, "") }

// FlushRef attempts the due deliveries of one inbound message.
func (q *Queue) FlushRef(ctx context.Context, ref string) (int, error) { return q.flush(ctx, ref) }

func (q *Queue) flush(ctx context.Context, ref string) (int, error) {
	total := 0
	for ctx.Err() == nil {
		due, err := q.st.ClaimDue(ctx, q.opt.Now(), lease, ref, 100)
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

// attemptAll runs one batch through the workers.
func (q *Queue) attemptAll(ctx context.Context, due []store.Delivery) error {
	jobs := make(chan *store.Delivery)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range min(q.opt.Workers, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range jobs {
				if err := q.attempt(ctx, d); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range due {
		jobs <- &due[i]
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// attempt delivers one message and records the result. The returned error
// is a failure to record, not a failure to deliver.
func (q *Queue) attempt(ctx context.Context, d *store.Delivery) error {
	log := q.opt.Logger.With("msgid", d.Ref, "delivery", d.ID, "rcpt", d.To)
	err := q.tr.Deliver(ctx, d.From, d.To, d.Data)
	now := q.opt.Now()
	if err == nil {
		log.Info("delivered", "kind", d.Kind, "attempts", d.Attempts+1)
		return q.st.RecordAttempt(ctx, d.ID, store.Sent, time.Time{}, "", now)
	}
	if ctx.Err() != nil {
		// Shutting down: leave it pending, untouched.
		return nil
	}
	if !Temporary(err) {
		log.Warn("delivery failed permanently", "err", err)
		return q.st.RecordAttempt(ctx, d.ID, store.Failed, time.Time{}, err.Error(), now)
	}
	if now.Sub(d.CreatedAt) >= q.opt.GiveUp {
		log.Warn("delivery given up after retrying", "err", err, "attempts", d.Attempts+1)
		return q.st.RecordAttempt(ctx, d.ID, store.Failed, time.Time{}, "gave up: "+err.Error(), now)
	}
	next := now.Add(q.backoff(d.Attempts))
	log.Info("delivery deferred", "err", err, "next", next)
	return q.st.RecordAttempt(ctx, d.ID, store.Pending, next, err.Error(), now)
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
