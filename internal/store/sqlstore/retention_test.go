package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// day is one retention day.
const day = 24 * time.Hour

// queueAt commits deliveries with random 20 KiB bodies (several overflow
// pages each) and records the given final states at the given times;
// a zero state leaves the delivery pending.
func queueAt(t *testing.T, db *DB, listID int64, to []string, states []store.DeliveryState, at []time.Time) []store.Delivery {
	t.Helper()
	ctx := context.Background()
	out := store.Outcome{ListID: listID}
	for _, rcpt := range to {
		body := make([]byte, 20<<10)
		rand.Read(body)
		out.Deliveries = append(out.Deliveries, store.Delivery{Ref: "r", ListID: listID, Kind: store.KindPost,
			From: "team-bounce@x.org", To: rcpt, Data: body, CreatedAt: at[0].Add(-time.Hour)})
	}
	if err := db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	var attempts []store.Attempt
	for i, st := range states {
		if st != "" {
			attempts = append(attempts, store.Attempt{ID: out.Deliveries[i].ID, State: st, At: at[i], Error: map[bool]string{true: "550 5.1.1 no such user"}[st == store.Failed]})
		}
	}
	if err := db.RecordAttempts(ctx, attempts); err != nil {
		t.Fatal(err)
	}
	return out.Deliveries
}

