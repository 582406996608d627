package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), testSource(t, filepath.Join(t.TempDir(), "sealpost.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newList(t *testing.T, db *DB, addr string) *store.List {
	t.Helper()
	l := &store.List{Address: addr, Owner: "owner@example.org", KeyFingerprint: "F", PublicKey: []byte{1}, SealedKey: []byte{2}, CreatedAt: time.Now()}
	if err := db.CreateList(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListsAndMembers(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	if err := db.CreateList(ctx, &store.List{Address: l.Address, PublicKey: []byte{1}, SealedKey: []byte{1}}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate list: %v", err)
	}
	got, err := db.ListByAddress(ctx, l.Address)
	if err != nil || got.ID != l.ID || got.Owner != l.Owner {
		t.Fatalf("ListByAddress = %+v, %v", got, err)
	}
	got.Settings.AllowSEIPDv2, got.Name = true, "Team"
	if err := db.UpdateList(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ListByAddress(ctx, l.Address); !got.Settings.AllowSEIPDv2 || got.Name != "Team" {
		t.Error("settings not saved")
	}
	m := &store.Member{ListID: l.ID, Email: "a@example.org", Admin: true,
		Keys: []store.MemberKey{{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: "A", Data: []byte{3}}}}}
	if err := db.AddMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, m); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate member: %v", err)
	}
	ms, err := db.Members(ctx, l.ID)
	if err != nil || len(ms) != 1 || !ms[0].Admin || ms[0].Key(store.EngineOpenPGP).Fingerprint != "A" {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	// A harvested certificate joins the member's keys; putting it again
	// refreshes it instead of adding a duplicate.
	cert := &store.MemberKey{Key: store.Key{Engine: store.EngineSMIME, Fingerprint: "C", Data: []byte{4}}, Source: store.SourceHarvested, CreatedAt: time.Now()}
	for range 2 {
		if err := db.PutMemberKey(ctx, l.ID, "a@example.org", cert); err != nil {
			t.Fatal(err)
		}
	}
	if ms, _ := db.Members(ctx, l.ID); len(ms[0].Keys) != 2 || ms[0].Key(store.EngineSMIME).Source != store.SourceHarvested {
		t.Errorf("keys after harvesting: %+v", ms[0].Keys)
	}
	if err := db.RemoveMember(ctx, l.ID, "nobody@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveMember(absent) = %v", err)
	}
	if err := db.DeleteList(ctx, l.Address); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListByAddress(ctx, l.Address); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted list still found: %v", err)
	}
	if ms, _ := db.Members(ctx, l.ID); len(ms) != 0 {
		t.Errorf("members of a deleted list remain: %v", ms)
	}
}

