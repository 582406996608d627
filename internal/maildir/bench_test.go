package maildir_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/benchdir"
	"github.com/sealpost/sealpost/internal/maildir"
)

// The benchmark keeps what it delivered until the package has finished
// (benchdir): deleting a round's files would slow the next round's.
func TestMain(m *testing.M) { benchdir.Main(m) }

// BenchmarkDeliverAll delivers a batch of small copies (4 KiB, like one
// post's copies) into a Maildir and makes them durable, as the outbox does
// for one post's fan-out: the file system's share of a copy's cost, without
// its cryptography (bench/fanout.sh prints it beside the cryptographic
// lower bound). ns/op is the whole batch; files/s is reported beside it.
func BenchmarkDeliverAll(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			dir := filepath.Join(benchdir.New(b), "outbox")
			o, err := maildir.Open(dir, maildir.Options{})
			if err != nil {
				b.Fatal(err)
			}
			data := bytes.Repeat([]byte("0123456789abcdef"), 256)
			msgs := make([]maildir.Message, n)
			for i := range msgs {
				msgs[i] = maildir.Message{From: "team-bounce@lists.example.org", Rcpt: fmt.Sprintf("m%d@example.org", i), Data: data}
			}
			b.ResetTimer()
			for b.Loop() {
				for i, err := range o.DeliverAll(msgs) {
					if err != nil {
						b.Fatalf("message %d: %v", i, err)
					}
				}
				b.StopTimer()
				benchdir.Park(b, filepath.Join(dir, "new"))
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
