package queue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// sink is a Transport that records deliveries and answers from a script.
type sink struct {
	mu     sync.Mutex
	got    []string
	answer func(to string) error
}

func (s *sink) Deliver(_ context.Context, from, to string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answer != nil {
		if err := s.answer(to); err != nil {
			return err
		}
	}
	s.got = append(s.got, to)
	return nil
}

var quiet = slog.New(slog.DiscardHandler)

var errTransport = errors.New("transport said no")

func setup(t *testing.T, rcpts ...string) (*sqlstore.DB, *time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var ds []store.Delivery
	for _, r := range rcpts {
		ds = append(ds, store.Delivery{Ref: "ref1", Kind: store.KindPost, From: "b@x.org", To: r, Data: []byte("m"), CreatedAt: now})
	}
	if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	return db, &now
}

func TestFlushDeliversAndRetries(t *testing.T) {
	ctx := context.Background()
	db, now := setup(t, "ok@x.org", "later@x.org", "never@x.org")
	s := &sink{answer: func(to string) error {
		switch to {
		case "later@x.org":
			return errTransport
		case "never@x.org":
			return &Permanent{errTransport}
		}
		return nil
	}}
	var failed []string
	q := New(db, s, Options{Now: func() time.Time { return *now }, Logger: quiet,
		Failed: func(_ context.Context, d store.Delivery, reason string) { failed = append(failed, d.To+": "+reason) }})
	if n, err := q.Flush(ctx); err != nil || n != 3 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	// Only the permanent failure is reported as failed for good.
	if len(failed) != 1 || failed[0] != "never@x.org: transport said no" {
		t.Errorf("Failed told of %v", failed)
	}
	ds, _ := db.DeliveriesByRef(ctx, "ref1")
	want := map[string]store.DeliveryState{"ok@x.org": store.Sent, "later@x.org": store.Pending, "never@x.org": store.Failed}
	for _, d := range ds {
		if d.State != want[d.To] {
			t.Errorf("%s: state %s, want %s", d.To, d.State, want[d.To])
		}
		if d.To == "later@x.org" && !d.NextAttempt.Equal(now.Add(5*time.Minute)) {
			t.Errorf("first retry at %v, want +5m", d.NextAttempt)
		}
	}
	// Nothing is due until the backoff has passed; then the retry succeeds.
	if n, _ := q.Flush(ctx); n != 0 {
		t.Errorf("Flush before the backoff attempted %d", n)
	}
	s.answer = nil
	*now = now.Add(5 * time.Minute)
	if n, _ := q.Flush(ctx); n != 1 {
		t.Errorf("Flush after the backoff attempted %d, want 1", n)
	}
	if len(s.got) != 2 {
		t.Errorf("delivered to %v", s.got)
	}
}

func TestGiveUpAfterFiveDays(t *testing.T) {
	ctx := context.Background()
	db, now := setup(t, "down@x.org")
	s := &sink{answer: func(string) error { return errors.New("connection refused") }}
	start := *now
	q := New(db, s, Options{Now: func() time.Time { return *now }, Logger: quiet})
	var delays []time.Duration
	for i := 0; i < 500; i++ {
		q.Flush(ctx)
		d, _ := db.DeliveriesByRef(ctx, "ref1")
		if d[0].State == store.Failed {
			if got := now.Sub(start); got < 5*24*time.Hour || got > 5*24*time.Hour+time.Hour {
				t.Errorf("gave up after %v, want about 5 days", got)
			}
			if delays[0] != 5*time.Minute || delays[len(delays)-1] != time.Hour {
				t.Errorf("backoff runs %v … %v, want 5m … 1h", delays[0], delays[len(delays)-1])
			}
			return
		}
		delays = append(delays, d[0].NextAttempt.Sub(*now))
		*now = d[0].NextAttempt
	}
	t.Fatal("never gave up")
}

// batchSink is a BatchTransport that stores each message as write makes
// it, and answers from a script after the message is written.
type batchSink struct {
	sink
	written map[string]string
}

