package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestMembersAndHoldsPages: the pages of a list's members and of its
// held messages, read one at a time, are what reading all of them gives
// (members with their keys, in the same order), with the count of all;
// another list's rows are in neither.
func TestMembersAndHoldsPages(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l, other := newList(t, db, "team@lists.example.org"), newList(t, db, "other@lists.example.org")
	now := time.UnixMilli(1_800_000_000_000).UTC()
	for i := range 7 {
		for _, list := range []*store.List{l, other} {
			m := &store.Member{ListID: list.ID, Email: fmt.Sprintf("m%d@example.org", 6-i), CreatedAt: now}
			for k := range i % 3 {
				m.Keys = append(m.Keys, store.MemberKey{Key: store.Key{Engine: store.EngineOpenPGP,
					Fingerprint: fmt.Sprintf("%d%d%X", list.ID, i, k), Data: []byte{byte(i), byte(k)}}, CreatedAt: now})
			}
			if err := db.AddMember(ctx, m); err != nil {
				t.Fatal(err)
			}
			h := &store.Hold{ListID: list.ID, Ref: fmt.Sprintf("r%d-%d", list.ID, i), EnvelopeFrom: "x@example.org",
				Reason: "held", Raw: []byte{byte(i)}, Size: 1, CreatedAt: now}
			if err := db.Commit(ctx, store.Outcome{ListID: list.ID, Hold: h}); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := db.Members(ctx, l.ID)
	if err != nil || len(all) != 7 {
		t.Fatalf("Members = %d, %v", len(all), err)
	}
	allHolds, err := db.Holds(ctx, l.ID)
	if err != nil || len(allHolds) != 7 {
		t.Fatalf("Holds = %d, %v", len(allHolds), err)
	}
	for _, limit := range []int{1, 3, 7, 10} {
		var ms []store.Member
		var hs []store.Hold
		for offset := 0; offset < 9; offset += limit {
			page, total, err := db.MembersPage(ctx, l.ID, offset, limit)
			if err != nil || total != 7 || len(page) > limit {
				t.Fatalf("MembersPage(%d, %d) = %d members, total %d, %v", offset, limit, len(page), total, err)
			}
			ms = append(ms, page...)
			hpage, total, err := db.HoldsPage(ctx, l.ID, offset, limit)
			if err != nil || total != 7 || len(hpage) > limit {
				t.Fatalf("HoldsPage(%d, %d) = %d holds, total %d, %v", offset, limit, len(hpage), total, err)
			}
			hs = append(hs, hpage...)
		}
		if !reflect.DeepEqual(ms, all) {
			t.Errorf("pages of %d members differ from all of them:\n%+v\n%+v", limit, ms, all)
		}
		if !reflect.DeepEqual(hs, allHolds) {
			t.Errorf("pages of %d holds differ from all of them", limit)
		}
	}
	if page, total, err := db.MembersPage(ctx, l.ID, 20, 5); err != nil || total != 7 || len(page) != 0 {
		t.Errorf("a page past the end: %d members, total %d, %v", len(page), total, err)
	}
}
