package app_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/benchdir"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pgtest"
	"github.com/sealpost/sealpost/internal/pipeline"
)

// BenchmarkFanout measures one post to 100 members (4 KiB body,
// Ed25519/Cv25519 keys) through the whole pipeline: spool, decrypt,
// verify, policy, sign once, encrypt 100 times, commit, and delivery of
// the 100 copies into the Maildir outbox (each fsynced). Making the
// member's post (sign and encrypt to the list) is not timed.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchFanout(b, n, true) })
	}
	// Up to the durable commit of the 100 encrypted copies in the queue,
	// which is when SMTP answers 250; delivery is not included.
	b.Run("members=100/until-queued", func(b *testing.B) { benchFanout(b, 100, false) })
	// A --key-algo pq list whose 100 members have RFC 9980 keys (v4,
	// Ed25519/Cv25519/ML-KEM-768+X25519): the post goes to the list's
	// ML-KEM subkey, each copy to the member's. Next to members=100,
	// where list and members have Ed25519/Cv25519 keys.
	b.Run("members=100/pq", func(b *testing.B) { benchFanoutAlgo(b, pgp.PQ, 100) })
}

// BenchmarkEngines is one post to 100 members taken up to the durable
// commit of its 100 copies (the SMTP 250), with the records in SQLite and
// in PostgreSQL (a private server on this machine, internal/pgtest), in
// the same run: what a node pays per post for the shared database.
func BenchmarkEngines(b *testing.B) {
	b.Run("engine=sqlite", func(b *testing.B) { benchFanoutOn(b, "", 100, false) })
	b.Run("engine=postgres", func(b *testing.B) { benchFanoutOn(b, pgtest.Shared(b).CreateDB(b), 100, false) })
}

// openBenchApp opens Sealpost on a fresh data directory, closed when b ends.
func openBenchApp(b *testing.B) (*app.App, string) { return openBenchAppOn(b, "") }

// openBenchAppOn is openBenchApp with its records in the PostgreSQL
// database at url, or in SQLite when url is "".
func openBenchAppOn(b *testing.B, url string) (*app.App, string) {
	dir := benchdir.New(b)
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Database.URL = url
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a, dir
}

// newTeam creates the list team (an Ed25519 list key, owner
// owner@example.org) and returns its public key.
func newTeam(tb testing.TB, a *app.App) *pgp.Key { return newTeamAlgo(tb, a, pgp.Ed25519) }

// newTeamAlgo is newTeam with a list key of algo.
func newTeamAlgo(tb testing.TB, a *app.App, algo pgp.Algorithm) *pgp.Key {
	tb.Helper()
	l, err := a.Admin.CreateList(context.Background(), team, "owner@example.org", "", algo)
	if err != nil {
		tb.Fatal(err)
	}
	listKey, err := pgp.ParseKey(l.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return listKey
}

func benchFanout(b *testing.B, members int, deliver bool) { benchFanoutOn(b, "", members, deliver) }

// benchFanoutAlgo is benchFanout to the outbox with the list's and the
// members' keys of algo.
func benchFanoutAlgo(b *testing.B, algo pgp.Algorithm, members int) {
	a, dir := openBenchApp(b)
	listKey := newTeamAlgo(b, a, algo)
	sender := addBenchMembersAlgo(b, a, algo, members)
	b.ResetTimer()
	runFanout(b, a, dir, members, true, func(i int) []byte {
		return benchPost(b, sender, "member000@example.org", listKey, i, benchBody)
	})
}

// benchFanoutOn is benchFanout with the records in the PostgreSQL
// database at url ("": SQLite).
func benchFanoutOn(b *testing.B, url string, members int, deliver bool) {
	a, dir := openBenchAppOn(b, url)
	listKey := newTeam(b, a)
	sender := addBenchMembers(b, a, members)
	b.ResetTimer()
	runFanout(b, a, dir, members, deliver, func(i int) []byte {
		return benchPost(b, sender, "member000@example.org", listKey, i, benchBody)
	})
}

// addBenchMembers adds members member000@example.org, ... with Ed25519
// keys to team, and returns the first one's key, the sender of the posts.
func addBenchMembers(b *testing.B, a *app.App, members int) *pgp.Key {
	return addBenchMembersAlgo(b, a, pgp.Ed25519, members)
}

// addBenchMembersAlgo is addBenchMembers with keys of algo.
func addBenchMembersAlgo(b *testing.B, a *app.App, algo pgp.Algorithm, members int) *pgp.Key {
	var sender *pgp.Key
	for i := range members {
		addr := fmt.Sprintf("member%03d@example.org", i)
		k, err := pgp.GenerateKey("", addr, algo, pgp.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := a.Admin.AddMemberWith(context.Background(), team, addr, k.PublicBytes(), quiet(false)); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			sender = k
		}
	}
	return sender
}

// benchBody is the 4 KiB body of every benchmark post.
var benchBody = strings.Repeat("All work and no play makes Jack a dull boy. 0123456789abcdef\r\n", 4096/64)

// runFanout processes b.N posts made by post (not timed) and, when
// deliver is set, delivers their copies into the outbox, checking the
// first round's count and emptying the outbox between rounds (not timed).
func runFanout(b *testing.B, a *app.App, dir string, members int, deliver bool, post func(i int) []byte) {
	ctx := context.Background()
	outbox := filepath.Join(dir, app.OutboxDir, "new")
	peak := startPeakRSS()
	copyBytes := 0.0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raw := post(i)
		b.StartTimer()
		if !deliver {
			err := a.Pipeline.Process(ctx, pipeline.Message{Ref: fmt.Sprint(i), EnvelopeFrom: "member000@example.org", Rcpt: team, Raw: raw})
			if err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := a.Process(ctx, team, "member000@example.org", raw); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if i == 0 {
			files, _ := filepath.Glob(filepath.Join(outbox, "*"))
			if len(files) != members {
				b.Fatalf("outbox has %d copies, want %d", len(files), members)
			}
			copyBytes = meanFileSize(b, files)
		}
		benchdir.Park(b, outbox)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*members), "µs/recipient")
	if copyBytes > 0 {
		b.ReportMetric(copyBytes, "bytes/copy")
	}
	peak.report(b)
}

// meanFileSize is the mean size of files, the copies in the outbox.
func meanFileSize(b *testing.B, files []string) float64 {
	total := int64(0)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		total += st.Size()
	}
	return float64(total) / float64(len(files))
}

// benchPost makes the i-th post from sender: signed and encrypted to the
// list, with protected headers naming it.
func benchPost(b testing.TB, sender *pgp.Key, from string, list *pgp.Key, i int, body string) []byte {
	inner := fmt.Sprintf("Content-Type: text/plain; charset=utf-8\r\nFrom: %s\r\nTo: %s\r\nSubject: post %d\r\n\r\n%s", from, team, i, body)
	signed, err := pgp.Sign(sender, []byte(inner), pgp.Options{})
	if err != nil {
		b.Fatal(err)
	}
	armored, err := signed.EncryptTo(list, false)
	if err != nil {
		b.Fatal(err)
	}
	boundary, _ := mime.NewBoundary(rand.Reader)
	ct, mbody := pgp.EncryptedBody(armored, boundary)
	return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), mbody...)
}
