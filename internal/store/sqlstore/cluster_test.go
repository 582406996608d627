package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestClaimJob: of nodes asking at once, one runs a job; nobody runs it
// again within its period; after it, the next asker does.
func TestClaimJob(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.UnixMilli(1_800_000_000_000)
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.ClaimJob(ctx, "daily", string(rune('a'+i)), now, 24*time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d nodes claimed the job at once, want 1", won.Load())
	}
	if ok, err := db.ClaimJob(ctx, "daily", "z", now.Add(23*time.Hour), 24*time.Hour); ok || err != nil {
		t.Errorf("claimed again within the period: %v %v", ok, err)
	}
	if ok, err := db.ClaimJob(ctx, "other", "z", now.Add(23*time.Hour), 24*time.Hour); !ok || err != nil {
		t.Errorf("another job: %v %v", ok, err)
	}
	if ok, err := db.ClaimJob(ctx, "daily", "z", now.Add(24*time.Hour), 24*time.Hour); !ok || err != nil {
		t.Errorf("claim after the period: %v %v", ok, err)
	}
	jobs, err := db.Jobs(ctx)
	if err != nil || len(jobs) != 2 || jobs[0].Name != "daily" || jobs[0].Node != "z" || !jobs[0].LastRun.Equal(now.Add(24*time.Hour)) {
		t.Errorf("Jobs = %+v, %v", jobs, err)
	}
}

// TestNodes: heartbeats make a node live; one not seen lately is not
// listed, and NodeGone removes the stopped and the long gone.
func TestNodes(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.UnixMilli(1_800_000_000_000)
	a := store.Node{ID: "a", Hostname: "one", PID: 10, Version: "v", SMTP: "127.0.0.1:2525", StartedAt: now}
	b := store.Node{ID: "b", Hostname: "two", PID: 20, Version: "v", StartedAt: now.Add(time.Second)}
	for _, n := range []store.Node{a, b} {
		if err := db.Heartbeat(ctx, n, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Heartbeat(ctx, a, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	live, err := db.Nodes(ctx, now, now.Add(30*time.Second))
	if err != nil || len(live) != 1 || live[0].ID != "a" || live[0].SMTP != "127.0.0.1:2525" || !live[0].SeenAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("Nodes = %+v, %v; want a only", live, err)
	}
	if err := db.NodeGone(ctx, "a", now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if all, err := db.Nodes(ctx, now, time.Time{}); err != nil || len(all) != 0 {
		t.Errorf("after NodeGone: %+v, %v", all, err)
	}
}

// TestNodesHold: each live node holds the copies it claimed whose lease
// has not ended; a copy attempted, a lease ended, and the claims of a
// node no longer live or of no node count for none. Claimed counts every
// live claim.
func TestNodesHold(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	var ds []store.Delivery
	for i := range 10 {
		ds = append(ds, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: string(rune('a'+i)) + "@example.org", Data: []byte("x")})
	}
	if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, n := range []store.Node{{ID: "a", StartedAt: now}, {ID: "b", StartedAt: now.Add(time.Second)}, {ID: "c", StartedAt: now}} {
		seen := now
		if n.ID == "c" {
			seen = now.Add(-time.Hour) // stopped beating
		}
		if err := db.Heartbeat(ctx, n, seen); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(node string, lease time.Duration, n int) []store.Delivery {
		t.Helper()
		db.SetNode(node)
		got, err := db.ClaimDue(ctx, now, lease, "", n)
		if err != nil || len(got) != n {
			t.Fatalf("%s claims %d: %d, %v", node, n, len(got), err)
		}
		return got
	}
	a := claim("a", time.Minute, 3)
	claim("b", time.Minute, 2)
	claim("b", -time.Millisecond, 1) // a lease already over
	claim("c", time.Minute, 1)       // a node no longer live
	claim("", time.Minute, 1)        // a process that is no node
	// One of a's copies is sent: its claim ended.
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: a[0].ID, State: store.Sent, At: now}}); err != nil {
		t.Fatal(err)
	}
	nodes, err := db.Nodes(ctx, now, now.Add(-store.NodeTimeout))
	if err != nil {
		t.Fatal(err)
	}
	holds := map[string]int{}
	for _, n := range nodes {
		holds[n.ID] = n.Holds
	}
	if want := map[string]int{"a": 2, "b": 2}; len(holds) != len(want) || holds["a"] != want["a"] || holds["b"] != want["b"] {
		t.Errorf("nodes hold %v, want %v", holds, want)
	}
	if n, err := db.Claimed(ctx, now); n != 2+2+1+1 || err != nil {
		t.Errorf("Claimed = %d, %v; want 6 (a 2, b 2, c 1, no node 1)", n, err)
	}
	// When the leases end, nobody holds anything.
	later := now.Add(2 * time.Minute)
	if nodes, err := db.Nodes(ctx, later, time.Time{}); err != nil || len(nodes) != 3 || nodes[0].Holds+nodes[1].Holds+nodes[2].Holds != 0 {
		t.Errorf("after the leases: %+v, %v", nodes, err)
	}
	if n, err := db.Claimed(ctx, later); n != 0 || err != nil {
		t.Errorf("Claimed after the leases = %d, %v", n, err)
	}
}

