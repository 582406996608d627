package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestHoldRejectByMail: a list admin rejects two held posts by mail with
// X-HOLD-REJECT: ID ID -- REASON. The answer says each was rejected; the
// sender gets a notice per post, encrypted to her and signed by the
// list, with the reason quoted as the moderator's; and nothing is held
// any more. A lone "--" without a reason does nothing.
func TestHoldRejectByMail(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	ctx := context.Background()
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"on_unsigned=hold"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		raw := wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--encrypt", "-r", listFpr).Stdout)
		if err := s.send(t, alice.addr, []string{team}, raw); err != nil {
			t.Fatalf("held post refused: %v", err)
		}
	}
	hs, err := s.app.Admin.Holds(ctx, team)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds = %d, %v", len(hs), err)
	}
	if err := s.app.Admin.RemoveMember(ctx, team, bob.addr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, bob.addr, bob.gpg.Export(bob.fpr), quiet(true)); err != nil {
		t.Fatal(err)
	}
	ask := func(line string) string {
		t.Helper()
		s.clearOutbox(t)
		text := "Content-Type: text/plain\r\n\r\nX-LIST-NAME: " + team + "\r\n" + line + "\r\n"
		if err := s.send(t, bob.addr, []string{teamRequest}, request(t, bob, listFpr, bob.fpr, requestEntity(bob.addr, text))); err != nil {
			t.Fatal(err)
		}
		r := bob.gpg.Run(s.waitFor(t, bob.addr), "--decrypt")
		if !r.Verified(listFpr) {
			t.Fatalf("the answer:\n%s", r.Report())
		}
		return string(r.Stdout)
	}
	if got := ask(fmt.Sprintf("X-HOLD-REJECT: %d --", hs[0].ID)); !strings.Contains(got, "Not done: give the reason after --") {
		t.Errorf("a -- without a reason:\n%s", got)
	}
	if left, _ := s.app.Admin.Holds(ctx, team); len(left) != 2 {
		t.Fatalf("a -- without a reason rejected %d posts", 2-len(left))
	}
	reason := "Please sign your posts with your own key."
	got := ask(fmt.Sprintf("X-HOLD-REJECT: %d #%d -- %s", hs[0].ID, hs[1].ID, reason))
	for _, h := range hs {
		if !strings.Contains(got, fmt.Sprintf("#%d: rejected", h.ID)) {
			t.Errorf("the answer does not say #%d was rejected:\n%s", h.ID, got)
		}
	}
	if left, _ := s.app.Admin.Holds(ctx, team); len(left) != 0 {
		t.Errorf("%d posts still held", len(left))
	}
	s.app.Queue.Notify()
	notices := s.waitForN(t, alice.addr, 2)
	for _, raw := range notices {
		n := alice.gpg.Run(raw, "--decrypt")
		if !n.Verified(listFpr) || !strings.Contains(string(n.Stdout), "not accepted by the list's moderator") ||
			!strings.Contains(string(n.Stdout), "> "+reason) || strings.Contains(string(n.Stdout), canary) {
			t.Errorf("rejection notice:\n%s\n%s", n.Report(), n.Stdout)
		}
	}
}

// waitForN waits until the outbox holds n messages for rcpt and returns
// them.
func (s *server) waitForN(t *testing.T, rcpt string, n int) [][]byte {
	t.Helper()
	for total := n; ; total++ {
		var out [][]byte
		for _, m := range s.outbox(t, total) {
			if deliveredTo(m) == rcpt {
				out = append(out, m)
			}
		}
		if len(out) >= n {
			return out
		}
	}
}
