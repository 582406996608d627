// Package auth authenticates people and programs at Sealpost's HTTP
// interface: sessions, API tokens, CSRF protection and login rate
// limiting.
package auth

import (
	"container/list"
	"sync"
	"time"
)

// maxLimiterKeys bounds the keys a Limiter remembers, so that an attacker
// spraying keys (addresses, account names) cannot grow its memory without
// bound. At the bound a new key first evicts the keys whose failures have
// all left the window, then the key whose last failure is oldest.
const maxLimiterKeys = 100000

// Limiter counts failures per key (an IP address, an account) in a sliding
// window and refuses a key that reached its limit until its oldest counted
// failure leaves the window. It is safe for concurrent use.
//
// A caller asks Allow before an attempt, reports a failed attempt with
// Fail and a successful one with Reset.
type Limiter struct {
	max     int
	window  time.Duration
	now     func() time.Time
	maxKeys int // maxLimiterKeys; tests lower it

	mu   sync.Mutex
	keys map[string]*list.Element // of *limiterKey, in byLast
	// byLast orders the keys by last failure, oldest first: the keys whose
	// failures have all left the window are a prefix of it.
	byLast *list.List
}

// limiterKey is the failure record of one key.
type limiterKey struct {
	key      string
	failures []time.Time // oldest first; 1 to max of them, or 0 when expired
}

// NewLimiter returns a Limiter that refuses a key after max failures
// within window. now is the clock; nil means time.Now. It panics if max
// or window is not positive.
func NewLimiter(max int, window time.Duration, now func() time.Time) *Limiter {
	if max < 1 || window <= 0 {
		panic("auth: NewLimiter: max and window must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		max: max, window: window, now: now, maxKeys: maxLimiterKeys,
		keys: make(map[string]*list.Element), byLast: list.New(),
	}
}

// Allow reports whether key may make an attempt now: ok is false when key
// has max failures within the window, and retryAfter is then how long
// until the oldest of them leaves it and the next attempt is allowed
// (always > 0). Allow never adds a key.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.keys[key]
	if e == nil {
		return true, 0
	}
	k := e.Value.(*limiterKey)
	l.expire(k, now)
	if len(k.failures) == 0 {
		l.remove(e)
	}
	if len(k.failures) < l.max {
		return true, 0
	}
	return false, k.failures[0].Add(l.window).Sub(now)
}

// Fail counts one failure of key now.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.keys[key]
	if e == nil {
		l.makeRoom(now)
		e = l.byLast.PushBack(&limiterKey{key: key})
		l.keys[key] = e
	}
	k := e.Value.(*limiterKey)
	l.expire(k, now)
	if len(k.failures) == l.max {
		// The oldest failure would no longer decide anything.
		k.failures = append(k.failures[:0], k.failures[1:]...)
	}
	k.failures = append(k.failures, now)
	l.byLast.MoveToBack(e)
}

// Reset forgets key, as after a successful login.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[key]; e != nil {
		l.remove(e)
	}
}

// expire drops k's failures that have left the window at now.
func (l *Limiter) expire(k *limiterKey, now time.Time) {
	start := now.Add(-l.window)
	n := 0
	for n < len(k.failures) && !k.failures[n].After(start) {
		n++
	}
	if n > 0 {
		k.failures = append(k.failures[:0], k.failures[n:]...)
	}
}

// makeRoom makes room for one more key if the Limiter is at its bound:
// it drops every key whose failures have all left the window and, if
// that frees nothing, the key whose last failure is oldest.
func (l *Limiter) makeRoom(now time.Time) {
	if len(l.keys) < l.maxKeys {
		return
	}
	start := now.Add(-l.window)
	for e := l.byLast.Front(); e != nil; e = l.byLast.Front() {
		k := e.Value.(*limiterKey)
		if len(k.failures) > 0 && k.failures[len(k.failures)-1].After(start) {
			break
		}
		l.remove(e)
	}
	if len(l.keys) >= l.maxKeys {
		l.remove(l.byLast.Front())
	}
}

// remove forgets the key of e.
func (l *Limiter) remove(e *list.Element) {
	delete(l.keys, e.Value.(*limiterKey).key)
	l.byLast.Remove(e)
}
