package app

import (
	"cmp"
	"context"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Retention (DESIGN §5): what was delivered does not stay in the database
// forever. Once a day serve removes the copies of sent deliveries after
// [queue] keep_days and of failed ones after failed_keep_days, deletes
// their records after record_days, forgets gateway conversations after
// [gateway] conversation_days, audit entries after [audit] keep_days,
// bounces no list counts any more, and the decisions on received messages
// once no MTA retries them (SpoolRetention). Replay marks are never purged: they
// are the replay protection (DESIGN §4.4).

// purgeBatch is how many rows one purge step changes, in one short write
// transaction; mail waiting for the database goes between two steps.
// BenchmarkPurge (internal/store/sqlstore) measures a step: tens of
// milliseconds for 250 copies.
const purgeBatch = 250

// batchPause is the pause between two steps, which lets another process
// (a command run beside serve) take the write lock.
const batchPause = 10 * time.Millisecond

// reclaimStep is how much free space one incremental vacuum step gives
// back to the file system (each page moved costs about as much as a
// purged row: BenchmarkPurge).
const reclaimStep = 1 << 20

// purgeOld removes what the retention settings no longer keep at now.
func (a *App) purgeOld(ctx context.Context, now time.Time) {
	before := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }
	q := a.Config.Queue
	n := a.purge(ctx, "sent copies removed from the database", func(ctx context.Context) (int64, error) {
		return a.Store.PurgeDeliveryData(ctx, store.Sent, before(q.KeepDays), now, purgeBatch)
	})
	n += a.purge(ctx, "failed copies removed from the database", func(ctx context.Context) (int64, error) {
		return a.Store.PurgeDeliveryData(ctx, store.Failed, before(q.FailedKeepDays), now, purgeBatch)
	})
	n += a.purge(ctx, "post bodies no delivery needs deleted", func(ctx context.Context) (int64, error) {
		// Normally gone with their last delivery (RecordAttempts); this
		// catches those whose deliveries were removed with their list.
		return a.Store.PurgePostBodies(ctx, now, purgeBatch)
	})
	n += a.purge(ctx, "delivery records deleted", func(ctx context.Context) (int64, error) {
		return a.Store.DeleteDeliveryRecords(ctx, before(q.RecordDays), purgeBatch)
	})
	if days := a.Config.Gateway.ConversationDays; days > 0 {
		n += a.purge(ctx, "gateway conversations forgotten", func(ctx context.Context) (int64, error) {
			return a.Store.PurgeThreads(ctx, before(days), purgeBatch)
		})
	}
	if days := a.Config.Audit.KeepDays; days > 0 {
		n += a.purge(ctx, "audit entries deleted", func(ctx context.Context) (int64, error) {
			return a.Store.PurgeAudit(ctx, before(days), purgeBatch)
		})
	}
	n += a.purge(ctx, "decisions on received messages forgotten (past any retry)", func(ctx context.Context) (int64, error) {
		return a.Store.PurgeDecisions(ctx, now.Add(-SpoolRetention), purgeBatch)
	})
	n += a.purge(ctx, "expired subscription requests removed", func(ctx context.Context) (int64, error) {
		return a.Store.PurgeSubscriptions(ctx, now)
	})
	n += a.purgeBounces(ctx, now)
	if n > 0 {
		a.reclaimSpace(ctx)
	}
}

// purgeBounces forgets the bounces older than their list's bounce_days
// window, which no longer count; it keeps them at least [queue]
// record_days, as long as the records of the copies they answer.
func (a *App) purgeBounces(ctx context.Context, now time.Time) int64 {
	lists, err := a.Store.Lists(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.Logger.Error("purging old bounces failed", "err", err)
		}
		return 0
	}
	var total int64
	for _, l := range lists {
		// 0 means the default, as in the pipeline's bounce counting.
		days := max(cmp.Or(l.Settings.BounceDays, store.DefaultBounceDays), a.Config.Queue.RecordDays)
		cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
		n, _, err := drain(ctx, func(ctx context.Context) (int64, error) {
			return a.Store.PurgeBounces(ctx, l.ID, cutoff, purgeBatch)
		})
		total += n
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.Error("purging old bounces failed", "list", l.Address, "err", err)
			}
			break
		}
	}
	if total > 0 {
		a.Logger.Info("old bounces forgotten", "count", total)
	}
	return total
}

// purge runs step until nothing is left, logs what it did and returns
// how many rows it changed.
func (a *App) purge(ctx context.Context, what string, step func(context.Context) (int64, error)) int64 {
	start := time.Now()
	n, batches, err := drain(ctx, step)
	if err != nil && ctx.Err() == nil {
		a.Logger.Error("retention: "+what+": failed", "count", n, "err", err)
	} else if n > 0 {
		a.Logger.Info("retention: "+what, "count", n, "batches", batches, "took", time.Since(start).Round(time.Millisecond))
	}
	return n
}

// drain calls step, one batch of at most purgeBatch rows at a time, until
// a batch comes back short, pausing between batches.
func drain(ctx context.Context, step func(context.Context) (int64, error)) (total int64, batches int, err error) {
	for {
		n, err := step(ctx)
		total += n
		batches++
		if err != nil || n < purgeBatch {
			return total, batches, err
		}
		if err := sleep(ctx, batchPause); err != nil {
			return total, batches, err
		}
	}
}

// reclaimSpace gives the pages the purges freed back to the file system,
// a step at a time, then checkpoints the write-ahead log so that neither
// file holds what was removed.
func (a *App) reclaimSpace(ctx context.Context) {
	var freed, free int64
	for {
		n, left, err := a.Store.ReclaimSpace(ctx, reclaimStep)
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.Error("retention: giving free space back failed", "err", err)
			}
			return
		}
		freed, free = freed+n, left
		if n == 0 || left == 0 || sleep(ctx, batchPause) != nil {
			break
		}
	}
	if _, err := a.Store.Checkpoint(ctx); err != nil && ctx.Err() == nil {
		a.Logger.Error("retention: checkpoint failed", "err", err)
	}
	switch {
	case freed > 0:
		a.Logger.Info("retention: database file shrunk", "bytes", freed)
	case free > 0:
		// A database made before auto_vacuum was on: a full VACUUM
		// (offline) would switch it on; until then new rows reuse the
		// space.
		a.Logger.Info("retention: freed space in the database is reused by new mail; the file does not shrink", "bytes", free)
	}
}
