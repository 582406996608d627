package sqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkPurge times the daily retention purge of a database holding
// 100,000 sent deliveries of 6 KiB each (the size of one copy in the
// finding that asked for it; SEALPOST_PURGE_ROWS changes the number), in
// the steps serve runs them in (internal/app: purgeBatch rows,
// reclaimStep bytes). Each sub-benchmark starts from a copy of the same
// filled file; the filling is not timed.
//
//	copies:      remove every copy (PurgeDeliveryData); ms/step is how long one step holds the write lock
//	reclaim:     then give the freed pages back (ReclaimSpace) and checkpoint
//	records:     then delete every record (DeleteDeliveryRecords)
//	nothing-due: one purge of copies and one of records when none is due, every row a fresh record: the daily cost in between
func BenchmarkPurge(b *testing.B) {
	rows := 100000
	if s := os.Getenv("SEALPOST_PURGE_ROWS"); s != "" {
		if _, err := fmt.Sscan(s, &rows); err != nil {
			b.Fatal(err)
		}
	}
	const step, reclaim, size = 250, 1 << 20, 6 << 10
	sent := time.Now().Add(-10 * 24 * time.Hour)
	tmpl := filepath.Join(b.TempDir(), "filled.db")
	fillSent(b, tmpl, rows, size, sent)
	fi, _ := os.Stat(tmpl)
	b.Logf("%d sent deliveries of %d bytes: database of %d MiB", rows, size, fi.Size()>>20)

	// open copies the filled database and runs prepare on it, untimed.
	open := func(b *testing.B, prepare func(*DB)) *DB {
		b.StopTimer()
		defer b.StartTimer()
		path := filepath.Join(b.TempDir(), fmt.Sprintf("copy-%d.db", time.Now().UnixNano()))
		copyFile(b, tmpl, path)
		db, err := Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close(); os.Remove(path); os.Remove(path + "-wal"); os.Remove(path + "-shm") })
		prepare(db)
		return db
	}
	ctx := context.Background()
	now := time.Now()
	purgeAll := func(b *testing.B, db *DB, fn func() (int64, error)) (steps int, slowest time.Duration) {
		for {
			start := time.Now()
			n, err := fn()
			if err != nil {
				b.Fatal(err)
			}
			steps, slowest = steps+1, max(slowest, time.Since(start))
			if n < step {
				return steps, slowest
			}
		}
	}
	copies := func(db *DB) func() (int64, error) {
		return func() (int64, error) {
			return db.PurgeDeliveryData(ctx, store.Sent, now.Add(-3*24*time.Hour), now, step)
		}
	}
	records := func(db *DB, cutoff time.Time) func() (int64, error) {
		return func() (int64, error) { return db.DeleteDeliveryRecords(ctx, cutoff, step) }
	}
	report := func(b *testing.B, steps int, slowest time.Duration) {
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*steps), "ms/step")
		b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-ms/step")
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds()*float64(b.N), "rows/s")
	}
	b.Run("copies", func(b *testing.B) {
		var steps int
		var slowest time.Duration
		for range b.N {
			db := open(b, func(*DB) {})
			steps, slowest = purgeAll(b, db, copies(db))
		}
		report(b, steps, slowest)
	})
	b.Run("reclaim", func(b *testing.B) {
		var steps int
		var slowest time.Duration
		var freed int64
		for range b.N {
			db := open(b, func(db *DB) { purgeAll(b, db, copies(db)) })
			steps, slowest, freed = 0, 0, 0
			for {
				start := time.Now()
				n, left, err := db.ReclaimSpace(ctx, reclaim)
				if err != nil {
					b.Fatal(err)
				}
				steps, slowest, freed = steps+1, max(slowest, time.Since(start)), freed+n
				if n == 0 || left == 0 {
					break
				}
			}
			if _, err := db.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(freed>>20), "MiB-freed")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*steps), "ms/step")
		b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-ms/step")
	})
	b.Run("records", func(b *testing.B) {
		var steps int
		var slowest time.Duration
		for range b.N {
			db := open(b, func(db *DB) { purgeAll(b, db, copies(db)) })
			steps, slowest = purgeAll(b, db, records(db, now))
		}
		report(b, steps, slowest)
	})
	b.Run("nothing-due", func(b *testing.B) {
		db := open(b, func(db *DB) { purgeAll(b, db, copies(db)) })
		for b.Loop() {
			if n, err := db.PurgeDeliveryData(ctx, store.Sent, now.Add(-3*24*time.Hour), now, step); err != nil || n != 0 {
				b.Fatal(n, err)
			}
			if n, err := db.DeleteDeliveryRecords(ctx, sent.Add(-time.Hour), step); err != nil || n != 0 {
				b.Fatal(n, err)
			}
		}
	})
}

// fillSent makes a database at path with n deliveries of size random
// bytes, sent at sent.
func fillSent(b *testing.B, path string, n, size int, sent time.Time) {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := &store.List{Address: "team@bench.example", KeyFingerprint: "F", PublicKey: []byte{1}, SealedKey: []byte{2}}
	if err := db.CreateList(ctx, l); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, size+4096)
	rand.Read(body)
	const batch = 1000
	for start := 0; start < n; start += batch {
		out := store.Outcome{ListID: l.ID}
		for i := start; i < min(start+batch, n); i++ {
			out.Deliveries = append(out.Deliveries, store.Delivery{Ref: fmt.Sprint(i / 10000), ListID: l.ID, Kind: store.KindPost,
				From: "team-bounce@bench.example", To: fmt.Sprintf("m%d@bench.example", i), Data: body[i%4096 : i%4096+size]})
		}
		if err := db.Commit(ctx, out); err != nil {
			b.Fatal(err)
		}
		attempts := make([]store.Attempt, len(out.Deliveries))
		for i, d := range out.Deliveries {
			attempts[i] = store.Attempt{ID: d.ID, State: store.Sent, At: sent}
		}
		if err := db.RecordAttempts(ctx, attempts); err != nil {
			b.Fatal(err)
		}
	}
}

func copyFile(b *testing.B, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}
