package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// bounceCase is one message of the corpus (testdata/bounces) and what
// becomes of it with bounce_threshold=1.
type bounceCase struct {
	file string
	// member is whose copy it answers: it is fed to their VERP address.
	member string
	// verp and bare say whether it counts for member at their VERP
	// address and at the bare bounce address.
	verp, bare bool
}

var bounceCorpus = []bounceCase{
	// Real Postfix reports (TestMakeBounceFixtures); each returns the copy.
	{"postfix-bob-failed.eml", "bob@example.org", true, true},
	{"postfix-forwarded-failed.eml", "carol@example.org", true, true}, // names carol@elsewhere.example
	{"postfix-4.0.0-failed.eml", "dave@example.org", true, true},      // given up after 451 4.0.0
	{"postfix-dave-delayed.eml", "dave@example.org", false, false},
	// After the documented formats of other mailers.
	{"exim-failed.eml", "bob@example.org", true, true},
	{"exim-delayed.eml", "bob@example.org", false, false},
	{"qmail-failed.eml", "bob@example.org", true, true},
	{"gmail-failed.eml", "bob@example.org", true, true},
	{"gmail-delayed.eml", "bob@example.org", false, false},
	{"gmail-delayed-plain.eml", "bob@example.org", false, false},
	{"exchange-failed.eml", "bob@example.org", true, true},
	{"sendmail-failed-no-copy.eml", "bob@example.org", true, false}, // returns no copy: nothing proves it at the bare address
	// Not bounces.
	{"vacation-auto-submitted.eml", "bob@example.org", false, false},
	{"vacation-plain.eml", "bob@example.org", false, false},
	{"autoreply-null-sender.eml", "bob@example.org", false, false},
	{"bugtracker-notice.eml", "bob@example.org", false, false},
	{"reply.eml", "bob@example.org", false, false},
}

var corpusMembers = []string{"alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org"}

