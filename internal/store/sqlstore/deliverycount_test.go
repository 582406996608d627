package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestCountDeliveries: the counts of one kind since a time, in all, per
// list and per recipient, agree with a count over every row, at every
// boundary, with other kinds and large messages in between.
func TestCountDeliveries(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if total, _, _, err := db.CountDeliveries(ctx, store.KindSendKey, 1, "a@example.org", time.Time{}); err != nil || total != 0 {
		t.Fatalf("empty table: %d, %v", total, err)
	}
	l1, l2 := newList(t, db, "one@lists.example.org"), newList(t, db, "two@lists.example.org")
	start := time.UnixMilli(1_800_000_000_000)
	var all []store.Delivery
	for i := range 40 {
		d := store.Delivery{Ref: fmt.Sprint("r", i), ListID: l1.ID, Kind: store.KindPost, To: "m@example.org",
			Data: make([]byte, 10000), CreatedAt: start.Add(time.Duration(i) * time.Minute)}
		if i%3 == 0 {
			d.Kind, d.Data = store.KindSendKey, []byte("key")
			d.To = []string{"a@example.org", "b@example.org"}[i%2]
		}
		if i%5 == 0 {
			d.ListID = l2.ID
		}
		if err := db.Commit(ctx, store.Outcome{ListID: d.ListID, Deliveries: []store.Delivery{d}}); err != nil {
			t.Fatal(err)
		}
		all = append(all, d)
	}
	for _, since := range []time.Time{start.Add(-time.Hour), start, start.Add(90 * time.Second), start.Add(21 * time.Minute), start.Add(39 * time.Minute), start.Add(time.Hour)} {
		var total, onList, toA int
		for _, d := range all {
			if d.Kind == store.KindSendKey && !d.CreatedAt.Before(since) {
				total++
				if d.ListID == l1.ID {
					onList++
				}
				if d.To == "a@example.org" {
					toA++
				}
			}
		}
		gt, gl, ga, err := db.CountDeliveries(ctx, store.KindSendKey, l1.ID, "a@example.org", since)
		if err != nil || gt != total || gl != onList || ga != toA {
			t.Errorf("since +%v: got %d, %d, %d (%v), want %d, %d, %d", since.Sub(start), gt, gl, ga, err, total, onList, toA)
		}
	}
}
