package sqlstore

import (
	"context"
	"testing"
	"time"
)

func TestAttempts(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t0 := time.UnixMilli(1_800_000_000_000)
	add := func(scope, key string, at time.Time) {
		t.Helper()
		if err := db.AddAttempt(ctx, scope, key, at, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	recent := func(scope, key string, since time.Time, limit int) []time.Time {
		t.Helper()
		at, err := db.RecentAttempts(ctx, scope, key, since, limit)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for i := range 4 {
		add("s", "k", t0.Add(time.Duration(i)*time.Minute))
	}
	add("s", "other", t0)
	add("t", "k", t0)
	// Newest first, at most limit, only after since.
	got := recent("s", "k", t0, 10)
	if len(got) != 3 || !got[0].Equal(t0.Add(3*time.Minute)) || !got[2].Equal(t0.Add(time.Minute)) {
		t.Errorf("attempts since t0: %v", got)
	}
	if got := recent("s", "k", time.Time{}, 2); len(got) != 2 || !got[1].Equal(t0.Add(2*time.Minute)) {
		t.Errorf("the newest two: %v", got)
	}
	// Clearing one key leaves the others and the other scopes.
	if err := db.ClearAttempts(ctx, "s", "k"); err != nil {
		t.Fatal(err)
	}
	if n := len(recent("s", "k", time.Time{}, 10)); n != 0 {
		t.Errorf("%d attempts of a cleared key", n)
	}
	if len(recent("s", "other", time.Time{}, 10)) != 1 || len(recent("t", "k", time.Time{}, 10)) != 1 {
		t.Error("clearing a key removed another key's attempts")
	}
	// A new attempt forgets the scope's attempts before its window, not
	// another scope's.
	add("s", "new", t0.Add(2*time.Hour))
	if len(recent("s", "other", time.Time{}, 10)) != 0 {
		t.Error("an attempt older than the window was kept")
	}
	if len(recent("t", "k", time.Time{}, 10)) != 1 {
		t.Error("an attempt of another scope was forgotten")
	}
}
