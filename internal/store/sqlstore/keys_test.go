package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

func TestKeyring(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	soon := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	a := store.Key{Fingerprint: "AAAA", Engine: store.EngineOpenPGP, Data: []byte{1}, IndexVersion: 1, Expires: soon,
		Index: []store.IndexEntry{{Kind: store.IndexKeyID, Value: "00AA"}, {Kind: store.IndexEmail, Value: "a@example.org"}}}
	b := store.Key{Fingerprint: "BBBB", Engine: store.EngineSMIME, Data: []byte{2}, IndexVersion: 1,
		Index: []store.IndexEntry{{Kind: store.IndexEmail, Value: "a@example.org"}, {Kind: store.IndexSKI, Value: "5C"}}}
	res, err := db.PutKeys(ctx, []store.Key{a, b})
	if err != nil || res[0] != store.KeyNew || res[1] != store.KeyNew {
		t.Fatalf("PutKeys = %v, %v", res, err)
	}
	if res, _ := db.PutKeys(ctx, []store.Key{a}); res[0] != store.KeyUnchanged {
		t.Errorf("same key again = %v, want unchanged", res[0])
	}
	find := func(kind, value string) []string {
		t.Helper()
		ks, err := db.FindKeys(ctx, kind, value)
		if err != nil {
			t.Fatal(err)
		}
		var fprs []string
		for _, k := range ks {
			fprs = append(fprs, k.Fingerprint)
		}
		return fprs
	}
	if got := find(store.IndexEmail, "a@example.org"); len(got) != 2 || got[0] != "AAAA" || got[1] != "BBBB" {
		t.Errorf("by email = %v", got)
	}
	if got := find(store.IndexSKI, "5C"); len(got) != 1 || got[0] != "BBBB" {
		t.Errorf("by SKI = %v", got)
	}
	// An updated key gets its new index in place of the old one.
	a.Data, a.Index = []byte{1, 1}, []store.IndexEntry{{Kind: store.IndexEmail, Value: "new@example.org"}}
	if res, _ := db.PutKeys(ctx, []store.Key{a}); res[0] != store.KeyUpdated {
		t.Errorf("changed key = %v, want updated", res[0])
	}
	if got := find(store.IndexKeyID, "00AA"); len(got) != 0 {
		t.Errorf("stale index entry still finds %v", got)
	}
	if got := find(store.IndexEmail, "new@example.org"); len(got) != 1 {
		t.Errorf("new index entry finds %v", got)
	}
	if k, err := db.Key(ctx, "AAAA"); err != nil || string(k.Data) != "\x01\x01" || !k.Expires.Equal(soon) {
		t.Errorf("Key = %+v, %v", k, err)
	}
	if ks, _ := db.KeysExpiringBefore(ctx, time.Now().Add(72*time.Hour)); len(ks) != 1 || ks[0].Fingerprint != "AAAA" {
		t.Errorf("expiring = %+v", ks)
	}
	if n, _ := db.CountKeys(ctx); n != 2 {
		t.Errorf("CountKeys = %d", n)
	}

	// A key a member holds cannot be deleted; one nobody holds can.
	l := newList(t, db, "team@lists.example.org")
	m := &store.Member{ListID: l.ID, Email: "a@example.org", Keys: []store.MemberKey{{Key: a}}}
	if err := db.AddMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	if us, _ := db.KeyUsers(ctx, "AAAA"); len(us) != 1 || us[0].Email != "a@example.org" || us[0].List != l.Address {
		t.Errorf("KeyUsers = %+v", us)
	}
	if err := db.DeleteKey(ctx, "AAAA"); !errors.Is(err, store.ErrInUse) {
		t.Errorf("delete held key: %v", err)
	}
	if err := db.DeleteKey(ctx, "BBBB"); err != nil {
		t.Errorf("delete unused key: %v", err)
	}
	if got := find(store.IndexSKI, "5C"); len(got) != 0 {
		t.Errorf("deleted key still indexed: %v", got)
	}
}

// TestReplaceListKey: the new key, the retired one and the announcements
// are stored together; a key that comes back is no longer retired.
func TestReplaceListKey(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	old := store.RetiredKey{Fingerprint: l.KeyFingerprint, PublicKey: l.PublicKey, SealedKey: l.SealedKey,
		RetiredAt: time.Now(), DecryptUntil: time.Now().Add(time.Hour)}
	l.KeyFingerprint, l.PublicKey, l.SealedKey = "G", []byte{7}, []byte{8}
	announce := []store.Delivery{{Ref: "r1", ListID: l.ID, Kind: store.KindNotice, To: "a@example.org", Data: []byte("x")}}
	if err := db.ReplaceListKey(ctx, l, old, announce); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListByAddress(ctx, l.Address)
	if err != nil || got.KeyFingerprint != "G" || len(got.Retired) != 1 || got.Retired[0].Fingerprint != "F" {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
	if ds, _ := db.DeliveriesByRef(ctx, "r1"); len(ds) != 1 {
		t.Errorf("announcements queued: %d", len(ds))
	}
	// Back to F: F is current again and G retired.
	back := store.RetiredKey{Fingerprint: "G", PublicKey: []byte{7}, SealedKey: []byte{8}, RetiredAt: time.Now(), DecryptUntil: time.Now()}
	got.KeyFingerprint, got.PublicKey, got.SealedKey = "F", []byte{1}, []byte{2}
	if err := db.ReplaceListKey(ctx, got, back, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ListByAddress(ctx, l.Address); len(got.Retired) != 1 || got.Retired[0].Fingerprint != "G" {
		t.Errorf("retired after returning to F: %+v", got.Retired)
	}
}

// TestKeyringQueriesUseIndexes: no keyring query scans the whole table
// (with a million keys a scan takes seconds; bench/keystore.sh).
func TestKeyringQueriesUseIndexes(t *testing.T) {
	db := open(t)
	sqliteOnly(t, db, "SQLite's query plans")
	for name, q := range map[string]string{
		"Key": queryKey, "FindKeys": queryFindKeys, "KeysToIndex": queryKeysToIndex, "KeysExpiringBefore": queryExpiring,
	} {
		args := []any{"x", "y"}[:strings.Count(q, "$")]
		rows, err := db.db.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("%s scans a table: %v", name, plan)
			}
		}
	}
}
