package app_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/benchdir"
)

// BenchmarkRelayFanout measures one post to 100 members delivered
// through a relay (a go-smtp sink on loopback) instead of the outbox:
// `process`'s path, from the post to the last copy the relay took, with
// "conns/op" the connections the relay saw per post (one per batch).
func BenchmarkRelayFanout(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("members=100/body=%dKiB", size>>10), func(b *testing.B) { benchRelayFanout(b, 100, size) })
	}
}

func benchRelayFanout(b *testing.B, members, size int) {
	ctx := context.Background()
	sink := &countingSink{}
	addr := serveCountingSink(b, sink)
	dir := benchdir.New(b)
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Relay.Addr = addr
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	listKey := newTeam(b, a)
	sender := addBenchMembers(b, a, members)
	body := strings.Repeat(benchBody, max(1, size/len(benchBody)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raw := benchPost(b, sender, "member000@example.org", listKey, i, body)
		b.StartTimer()
		if _, err := a.Process(ctx, team, "member000@example.org", raw); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got, want := sink.msgs.Load(), int64(b.N*members); got != want {
		b.Fatalf("relay took %d copies, want %d", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*members), "µs/recipient")
	b.ReportMetric(float64(sink.conns.Load())/float64(b.N), "conns/op")
}

// countingSink is a relay that takes every message and counts messages
// and connections.
type countingSink struct{ msgs, conns atomic.Int64 }

func (s *countingSink) NewSession(*smtp.Conn) (smtp.Session, error) { return countingSession{s}, nil }

type countingSession struct{ s *countingSink }

func (countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (c countingSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	c.s.msgs.Add(1)
	return err
}
func (countingSession) Reset()        {}
func (countingSession) Logout() error { return nil }

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func serveCountingSink(b *testing.B, s *countingSink) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.MaxMessageBytes = 64 << 20
	go srv.Serve(countingListener{ln, &s.conns})
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
