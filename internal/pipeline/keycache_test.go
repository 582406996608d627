package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// TestKeyCacheBounds: the cache drops its least recently used entries
// past either bound, one at a time, rather than starting over; an entry is
// found by kind, fingerprint and content alike.
func TestKeyCacheBounds(t *testing.T) {
	parses := 0
	get := func(c *keyCache, fpr, data string) string {
		v, err := cached(c, cacheMemberKey, fpr, []byte(data), func() (string, error) { parses++; return fpr + "/" + data, nil })
		if err != nil || v != fpr+"/"+data {
			t.Fatalf("cached(%s, %s) = %q, %v", fpr, data, v, err)
		}
		return v
	}
	c := newKeyCache(3, 1<<20)
	get(c, "A", "a")
	get(c, "B", "b")
	get(c, "C", "c")
	get(c, "A", "a") // A is now the most recently used; B the least
	get(c, "D", "d") // B goes
	if parses != 4 || c.len() != 3 {
		t.Fatalf("%d parses, %d entries; want 4 and 3", parses, c.len())
	}
	for _, id := range []string{"A", "C", "D"} {
		get(c, id, string(bytes.ToLower([]byte(id))))
	}
	if parses != 4 {
		t.Errorf("A, C and D were parsed again: %d parses", parses)
	}
	get(c, "B", "b")
	if parses != 5 {
		t.Errorf("B, the least recently used, was still cached")
	}
	// The same fingerprint with other bytes (an updated key), and the
	// same bytes under another fingerprint, are other entries.
	get(c, "B", "b2")
	get(c, "E", "b")
	if parses != 7 {
		t.Errorf("%d parses, want 7: updated or renamed bytes were taken for cached ones", parses)
	}

	// The byte bound: 3 entries of 40 bytes do not fit in 100.
	c = newKeyCache(10, 100)
	for _, id := range []string{"X", "Y", "Z"} {
		get(c, id, string(bytes.Repeat([]byte(id), 40)))
	}
	if c.len() != 2 || c.bytes != 80 {
		t.Errorf("%d entries of %d bytes, want 2 of 80", c.len(), c.bytes)
	}
}

// TestKeyCacheHoldsALargeList: the entries of a 10,000-member list, each
// with an OpenPGP key and a certificate, all stay in the cache of a
// Pipeline; none is parsed twice over two posts.
func TestKeyCacheHoldsALargeList(t *testing.T) {
	c := New(nil, nil, Options{}).keys
	parses := 0
	for round := range 2 {
		for i := range 10000 {
			for _, kind := range []string{cacheMemberKey, cacheCertificate} {
				fpr := fmt.Sprintf("%s %05d", kind, i)
				cached(c, kind, fpr, []byte(fpr+" data, about the size of a real key..."), func() (int, error) { parses++; return i, nil })
			}
		}
		cached(c, cacheListKey, "list", []byte("sealed list key"), func() (int, error) { parses++; return round, nil })
	}
	if parses != 20001 {
		t.Errorf("two posts to 10,000 members parsed %d keys, want 20,001", parses)
	}
}

// TestKeyCacheConcurrentPosts: posts to one list judge the same cached
// keys, the members' and the list's own, at once; with -race this fails
// if judging a key writes to it (go-crypto records signature checks in
// the key it is given).
func TestKeyCacheConcurrentPosts(t *testing.T) {
	p, list := newKeyCacheList(t, time.Now)
	for i := range 8 {
		k, err := pgp.GenerateKey("", fmt.Sprintf("m%d@example.org", i), pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		addMemberKey(t, p, list, fmt.Sprintf("m%d@example.org", i), k.Fingerprint(), k.PublicBytes())
	}
	// The keys are in the cache, as a post that was refused before it
	// judged them leaves them.
	ms, err := p.store.Members(context.Background(), list.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		if _, err := p.memberKey(&ms[i].Keys[0]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			// What a post does with the list's key: decrypt and sign.
			lk, err := p.listKey(list)
			if err != nil {
				t.Error(err)
				return
			}
			if info := lk.Info(time.Now().Add(time.Minute)); !info.CanSign || !info.CanEncrypt {
				t.Errorf("the list key cannot sign or decrypt: %+v", info)
			}
			r, err := p.roster(context.Background(), list)
			if err != nil {
				t.Error(err)
				return
			}
			for addr, rc := range r.to {
				if rc.pgp == nil {
					t.Errorf("%s: no usable key", addr)
				}
			}
		})
	}
	wg.Wait()
}

