package app

import (
	"context"
	"time"
)

// DailyJobs runs serve's daily jobs once, at now.
func (a *App) DailyJobs(ctx context.Context, now time.Time) { a.dailyJobs(ctx, now) }
