package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestListKeys filters and pages the keyring in the database, on both
// engines (the PostgreSQL run repeats it).
func TestListKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var keys []store.Key
	add := func(fpr, engine, email string, expires time.Time, revoked, weak bool) {
		keys = append(keys, store.Key{Fingerprint: fpr, Engine: engine, Data: []byte(fpr), IndexVersion: 2, Expires: expires,
			Revoked: revoked, Weak: weak, Index: []store.IndexEntry{{Kind: store.IndexEmail, Value: email}}})
	}
	add("A1", store.EngineOpenPGP, "alice@example.org", time.Time{}, false, false)
	add("A2", store.EngineOpenPGP, "bob@example.org", now.Add(10*day), false, false)   // expiring
	add("A3", store.EngineOpenPGP, "carol@example.net", now.Add(-day), false, false)   // expired
	add("A4", store.EngineOpenPGP, "dave_x@example.org", time.Time{}, true, false)     // revoked
	add("A5", store.EngineOpenPGP, "erin@example.org", now.Add(100*day), false, true)  // weak, valid
	add("B1", store.EngineSMIME, "alice@example.org", now.Add(400*day), false, false)  // valid
	add("B2", store.EngineSMIME, "frank@corp.example", now.Add(29*day), false, false)  // expiring
	add("B3", store.EngineSMIME, "davexx@example.org", now.Add(-30*day), false, false) // expired
	if _, err := db.PutKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	list := func(f store.KeyFilter) (string, int) {
		t.Helper()
		f.Now, f.Within = now, 30*day
		p, err := db.ListKeys(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var fprs []string
		for _, k := range p.Keys {
			fprs = append(fprs, k.Fingerprint)
		}
		return strings.Join(fprs, " "), p.Total
	}
	for _, c := range []struct {
		f     store.KeyFilter
		want  string
		total int
	}{
		{store.KeyFilter{}, "A1 A2 A3 A4 A5 B1 B2 B3", 8},
		{store.KeyFilter{Engine: store.EngineSMIME}, "B1 B2 B3", 3},
		{store.KeyFilter{Address: "ALICE"}, "A1 B1", 2},
		{store.KeyFilter{Address: "example.org", Engine: store.EngineOpenPGP}, "A1 A2 A4 A5", 4},
		// LIKE's wildcards are taken literally: "_" is not any character.
		{store.KeyFilter{Address: "dave_"}, "A4", 1},
		{store.KeyFilter{Address: "100%"}, "", 0},
		{store.KeyFilter{Status: store.KeyStatusValid}, "A1 A2 A5 B1 B2", 5},
		{store.KeyFilter{Status: store.KeyStatusExpiring}, "A2 B2", 2},
		{store.KeyFilter{Status: store.KeyStatusExpired}, "A3 B3", 2},
		{store.KeyFilter{Status: store.KeyStatusRevoked}, "A4", 1},
		{store.KeyFilter{Status: store.KeyStatusWeak}, "A5", 1},
		{store.KeyFilter{Status: store.KeyStatusExpired, Engine: store.EngineSMIME}, "B3", 1},
		// Pages: the total counts every page.
		{store.KeyFilter{Limit: 3}, "A1 A2 A3", 8},
		{store.KeyFilter{Limit: 3, Offset: 3}, "A4 A5 B1", 8},
		{store.KeyFilter{Limit: 3, Offset: 6}, "B2 B3", 8},
		{store.KeyFilter{Limit: 3, Offset: 9}, "", 8},
		{store.KeyFilter{Limit: 2, Offset: 1, Status: store.KeyStatusValid}, "A2 A5", 5},
	} {
		if got, total := list(c.f); got != c.want || total != c.total {
			t.Errorf("ListKeys(%+v) = %q (%d in all), want %q (%d)", c.f, got, total, c.want, c.total)
		}
	}
	// Keys the lists use: a member's on each list.
	l1, l2 := newList(t, db, "one@lists.example.org"), newList(t, db, "two@lists.example.org")
	for _, m := range []*store.Member{{ListID: l1.ID, Email: "alice@example.org", Keys: []store.MemberKey{{Key: keys[0]}}},
		{ListID: l2.ID, Email: "frank@corp.example", Keys: []store.MemberKey{{Key: keys[6]}}}} {
		if err := db.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		ids  []int64
		want string
	}{{[]int64{l1.ID}, "A1"}, {[]int64{l1.ID, l2.ID}, "A1 B2"}, {[]int64{}, ""}} {
		if got, total := list(store.KeyFilter{ListIDs: c.ids}); got != c.want || total != len(strings.Fields(c.want)) {
			t.Errorf("used by lists %v = %q (%d)", c.ids, got, total)
		}
	}
	if _, err := db.ListKeys(ctx, store.KeyFilter{Status: "lost"}); err == nil {
		t.Error("an unknown status was accepted")
	}
}

