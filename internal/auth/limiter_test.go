package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for a Limiter.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// wantAllow fails t unless l.Allow(key) is ok and retryAfter.
func wantAllow(t *testing.T, l *Limiter, key string, ok bool, retryAfter time.Duration) {
	t.Helper()
	gotOK, gotRetry := l.Allow(key)
	if gotOK != ok || gotRetry != retryAfter {
		t.Errorf("Allow(%q) = %v, %v; want %v, %v", key, gotOK, gotRetry, ok, retryAfter)
	}
}

func TestLimiterRefusesAtMax(t *testing.T) {
	c := newClock()
	l := NewLimiter(3, time.Minute, c.Now)
	for range 3 {
		wantAllow(t, l, "a", true, 0)
		l.Fail("a")
		c.advance(10 * time.Second)
	}
	// Failures at 0s, 10s, 20s; now 30s: the first leaves at 60s.
	wantAllow(t, l, "a", false, 30*time.Second)
	c.advance(29 * time.Second)
	wantAllow(t, l, "a", false, time.Second)
}

func TestLimiterWindowSlides(t *testing.T) {
	c := newClock()
	l := NewLimiter(2, time.Minute, c.Now)
	l.Fail("a")
	c.advance(20 * time.Second)
	l.Fail("a")
	c.advance(40 * time.Second)
	// The first failure has just left the window: one more attempt.
	wantAllow(t, l, "a", true, 0)
	l.Fail("a")
	wantAllow(t, l, "a", false, 20*time.Second)
	c.advance(20 * time.Second)
	wantAllow(t, l, "a", true, 0)
	c.advance(time.Minute)
	wantAllow(t, l, "a", true, 0)
	if n := len(l.keys); n != 0 {
		t.Errorf("%d keys remembered after all failures expired, want 0", n)
	}
}

func TestLimiterFailWhileRefused(t *testing.T) {
	c := newClock()
	l := NewLimiter(2, time.Minute, c.Now)
	l.Fail("a")
	c.advance(10 * time.Second)
	l.Fail("a")
	c.advance(10 * time.Second)
	l.Fail("a") // counted although refused: the newest max count
	wantAllow(t, l, "a", false, 50*time.Second)
	if n := len(l.keys["a"].Value.(*limiterKey).failures); n != 2 {
		t.Errorf("%d failures kept, want at most max = 2", n)
	}
}

func TestLimiterReset(t *testing.T) {
	l := NewLimiter(1, time.Minute, newClock().Now)
	l.Fail("a")
	wantAllow(t, l, "a", false, time.Minute)
	l.Reset("a")
	wantAllow(t, l, "a", true, 0)
	l.Reset("never seen")
}

func TestLimiterKeysIndependent(t *testing.T) {
	l := NewLimiter(2, time.Minute, newClock().Now)
	l.Fail("a")
	l.Fail("a")
	l.Fail("b")
	wantAllow(t, l, "a", false, time.Minute)
	wantAllow(t, l, "b", true, 0)
	wantAllow(t, l, "c", true, 0)
	l.Reset("b")
	wantAllow(t, l, "a", false, time.Minute)
}

func TestLimiterKeyBound(t *testing.T) {
	c := newClock()
	l := NewLimiter(1, time.Minute, c.Now)
	l.maxKeys = 3
	l.Fail("old")
	c.advance(2 * time.Minute)
	for _, k := range []string{"a", "b"} {
		l.Fail(k)
		c.advance(time.Second)
	}
	// Full: "old" has expired and goes first.
	l.Fail("c")
	wantKeys(t, l, "a", "b", "c")
	// Full, nothing expired: "a", the oldest last failure, goes.
	l.Fail("a2")
	wantKeys(t, l, "b", "c", "a2")
	// A repeated failure of "b" makes "c" the oldest.
	c.advance(time.Second)
	l.Fail("b")
	l.Fail("d")
	wantKeys(t, l, "a2", "b", "d")
	// Spraying keys never exceeds the bound.
	for i := range 100 {
		l.Fail(fmt.Sprint("spray", i))
		if n := len(l.keys); n > l.maxKeys {
			t.Fatalf("%d keys after %d sprayed, bound %d", n, i+1, l.maxKeys)
		}
	}
	if l.byLast.Len() != len(l.keys) {
		t.Errorf("list holds %d keys, map %d", l.byLast.Len(), len(l.keys))
	}
}

// wantKeys fails t unless l remembers exactly keys, oldest last failure
// first.
func wantKeys(t *testing.T, l *Limiter, keys ...string) {
	t.Helper()
	var got []string
	for e := l.byLast.Front(); e != nil; e = e.Next() {
		got = append(got, e.Value.(*limiterKey).key)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) || len(l.keys) != len(keys) {
		t.Errorf("keys %v (map %d), want %v", got, len(l.keys), keys)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	c := newClock()
	l := NewLimiter(5, time.Minute, c.Now)
	l.maxKeys = 20
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprint("k", (g+i)%30)
				if ok, retry := l.Allow(key); !ok && retry <= 0 {
					t.Errorf("Allow(%q) refused with retryAfter %v", key, retry)
				}
				l.Fail(key)
				if i%50 == 0 {
					l.Reset(key)
					c.advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := len(l.keys); n > l.maxKeys || l.byLast.Len() != n {
		t.Errorf("%d keys in map, %d in list, bound %d", n, l.byLast.Len(), l.maxKeys)
	}
}

func TestNewLimiterDefaults(t *testing.T) {
	l := NewLimiter(1, time.Minute, nil)
	if l.maxKeys != maxLimiterKeys {
		t.Errorf("maxKeys %d, want %d", l.maxKeys, maxLimiterKeys)
	}
	l.Fail("a")
	if ok, retry := l.Allow("a"); ok || retry <= 0 || retry > time.Minute {
		t.Errorf("Allow with time.Now = %v, %v; want false, (0, 1m]", ok, retry)
	}
}
