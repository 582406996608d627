package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/pgtest"
	"github.com/sealpost/sealpost/internal/store"
)

// TestCopyTo: a SQLite database's records copied into an empty
// PostgreSQL one are all there and verified, the copy works as the
// original did (bodies open, deliveries are claimed, new rows get new
// ids), and a second copy into the same database is refused.
func TestCopyTo(t *testing.T) {
	if pgtest.OnPostgres() {
		t.Skip("copies from SQLite: runs in the SQLite run")
	}
	ctx := context.Background()
	src, err := Open(ctx, filepath.Join(t.TempDir(), "sealpost.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	l := newList(t, src, "team@lists.example.org")
	other := newList(t, src, "other@lists.example.org")
	o := store.Outcome{Body: &store.PostBody{Ref: "p1", ListID: l.ID, Sealed: []byte("sealed body")}}
	for _, to := range []string{"a@example.org", "b@example.org"} {
		o.Deliveries = append(o.Deliveries, store.Delivery{Ref: "p1", ListID: l.ID, Kind: store.KindPost,
			From: "team-bounce@lists.example.org", To: to, Recipient: to})
	}
	o.Deliveries = append(o.Deliveries, store.Delivery{Ref: "n1", ListID: other.ID, Kind: store.KindNotice,
		From: "other-bounce@lists.example.org", To: "owner@example.org", Data: []byte("notice")})
	if err := src.Commit(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := src.PurgeDeliveryData(ctx, store.Sent, time.Now(), time.Now(), 10); err != nil {
		t.Fatal(err)
	}

	url := pgtest.Shared(t).CreateDB(t)
	dst, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	report, err := src.CopyTo(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, r := range report {
		rows[r.Table] = r.Rows
		if r.Checksum == "" {
			t.Errorf("%s: no checksum", r.Table)
		}
	}
	if rows["lists"] != 2 || rows["deliveries"] != 3 || rows["post_bodies"] != 1 || rows["post_body_chunks"] < 1 {
		t.Errorf("copied %v", rows)
	}
	lists, err := dst.Lists(ctx)
	if err != nil || len(lists) != 2 || lists[0].Address != "other@lists.example.org" && lists[1].Address != "other@lists.example.org" {
		t.Errorf("lists in the copy: %+v, %v", lists, err)
	}
	due, err := dst.ClaimDue(ctx, time.Now().Add(time.Minute), time.Minute, "p1", 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("ClaimDue in the copy: %d, %v", len(due), err)
	}
	b, err := dst.PostBody(ctx, due[0].BodyID)
	if err != nil || string(b.Sealed) != "sealed body" {
		t.Errorf("the copied body: %+v, %v", b, err)
	}
	third := newList(t, dst, "third@lists.example.org")
	if third.ID <= other.ID {
		t.Errorf("a list made after the copy got id %d, not past the copied %d", third.ID, other.ID)
	}
	if _, err := src.CopyTo(ctx, dst); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a second copy: %v, want ErrNotEmpty", err)
	}
}