// TestListKeysPageLimit: a page never holds more than store.MaxKeysPage.
func TestListKeysPageLimit(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	keys := make([]store.Key, store.MaxKeysPage+5)
	for i := range keys {
		keys[i] = store.Key{Fingerprint: fmt.Sprintf("K%04d", i), Engine: store.EngineOpenPGP, Data: []byte{byte(i)}, IndexVersion: 2}
	}
	if _, err := db.PutKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	p, err := db.ListKeys(ctx, store.KeyFilter{Limit: 10 * store.MaxKeysPage})
	if err != nil || len(p.Keys) != store.MaxKeysPage || p.Total != len(keys) {
		t.Fatalf("ListKeys = %d keys of %d, %v; want %d of %d", len(p.Keys), p.Total, err, store.MaxKeysPage, len(keys))
	}
}

// TestInstallationTrust: the installation's trust anchors apply to every
// list; CRLs are kept one per issuer, the newest.
func TestInstallationTrust(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	l := newList(t, db, "team@lists.example.org")
	if err := db.AddTrustAnchor(ctx, l.ID, "LISTCA", []byte("list ca")); err != nil {
		t.Fatal(err)
	}
	a := store.TrustAnchor{Fingerprint: "INSTCA", Cert: []byte("inst ca"), CreatedAt: time.Now()}
	for range 2 {
		if err := db.AddInstallationTrustAnchor(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if as, err := db.InstallationTrustAnchors(ctx); err != nil || len(as) != 1 || as[0].Fingerprint != "INSTCA" || string(as[0].Cert) != "inst ca" {
		t.Errorf("InstallationTrustAnchors = %+v, %v", as, err)
	}
	if ders, err := db.TrustAnchors(ctx, l.ID); err != nil || len(ders) != 2 {
		t.Errorf("the list trusts %d anchors (%v), want its own and the installation's", len(ders), err)
	}
	if las, err := db.ListAnchors(ctx); err != nil || len(las) != 1 || las[0].List != l.Address || string(las[0].Cert) != "list ca" {
		t.Errorf("ListAnchors = %+v, %v; want the list's own only", las, err)
	}
	if err := db.RemoveInstallationTrustAnchor(ctx, "INSTCA"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveInstallationTrustAnchor(ctx, "INSTCA"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing it again: %v, want ErrNotFound", err)
	}
	if ders, _ := db.TrustAnchors(ctx, l.ID); len(ders) != 1 || string(ders[0]) != "list ca" {
		t.Errorf("after removal the list trusts %q", ders)
	}

	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	put := func(issuer, data string, this time.Time) bool {
		t.Helper()
		ok, err := db.PutCRL(ctx, store.CRL{IssuerHash: "H-" + issuer, Issuer: issuer, ThisUpdate: this, NextUpdate: this.Add(7 * 24 * time.Hour), Data: []byte(data), CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !put("CN=B", "b1", t0) || !put("CN=A", "a1", t0) {
		t.Fatal("new CRLs not stored")
	}
	if !put("CN=A", "a2", t0.Add(time.Hour)) {
		t.Error("a newer CRL did not replace the older")
	}
	if put("CN=A", "a0", t0) {
		t.Error("an older CRL replaced the newer")
	}
	cs, err := db.CRLs(ctx)
	if err != nil || len(cs) != 2 || cs[0].Issuer != "CN=A" || string(cs[0].Data) != "a2" || !cs[0].ThisUpdate.Equal(t0.Add(time.Hour)) || string(cs[1].Data) != "b1" {
		t.Errorf("CRLs = %+v, %v", cs, err)
	}
}

// BenchmarkListKeys times a page of the keys page's listing in a
// keyring of 100,000 keys (SEALPOST_LISTKEYS_N changes the number): the
// first page, the last, a substring of an address, a status. Each counts
// the matching keys as well (the page's "of N"), which reads every key
// the filter selects.
func BenchmarkListKeys(b *testing.B) {
	n := 100000
	if s := os.Getenv("SEALPOST_LISTKEYS_N"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db")) // SQLite, the default engine
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fillKeyring(b, db, n)
	now := time.Now()
	for _, c := range []struct {
		name string
		f    store.KeyFilter
	}{
		{"first-page", store.KeyFilter{Limit: 50}},
		{"last-page", store.KeyFilter{Limit: 50, Offset: n - 50}},
		{"address", store.KeyFilter{Limit: 50, Address: "user-4242"}},
		{"status-expired", store.KeyFilter{Limit: 50, Status: store.KeyStatusExpired}},
	} {
		c.f.Now, c.f.Within = now, 30*24*time.Hour
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.ListKeys(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestKeyNotes: a key's notes are kept with it, and replaced with the
// key's data, on both engines.
func TestKeyNotes(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	k := store.Key{Fingerprint: "C1", Engine: store.EngineOpenPGP, Data: []byte("one"), IndexVersion: 2,
		Notes: []string{"a Kyber subkey was dropped", "a second note"}}
	if _, err := db.PutKeys(ctx, []store.Key{k}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Key(ctx, "C1")
	if err != nil || strings.Join(got.Notes, "|") != "a Kyber subkey was dropped|a second note" {
		t.Fatalf("notes read back: %q, %v", got.Notes, err)
	}
	k.Data, k.Notes = []byte("two"), nil
	if _, err := db.PutKeys(ctx, []store.Key{k}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Key(ctx, "C1"); err != nil || got.Notes != nil {
		t.Errorf("notes after new data without notes: %q, %v", got.Notes, err)
	}
}