// readBounce reads a corpus message and its envelope sender, which its
// Return-Path field records (RFC 5321 §4.4).
func readBounce(t *testing.T, name string) (raw []byte, envelopeFrom string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(bounceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := mime.ParseHeader(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return raw, strings.Trim(strings.TrimSpace(h.Header.Get("Return-Path")), "<>")
}

// TestBounceCorpus feeds every message of the corpus to the VERP address
// of the member whose copy it answers, and to the bare bounce address,
// with bounce_threshold=1: a permanent failure counts for that member
// alone (whatever address the report names) and stops their copies, with
// the owner told and the audit log written; delays, auto-replies and
// ordinary mail count for nobody. At the bare address only a bounce that
// returns the copy's X-Sealpost-Bounce counts.
func TestBounceCorpus(t *testing.T) {
	for _, c := range bounceCorpus {
		raw, from := readBounce(t, c.file)
		for _, bare := range []bool{false, true} {
			name := c.file + "/verp"
			want := c.verp
			if bare {
				name, want = c.file+"/bare", c.bare
			}
			t.Run(name, func(t *testing.T) {
				f, l := corpusFixture(t)
				rcpt := f.verp(c.member)
				if bare {
					rcpt = "team-bounce@lists.example.org"
				}
				checkBounceCounted(t, f, l, raw, from, rcpt, c.member, want)
			})
		}
	}
}

// corpusFixture is a list of corpusMembers with bounce_threshold=1, made
// with the fixture's fixed master key: the tokens of the copies the
// corpus returns are theirs.
func corpusFixture(t *testing.T) (*fixture, *testList) {
	f := newFixture(t)
	l := f.list(team, corpusMembers...)
	l.rec.Settings.BounceThreshold = 1
	if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(bounceDir, "original-bob.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := headerValue(orig, pipeline.BounceHeader); got != f.verp("bob@example.org") {
		t.Fatalf("the corpus's copies were made with another master key (%s, now %s): run MAKE_BOUNCE_FIXTURES=1 go test -run TestMakeBounceFixtures", got, f.verp("bob@example.org"))
	}
	return f, l
}

// checkBounceCounted processes raw from envelope sender from to rcpt and
// checks that it counted (and stopped the copies of) member alone when
// want, nobody otherwise.
func checkBounceCounted(t *testing.T, f *fixture, l *testList, raw []byte, from, rcpt, member string, want bool) {
	t.Helper()
	ctx := context.Background()
	if err := f.p.Process(ctx, pipeline.Message{Ref: "b", EnvelopeFrom: from, Rcpt: rcpt, Raw: raw}); err != nil {
		t.Fatal(err)
	}
	ms, err := f.db.Members(ctx, l.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		n, err := f.db.Bounces(ctx, l.rec.ID, m.Email, time.Now().Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		counted := want && m.Email == member
		if (n == 1) != counted || n > 1 || m.DisabledAt.IsZero() == counted {
			t.Errorf("%s: %d bounces counted, disabled %v; want counted %v", m.Email, n, !m.DisabledAt.IsZero(), counted)
		}
	}
	ds := f.deliveries("b")
	if !want {
		if len(ds) != 0 {
			t.Errorf("not counted, yet %d deliveries (first to %s)", len(ds), ds[0].To)
		}
		if es, _ := f.db.Audit(ctx, store.AuditQuery{}); len(es) != 0 {
			t.Errorf("not counted, yet audited: %+v", es)
		}
		return
	}
	if len(ds) != 1 || ds[0].To != "owner@example.org" || !bytes.Contains(ds[0].Data, []byte("Delivery to "+member+" stopped")) {
		t.Errorf("counted: deliveries %+v, want the owner's notice", ds)
	}
	ms, _ = f.db.Members(ctx, l.rec.ID)
	for _, m := range ms {
		if m.Email == member {
			checkBounceAudit(t, f, member, m.DisabledReason)
		}
	}
}

// TestBareBounceForged: at the bare bounce address, a real bounce whose
// returned copy carries a token that is not its member's, or that names
// another list, counts for nobody; so does one that returns the copies
// of two different members. Members' copies carry their envelope sender
// in X-Sealpost-Bounce, so that a real one can be proved.
func TestBareBounceForged(t *testing.T) {
	raw, from := readBounce(t, "exim-failed.eml")
	f0, _ := corpusFixture(t)
	bob, alice := f0.verp("bob@example.org"), f0.verp("alice@example.org")
	aliceToken := alice[strings.LastIndexByte(alice, '=')+1 : strings.IndexByte(alice, '@')]
	for name, forged := range map[string][]byte{
		"wrong token":   bytes.ReplaceAll(raw, []byte("ifco65xjz4cks"), []byte("aaaaaaaaaaaaa")),
		"alice's token": bytes.ReplaceAll(raw, []byte("ifco65xjz4cks"), []byte(aliceToken)),
		"another list":  bytes.ReplaceAll(raw, []byte("X-Sealpost-Bounce: team-bounce+"), []byte("X-Sealpost-Bounce: other-bounce+")),
		"no header":     bytes.ReplaceAll(raw, []byte("X-Sealpost-Bounce:"), []byte("X-Something-Else:")),
		"short form":    bytes.ReplaceAll(raw, []byte("X-Sealpost-Bounce: "+bob), []byte("X-Sealpost-Bounce: team-bounce+aaaaaaaaaaaaa@lists.example.org")),
		"two members":   bytes.Replace(raw, []byte("X-Sealpost-Bounce: "), []byte("X-Sealpost-Bounce: "+alice+"\nX-Sealpost-Bounce: "), 1),
		"old form":      bytes.ReplaceAll(raw, []byte("X-Sealpost-Bounce: "+bob), []byte("X-Sealpost-Bounce: team-bounce+bob=example.org@lists.example.org")),
	} {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(forged, raw) {
				t.Fatal("the forgery changed nothing")
			}
			f, l := corpusFixture(t)
			checkBounceCounted(t, f, l, forged, from, "team-bounce@lists.example.org", "bob@example.org", false)
		})
	}
	// The real one counts for bob.
	f, l := corpusFixture(t)
	checkBounceCounted(t, f, l, raw, from, "team-bounce@lists.example.org", "bob@example.org", true)
}

// TestCopiesNameTheirBounceAddress: every copy of a post carries its
// envelope sender, the member's VERP address, in X-Sealpost-Bounce, in
// every format; a copy sent from the bare address (resent to a
// non-member) carries none.
func TestCopiesNameTheirBounceAddress(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org", longMember)
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "p"); err != nil {
		t.Fatal(err)
	}
	ds := f.deliveries("p")
	if len(ds) != 3 {
		t.Fatalf("%d copies", len(ds))
	}
	for _, d := range ds {
		if got := headerValue(d.Data, pipeline.BounceHeader); got != d.From || got != f.verp(d.To) {
			t.Errorf("%s's copy: %s %q, envelope sender %q", d.To, pipeline.BounceHeader, got, d.From)
		}
	}
}