// TestMemberKeyCacheFollowsTheKey: a member key made by gpg with an
// expiry date is judged at the pipeline's time on every post, while it
// is cached (expired once the clock passes its expiry); the key updated
// under the same fingerprint (expiry extended, then revoked, both by gpg)
// is what the next post sees.
func TestMemberKeyCacheFollowsTheKey(t *testing.T) {
	g := gpgtest.New(t)
	now := time.Now()
	p, list := newKeyCacheList(t, func() time.Time { return now })
	const alice = "alice@example.org"
	g.MustRun(nil, "--quick-generate-key", "Alice <"+alice+">", "future-default", "default", "3d")
	now = time.Now().Add(time.Second) // not before the key was made
	k, err := pgp.ParseKey(g.Export(alice))
	if err != nil {
		t.Fatal(err)
	}
	fpr := k.Fingerprint()
	addMemberKey(t, p, list, alice, fpr, g.Export(alice))
	judge := func(when string, want keyring.Status) *pgp.Key {
		t.Helper()
		r, err := p.roster(context.Background(), list)
		if err != nil {
			t.Fatal(err)
		}
		rc := r.to[alice]
		if got := map[bool]keyring.Status{true: keyring.Usable, false: rc.status}[rc.pgp != nil]; got != want {
			t.Fatalf("%s: alice's key is %v, want %v", when, got, want)
		}
		if len(r.pgpKeys) != 1 {
			t.Fatalf("%s: %d keys to verify with, want 1", when, len(r.pgpKeys))
		}
		return r.pgpKeys[0]
	}
	first := judge("new key", keyring.Usable)
	if again := judge("second post", keyring.Usable); again != first {
		t.Errorf("the second post parsed the unchanged key again")
	}
	now = now.Add(4 * 24 * time.Hour)
	if again := judge("after its expiry", keyring.KeyExpired); again != first {
		t.Errorf("the key was parsed again: the test does not judge a cached key")
	}

	// Re-signed with a later expiry: the same fingerprint, other bytes.
	g.MustRun(nil, "--quick-set-expire", fpr, "10d")
	g.MustRun(nil, "--quick-set-expire", fpr, "10d", "*")
	putKey(t, p, fpr, g.Export(alice))
	if judge("expiry extended", keyring.Usable) == first {
		t.Errorf("the updated key was taken for the cached one")
	}

	// Revoked with the certificate gpg made with the key.
	rev, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	g.Import(bytes.Replace(rev, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1))
	putKey(t, p, fpr, g.Export(alice))
	judge("revoked", keyring.KeyRevoked)
}

// newKeyCacheList returns a Pipeline on a new store with the clock now,
// and a list in it without members.
func newKeyCacheList(t *testing.T, now func() time.Time) (*Pipeline, *store.List) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "sealpost.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := pgp.GenerateKey("", "team@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{1}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := k.SecretBytes()
	sealed, err := sealer.Seal(secret, keyring.ListKeyLabel("team@example.org", k.Fingerprint()))
	if err != nil {
		t.Fatal(err)
	}
	list := &store.List{Address: "team@example.org", Owner: "owner@example.org", KeyFingerprint: k.Fingerprint(), PublicKey: k.PublicBytes(), SealedKey: sealed}
	if err := db.CreateList(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	return New(db, sealer, Options{Now: now, Logger: slog.New(slog.DiscardHandler)}), list
}

func addMemberKey(t *testing.T, p *Pipeline, list *store.List, addr, fpr string, data []byte) {
	t.Helper()
	m := &store.Member{ListID: list.ID, Email: addr,
		Keys: []store.MemberKey{{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: fpr, Data: data}}}}
	if err := p.store.(*sqlstore.DB).AddMember(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// putKey stores data as the key with fingerprint fpr, as a key update does.
func putKey(t *testing.T, p *Pipeline, fpr string, data []byte) {
	t.Helper()
	if _, err := p.store.(*sqlstore.DB).PutKeys(context.Background(), []store.Key{{Engine: store.EngineOpenPGP, Fingerprint: fpr, Data: data}}); err != nil {
		t.Fatal(err)
	}
}
