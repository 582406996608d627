package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestClaimDueNeverTwice: nodes that claim, deliver and record over and
// over, side by side, while new copies keep being committed, never hold
// one copy at the same time (each copy is attempted exactly once).
func TestClaimDueNeverTwice(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	const batches, perBatch = 40, 25
	var mu sync.Mutex
	attempted := map[int64]int{}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() { // the posts keep coming
		defer wg.Done()
		defer close(done)
		for b := range batches {
			var ds []store.Delivery
			for i := range perBatch {
				ds = append(ds, store.Delivery{Ref: fmt.Sprint("r", b), ListID: l.ID, Kind: store.KindPost,
					From: "team-bounce@lists.example.org", To: fmt.Sprintf("m%d@example.org", i), Data: []byte("x")})
			}
			if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 20; {
				got, err := db.ClaimDue(ctx, time.Now(), time.Minute, "", 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					select {
					case <-done:
						idle++
					default:
					}
					time.Sleep(time.Millisecond)
					continue
				}
				var as []store.Attempt
				mu.Lock()
				for _, d := range got {
					attempted[d.ID]++
					as = append(as, store.Attempt{ID: d.ID, State: store.Sent, At: time.Now()})
				}
				mu.Unlock()
				if err := db.RecordAttempts(ctx, as); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	twice := 0
	for _, n := range attempted {
		if n > 1 {
			twice++
		}
	}
	if len(attempted) != batches*perBatch || twice > 0 {
		t.Errorf("%d copies attempted of %d, %d of them more than once", len(attempted), batches*perBatch, twice)
	}
}
