package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
)

// TestAttacks: the attacks of issue 6. None of them gets the post's text
// (the canary) to anyone but a member, and none is distributed:
// a member's captured copy resubmitted by a non-member, a member wrapping
// someone else's ciphertext in a post of their own, an outer Reply-To
// pointing at the attacker, and a post signed for one list replayed on
// another.
func TestAttacks(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	other := f.list("other@lists.example.org", "alice@example.org", "mallory@example.org")
	alice := f.member("alice@example.org")
	members := map[string]bool{"alice@example.org": true, "bob@example.org": true}

	if err := f.process(l, f.post(l, postSpec{signer: alice, from: "alice@example.org"}), "orig"); err != nil {
		t.Fatal(err)
	}
	var captured []byte
	for _, d := range f.deliveries("orig") {
		if d.To == "bob@example.org" {
			captured = d.Data
		}
	}
	aliceCiphertext := f.post(l, postSpec{signer: alice, from: "alice@example.org"})
	// An attacker strips what marks the copy as the list's own mail.
	var stripped []string
	for _, line := range strings.SplitAfter(string(captured), "\r\n") {
		if !strings.HasPrefix(line, "X-Loop:") && !strings.HasPrefix(line, "List-Id:") && !strings.HasPrefix(line, "Precedence:") {
			stripped = append(stripped, line)
		}
	}

	for _, tc := range []struct {
		name string
		list *testList
		raw  []byte
		want policy.Reason // 0: distributed, then checked for where the copies went; -1: dropped as a loop
	}{
		{"captured copy resubmitted as it is", l, captured, -1},
		{"captured copy resubmitted by a non-member", l, []byte(strings.Join(stripped, "")), policy.Undecryptable},
		{"a member wraps someone else's ciphertext", l, pgpWrap(t, f.member("bob@example.org"), l.key, aliceCiphertext), policy.TooManyLayers},
		{"signed for one list, replayed on another", other, f.post(other, postSpec{signer: alice, from: "alice@example.org", innerTo: team}), policy.NotForThisList},
		{"outer Reply-To points at the attacker", l, f.post(l, postSpec{signer: alice, from: "alice@example.org",
			extraOuter: "Reply-To: mallory@evil.example\r\n"}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "atk-" + strings.ReplaceAll(tc.name, " ", "-")
			err := f.process(tc.list, tc.raw, ref)
			var rej *pipeline.Rejection
			switch {
			case tc.want > 0 && (!errors.As(err, &rej) || rej.Reason != tc.want):
				t.Fatalf("Process = %v, want %v", err, tc.want)
			case tc.want <= 0 && err != nil:
				t.Fatal(err)
			case tc.want < 0 && len(f.deliveries(ref)) != 0:
				t.Fatalf("a looped copy sent %d messages", len(f.deliveries(ref)))
			}
			for _, d := range f.deliveries(ref) {
				if hasCanary(d.Data) {
					t.Errorf("the post's text reaches %s in clear", d.To)
				}
				if tc.want != 0 && d.To != "owner@example.org" {
					t.Errorf("a refused post sent something to %s", d.To)
				}
				if tc.want == 0 && !members[d.To] {
					t.Errorf("a copy went to %s", d.To)
				}
				if tc.want == 0 {
					if _, inner := f.open(l, d); inner.Header.Get("Reply-To") != team {
						t.Errorf("copy's Reply-To = %q, want the list", inner.Header.Get("Reply-To"))
					}
				}
			}
		})
	}
}