// TestClaimDueConcurrently: claims made at the same time by several
// nodes never hand one delivery to two of them.
func TestClaimDueConcurrently(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	var ds []store.Delivery
	for i := range 200 {
		ds = append(ds, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: string(rune('a'+i%26)) + "@example.org", Data: []byte("x")})
	}
	if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := db.ClaimDue(ctx, now, time.Minute, "", 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Errorf("%d deliveries claimed, want 200", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
}

// TestReleaseDeadClaims: a claim of a node that stopped beating is
// released; a live node's, and a claim of no node, are not.
func TestReleaseDeadClaims(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	var ds []store.Delivery
	for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		ds = append(ds, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org", To: to, Data: []byte("x")})
	}
	if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, n := range []store.Node{{ID: "dead", StartedAt: now}, {ID: "live", StartedAt: now}} {
		if err := db.Heartbeat(ctx, n, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Heartbeat(ctx, store.Node{ID: "live", StartedAt: now}, now); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"dead", "live", ""} {
		db.SetNode(node)
		if got, err := db.ClaimDue(ctx, now, time.Hour, "", 1); err != nil || len(got) != 1 {
			t.Fatalf("claim as %q: %v %v", node, got, err)
		}
	}
	n, err := db.ReleaseDeadClaims(ctx, now, now.Add(-30*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("ReleaseDeadClaims = %d, %v; want the dead node's one", n, err)
	}
	db.SetNode("live")
	if got, err := db.ClaimDue(ctx, now, time.Hour, "", 10); err != nil || len(got) != 1 {
		t.Errorf("due again after the release: %d, %v; want 1", len(got), err)
	}
}

// TestCommitsConcurrently: outcomes committed at the same time from
// several connections (nodes) each keep their own post body: a copy
// names its own post's body even when PostgreSQL aborted its first
// attempt as a conflict and it ran again.
func TestCommitsConcurrently(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []store.Delivery
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				ref := string(rune('a'+w)) + "-" + string(rune('a'+i))
				o := store.Outcome{Body: &store.PostBody{Ref: ref, ListID: l.ID, Sealed: []byte("body of " + ref)}}
				for _, to := range []string{"x@example.org", "y@example.org"} {
					o.Deliveries = append(o.Deliveries, store.Delivery{Ref: ref, ListID: l.ID, Kind: store.KindPost,
						From: "team-bounce@lists.example.org", To: to, Recipient: to})
				}
				if err := db.Commit(ctx, o); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, o.Deliveries...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, d := range all {
		b, err := db.PostBody(ctx, d.BodyID)
		if err != nil || b.Ref != d.Ref || string(b.Sealed) != "body of "+d.Ref {
			t.Errorf("the copy of %s to %s names body %d: %+v, %v", d.Ref, d.To, d.BodyID, b, err)
		}
	}
}

// TestCommitRunAgain: a commit whose first attempt the database aborted
// (as PostgreSQL does on a conflict) runs again from the outcome as it
// was given: its copies name the body of the attempt that committed.
func TestCommitRunAgain(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	// A body committed first, so that a stale id would name it.
	first := store.Outcome{Body: &store.PostBody{Ref: "first", ListID: l.ID, Sealed: []byte("first body")}}
	if err := db.Commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	o := store.Outcome{Body: &store.PostBody{Ref: "second", ListID: l.ID, Sealed: []byte("second body")},
		Deliveries: []store.Delivery{{Ref: "second", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: "x@example.org", Recipient: "x@example.org"}}}
	db.abortNext.Store(true)
	if err := db.Commit(ctx, o); err != nil {
		t.Fatal(err)
	}
	if db.abortNext.Load() {
		t.Fatal("the abort was not used")
	}
	d := o.Deliveries[0]
	b, err := db.PostBody(ctx, d.BodyID)
	if err != nil || string(b.Sealed) != "second body" {
		t.Fatalf("the copy names body %d (%v, %v), want the second post's", d.BodyID, b, err)
	}
}

// TestCommitManyDeliveries: a post's copies, committed together (on
// PostgreSQL in one statement), each get their own id, and each id reads
// back the copy it was given for, every field as written.
func TestCommitManyDeliveries(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	at := time.UnixMilli(1_800_000_000_000)
	var ds []store.Delivery
	for i := range 1200 {
		d := store.Delivery{Ref: fmt.Sprint("ref", i%3), ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: fmt.Sprintf("m%04d@example.org", i), Route: fmt.Sprint("route", i%2), Sealed: i%2 == 0,
			Recipient: fmt.Sprint("fpr", i), CreatedAt: at, NextAttempt: at.Add(time.Duration(i) * time.Second)}
		if i%5 == 0 {
			d.Data = []byte(fmt.Sprint("data", i))
		}
		ds = append(ds, d)
	}
	if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for i, want := range ds {
		if want.ID == 0 || ids[want.ID] {
			t.Fatalf("copy %d has id %d (zero or given twice)", i, want.ID)
		}
		ids[want.ID] = true
		got, err := db.Delivery(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.To != want.To || got.Ref != want.Ref || got.Route != want.Route || got.Sealed != want.Sealed ||
			got.Recipient != want.Recipient || string(got.Data) != string(want.Data) || got.State != store.Pending ||
			!got.NextAttempt.Equal(want.NextAttempt) || !got.CreatedAt.Equal(at) {
			t.Fatalf("copy %d reads back as %+v, want %+v", i, got, want)
		}
	}
}

// TestRecordManyAttempts: the results of a batch's attempts (on
// PostgreSQL one statement) each land on their own copy; an unknown id
// fails the whole batch and records nothing.
func TestRecordManyAttempts(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	var ds []store.Delivery
	for i := range 300 {
		ds = append(ds, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: fmt.Sprintf("m%03d@example.org", i), Data: []byte("x")})
	}
	if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_800_000_000_000)
	var attempts []store.Attempt
	for i, d := range ds {
		a := store.Attempt{ID: d.ID, State: store.Sent, At: at}
		if i%3 == 0 {
			a = store.Attempt{ID: d.ID, State: store.Pending, Next: at.Add(time.Duration(i) * time.Minute), Error: fmt.Sprint("451 try later ", i), At: at}
		}
		attempts = append(attempts, a)
	}
	bad := append(attempts[:10:10], store.Attempt{ID: ds[len(ds)-1].ID + 1000, State: store.Sent, At: at})
	if err := db.RecordAttempts(ctx, bad); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a batch with an unknown id: %v, want ErrNotFound", err)
	}
	if d, _ := db.Delivery(ctx, ds[1].ID); d.State != store.Pending || d.Attempts != 0 {
		t.Fatalf("the refused batch recorded copy 1: %+v", d)
	}
	if err := db.RecordAttempts(ctx, attempts); err != nil {
		t.Fatal(err)
	}
	for i, a := range attempts {
		d, err := db.Delivery(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != a.State || d.Attempts != 1 || d.LastError != a.Error || !d.UpdatedAt.Equal(at) ||
			(a.State == store.Pending && !d.NextAttempt.Equal(a.Next)) {
			t.Fatalf("copy %d after %+v: %+v", i, a, d)
		}
	}
}

// TestClaimDueOldestFirst: a claim returns its copies oldest first (by
// when they are due, then id) whatever order the database met them in,
// so that the copies of one post stay together for the queue. The copies
// here are due in the reverse of the order they were written.
func TestClaimDueOldestFirst(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	now := time.UnixMilli(1_800_000_000_000)
	var ds []store.Delivery
	for i := range 300 {
		ds = append(ds, store.Delivery{Ref: fmt.Sprint("post", i/100), ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org",
			To: fmt.Sprintf("m%03d@example.org", i), Data: []byte("x"), CreatedAt: now.Add(-time.Hour),
			NextAttempt: now.Add(-time.Duration(i/100) * time.Minute)})
	}
	if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimDue(ctx, now, time.Minute, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds) {
		t.Fatalf("claimed %d of %d", len(got), len(ds))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.NextAttempt.After(b.NextAttempt) || (a.NextAttempt.Equal(b.NextAttempt) && a.ID > b.ID) {
			t.Fatalf("claim %d (%s, id %d) comes after claim %d (%s, id %d)", i, b.NextAttempt, b.ID, i-1, a.NextAttempt, a.ID)
		}
	}
	if got[0].Ref != "post2" || got[len(got)-1].Ref != "post0" {
		t.Errorf("first claimed copy is of %s, last of %s; want post2 first (due earliest), post0 last", got[0].Ref, got[len(got)-1].Ref)
	}
}
