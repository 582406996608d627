// Package auth authenticates people and programs at Sealpost's HTTP
// interface: sessions, API tokens, CSRF protection and login rate
// limiting.
package auth

import (
	"context"
	"fmt"
	"time"
)

// AttemptStore keeps what the limiters count, in the database: every node
// sharing it, and a node after a restart, see the same counts
// (store/sqlstore).
type AttemptStore interface {
	// RecentAttempts returns the times of key's attempts in scope since
	// since, newest first, at most limit of them.
	RecentAttempts(ctx context.Context, scope, key string, since time.Time, limit int) ([]time.Time, error)
	// AddAttempt records an attempt at at, and forgets the attempts in
	// scope from before forget.
	AddAttempt(ctx context.Context, scope, key string, at, forget time.Time) error
	// ClearAttempts forgets key's attempts in scope.
	ClearAttempts(ctx context.Context, scope, key string) error
}

// Limiter counts attempts per key (a client address, an account) in a
// sliding window and refuses a key that reached its limit until the
// oldest counted attempt leaves the window. The counts are in the store,
// so they hold across nodes and restarts; keys are stored as SHA-256
// hashes, never as the address or account name (or the password someone
// typed into the wrong field).
//
// A caller asks Allow before an attempt, counts a failed one (or, for a
// limit on requests, every one) with Fail, and forgets a key with Reset
// after a successful sign-in.
type Limiter struct {
	st     AttemptStore
	scope  string
	max    int
	window time.Duration
	now    func() time.Time
}

// NewLimiter returns a Limiter that counts in st, under scope (one name
// per limit), and refuses a key after max attempts within window. now is
// the clock; nil means time.Now. It panics if max or window is not
// positive.
func NewLimiter(st AttemptStore, scope string, max int, window time.Duration, now func() time.Time) *Limiter {
	if max < 1 || window <= 0 {
		panic("auth: NewLimiter: max and window must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{st: st, scope: scope, max: max, window: window, now: now}
}

// Allow reports whether key may make an attempt now: ok is false when key
// has max attempts within the window, and retryAfter is then how long
// until the oldest of them leaves it and the next attempt is allowed
// (always > 0).
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	now := l.now()
	recent, err := l.st.RecentAttempts(ctx, l.scope, hashSecret(key), now.Add(-l.window), l.max)
	if err != nil {
		return false, 0, fmt.Errorf("auth: reading the %s limit: %w", l.scope, err)
	}
	if len(recent) < l.max {
		return true, 0, nil
	}
	return false, max(recent[len(recent)-1].Add(l.window).Sub(now), time.Millisecond), nil
}

// Fail counts one attempt of key now.
func (l *Limiter) Fail(ctx context.Context, key string) error {
	now := l.now()
	if err := l.st.AddAttempt(ctx, l.scope, hashSecret(key), now, now.Add(-l.window)); err != nil {
		return fmt.Errorf("auth: counting for the %s limit: %w", l.scope, err)
	}
	return nil
}

// Reset forgets key, as after a successful sign-in.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.st.ClearAttempts(ctx, l.scope, hashSecret(key)); err != nil {
		return fmt.Errorf("auth: resetting the %s limit: %w", l.scope, err)
	}
	return nil
}