// TestAdmitCommitReplay: a message is spooled and claimed once; a second
// delivery of it waits while the claim holds, counts a crashed attempt
// once the claim has expired, and gets the recorded decision once the
// message is settled (DESIGN §5).
func TestAdmitCommitReplay(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	now := time.Now()
	const lease = time.Minute
	in := &store.Inbound{ID: "r1", ListID: l.ID, Digest: "d1", Sealed: []byte("sealed"), ReceivedAt: now}
	if d, err := db.Admit(ctx, in, now, lease); err != nil || d != nil || in.Attempts != 1 {
		t.Fatalf("Admit = %v, %v, attempts %d", d, err, in.Attempts)
	}
	again := &store.Inbound{ID: "r2", ListID: l.ID, Digest: "d1", Sealed: []byte("sealed")}
	if _, err := db.Admit(ctx, again, now.Add(time.Second), lease); !errors.Is(err, store.ErrClaimed) {
		t.Fatalf("admit while claimed = %v, want ErrClaimed", err)
	}
	// The first attempt crashed: its claim expires, and it stays counted.
	if _, err := db.Admit(ctx, again, now.Add(2*lease), lease); err != nil || again.Attempts != 2 || again.ID != "r1" {
		t.Fatalf("admit after the claim expired = %v, %+v; want attempts 2 on r1", err, again)
	}
	// This one ends on a transient fault: it does not count.
	if err := db.EndAttempt(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	third := &store.Inbound{ID: "r3", ListID: l.ID, Digest: "d1", Sealed: []byte("sealed")}
	if _, err := db.Admit(ctx, third, now.Add(2*lease+time.Second), lease); err != nil || third.Attempts != 2 {
		t.Fatalf("admit after a transient fault = %v, %+v; want attempts 2 (one crash, this one)", err, third)
	}
	out := store.Outcome{SpoolID: "r1", ListID: l.ID, Replay: [][]byte{[]byte("sig")}, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "b@x.org", To: "m1@x.org", Data: []byte("c1")},
		{Ref: "r1", ListID: l.ID, Kind: store.KindPost, From: "b@x.org", To: "m2@x.org", Data: []byte("c2")},
	}}
	if err := db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	// DESIGN §4.4: the same signature is refused the second time, and the
	// refused commit changes nothing.
	out.SpoolID = ""
	if err := db.Commit(ctx, out); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("second Commit = %v, want ErrReplay", err)
	}
	ds, err := db.DeliveriesByRef(ctx, "r1")
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries = %d, %v; want 2", len(ds), err)
	}
	// One known mark among new ones is enough to refuse.
	if err := db.Commit(ctx, store.Outcome{ListID: l.ID, Replay: [][]byte{[]byte("new"), []byte("sig")}}); !errors.Is(err, store.ErrReplay) {
		t.Errorf("a known mark among new ones: %v", err)
	}
	// The same signature on another list is not a replay there.
	l2 := newList(t, db, "other@lists.example.org")
	if err := db.Commit(ctx, store.Outcome{ListID: l2.ID, Replay: [][]byte{[]byte("sig")}}); err != nil {
		t.Errorf("replay mark is not per list: %v", err)
	}
	// The spool row is gone, and the decision answers the message's retries.
	fresh := &store.Inbound{ID: "r4", ListID: l.ID, Digest: "d1", Sealed: []byte("x"), ReceivedAt: time.Now().Add(-time.Hour)}
	if d, err := db.Admit(ctx, fresh, now, lease); err != nil || d == nil || d.Refused != "" {
		t.Errorf("admit after commit: %+v, %v; want the decision (taken)", d, err)
	}
	other := &store.Inbound{ID: "r5", ListID: l.ID, Digest: "d2", Sealed: []byte("x"), ReceivedAt: time.Now().Add(-time.Hour)}
	if d, err := db.Admit(ctx, other, now, lease); err != nil || d != nil {
		t.Fatalf("admit of another message: %+v, %v", d, err)
	}
	if err := db.Commit(ctx, store.Outcome{SpoolID: "r5", ListID: l.ID, Refused: "unsigned"}); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Admit(ctx, other, now, lease); err != nil || d == nil || d.Refused != "unsigned" {
		t.Errorf("admit after a refusal: %+v, %v; want the refusal", d, err)
	}
	if n, err := db.PurgeDecisions(ctx, now.Add(time.Hour), 1); err != nil || n != 1 {
		t.Errorf("PurgeDecisions = %d, %v; want 1 (the limit)", n, err)
	}
	if n, err := db.PurgeDecisions(ctx, now.Add(time.Hour), 10); err != nil || n != 1 {
		t.Errorf("PurgeDecisions = %d, %v; want the other one", n, err)
	}
	stale := &store.Inbound{ID: "r6", ListID: l.ID, Digest: "d3", Sealed: []byte("x"), ReceivedAt: time.Now().Add(-time.Hour)}
	if _, err := db.Admit(ctx, stale, now, lease); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeSpool(ctx, time.Now().Add(-2*time.Hour)); err != nil || n != 0 {
		t.Errorf("PurgeSpool removed %d recent messages (%v)", n, err)
	}
	if n, err := db.PurgeSpool(ctx, time.Now()); err != nil || n != 1 {
		t.Errorf("PurgeSpool removed %d stale messages (%v), want 1", n, err)
	}
}

