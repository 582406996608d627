package sqlstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestPostBodyChunks: a body of several chunks comes back byte for byte,
// one that lost a chunk is an error (never a shorter body), and a body
// with no pending delivery left goes with all its chunks.
func TestPostBodyChunks(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@example.org")
	sealed := make([]byte, 2*bodyChunk+1234)
	rand.Read(sealed)
	body := &store.PostBody{Ref: "p1", ListID: l.ID, Sealed: sealed}
	out := store.Outcome{ListID: l.ID, Body: body, Deliveries: []store.Delivery{
		{Ref: "p1", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@example.org", To: "a@example.org", Recipient: "pgp:F"},
		{Ref: "p1", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@example.org", To: "b@example.org", Recipient: "pgp:F"},
	}}
	if err := db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	chunks := func() int {
		t.Helper()
		var n int
		if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM post_body_chunks WHERE body_id = $1`, body.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := chunks(); n != 3 {
		t.Fatalf("%d chunks stored, want 3", n)
	}
	got, err := db.PostBody(ctx, body.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sealed, sealed) {
		t.Fatalf("body read back differs: %d bytes, want %d", len(got.Sealed), len(sealed))
	}

	// One copy sent: the body stays for the other.
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: out.Deliveries[0].ID, State: store.Sent, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if n := chunks(); n != 3 {
		t.Fatalf("%d chunks left while a copy is pending, want 3", n)
	}

	// A lost chunk is an error, not a shorter body.
	if _, err := db.db.ExecContext(ctx, `DELETE FROM post_body_chunks WHERE body_id = $1 AND seq = 1`, body.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.PostBody(ctx, body.ID); err == nil {
		t.Fatalf("a body missing a chunk was read: %d bytes", len(got.Sealed))
	}

	// The last copy sent: the body and its chunks are gone.
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: out.Deliveries[1].ID, State: store.Sent, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if n := chunks(); n != 0 {
		t.Errorf("%d chunks left after the body was dropped", n)
	}
	if _, err := db.PostBody(ctx, body.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dropped body: err %v, want ErrNotFound", err)
	}

	// A body stored whole, before migration 021, still reads.
	var old int64
	if err := db.db.QueryRowContext(ctx, `INSERT INTO post_bodies (ref, list_id, sealed, size, created_at) VALUES ('p0', $1, $2, $3, 0) RETURNING id`,
		l.ID, sealed[:100], 100).Scan(&old); err != nil {
		t.Fatal(err)
	}
	if got, err := db.PostBody(ctx, old); err != nil || !bytes.Equal(got.Sealed, sealed[:100]) {
		t.Errorf("a body stored whole: err %v", err)
	}
}

// TestSpoolChunks: a spooled message is stored in chunks (migration 023),
// once however often it is admitted again, and they go when its outcome
// is committed.
func TestSpoolChunks(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@example.org")
	sealed := make([]byte, 2*bodyChunk+10)
	rand.Read(sealed)
	now := time.Now()
	chunks := func() (n int, size int) {
		t.Helper()
		if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM spool_chunks WHERE spool_id = 'r1'`).Scan(&n, &size); err != nil {
			t.Fatal(err)
		}
		return n, size
	}
	in := &store.Inbound{ID: "r1", ListID: l.ID, Digest: "d1", Sealed: sealed, ReceivedAt: now}
	if _, err := db.Admit(ctx, in, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, size := chunks(); n != 3 || size != len(sealed) {
		t.Fatalf("%d chunks of %d bytes spooled, want 3 of %d", n, size, len(sealed))
	}
	if err := db.EndAttempt(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	again := &store.Inbound{ID: "r2", ListID: l.ID, Digest: "d1", Sealed: sealed, ReceivedAt: now}
	if _, err := db.Admit(ctx, again, now.Add(time.Second), time.Minute); err != nil || again.ID != "r1" {
		t.Fatalf("admitted again: %v, id %s", err, again.ID)
	}
	if n, size := chunks(); n != 3 || size != len(sealed) {
		t.Fatalf("admitted again: %d chunks of %d bytes, want 3 of %d", n, size, len(sealed))
	}
	if err := db.Commit(ctx, store.Outcome{SpoolID: "r1", ListID: l.ID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := chunks(); n != 0 {
		t.Errorf("%d chunks left after the outcome was committed", n)
	}
}
