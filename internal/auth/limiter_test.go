package auth

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store/sqlstore"
	"github.com/sealpost/sealpost/internal/testclock"
)

// newClock is the limiters' clock in these tests.
func newClock() *testclock.Clock { return testclock.New(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)) }

// openStore opens a fresh SQLite store for the limiters' counts.
func openStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestLimiter is a Limiter on a fresh store with c's clock.
func newTestLimiter(t *testing.T, max int, c *testclock.Clock) *Limiter {
	return NewLimiter(openStore(t), "test", max, time.Minute, c.Now)
}

// wantAllow fails t unless l.Allow(key) is ok and retryAfter.
func wantAllow(t *testing.T, l *Limiter, key string, ok bool, retryAfter time.Duration) {
	t.Helper()
	gotOK, gotRetry, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if gotOK != ok || gotRetry != retryAfter {
		t.Errorf("Allow(%q) = %v, %v; want %v, %v", key, gotOK, gotRetry, ok, retryAfter)
	}
}

func fail(t *testing.T, l *Limiter, key string) {
	t.Helper()
	if err := l.Fail(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func reset(t *testing.T, l *Limiter, key string) {
	t.Helper()
	if err := l.Reset(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// stored returns the times the store holds of key's attempts in scope
// "test", whether in the window or not.
func stored(t *testing.T, db *sqlstore.DB, key string) []time.Time {
	t.Helper()
	at, err := db.RecentAttempts(context.Background(), "test", key, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestLimiterRefusesAtMax(t *testing.T) {
	c := newClock()
	l := newTestLimiter(t, 3, c)
	for range 3 {
		wantAllow(t, l, "a", true, 0)
		fail(t, l, "a")
		c.Advance(10 * time.Second)
	}
	// Failures at 0s, 10s, 20s; now 30s: the first leaves at 60s.
	wantAllow(t, l, "a", false, 30*time.Second)
	c.Advance(29 * time.Second)
	wantAllow(t, l, "a", false, time.Second)
}

func TestLimiterWindowSlides(t *testing.T) {
	c := newClock()
	db := openStore(t)
	l := NewLimiter(db, "test", 2, time.Minute, c.Now)
	fail(t, l, "a")
	c.Advance(20 * time.Second)
	fail(t, l, "a")
	c.Advance(40 * time.Second)
	// The first failure has just left the window: one more attempt.
	wantAllow(t, l, "a", true, 0)
	fail(t, l, "a")
	wantAllow(t, l, "a", false, 20*time.Second)
	c.Advance(20 * time.Second)
	wantAllow(t, l, "a", true, 0)
	c.Advance(time.Minute)
	wantAllow(t, l, "a", true, 0)
	// The next attempt of any key forgets what left the window.
	fail(t, l, "b")
	if at := stored(t, db, hashSecret("a")); len(at) != 0 {
		t.Errorf("attempts of a that left the window still stored: %v", at)
	}
}

func TestLimiterFailWhileRefused(t *testing.T) {
	c := newClock()
	l := newTestLimiter(t, 2, c)
	fail(t, l, "a")
	c.Advance(10 * time.Second)
	fail(t, l, "a")
	c.Advance(10 * time.Second)
	fail(t, l, "a") // counted although refused: the newest max count
	wantAllow(t, l, "a", false, 50*time.Second)
}

func TestLimiterReset(t *testing.T) {
	l := newTestLimiter(t, 1, newClock())
	fail(t, l, "a")
	wantAllow(t, l, "a", false, time.Minute)
	reset(t, l, "a")
	wantAllow(t, l, "a", true, 0)
	reset(t, l, "never seen")
}

func TestLimiterKeysIndependent(t *testing.T) {
	l := newTestLimiter(t, 2, newClock())
	fail(t, l, "a")
	fail(t, l, "a")
	fail(t, l, "b")
	wantAllow(t, l, "a", false, time.Minute)
	wantAllow(t, l, "b", true, 0)
	wantAllow(t, l, "c", true, 0)
	reset(t, l, "b")
	wantAllow(t, l, "a", false, time.Minute)
}

func TestLimiterScopesIndependent(t *testing.T) {
	c := newClock()
	db := openStore(t)
	a := NewLimiter(db, "one", 1, time.Minute, c.Now)
	b := NewLimiter(db, "two", 1, time.Minute, c.Now)
	fail(t, a, "k")
	wantAllow(t, a, "k", false, time.Minute)
	wantAllow(t, b, "k", true, 0)
	reset(t, b, "k")
	wantAllow(t, a, "k", false, time.Minute)
}

// The counts are the store's: a limiter made after a restart, or by
// another node sharing the database, sees the attempts counted before.
func TestLimiterSurvivesRestart(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(db, "test", 2, time.Minute, c.Now)
	fail(t, l, "a")
	fail(t, l, "a")
	db.Close()
	db, err = sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantAllow(t, NewLimiter(db, "test", 2, time.Minute, c.Now), "a", false, time.Minute)
}

// Keys are stored hashed: an address, an account name or a password typed
// into the account field is not in the database.
func TestLimiterStoresNoKeyText(t *testing.T) {
	db := openStore(t)
	l := NewLimiter(db, "test", 5, time.Minute, nil)
	secret := "correct horse battery staple"
	fail(t, l, secret)
	if len(stored(t, db, secret)) != 0 || len(stored(t, db, hashSecret(secret))) != 1 {
		t.Errorf("the attempt is not stored under the SHA-256 of its key alone")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	c := newClock()
	l := newTestLimiter(t, 5, c)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				key := fmt.Sprint("k", (g+i)%10)
				if ok, retry, err := l.Allow(ctx, key); err != nil {
					t.Error(err)
				} else if !ok && retry <= 0 {
					t.Errorf("Allow(%q) refused with retryAfter %v", key, retry)
				}
				if err := l.Fail(ctx, key); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if err := l.Reset(ctx, key); err != nil {
						t.Error(err)
					}
					c.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
}

func TestNewLimiterDefaults(t *testing.T) {
	l := NewLimiter(openStore(t), "test", 1, time.Minute, nil)
	fail(t, l, "a")
	if ok, retry, err := l.Allow(context.Background(), "a"); err != nil || ok || retry <= 0 || retry > time.Minute {
		t.Errorf("Allow with time.Now = %v, %v, %v; want false, (0, 1m]", ok, retry, err)
	}
}
