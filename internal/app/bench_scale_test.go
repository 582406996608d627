package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/benchdir"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/memtest"
	"github.com/sealpost/sealpost/internal/pipeline"
)

// The benchmarks of issue 17's table that BenchmarkFanout does not cover:
// a 10,000-member list, a 25 MB post, a post that inflates to 30 MB, and
// what an SMTP client sees (the 250, the copies in the outbox, the intake
// rate of concurrent clients). Each reports the process's peak resident
// memory over the measured part as "peak-MB" (peakRSS). They use only the
// entry points a user's mail reaches: App.Process, App.Pipeline.Process
// (the 250) and SMTP to App.Serve.

// largeBenchEnv gates the benchmarks that take minutes on the code of
// issue 17's "now" column.
const largeBenchEnv = "SEALPOST_BENCH_LARGE"

func requireLarge(b *testing.B) {
	if os.Getenv(largeBenchEnv) == "" {
		b.Skipf("takes minutes; set %s=1 to run it", largeBenchEnv)
	}
}

// peakRSS measures the process's peak resident set size (VmHWM) from
// start to report. start returns what the Go runtime holds to the
// operating system and resets the kernel's high-water mark
// (/proc/self/clear_refs, "5", Linux ≥ 4.0), so that the peak is that of
// the measured part, not of the setup before it.
type peakRSS struct{ ok bool }

func startPeakRSS() *peakRSS {
	runtime.GC()
	debug.FreeOSMemory()
	err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return &peakRSS{ok: err == nil}
}

// report adds the peak in MB (10^6 bytes) to b's results, and also the
// growth of the peak over the resident size at start ("peak-MB" is the
// whole process, test fixtures included).
func (p *peakRSS) report(b *testing.B) {
	hwm, ok := memtest.StatusKB(0, "VmHWM")
	if !ok || !p.ok {
		b.Logf("peak RSS unavailable (no /proc/self/status or clear_refs)")
		return
	}
	b.ReportMetric(float64(hwm)*1024/1e6, "peak-MB")
}

// benchList is a list of members on a fresh Sealpost, and the key of its
// first member, member000@example.org, who posts.
type benchList struct {
	a       *app.App
	dir     string
	listKey *pgp.Key
	sender  *pgp.Key
}

// newBenchList creates the list team with members members, their keys
// made on every core by Sealpost's own key generation (gpg would take
// minutes for 10,000), added through the admin service as `member add`
// does. When senderKey is not nil it is member000's public key instead
// of a generated one.
func newBenchList(b *testing.B, a *app.App, dir string, members int, senderKey []byte) *benchList {
	ctx := context.Background()
	listKey := newTeam(b, a)
	keys := make([]*pgp.Key, members)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < members; i += workers {
				if i == 0 && senderKey != nil {
					continue
				}
				keys[i], errs[w] = pgp.GenerateKey("", memberAddr(i), pgp.Ed25519, pgp.Options{})
				if errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	for i, k := range keys {
		pub := senderKey
		if k != nil {
			pub = k.PublicBytes()
		}
		if _, _, err := a.Admin.AddMemberWith(ctx, team, memberAddr(i), pub, quiet(false)); err != nil {
			b.Fatal(err)
		}
	}
	return &benchList{a: a, dir: dir, listKey: listKey, sender: keys[0]}
}

func memberAddr(i int) string { return fmt.Sprintf("member%03d@example.org", i) }

// BenchmarkFanoutList10k is issue 17's 10,000-member row: one 4 KiB post
// to a list of 10,000 members, up to the durable commit of the copies
// (when SMTP answers 250) and up to all copies in the Maildir outbox.
// Setting up the list takes a minute or so (10,000 keys and members);
// run it with -benchtime 1x.
func BenchmarkFanoutList10k(b *testing.B) {
	const members = 10000
	a, dir := openBenchApp(b)
	start := time.Now()
	l := newBenchList(b, a, dir, members, nil)
	b.Logf("list of %d members set up in %v", members, time.Since(start).Round(time.Second))
	n := 0
	post := func(int) []byte {
		n++
		return benchPost(b, l.sender, memberAddr(0), l.listKey, n, benchBody)
	}
	b.Run("until-queued", func(b *testing.B) { runFanout(b, a, dir, members, false, post) })
	b.Run("outbox", func(b *testing.B) { runFanout(b, a, dir, members, true, post) })
}

// BenchmarkLargePost is issue 17's first row: a 25 MB post (an 18.2 MB
// body, signed, encrypted and armoured) to 10 and to 100 members through App.Process, up to all
// copies in the outbox, with the peak RSS. It takes minutes on the code
// of the "now" column: set SEALPOST_BENCH_LARGE=1.
func BenchmarkLargePost(b *testing.B) {
	requireLarge(b)
	body := largeBody(18_200_000)
	for _, members := range []int{10, 100} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			a, dir := openBenchApp(b)
			l := newBenchList(b, a, dir, members, nil)
			var size int
			runFanout(b, a, dir, members, true, func(i int) []byte {
				raw := benchPost(b, l.sender, memberAddr(0), l.listKey, i, body)
				size = len(raw)
				return raw
			})
			b.ReportMetric(float64(size)/1e6, "post-MB")
			b.ReportMetric(float64(dirSize(b, dir))/1e6, "data-MB")
		})
	}
}

