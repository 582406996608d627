package app

import (
	"context"
	"time"
)

// Daily jobs run inside serve: the first shortly after start, then once
// a day.
const (
	firstDailyRun = time.Minute
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
		a.warnExpiring(ctx)
		t.Reset(dailyInterval)
	}
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
