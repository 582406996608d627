package pipeline_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// TestRosterCacheSeesChanges: the members a pipeline keeps between posts
// (memberCache) never outlive a change, even one made by another process
// on the same database (the admin CLI while serve runs): a member
// removed gets no copy of the next post, a member added gets one, and a
// member whose key was replaced gets it encrypted to the new key.
func TestRosterCacheSeesChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const alice, bob, carol, dave = "alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org"
	l := f.list(team, alice, bob, carol)
	copies := func(ref string) map[string]string { // member -> recipient choice
		t.Helper()
		out := map[string]string{}
		for _, d := range f.deliveries(ref) {
			if d.Kind == store.KindPost {
				out[d.To] = d.Recipient
			}
		}
		return out
	}
	post := func(n int) map[string]string {
		t.Helper()
		ref := fmt.Sprint("post-", n)
		if err := f.process(l, f.post(l, postSpec{signer: f.member(alice), from: alice}), ref); err != nil {
			t.Fatal(err)
		}
		return copies(ref)
	}
	if got := slices.Sorted(maps.Keys(post(1))); !slices.Equal(got, []string{alice, bob, carol}) {
		t.Fatalf("first post went to %v", got)
	}

	// Another process changes the list.
	other, err := sqlstore.Open(ctx, f.dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.RemoveMember(ctx, l.rec.ID, carol); err != nil {
		t.Fatal(err)
	}
	delete(f.keys, bob) // a new key for bob
	newBob := f.member(bob)
	k := store.MemberKey{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: newBob.Fingerprint(), Data: newBob.PublicBytes()},
		CreatedAt: time.Now()}
	if err := other.PutMemberKey(ctx, l.rec.ID, bob, &k); err != nil {
		t.Fatal(err)
	}
	d := f.member(dave)
	if err := other.AddMember(ctx, &store.Member{ListID: l.rec.ID, Email: dave,
		Keys: []store.MemberKey{{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: d.Fingerprint(), Data: d.PublicBytes()}}}}); err != nil {
		t.Fatal(err)
	}

	got := post(2)
	if to := slices.Sorted(maps.Keys(got)); !slices.Equal(to, []string{alice, bob, dave}) {
		t.Errorf("after the changes the post went to %v, want alice, bob and dave", to)
	}
	if !strings.Contains(strings.ToUpper(got[bob]), strings.ToUpper(newBob.Fingerprint())) {
		t.Errorf("bob's copy is for %q, want his new key %s", got[bob], newBob.Fingerprint())
	}
}