// largeBody is size bytes of text in CRLF lines, every line different so
// that the post does not compress to nothing.
func largeBody(size int) string {
	var s strings.Builder
	s.Grow(size + 80)
	for i := 0; s.Len() < size; i++ {
		fmt.Fprintf(&s, "%08d All work and no play makes Jack a dull boy. 0123456789abcdefghijk\r\n", i)
	}
	return s.String()[:size-2] + "\r\n"
}

// dirSize is the size of the files under dir (the database, its WAL,
// the spool and the outbox).
func dirSize(b *testing.B, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkCompressionBomb is issue 17's second row: a post of about
// 160 KB, made by gpg (which compresses, RFC 9580 §5.6), that inflates to
// 30 MB, to 40 members, up to all copies in the outbox. A post that
// Sealpost refuses (the inflated size counted against max_message_bytes)
// is reported as refused=1. Set SEALPOST_BENCH_LARGE=1.
func BenchmarkCompressionBomb(b *testing.B) {
	requireLarge(b)
	const members = 40
	ctx := context.Background()
	g := gpgtest.New(b)
	fpr := g.GenKey("Member <" + memberAddr(0) + ">")
	a, dir := openBenchApp(b)
	l := newBenchList(b, a, dir, members, g.Export(fpr))
	g.Import(l.listKey.PublicBytes())
	// 30 MB of 4 KiB blocks, each numbered: deflate's 32 KiB window finds
	// the repetition, the numbers keep it from being pure.
	var inner bytes.Buffer
	fmt.Fprintf(&inner, "Content-Type: text/plain; charset=utf-8\r\nFrom: %s\r\nTo: %s\r\nSubject: big\r\n\r\n", memberAddr(0), team)
	for i := 0; inner.Len() < 30_000_000; i++ {
		fmt.Fprintf(&inner, "block %d\r\n%s", i, benchBody)
	}
	outbox := filepath.Join(dir, app.OutboxDir, "new")
	var postSize int
	refused := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fmt.Fprintf(&inner, "again %d\r\n", i) // a new post each time
		armored := g.MustRun(inner.Bytes(), "--armor", "--compress-algo", "zlib", "--sign", "--encrypt",
			"-u", fpr, "-r", team).Stdout
		raw := wrapTo(memberAddr(0), team, armored)
		postSize = len(raw)
		peak := startPeakRSS()
		b.StartTimer()
		_, err := a.Process(ctx, team, memberAddr(0), raw)
		b.StopTimer()
		if err != nil {
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) {
				b.Fatal(err)
			}
			refused = 1
			b.Logf("refused: %v", err)
		} else if files, _ := filepath.Glob(filepath.Join(outbox, "*")); len(files) != members {
			b.Fatalf("outbox has %d copies, want %d", len(files), members)
		}
		peak.report(b)
		benchdir.Park(b, outbox)
		b.StartTimer()
	}
	b.ReportMetric(float64(postSize)/1e3, "post-KB")
	b.ReportMetric(float64(refused), "refused")
}

