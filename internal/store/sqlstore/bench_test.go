package sqlstore

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/sealpost/sealpost/internal/store"
)

// BenchmarkKeyLookup times keyring lookups in the database named by
// SEALPOST_KEYSTORE_DB (bench/keystore.sh fills one with a million keys);
// without it, in a keyring of 10,000 keys made here.
func BenchmarkKeyLookup(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("SEALPOST_KEYSTORE_DB")
	if path == "" {
		path = b.TempDir() + "/bench.db"
		db, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		fillKeyring(b, db, 10000)
		db.Close()
	}
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n, _ := db.CountKeys(ctx)
	b.Logf("keyring of %d keys", n)
	// A sample of keys to look up, spread over the whole keyring.
	rows, err := db.db.QueryContext(ctx, `SELECT i.fingerprint, i.value FROM key_index i WHERE i.kind = 'email'
		AND i.fingerprint IN (SELECT fingerprint FROM keys ORDER BY random() LIMIT 1000)`)
	if err != nil {
		b.Fatal(err)
	}
	var fprs, emails []string
	for rows.Next() {
		var f, e string
		rows.Scan(&f, &e)
		fprs, emails = append(fprs, f), append(emails, e)
	}
	rows.Close()
	if len(fprs) == 0 {
		b.Fatal("keyring is empty")
	}
	b.Run("by-fingerprint", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.Key(ctx, fprs[i%len(fprs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-address", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if ks, err := db.FindKeys(ctx, store.IndexEmail, emails[i%len(emails)]); err != nil || len(ks) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-keyid", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			f := fprs[i%len(fprs)]
			if _, err := db.FindKeys(ctx, store.IndexKeyID, f[len(f)-16:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func fillKeyring(b *testing.B, db *DB, n int) {
	const batch = 1000
	for start := 0; start < n; start += batch {
		var keys []store.Key
		for i := start; i < min(start+batch, n); i++ {
			fpr := fmt.Sprintf("%040X", i)
			keys = append(keys, store.Key{Fingerprint: fpr, Engine: store.EngineOpenPGP, Data: make([]byte, 500), IndexVersion: 1,
				Index: []store.IndexEntry{{Kind: store.IndexKeyID, Value: fpr[24:]},
					{Kind: store.IndexEmail, Value: fmt.Sprintf("user-%d@bench.example", i)}}})
		}
		if _, err := db.PutKeys(context.Background(), keys); err != nil {
			b.Fatal(err)
		}
	}
}
