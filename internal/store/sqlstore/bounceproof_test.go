package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestCopySent: a copy counts as sent from an envelope sender only when
// it went to that recipient, on that list, was delivered, and was made
// since the given time; the lookup uses the old-form envelope senders'
// index, so a flood of bounces does not scan the queue.
func TestCopySent(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	other := newList(t, db, "other@lists.example.org")
	const from = "team-bounce+bob=example.org@lists.example.org"
	made := time.Now().Add(-48 * time.Hour)
	err := db.Commit(ctx, store.Outcome{Deliveries: []store.Delivery{
		{Ref: "sent", ListID: l.ID, Kind: store.KindPost, From: from, To: "bob@example.org", Data: []byte("1"), CreatedAt: made},
		{Ref: "pending", ListID: l.ID, Kind: store.KindPost, From: from, To: "carol@example.org", Data: []byte("2"), CreatedAt: made},
		{Ref: "failed", ListID: l.ID, Kind: store.KindPost, From: from, To: "dave@example.org", Data: []byte("3"), CreatedAt: made},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var attempts []store.Attempt
	for ref, state := range map[string]store.DeliveryState{"sent": store.Sent, "failed": store.Failed} {
		ds, _ := db.DeliveriesByRef(ctx, ref)
		attempts = append(attempts, store.Attempt{ID: ds[0].ID, State: state, At: time.Now()})
	}
	if err := db.RecordAttempts(ctx, attempts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		list   int64
		from   string
		rcpt   string
		since  time.Time
		wanted bool
	}{
		{"delivered in the window", l.ID, from, "bob@example.org", made.Add(-time.Hour), true},
		{"made before the window", l.ID, from, "bob@example.org", made.Add(time.Hour), false},
		{"another recipient", l.ID, from, "alice@example.org", made.Add(-time.Hour), false},
		{"another sender", l.ID, "team-bounce@lists.example.org", "bob@example.org", made.Add(-time.Hour), false},
		{"another list", other.ID, from, "bob@example.org", made.Add(-time.Hour), false},
		{"still pending", l.ID, from, "carol@example.org", made.Add(-time.Hour), false},
		{"given up", l.ID, from, "dave@example.org", made.Add(-time.Hour), false},
	} {
		got, err := db.CopySent(ctx, tc.list, tc.from, tc.rcpt, tc.since)
		if err != nil || got != tc.wanted {
			t.Errorf("%s: CopySent = %v, %v; want %v", tc.name, got, err, tc.wanted)
		}
	}
	// Copies with a token (the long and the short form) stay out of the
	// index: they never need the lookup.
	err = db.Commit(ctx, store.Outcome{Deliveries: []store.Delivery{
		{Ref: "new", ListID: l.ID, Kind: store.KindPost, From: "team-bounce+bob=example.org=abcdefghijklm@lists.example.org", To: "bob@example.org", Data: []byte("4")},
		{Ref: "short", ListID: l.ID, Kind: store.KindPost, From: "team-bounce+abcdefghijklm@lists.example.org", To: "bob@example.org", Data: []byte("5")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if db.pg {
		return // the rest is about SQLite's query plan
	}
	var indexed int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_untokened
		WHERE env_from LIKE '%-bounce+%=%' AND env_from NOT LIKE '%-bounce+%=%=%'`).Scan(&indexed); err != nil || indexed != 3 {
		t.Errorf("the old-form index holds %d copies (%v), want the 3 old-form ones", indexed, err)
	}
	rows, err := db.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+copySentQuery, from, 0, "bob@example.org", l.ID, "sent")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "deliveries_untokened") {
		t.Errorf("the lookup does not use the old-form envelope senders' index: %s", p)
	}
}