func TestDeliveryAttempts(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	later := time.Now().Add(time.Hour)
	err := db.Commit(ctx, store.Outcome{Deliveries: []store.Delivery{
		{Ref: "r", ListID: l.ID, Kind: store.KindPost, To: "now@x.org", Data: []byte("1")},
		{Ref: "r", ListID: l.ID, Kind: store.KindPost, To: "later@x.org", Data: []byte("2"), NextAttempt: later},
	}})
	if err != nil {
		t.Fatal(err)
	}
	due, err := db.ClaimDue(ctx, time.Now(), time.Minute, "", 10)
	if err != nil || len(due) != 1 || due[0].To != "now@x.org" {
		t.Fatalf("ClaimDue = %+v, %v", due, err)
	}
	if again, _ := db.ClaimDue(ctx, time.Now(), time.Minute, "", 10); len(again) != 0 {
		t.Fatalf("a claimed delivery was claimed again: %+v", again)
	}
	if err := db.ReleaseClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.ClaimDue(ctx, time.Now(), time.Minute, "other-ref", 10); len(again) != 0 {
		t.Fatalf("ClaimDue ignored the ref filter: %+v", again)
	}
	retry := time.Now().Add(5 * time.Minute)
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: due[0].ID, State: store.Pending, Next: retry, Error: "451 try later", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.ClaimDue(ctx, time.Now(), time.Minute, "", 10); len(due) != 0 {
		t.Errorf("a deferred delivery is due: %+v", due)
	}
	next, err := db.NextDue(ctx)
	if err != nil || next.Sub(retry).Abs() > time.Millisecond {
		t.Errorf("NextDue = %v, %v; want %v", next, err, retry)
	}
	if err := db.RecordAttempts(ctx, []store.Attempt{{ID: due[0].ID, State: store.Sent, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	ds, _ := db.DeliveriesByRef(ctx, "r")
	if ds[0].State != store.Sent || ds[0].Attempts != 2 || ds[0].LastError != "" {
		t.Errorf("after success: %+v", ds[0])
	}
}

func TestTrustAnchors(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	for range 2 {
		if err := db.AddTrustAnchor(ctx, l.ID, "CA1", []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddTrustAnchor(ctx, l.ID, "CA2", []byte{2}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.TrustAnchors(ctx, l.ID); err != nil || len(got) != 2 {
		t.Fatalf("TrustAnchors = %v, %v", got, err)
	}
	if err := db.RemoveTrustAnchor(ctx, l.ID, "CA1"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveTrustAnchor(ctx, l.ID, "CA1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if got, _ := db.TrustAnchors(ctx, l.ID); len(got) != 1 || got[0][0] != 2 {
		t.Errorf("after removal: %v", got)
	}
}

// TestSessionsExpire: an expired session is not found, and PurgeSessions
// removes it; a live one stays.
func TestSessionsExpire(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Now()
	a := &store.Account{Email: "a@example.org", Role: store.RoleAdmin, PasswordHash: "x", CreatedAt: now}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, se := range []*store.Session{
		{Hash: "old", AccountID: a.ID, CSRF: "c", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{Hash: "live", AccountID: a.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := db.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Session(ctx, "old", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
	if n, err := db.PurgeSessions(ctx, now); err != nil || n != 1 {
		t.Errorf("purge: %d %v", n, err)
	}
	if _, err := db.Session(ctx, "live", now); err != nil {
		t.Errorf("live session: %v", err)
	}
	if err := db.DeleteAccount(ctx, a.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, "live", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed account's session: %v", err)
	}
}

// TestDueNow: `queue flush` makes the deliveries that wait for a later
// attempt due now, but not a claimed one (an attempt holds it), a failed
// or a sent one; PendingOf counts one message's waiting deliveries.
func TestDueNow(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	now := time.Now().Truncate(time.Millisecond)
	later := now.Add(time.Hour)
	out := store.Outcome{}
	for _, to := range []string{"waits@x.org", "claimed@x.org", "failed@x.org", "sent@x.org"} {
		out.Deliveries = append(out.Deliveries, store.Delivery{Ref: "r", ListID: l.ID, Kind: store.KindPost, To: to, Data: []byte(to), NextAttempt: later})
	}
	// Due already (not at the commit's own clock, which may be past now).
	out.Deliveries = append(out.Deliveries, store.Delivery{Ref: "other", ListID: l.ID, Kind: store.KindPost, To: "due@x.org", Data: []byte("x"), NextAttempt: now.Add(-time.Minute)})
	if err := db.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	ds := out.Deliveries
	if err := db.RecordAttempts(ctx, []store.Attempt{
		{ID: ds[2].ID, State: store.Failed, At: now, Error: "550 no"},
		{ID: ds[3].ID, State: store.Sent, At: now},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.execOne(ctx, "claim", `UPDATE deliveries SET claimed_until = $1 WHERE id = $2`, millis(later), ds[1].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PendingOf(ctx, "r"); err != nil || n != 2 {
		t.Errorf("PendingOf(r) = %d, %v; want 2 (waits, claimed)", n, err)
	}
	if n, err := db.DueNow(ctx, now); err != nil || n != 1 {
		t.Fatalf("DueNow = %d, %v; want 1", n, err)
	}
	due, err := db.ClaimDue(ctx, now, time.Minute, "r", 10)
	if err != nil || len(due) != 1 || due[0].To != "waits@x.org" {
		t.Errorf("due after DueNow = %+v, %v; want waits@x.org only", due, err)
	}
}

// TestListKEMCertificate: a list's ML-KEM certificate and sealed key
// (migration 035) are saved by CreateList and UpdateList and read back,
// and stay empty on a list that has none.
func TestListKEMCertificate(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	plain := newList(t, db, "plain@lists.example.org")
	l := &store.List{Address: "team@lists.example.org", PublicKey: []byte{1}, SealedKey: []byte{2},
		SMIMECert: []byte{3}, SMIMESealed: []byte{4}, SMIMEKEMCert: []byte{5, 5}, SMIMEKEMSealed: []byte{6, 6}, CreatedAt: time.Now()}
	if err := db.CreateList(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListByAddress(ctx, l.Address)
	if err != nil || !bytes.Equal(got.SMIMEKEMCert, []byte{5, 5}) || !bytes.Equal(got.SMIMEKEMSealed, []byte{6, 6}) {
		t.Fatalf("after CreateList: %x %x, %v", got.SMIMEKEMCert, got.SMIMEKEMSealed, err)
	}
	got.SMIMEKEMCert, got.SMIMEKEMSealed = []byte{7}, []byte{8}
	if err := db.UpdateList(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, err = db.ListByID(ctx, l.ID); err != nil || !bytes.Equal(got.SMIMEKEMCert, []byte{7}) || !bytes.Equal(got.SMIMEKEMSealed, []byte{8}) ||
		!bytes.Equal(got.SMIMECert, []byte{3}) {
		t.Fatalf("after UpdateList: %x %x %x, %v", got.SMIMEKEMCert, got.SMIMEKEMSealed, got.SMIMECert, err)
	}
	if p, err := db.ListByID(ctx, plain.ID); err != nil || len(p.SMIMEKEMCert) != 0 || len(p.SMIMEKEMSealed) != 0 {
		t.Errorf("list without one: %x %x, %v", p.SMIMEKEMCert, p.SMIMEKEMSealed, err)
	}
	// Replacing it keeps the old one as retired, in one transaction.
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	got.SMIMEKEMCert, got.SMIMEKEMSealed = []byte{9}, []byte{10}
	if err := db.ReplaceListKEM(ctx, got, "NEW", &store.RetiredKey{Fingerprint: "OLD", PublicKey: []byte{7}, SealedKey: []byte{8},
		RetiredAt: time.Now(), DecryptUntil: until}); err != nil {
		t.Fatal(err)
	}
	got, err = db.ListByID(ctx, l.ID)
	if err != nil || !bytes.Equal(got.SMIMEKEMCert, []byte{9}) || len(got.Retired) != 1 || got.Retired[0].Engine != store.RetiredMLKEM ||
		got.Retired[0].Fingerprint != "OLD" || !bytes.Equal(got.Retired[0].SealedKey, []byte{8}) || !got.Retired[0].DecryptUntil.Equal(until) {
		t.Errorf("after ReplaceListKEM: %x %+v, %v", got.SMIMEKEMCert, got.Retired, err)
	}
}