// smtpBench is Sealpost serving SMTP on a loopback port for a benchmark.
type smtpBench struct {
	*benchList
	addr string
}

// serveBench opens Sealpost with a list of members and runs Serve (the
// SMTP listener and the queue delivering into the Maildir outbox) until
// b ends.
func serveBench(b *testing.B, members int) *smtpBench {
	dir := benchdir.New(b)
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg.SMTP.Listen = "127.0.0.1:0"
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	l := newBenchList(b, a, dir, members, nil)
	return &smtpBench{benchList: l, addr: serve(b, a)}
}

// posts makes n posts from member000 (not timed by the caller).
func (s *smtpBench) posts(b *testing.B, first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = benchPost(b, s.sender, memberAddr(0), s.listKey, first+i, benchBody)
	}
	return out
}

// smtpClient is one SMTP connection that sends post after post, as an
// MTA does over a kept connection.
type smtpClient struct{ c *smtp.Client }

func dialSMTP(b *testing.B, addr string) *smtpClient {
	c, err := smtp.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Hello("client.example.org"); err != nil {
		b.Fatal(err)
	}
	return &smtpClient{c: c}
}

// send runs one mail transaction and returns when the server answered
// the data (the 250).
func (c *smtpClient) send(from, rcpt string, raw []byte) error {
	if err := c.c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	return w.Close()
}

// BenchmarkSMTPFanout is what an SMTP client sees of one 4 KiB post to
// 100 members: the time to the 250 ("ms-to-250", the durable commit of
// the copies) and to all 100 copies in the Maildir outbox (ns/op and
// "ms-to-outbox"), over one kept connection, one post at a time.
func BenchmarkSMTPFanout(b *testing.B) {
	const members = 100
	s := serveBench(b, members)
	c := dialSMTP(b, s.addr)
	defer c.c.Close()
	outbox := filepath.Join(s.dir, app.OutboxDir, "new")
	posts := s.posts(b, 0, b.N)
	peak := startPeakRSS()
	var to250 time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := c.send(memberAddr(0), team, posts[i]); err != nil {
			b.Fatal(err)
		}
		to250 += time.Since(start)
		for countDir(outbox) < members {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if n := countDir(outbox); n != members {
			b.Fatalf("outbox has %d copies, want %d", n, members)
		}
		benchdir.Park(b, outbox)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(to250.Microseconds())/1e3/float64(b.N), "ms-to-250")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms-to-outbox")
	peak.report(b)
}

// countDir is the number of entries in dir.
func countDir(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

// BenchmarkSMTPIntake is issue 17's intake row: four SMTP clients, each
// over its own kept connection, send 4 KiB posts to a 10-member list as
// fast as the 250s come; "posts/s" is the rate of 250s. The queue
// delivers the copies into the outbox meanwhile, as in production.
func BenchmarkSMTPIntake(b *testing.B) {
	const members, clients = 10, 4
	s := serveBench(b, members)
	posts := s.posts(b, 0, b.N)
	conns := make([]*smtpClient, clients)
	for i := range conns {
		conns[i] = dialSMTP(b, s.addr)
		defer conns[i].c.Close()
	}
	peak := startPeakRSS()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(posts); i += clients {
				if err := c.send(memberAddr(0), team, posts[i]); err != nil {
					errs[w] = fmt.Errorf("post %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	peak.report(b)
}
