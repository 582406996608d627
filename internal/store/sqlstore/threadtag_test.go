package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestThreadTag: a conversation keeps the ticket tag it was last given;
// a message without one leaves it; FindThread and Threads return it.
func TestThreadTag(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "help@example.org")
	at := time.Now()
	for i, step := range []struct {
		mark store.ThreadMark
		want string
	}{
		{store.ThreadMark{Thread: "<q@x>", MessageIDs: []string{"<q@x>"}, Encrypted: true}, ""},
		{store.ThreadMark{Thread: "<q@x>", MessageIDs: []string{"<r1@desk>"}, Tag: "[example.org #7]"}, "[example.org #7]"},
		{store.ThreadMark{Thread: "<q@x>", MessageIDs: []string{"<a1@x>"}}, "[example.org #7]"},
		// RT merged #7 into #3: the helpdesk's next reply says so.
		{store.ThreadMark{Thread: "<q@x>", MessageIDs: []string{"<r2@desk>"}, Tag: "[example.org #3]"}, "[example.org #3]"},
	} {
		step.mark.At = at.Add(time.Duration(i) * time.Second)
		if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Thread: &step.mark}); err != nil {
			t.Fatal(err)
		}
		th, err := db.FindThread(ctx, l.ID, []string{"<a1@x>", "<q@x>"})
		if err != nil || th == nil || th.ID != "<q@x>" || th.Tag != step.want {
			t.Fatalf("step %d: FindThread = %+v, %v; want tag %q", i, th, err, step.want)
		}
	}
	ts, err := db.Threads(ctx, l.ID, 10)
	if err != nil || len(ts) != 1 || ts[0].Tag != "[example.org #3]" {
		t.Errorf("Threads = %+v, %v", ts, err)
	}
}
