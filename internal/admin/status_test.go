package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// TestStatus: an admin sees the database as Options names it, the live
// nodes with the copies each holds, the queue and the job runs; a list
// owner is refused.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	admins, db := keyService(t)
	// A second service on the same store that knows the database's name,
	// as app's does (Status needs no sealer).
	s := admin.New(db, nil, admin.Options{Database: "postgres://sealpost@db/sealpost"})
	l, err := admins.CreateList(ctx, "team@lists.example.org", "alice@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org", To: "carol@example.org", Data: []byte("c")},
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "team-bounce@lists.example.org", To: "dave@example.org", Data: []byte("c")},
	}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now() // the copies are due
	if err := db.Heartbeat(ctx, store.Node{ID: "n1", Hostname: "one", StartedAt: now}, now); err != nil {
		t.Fatal(err)
	}
	db.SetNode("n1")
	if ds, err := db.ClaimDue(ctx, now, time.Minute, "", 1); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	if _, err := db.ClaimJob(ctx, "daily", "n1", now, 24*time.Hour); err != nil {
		t.Fatal(err)
	}

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Database != "postgres://sealpost@db/sealpost" || len(st.Nodes) != 1 || st.Nodes[0].ID != "n1" || st.Nodes[0].Holds != 1 ||
		st.Queue[store.Pending] != 2 || len(st.Jobs) != 1 || st.Jobs[0].Node != "n1" {
		t.Errorf("Status = %+v", st)
	}
	if _, err := admins.AddUser(ctx, "alice@example.org", store.RoleOwner, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	owner := s.As(admin.Actor{Email: "alice@example.org", Role: store.RoleOwner, Via: admin.ViaWeb})
	if st, err := owner.Status(ctx); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("the list's owner sees the status: %+v, %v", st, err)
	}
}
