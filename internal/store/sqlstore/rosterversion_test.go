package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestRosterVersion: migration 022. Every change to what a list's roster
// is made of (a member added, changed or removed, a key of theirs added
// or removed, the data of that key replaced in the keyring) gives the
// list a version it never had, and a list made again under an id that
// was used before never meets an old version. A change to another list
// leaves this one's version alone.
func TestRosterVersion(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	seen := map[int64]string{}
	version := func(l *store.List) int64 {
		t.Helper()
		got, err := db.ListByAddress(ctx, l.Address)
		if err != nil {
			t.Fatal(err)
		}
		return got.RosterVersion
	}
	changed := func(l *store.List, step string) {
		t.Helper()
		v := version(l)
		if v == 0 {
			t.Fatalf("%s: no roster version", step)
		}
		if before, ok := seen[v]; ok {
			t.Errorf("%s: roster version %d, the same as after %q", step, v, before)
		}
		seen[v] = step
	}
	team := newList(t, db, "team@example.org")
	changed(team, "list created")
	other := newList(t, db, "other@example.org")
	changed(other, "other list created")

	key := func(fpr string, data byte) store.MemberKey {
		return store.MemberKey{Key: store.Key{Fingerprint: fpr, Engine: store.EngineOpenPGP, Data: []byte{data}, AddedAt: time.Now(), UpdatedAt: time.Now()},
			CreatedAt: time.Now()}
	}
	if err := db.AddMember(ctx, &store.Member{ListID: team.ID, Email: "a@example.org", CreatedAt: time.Now(), Keys: []store.MemberKey{key("AA", 1)}}); err != nil {
		t.Fatal(err)
	}
	changed(team, "member added")
	before := version(other)
	if err := db.AddMember(ctx, &store.Member{ListID: other.ID, Email: "b@example.org", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	changed(other, "member added to the other list")
	if v := version(other); v == before {
		t.Error("the other list's version did not change")
	}
	teamNow := version(team)
	if err := db.AddMember(ctx, &store.Member{ListID: other.ID, Email: "c@example.org", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if v := version(team); v != teamNow {
		t.Errorf("a member of another list changed this list's version (%d -> %d)", teamNow, v)
	}

	k2 := key("BB", 2)
	if err := db.PutMemberKey(ctx, team.ID, "a@example.org", &k2); err != nil {
		t.Fatal(err)
	}
	changed(team, "key added")
	newer := key("BB", 3) // the same key, with new data (a new subkey, a revocation)
	if _, err := db.PutKeys(ctx, []store.Key{newer.Key}); err != nil {
		t.Fatal(err)
	}
	changed(team, "key data replaced in the keyring")
	if err := db.SetMemberFormat(ctx, team.ID, "a@example.org", "inline"); err != nil {
		t.Fatal(err)
	}
	changed(team, "member's format changed")
	if err := db.SetMemberAdmin(ctx, team.ID, "a@example.org", true); err != nil {
		t.Fatal(err)
	}
	changed(team, "member made a list admin")
	if ms, _ := db.Members(ctx, team.ID); len(ms) == 0 || !ms[0].Admin {
		t.Errorf("SetMemberAdmin: members %+v", ms)
	}
	if err := db.RemoveMember(ctx, team.ID, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	changed(team, "member removed")

	if err := db.DeleteList(ctx, team.Address); err != nil {
		t.Fatal(err)
	}
	again := newList(t, db, "again@example.org")
	changed(again, "a list made after one was deleted")
}
