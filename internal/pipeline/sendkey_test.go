package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// TestSendKeyLimits: LIST-sendkey answers any sender address, which
// anyone can forge, so its answers are limited: per address, per list and
// in all, within an hour. Each request runs as `sealpost process` does
// under an MTA's pipe: a process of its own, with its own connection to
// the database, so the limits must hold across processes. Every request
// is taken (nil: 250); past a limit it gets no answer; after the window a
// request is answered again.
func TestSendKeyLimits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sealpost.db")
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{1}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, sealer: sealer, lists: map[string]*testList{}, keys: map[string]*pgp.Key{}}
	l := f.list(team)
	f.list("other@lists.example.org")
	f.now = time.Now().Add(time.Minute)

	n := 0
	// process handles one request in a process of its own and returns how
	// many answers it queued.
	process := func(limits pipeline.SendKeyLimits, rcpt, from string) int {
		t.Helper()
		db, err := sqlstore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p := pipeline.New(db, f.sealer, pipeline.Options{Now: func() time.Time { return f.now }, Logger: quietLogger(), SendKey: limits})
		n++
		ref := fmt.Sprint("sk", n)
		raw := fmt.Sprintf("From: %s\r\nSubject: key please %d\r\n\r\nhi\r\n", from, n)
		if err := p.Process(ctx, pipeline.Message{Ref: ref, EnvelopeFrom: from, Rcpt: rcpt, Raw: []byte(raw)}); err != nil {
			t.Fatalf("request %d from %s: %v, want it taken", n, from, err)
		}
		ds := f.deliveries(ref)
		for _, d := range ds {
			if d.Kind != store.KindSendKey {
				t.Fatalf("answer of kind %q", d.Kind)
			}
		}
		return len(ds)
	}
	teamKey, otherKey := "team-sendkey@lists.example.org", "other-sendkey@lists.example.org"

	// One forged address, many requests, on two lists, in any case: the
	// default limit is three answers an hour.
	answered := 0
	for i := range 10 {
		from := []string{"victim@example.net", "Victim@Example.NET"}[i%2]
		answered += process(pipeline.SendKeyLimits{}, []string{teamKey, otherKey}[i%3/2], from)
	}
	if answered != 3 {
		t.Errorf("ten requests from one address got %d answers, want 3", answered)
	}

	// Many addresses: past the limit per list (5), then past the one over
	// all lists (8), nobody gets an answer. The victim's three answers
	// count: two went to team, one to other.
	limits := pipeline.SendKeyLimits{PerList: 5, Total: 8}
	teamAnswers, otherAnswers := 0, 0
	for i := range 10 {
		teamAnswers += process(limits, teamKey, fmt.Sprintf("a%d@example.net", i))
	}
	for i := range 10 {
		otherAnswers += process(limits, otherKey, fmt.Sprintf("b%d@example.net", i))
	}
	if teamAnswers != 3 || otherAnswers != 2 {
		t.Errorf("ten addresses on each list got %d and %d answers, want 3 (then team has 5) and 2 (then 8 in all)", teamAnswers, otherAnswers)
	}

	// An hour later a real request is answered, with the list's key.
	f.now = f.now.Add(time.Hour + time.Second)
	if got := process(limits, teamKey, "newcomer@example.org"); got != 1 {
		t.Fatalf("a request after the window got %d answers, want 1", got)
	}
	ds := f.deliveries(fmt.Sprint("sk", n))
	msg, err := mime.Parse(ds[0].Data, mime.Limits{})
	if err != nil || len(msg.Children) != 2 {
		t.Fatalf("answer: %v", err)
	}
	body, _ := msg.Children[1].Decoded(1 << 20)
	if k, err := pgp.ParseKey(body); err != nil || k.Fingerprint() != l.key.Fingerprint() {
		t.Errorf("attached key: %v", err)
	}
}
