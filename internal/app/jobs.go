package app

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/wkd"
)

// Daily jobs run inside serve, once a day across all the nodes that share
// the database: each node checks shortly after start and then every
// dailyCheck, and runs them when no node did within dailyInterval
// (claim, cluster.go).
const (
	firstDailyRun = 10 * time.Second
	dailyCheck    = time.Hour
	dailyInterval = 24 * time.Hour
)

// runDaily runs the daily jobs until ctx ends.
func (a *App) runDaily(ctx context.Context) {
	t := time.NewTimer(firstDailyRun)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.claim(ctx, "daily", dailyInterval) {
			a.dailyJobs(ctx, time.Now())
			a.Logger.Info("daily jobs ran on this node")
		}
		t.Reset(dailyCheck)
	}
}

// dailyJobs runs each daily job once, at now.
func (a *App) dailyJobs(ctx context.Context, now time.Time) {
	a.warnExpiring(ctx)
	a.expireHolds(ctx)
	a.purgeSessions(ctx, now)
	if err := a.purgeSpool(ctx); err != nil {
		a.Logger.Error("purging stale spooled messages failed", "err", err)
	}
	a.purgeOld(ctx, now)
}

// warnExpiring sends the expiry reminders (keys.warn_days).
func (a *App) warnExpiring(ctx context.Context) {
	if a.Config.Keys.WarnDays == 0 {
		return
	}
	run, err := a.Admin.WarnExpiring(ctx, a.Config.Keys.WarnDays)
	if err != nil {
		a.Logger.Error("key expiry reminders failed", "err", err)
		return
	}
	if len(run.Members) > 0 || run.Owners > 0 {
		a.Logger.Info("key expiry reminders queued", "members", len(run.Members), "owners", run.Owners)
		a.Queue.Notify()
	}
}

// purgeSessions forgets the admin UI's sessions expired at now.
func (a *App) purgeSessions(ctx context.Context, now time.Time) {
	if n, err := a.Store.PurgeSessions(ctx, now); err != nil {
		a.Logger.Error("purging expired sessions failed", "err", err)
	} else if n > 0 {
		a.Logger.Info("expired sessions purged", "count", n)
	}
}

// expireHolds drops held messages past their list's hold_days.
func (a *App) expireHolds(ctx context.Context) {
	n, err := a.Admin.ExpireHolds(ctx)
	if err != nil {
		a.Logger.Error("expiring held messages failed", "err", err)
		return
	}
	if n > 0 {
		a.Logger.Info("held messages expired", "count", n)
		a.Queue.Notify()
	}
}

// runWKDRefresh refreshes the members' keys from their Web Key
// Directories ([keys] wkd_refresh_days) until ctx ends: one pass per
// period, the fetches in random order with random pauses that spread
// them over the period.
func (a *App) runWKDRefresh(ctx context.Context) {
	period := time.Duration(a.Config.Keys.WKDRefreshDays) * 24 * time.Hour
	if period == 0 {
		return
	}
	client := &wkd.Client{}
	fetch := func(ctx context.Context, addr string) ([]byte, error) {
		key, err := client.Fetch(ctx, addr)
		if errors.Is(err, wkd.ErrNotFound) {
			return nil, admin.ErrNoKeyPublished
		}
		return key, err
	}
	pause := func(ctx context.Context, n int) error {
		return sleep(ctx, rand.N(2*period/time.Duration(n)))
	}
	for {
		// One node refreshes per period; the others look again later.
		if !a.claim(ctx, "wkd-refresh", period) {
			if err := sleep(ctx, dailyCheck); err != nil {
				return
			}
			continue
		}
		start := time.Now()
		r, err := a.Admin.RefreshMemberKeys(ctx, fetch, pause)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.Logger.Error("key refresh from WKD failed", "err", err)
		} else {
			a.Logger.Info("keys refreshed from WKD", "checked", r.Checked, "updated", len(r.Updated),
				"failed", r.Failed, "publishing another key", len(r.Different))
		}
		if err := sleep(ctx, period-time.Since(start)); err != nil {
			return
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
