package app

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Start-up maintenance writes to the database: the keyring index (Open),
// the claims of a crashed predecessor and the stale spool (Serve). On a
// full disk those writes fail, and serve must start all the same: a
// listener that answers every message 451 4.3.0 until space returns is a
// transient failure the senders retry (DESIGN §5), and mail flows again
// without a restart. So maintenance that fails at start is logged and
// done again later (retries), never a reason to exit.
//
// Writes that the store cannot work without stay fatal: pending schema
// migrations and, on the first start, the master key.

// retryInterval is how often start-up maintenance that failed is tried
// again while no message has been stored.
const retryInterval = 5 * time.Minute

// retries are start-up jobs that failed, to be tried again until each
// succeeds: after a message was stored (so there is space again) and
// every retryInterval.
type retries struct {
	mu   sync.Mutex
	jobs []retryJob
	wake chan struct{}
}

type retryJob struct {
	name string // for the log: "what failed"
	run  func(context.Context) error
}

func newRetries() *retries { return &retries{wake: make(chan struct{}, 1)} }

// add keeps a job that failed.
func (r *retries) add(name string, run func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, retryJob{name, run})
}

// poke asks for the jobs to be tried now: a write just succeeded.
func (r *retries) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// pending reports whether any job waits.
func (r *retries) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs) > 0
}

// runOnce tries every job and keeps those that fail again.
func (r *retries) runOnce(ctx context.Context, log *slog.Logger) {
	r.mu.Lock()
	jobs := r.jobs
	r.jobs = nil
	r.mu.Unlock()
	for _, j := range jobs {
		if err := j.run(ctx); err != nil {
			log.Warn(j.name+" failed again; retried later", "err", err)
			r.add(j.name, j.run)
			continue
		}
		log.Info(j.name + " done after all")
	}
}

// run retries the jobs until none is left or ctx ends.
func (r *retries) run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(retryInterval)
	defer t.Stop()
	for r.pending() {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
		r.runOnce(ctx, log)
	}
}

// startupMaintenance is serve's maintenance before it listens; what fails
// is logged, and retried when that is safe.
func (a *App) startupMaintenance(ctx context.Context) {
	// This process is now the one delivering: claims left by a crashed
	// predecessor become due again. Not retried: once the queue runs,
	// the claims are this process's own. Without the release the old
	// claims still end with their lease.
	if err := a.Store.ReleaseClaims(ctx); err != nil {
		a.Logger.Error("releasing the deliveries claimed by an earlier run failed; they are due again when their claims expire", "err", err)
	}
	if err := a.purgeSpool(ctx); err != nil {
		a.Logger.Error("purging stale spooled messages failed; retried later", "err", err)
		a.retries.add("purging stale spooled messages", a.purgeSpool)
	}
}

// purgeSpool drops spooled messages older than any MTA's retry period:
// they were never answered 250, and their senders retried or were told.
func (a *App) purgeSpool(ctx context.Context) error {
	n, err := a.Store.PurgeSpool(ctx, time.Now().Add(-SpoolRetention))
	if err == nil && n > 0 {
		a.Logger.Info("purged stale spooled messages", "count", n)
	}
	return err
}

// reindexKeys brings the keyring's index up to date: keys moved from an
// older schema, or indexed by an older version of Sealpost, are indexed
// now. Usually there is nothing to do.
func (a *App) reindexKeys(ctx context.Context) error {
	n, bad, err := a.Admin.ReindexKeys(ctx)
	for _, e := range bad {
		a.Logger.Warn("keyring: key cannot be indexed", "err", e)
	}
	if n > 0 {
		a.Logger.Info("keyring: indexed keys", "count", n)
	}
	return err
}
