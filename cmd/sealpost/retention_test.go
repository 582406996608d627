package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// TestQueueListPurged: `queue list` shows deliveries whose message was
// removed after their retention as "removed" (JSON: size 0 and
// purged_at), and `queue retry` of such a failed delivery says why it
// cannot.
func TestQueueListPurged(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, exitOK)

	// A sent and a failed delivery of twenty days ago, their messages
	// removed as serve's daily job does (keep_days and failed_keep_days).
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(data, "sealpost.db"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.ListByAddress(ctx, "team@lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-20 * 24 * time.Hour)
	out := store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{
		{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org", To: "sent@example.org", Data: []byte("copy one")},
		{Ref: "r", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org", To: "failed@example.org", Data: []byte("copy two")},
	}}
	if err := db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	sent, failed := out.Deliveries[0].ID, out.Deliveries[1].ID
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: sent, State: store.Sent, At: then},
		{ID: failed, State: store.Failed, Error: "550 5.1.1 no such user", At: then}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.DeliveryState{store.Sent, store.Failed} {
		if n, err := db.PurgeDeliveryData(ctx, st, time.Now().Add(-14*24*time.Hour), time.Now(), 100); err != nil || n != 1 {
			t.Fatalf("purge %s = %d, %v", st, n, err)
		}
	}
	db.Close()

	table := sealpost(t, data, nil, "queue", "list", "--state", "sent,failed").want(t, exitOK).stdout
	for _, id := range []int64{sent, failed} {
		line := ""
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, fmt.Sprint(id)+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "removed") {
			t.Errorf("queue list shows delivery %d as %q; want its size \"removed\":\n%s", id, line, table)
		}
	}
	var items []struct {
		ID       int64
		Size     int
		PurgedAt *time.Time `json:"purged_at"`
	}
	js := sealpost(t, data, nil, "queue", "list", "--state", "sent,failed", "--json").want(t, exitOK).stdout
	if err := json.Unmarshal([]byte(js), &items); err != nil || len(items) != 2 {
		t.Fatalf("queue list --json = %s, %v", js, err)
	}
	for _, it := range items {
		if it.Size != 0 || it.PurgedAt == nil {
			t.Errorf("queue list --json: %+v; want size 0 and purged_at", it)
		}
	}
	r := sealpost(t, data, nil, "queue", "retry", fmt.Sprint(failed)).want(t, exitData)
	if !strings.Contains(r.stderr, "message was removed") || !strings.Contains(r.stderr, "failed_keep_days") {
		t.Errorf("queue retry of a purged delivery said:\n%s", r.stderr)
	}
}