func (b *batchSink) DeliverBatch(_ context.Context, ds []store.Delivery, write func(i int, w io.Writer) error) []error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		var buf bytes.Buffer
		if errs[i] = write(i, &buf); errs[i] == nil {
			b.written[d.To] = buf.String()
			errs[i] = b.Deliver(context.Background(), d.From, d.To, buf.Bytes())
		}
	}
	return errs
}

// TestBatchWritesMessages: a batch transport is handed every due
// delivery at once, each message written into it: one stored as it is
// sent as stored, one rendered by Options.Render into the transport's
// writer. A render that fails for good fails its delivery (told to
// Failed); one that fails for now leaves it pending; the others go out.
func TestBatchWritesMessages(t *testing.T) {
	ctx := context.Background()
	db, now := setup(t, "stored@x.org")
	var ds []store.Delivery
	for _, to := range []string{"rendered@x.org", "gone@x.org", "later@x.org"} {
		ds = append(ds, store.Delivery{Ref: "ref1", Kind: store.KindPost, From: "b@x.org", To: to, Sealed: true, Data: []byte("sealed"), CreatedAt: *now})
	}
	if err := db.Commit(ctx, store.Outcome{Deliveries: ds}); err != nil {
		t.Fatal(err)
	}
	s := &batchSink{written: map[string]string{}}
	var failed []string
	q := New(db, s, Options{Now: func() time.Time { return *now }, Logger: quiet,
		Render: func(_ context.Context, d *store.Delivery, w io.Writer) error {
			switch d.To {
			case "gone@x.org":
				return &Permanent{errors.New("key gone")}
			case "later@x.org":
				io.WriteString(w, "half")
				return errTransport
			}
			_, err := io.WriteString(w, "rendered for "+d.To)
			return err
		},
		Failed: func(_ context.Context, d store.Delivery, reason string) { failed = append(failed, d.To) }})
	if n, err := q.Flush(ctx); err != nil || n != 4 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	if got := s.written["stored@x.org"]; got != "m" {
		t.Errorf("stored message written as %q", got)
	}
	if got := s.written["rendered@x.org"]; got != "rendered for rendered@x.org" {
		t.Errorf("rendered message written as %q", got)
	}
	got, _ := db.DeliveriesByRef(ctx, "ref1")
	want := map[string]store.DeliveryState{"stored@x.org": store.Sent, "rendered@x.org": store.Sent,
		"gone@x.org": store.Failed, "later@x.org": store.Pending}
	for _, d := range got {
		if d.State != want[d.To] {
			t.Errorf("%s: state %s, want %s", d.To, d.State, want[d.To])
		}
	}
	if len(failed) != 1 || failed[0] != "gone@x.org" {
		t.Errorf("Failed told of %v", failed)
	}
}

// TestBatchBesideRouted: in one round, the deliveries through the default
// batch transport still go out together, written into it, while a
// delivery routed elsewhere (a gateway's helpdesk) goes through its own
// transport.
func TestBatchBesideRouted(t *testing.T) {
	ctx := context.Background()
	db, now := setup(t, "a@x.org", "b@x.org")
	routed := store.Delivery{Ref: "ref1", Kind: store.KindPost, From: "b@x.org", To: "desk@x.org", Route: "desk", Data: []byte("r"), CreatedAt: *now}
	if err := db.Commit(ctx, store.Outcome{Deliveries: []store.Delivery{routed}}); err != nil {
		t.Fatal(err)
	}
	batch := &batchSink{written: map[string]string{}}
	desk := &sink{}
	q := New(db, batch, Options{Now: func() time.Time { return *now }, Logger: quiet,
		Route: func(string) (Transport, error) { return desk, nil }})
	if n, err := q.Flush(ctx); err != nil || n != 3 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	if len(batch.written) != 2 || batch.written["a@x.org"] != "m" || batch.written["b@x.org"] != "m" {
		t.Errorf("batch transport wrote %v, want a@ and b@", batch.written)
	}
	if len(desk.got) != 1 || desk.got[0] != "desk@x.org" {
		t.Errorf("routed transport got %v", desk.got)
	}
}