// delivery returns delivery id as stored, or nil when it is gone.
func delivery(t *testing.T, db *DB, id int64) *store.Delivery {
	t.Helper()
	d, err := db.Delivery(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeliveryRetention: a sent copy's message is removed after its
// keep cutoff and its row kept as a small record (who, to whom, when)
// until the record cutoff; a failed one follows its own cutoff; a
// pending one is never touched, however old; a purged delivery cannot be
// retried.
func TestDeliveryRetention(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	t0 := time.Now().Add(-60 * day).Truncate(time.Millisecond)
	ds := queueAt(t, db, l.ID, []string{"sent@x.org", "failed@x.org", "pending@x.org", "recent@x.org"},
		[]store.DeliveryState{store.Sent, store.Failed, "", store.Sent},
		[]time.Time{t0, t0, t0, t0.Add(5 * day)})
	sent, failed, pending, recent := ds[0].ID, ds[1].ID, ds[2].ID, ds[3].ID

	// Three days later (keep_days 3): the sent copy goes, nothing else.
	now := t0.Add(3*day + time.Hour)
	if n, err := db.PurgeDeliveryData(ctx, store.Sent, now.Add(-3*day), now, 100); err != nil || n != 1 {
		t.Fatalf("purge sent = %d, %v; want 1", n, err)
	}
	if n, err := db.PurgeDeliveryData(ctx, store.Failed, now.Add(-14*day), now, 100); err != nil || n != 0 {
		t.Fatalf("purge failed = %d, %v; want 0 (failed_keep_days not passed)", n, err)
	}
	if n, err := db.DeleteDeliveryRecords(ctx, now.Add(-30*day), 100); err != nil || n != 0 {
		t.Fatalf("delete records = %d, %v; want 0", n, err)
	}
	d := delivery(t, db, sent)
	if d == nil || len(d.Data) != 0 || d.Size != 0 || !d.Purged.Equal(now) || d.State != store.Sent ||
		d.To != "sent@x.org" || d.From != "team-bounce@x.org" || d.Kind != store.KindPost || !d.UpdatedAt.Equal(t0) {
		t.Fatalf("purged delivery = %+v; want a record without its message", d)
	}
	for _, id := range []int64{failed, pending, recent} {
		if d := delivery(t, db, id); d == nil || len(d.Data) != 20<<10 || !d.Purged.IsZero() {
			t.Errorf("delivery %d was touched: %+v", id, d)
		}
	}
	// The queue listing shows the record with size 0.
	q, err := db.Queue(ctx, store.DeliveryQuery{States: []store.DeliveryState{store.Sent}})
	if err != nil || len(q) != 2 || q[0].ID != sent || q[0].Size != 0 || q[0].Purged.IsZero() || q[1].Size != 20<<10 {
		t.Errorf("Queue = %+v, %v", q, err)
	}

	// Fifteen days on (failed_keep_days 14): the failed copy goes too,
	// and can no longer be retried.
	now = t0.Add(15 * day)
	if n, err := db.PurgeDeliveryData(ctx, store.Failed, now.Add(-14*day), now, 100); err != nil || n != 1 {
		t.Fatalf("purge failed = %d, %v; want 1", n, err)
	}
	if d := delivery(t, db, failed); d == nil || len(d.Data) != 0 || d.Purged.IsZero() || d.LastError == "" {
		t.Errorf("failed delivery = %+v; want a record with its error", d)
	}
	if err := db.RetryDelivery(ctx, failed, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retry of a purged delivery = %v; want ErrNotFound", err)
	}

	// Thirty-one days after t0 (record_days 30): the records of the sent
	// and failed deliveries go; the recent one is only purged.
	now = t0.Add(31 * day)
	if n, err := db.PurgeDeliveryData(ctx, store.Sent, now.Add(-3*day), now, 100); err != nil || n != 1 {
		t.Fatalf("purge sent = %d, %v; want 1", n, err)
	}
	if n, err := db.DeleteDeliveryRecords(ctx, now.Add(-30*day), 100); err != nil || n != 2 {
		t.Fatalf("delete records = %d, %v; want 2", n, err)
	}
	if delivery(t, db, sent) != nil || delivery(t, db, failed) != nil {
		t.Error("records past record_days are still there")
	}
	if d := delivery(t, db, recent); d == nil || d.Purged.IsZero() {
		t.Errorf("recent delivery = %+v; want a record", d)
	}
	// Pending, sixty days old: untouched by anything.
	if _, err := db.PurgeDeliveryData(ctx, store.Pending, now, now, 100); err == nil {
		t.Error("PurgeDeliveryData accepted the pending state")
	}
	if d := delivery(t, db, pending); d == nil || d.State != store.Pending || len(d.Data) != 20<<10 {
		t.Errorf("pending delivery = %+v", d)
	}
	if due, err := db.ClaimDue(ctx, time.Now(), time.Minute, "", 10); err != nil || len(due) != 1 || due[0].ID != pending {
		t.Errorf("ClaimDue = %+v, %v; want the pending delivery", due, err)
	}
}

// TestPurgeInBatches: each call changes at most limit rows, and a short
// batch means nothing more is due.
func TestPurgeInBatches(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	t0 := time.Now().Add(-10 * day)
	to := []string{"1@x.org", "2@x.org", "3@x.org", "4@x.org", "5@x.org"}
	states := []store.DeliveryState{store.Sent, store.Sent, store.Sent, store.Sent, store.Sent}
	queueAt(t, db, l.ID, to, states, []time.Time{t0, t0, t0, t0, t0})
	now := time.Now()
	var got []int64
	for range 4 {
		n, err := db.PurgeDeliveryData(ctx, store.Sent, now.Add(-3*day), now, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if want := []int64{2, 2, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("batches = %v, want %v", got, want)
	}
}

// TestPurgedCopyLeavesTheFile: after the purge, the space reclaim and a
// checkpoint, no piece of a purged copy is in the database file or its
// write-ahead log, and the file shrank; a copy still kept is there.
func TestPurgedCopyLeavesTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sealpost.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := newList(t, db, "team@lists.example.org")
	t0 := time.Now().Add(-10 * day)
	var to []string
	var states []store.DeliveryState
	var at []time.Time
	for range 50 {
		to, states, at = append(to, "m@x.org"), append(states, store.Sent), append(at, t0)
	}
	ds := queueAt(t, db, l.ID, append(to, "kept@x.org"), append(states, ""), append(at, t0))
	if _, err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, path)
	if n, err := db.PurgeDeliveryData(ctx, store.Sent, time.Now().Add(-3*day), time.Now(), 1000); err != nil || n != 50 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	var freed int64
	for {
		n, left, err := db.ReclaimSpace(ctx, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		freed += n
		if n == 0 || left == 0 {
			break
		}
	}
	if done, err := db.Checkpoint(ctx); err != nil || !done {
		t.Fatalf("checkpoint = %v, %v", done, err)
	}
	after := fileSize(t, path)
	if freed < 50*20<<10 || after > before-50*20<<10 {
		t.Errorf("freed %d bytes, file %d -> %d bytes; want the 50 copies' 1000 KiB back", freed, before, after)
	}
	file := readAll(t, path)
	for i, d := range ds {
		// Pieces from the start, middle and end of each copy: the start
		// lies on the row's own page, the rest on overflow pages.
		found := 0
		for _, off := range []int{0, 4000, 10 << 10, len(d.Data) - 32} {
			if bytes.Contains(file, d.Data[off:off+32]) {
				found++
			}
		}
		switch {
		case i < 50 && found > 0:
			t.Errorf("copy %d: %d pieces still in the database files after the purge", i, found)
		case i == 50 && found != 4:
			t.Errorf("the kept copy: %d of 4 pieces found; the check cannot see the file", found)
		}
	}
}

// TestPurgedRecordsAreSmall: once the messages of 2000 sent copies of
// 6 KiB are removed and the space given back, their records take a few
// hundred bytes each in the file, not the page each copy's first part
// filled.
func TestPurgedRecordsAreSmall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sealpost.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := newList(t, db, "team@lists.example.org")
	if _, err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	empty := fileSize(t, path)
	const n = 2000
	sent := time.Now().Add(-10 * day)
	for i := 0; i < n; i += 250 {
		out := store.Outcome{ListID: l.ID}
		for j := range 250 {
			body := make([]byte, 6<<10)
			rand.Read(body)
			out.Deliveries = append(out.Deliveries, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost,
				From: "team-bounce@lists.example.org", To: fmt.Sprintf("member%d@example.org", i+j), Data: body})
		}
		if err := db.Commit(ctx, out); err != nil {
			t.Fatal(err)
		}
		var as []store.Attempt
		for _, d := range out.Deliveries {
			as = append(as, store.Attempt{ID: d.ID, State: store.Sent, At: sent})
		}
		if err := db.RecordAttempts(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	for {
		m, err := db.PurgeDeliveryData(ctx, store.Sent, time.Now().Add(-3*day), time.Now(), 250)
		if err != nil {
			t.Fatal(err)
		}
		if m < 250 {
			break
		}
	}
	for {
		freed, left, err := db.ReclaimSpace(ctx, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if freed == 0 || left == 0 {
			break
		}
	}
	if _, err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	perRecord := (fileSize(t, path) - empty) / n
	if perRecord > 512 {
		t.Errorf("a purged delivery's record takes %d bytes of the file; want a few hundred", perRecord)
	}
	if q, err := db.Queue(ctx, store.DeliveryQuery{States: []store.DeliveryState{store.Sent}, Limit: n}); err != nil || len(q) != n ||
		q[0].To != "member0@example.org" || q[n-1].To != fmt.Sprintf("member%d@example.org", n-1) || q[0].Purged.IsZero() {
		t.Errorf("records after the purge: %d, %v", len(q), err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// readAll returns the database file and its write-ahead log.
func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return append(b, wal...)
}

// TestPurgeConversationsAuditBounces: conversations untouched before the
// cutoff are forgotten with their message-ids, except those in the
// gateway's archive; audit entries and bounces before theirs are
// deleted; replay marks stay.
func TestPurgeConversationsAuditBounces(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "help@example.org")
	now := time.Now()
	old, recent := now.Add(-400*day), now.Add(-day)
	for _, o := range []store.Outcome{
		{ListID: l.ID, Thread: &store.ThreadMark{Thread: "<old@x>", MessageIDs: []string{"<old@x>", "<old-re@x>"}, Encrypted: true, At: old},
			Replay: [][]byte{[]byte("digest-1")}},
		{ListID: l.ID, Thread: &store.ThreadMark{Thread: "<archived@x>", MessageIDs: []string{"<archived@x>"}, At: old},
			Archive: []store.Archived{{ListID: l.ID, Thread: "<archived@x>", Direction: "in", MessageID: "<archived@x>", Sealed: []byte{1}}}},
		{ListID: l.ID, Thread: &store.ThreadMark{Thread: "<new@x>", MessageIDs: []string{"<new@x>"}, Encrypted: true, At: recent}},
	} {
		if err := db.Commit(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.PurgeThreads(ctx, now.Add(-365*day), 100); err != nil || n != 1 {
		t.Fatalf("PurgeThreads = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]string{"<old@x>": "", "<old-re@x>": "", "<archived@x>": "<archived@x>", "<new@x>": "<new@x>"} {
		th, err := db.FindThread(ctx, l.ID, []string{id})
		if err != nil || (th == nil) != (want == "") || (th != nil && th.ID != want) {
			t.Errorf("FindThread(%s) = %+v, %v; want %q", id, th, err, want)
		}
	}
	var marks int
	db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM thread_messages WHERE thread = '<old@x>'`).Scan(&marks)
	if marks != 0 {
		t.Errorf("%d message-ids of the forgotten conversation remain", marks)
	}
	var replay int
	db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM replay`).Scan(&replay)
	if replay != 1 {
		t.Errorf("replay marks = %d; want 1 (never purged)", replay)
	}

	for _, at := range []time.Time{old, recent} {
		if err := db.AddAudit(ctx, &store.AuditEntry{At: at, Actor: "operator", Via: "cli", Action: "list.create"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.PurgeAudit(ctx, now.Add(-365*day), 100); err != nil || n != 1 {
		t.Fatalf("PurgeAudit = %d, %v; want 1", n, err)
	}
	if es, err := db.Audit(ctx, store.AuditQuery{}); err != nil || len(es) != 1 || !es[0].At.Equal(recent.Truncate(time.Millisecond)) {
		t.Errorf("audit after purge = %+v, %v", es, err)
	}

	if err := db.AddMember(ctx, &store.Member{ListID: l.ID, Email: "a@x.org"}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{old, recent} {
		if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Bounce: &store.Bounce{ListID: l.ID, Email: "a@x.org", Status: "5.1.1", At: at}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.PurgeBounces(ctx, l.ID, now.Add(-30*day), 100); err != nil || n != 1 {
		t.Fatalf("PurgeBounces = %d, %v; want 1", n, err)
	}
	if n, err := db.Bounces(ctx, l.ID, "a@x.org", time.Time{}); err != nil || n != 1 {
		t.Errorf("bounces left = %d, %v; want 1", n, err)
	}
}
