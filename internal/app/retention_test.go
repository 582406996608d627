package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// logBuffer collects an App's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns what was logged since the last take.
func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// TestDailyRetention: the daily jobs of serve, with the default
// settings, remove a delivered copy's body from the database after
// [queue] keep_days (3) so that none of its bytes are left in the
// database files, delete its record after record_days (30), keep a
// failed copy for failed_keep_days (14) and then refuse to retry it,
// never touch a pending delivery, forget a gateway conversation after
// [gateway] conversation_days (365) and audit entries after [audit]
// keep_days (400); each purge is logged with its count.
func TestDailyRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	db := filepath.Join(dir, app.DatabaseFile)

	l, err := a.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := pgp.GenerateKey("", "alice@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := pgp.GenerateKey("", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for addr, k := range map[string]*pgp.Key{"alice@example.org": alice, "bob@example.org": bob} {
		if _, _, err := a.Admin.AddMemberWith(ctx, team, addr, k.PublicBytes(), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	// Two encrypted copies kept as their message (a post's members'
	// copies are rendered from its body and never stored; notices,
	// plain and resent copies, gateway mail are), sent now.
	copies := store.Outcome{ListID: l.ID}
	for i, k := range []*pgp.Key{alice, bob} {
		copies.Deliveries = append(copies.Deliveries, store.Delivery{Ref: "copies", ListID: l.ID, Kind: store.KindPost,
			From: "team-bounce@lists.example.org", To: k.Fingerprint() + "@example.org", Data: benchPost(t, alice, "alice@example.org", k, i, "hello\r\n")})
	}
	if err := a.Store.Commit(ctx, copies); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.RecordAttempts(ctx, []store.Attempt{{ID: copies.Deliveries[0].ID, State: store.Sent, At: time.Now()},
		{ID: copies.Deliveries[1].ID, State: store.Sent, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	sent, err := a.Store.Queue(ctx, store.DeliveryQuery{States: []store.DeliveryState{store.Sent}})
	if err != nil || len(sent) != 2 {
		t.Fatalf("sent deliveries = %+v, %v; want the two copies", sent, err)
	}
	// Pieces of each encrypted copy (its ciphertext, which nothing else
	// in the database holds) and what the database files hold of them.
	var pieces [][]byte
	for _, d := range sent {
		full, err := a.Store.Delivery(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, ciphertextPieces(t, full.Data)...)
	}
	if n := piecesIn(t, db, pieces); n != len(pieces) {
		t.Fatalf("%d of %d pieces of the copies found in the database before the purge; the check cannot see them", n, len(pieces))
	}

	// A failed delivery and a pending one, made now.
	now := time.Now()
	out := store.Outcome{ListID: l.ID, Deliveries: []store.Delivery{
		{Ref: "failed", ListID: l.ID, Kind: store.KindNotice, From: "team-bounce@lists.example.org", To: "gone@example.net", Data: []byte("a notice")},
		{Ref: "pending", ListID: l.ID, Kind: store.KindNotice, From: "team-bounce@lists.example.org", To: "slow@example.net",
			Data: []byte("waiting"), NextAttempt: now.Add(365 * 24 * time.Hour)},
	}}
	if err := a.Store.Commit(ctx, out); err != nil {
		t.Fatal(err)
	}
	failed, pending := out.Deliveries[0].ID, out.Deliveries[1].ID
	if err := a.Store.RecordAttempts(ctx, []store.Attempt{{ID: failed, State: store.Failed, Error: "550 5.1.1 no such user", At: now}}); err != nil {
		t.Fatal(err)
	}
	// A gateway conversation, marked now.
	if err := a.Store.Commit(ctx, store.Outcome{ListID: l.ID, Thread: &store.ThreadMark{Thread: "<t@x>", MessageIDs: []string{"<t@x>"}, Encrypted: true, At: now}}); err != nil {
		t.Fatal(err)
	}
	logs.take()

	day := 24 * time.Hour
	a.DailyJobs(ctx, now.Add(2*day))
	for _, d := range sent {
		if got, _ := a.Store.Delivery(ctx, d.ID); got == nil || got.Size == 0 {
			t.Errorf("two days after: copy %d = %+v; want it kept", d.ID, got)
		}
	}

	a.DailyJobs(ctx, now.Add(4*day))
	logged := logs.take()
	for _, d := range sent {
		got, err := a.Store.Delivery(ctx, d.ID)
		if err != nil || len(got.Data) != 0 || got.Size != 0 || got.Purged.IsZero() || got.To != d.To || got.State != store.Sent {
			t.Errorf("four days after: copy %d = %+v, %v; want a record without its body", d.ID, got, err)
		}
	}
	if n := piecesIn(t, db, pieces); n != 0 {
		t.Errorf("%d of %d pieces of the purged copies are still in the database files", n, len(pieces))
	}
	if !strings.Contains(logged, "sent copies removed") || !strings.Contains(logged, "count=2") {
		t.Errorf("the purge was not logged with its count:\n%s", logged)
	}
	if got, _ := a.Store.Delivery(ctx, failed); got == nil || got.Size == 0 {
		t.Errorf("four days after: failed delivery = %+v; want its body kept", got)
	}

	a.DailyJobs(ctx, now.Add(15*day))
	if got, _ := a.Store.Delivery(ctx, failed); got == nil || got.Size != 0 || got.Purged.IsZero() {
		t.Errorf("fifteen days after: failed delivery = %+v; want a record without its body", got)
	}
	err = a.Admin.RetryDelivery(ctx, failed)
	if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "message was removed") {
		t.Errorf("retry of a purged delivery = %v; want a clear refusal", err)
	}
	q, err := a.Admin.Queue(ctx, "", []store.DeliveryState{store.Failed, store.Sent}, 10)
	if err != nil || len(q) != 3 {
		t.Errorf("queue listing of records = %+v, %v", q, err)
	}

	a.DailyJobs(ctx, now.Add(31*day))
	if got, err := a.Store.Queue(ctx, store.DeliveryQuery{States: []store.DeliveryState{store.Sent, store.Failed}}); err != nil || len(got) != 0 {
		t.Errorf("31 days after: records = %+v, %v; want none", got, err)
	}
	if !strings.Contains(logs.take(), "delivery records deleted") {
		t.Error("the deletion of records was not logged")
	}
	if th, _ := a.Store.FindThread(ctx, l.ID, []string{"<t@x>"}); th == nil {
		t.Error("31 days after: the conversation was forgotten")
	}
	if es, _ := a.Store.Audit(ctx, store.AuditQuery{}); len(es) == 0 {
		t.Error("31 days after: the audit log is empty")
	}

	a.DailyJobs(ctx, now.Add(401*day))
	if th, _ := a.Store.FindThread(ctx, l.ID, []string{"<t@x>"}); th != nil {
		t.Errorf("401 days after: conversation = %+v; want it forgotten", th)
	}
	if es, err := a.Store.Audit(ctx, store.AuditQuery{}); err != nil || len(es) != 0 {
		t.Errorf("401 days after: audit = %+v, %v; want none", es, err)
	}
	if got, err := a.Store.Delivery(ctx, pending); err != nil || got.State != store.Pending || string(got.Data) != "waiting" {
		t.Errorf("pending delivery = %+v, %v; want it untouched", got, err)
	}
}

// ciphertextPieces returns 32-byte pieces of the armored ciphertext in
// an encrypted copy, from its start, middle and end.
func ciphertextPieces(t *testing.T, copy []byte) [][]byte {
	t.Helper()
	begin := bytes.Index(copy, []byte("-----BEGIN PGP MESSAGE-----"))
	end := bytes.Index(copy, []byte("-----END PGP MESSAGE-----"))
	if begin < 0 || end < begin+200 {
		t.Fatalf("no ciphertext in the copy:\n%s", copy)
	}
	armor := copy[begin+100 : end-40]
	var out [][]byte
	for _, off := range []int{0, len(armor) / 2, len(armor) - 32} {
		out = append(out, armor[off:off+32])
	}
	return out
}

// piecesIn counts the pieces found in the database file and its
// write-ahead log.
func piecesIn(t *testing.T, db string, pieces [][]byte) int {
	t.Helper()
	var files []byte
	for _, name := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	n := 0
	for _, p := range pieces {
		if bytes.Contains(files, p) {
			n++
		}
	}
	return n
}
