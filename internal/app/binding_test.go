package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestBindingRule: issue 15 item 1, DESIGN §4.4. A post made by `gpg
// --sign --encrypt` whose signed content names no recipient (as gpg on the
// command line, NeoMutt and most S/MIME clients send them) is distributed
// under the default options and marked as not bound to the list; the
// same signature is then a replay on every other list. Content that names
// another list is refused; X-LIST-NAME binds a post and a request; a list
// with require_binding=true refuses unbound content and tells its owner
// why and what to set.
func TestBindingRule(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	team2Fpr := team2(t, s, ms)
	const team2Addr = "team2@lists.example.org"
	ctx := context.Background()
	post := func(to, fpr, inner string) []byte {
		armored := alice.gpg.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", fpr, "-u", alice.fpr).Stdout
		return []byte(strings.Replace(string(wrap(alice.addr, armored)), "To: "+team, "To: "+to, 1))
	}
	// Content without any header: what `gpg --sign --encrypt` of a text
	// file gives (wrapped in RFC 3156 multipart/encrypted).
	unbound := "Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the command line. " + canary + "\r\n"

	t.Run("unbound content is distributed, marked", func(t *testing.T) {
		s.clearOutbox(t)
		// Encrypted to both lists, as a member writing to both would.
		armored := alice.gpg.MustRun([]byte(unbound), "--armor", "--sign", "--encrypt", "-r", listFpr, "-r", team2Fpr, "-u", alice.fpr).Stdout
		raw := wrap(alice.addr, armored)
		if err := s.send(t, alice.addr, []string{team}, raw); err != nil {
			t.Fatalf("refused: %v", err)
		}
		for addr, m := range ms {
			r := m.gpg.Run(s.waitFor(t, addr), "--decrypt")
			if !bytes.Contains(r.Stdout, []byte(canary)) || !bytes.Contains(r.Stdout, []byte(pipeline.VerifiedHeader+": signed by alice@example.org")) ||
				!bytes.Contains(r.Stdout, []byte("; not bound to the list")) {
				t.Errorf("copy for %s:\n%s", addr, r.Stdout)
			}
		}
		// The same signature sent to the other list is a replay there.
		other := []byte(strings.Replace(string(raw), "To: "+team, "To: "+team2Addr, 1))
		if err := s.send(t, alice.addr, []string{team2Addr}, other); smtpCode(err) != 550 {
			t.Errorf("the unbound post on the second list: %v, want 550 (a replay)", err)
		}
		if q := queued(t, s, team2Addr); q[store.KindPost] != 0 {
			t.Errorf("the second list queued %v", q)
		}
	})

	t.Run("content naming another list is refused", func(t *testing.T) {
		inner := "Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: " + team2Addr + "\r\nSubject: s\r\n\r\nFor team2. " + canary + "\r\n"
		s.clearOutbox(t)
		if err := s.send(t, alice.addr, []string{team}, post(team, listFpr, inner)); smtpCode(err) != 550 {
			t.Errorf("post signed for team2, sent to team: %v, want 550", err)
		}
		s.waitFor(t, "owner@example.org") // the owner's notice, before the next one
	})

	t.Run("X-LIST-NAME binds a post", func(t *testing.T) {
		s.clearOutbox(t)
		inner := "Content-Type: text/plain\r\n\r\nX-LIST-NAME: " + team + "\r\n\r\nBound by keyword. " + canary + "\r\n"
		if err := s.send(t, alice.addr, []string{team}, post(team, listFpr, inner)); err != nil {
			t.Fatalf("refused: %v", err)
		}
		for addr, m := range ms {
			r := m.gpg.Run(s.waitFor(t, addr), "--decrypt")
			if !bytes.Contains(r.Stdout, []byte("Bound by keyword.")) || bytes.Contains(r.Stdout, []byte("not bound")) {
				t.Errorf("copy for %s:\n%s", addr, r.Stdout)
			}
		}
	})

	t.Run("X-LIST-NAME binds a request", func(t *testing.T) {
		s.clearOutbox(t)
		inner := "Content-Type: text/plain\r\n\r\nX-LIST-NAME: " + team + "\r\nX-LIST-KEYS:\r\n"
		if err := s.send(t, alice.addr, []string{teamRequest}, post(teamRequest, listFpr, inner)); err != nil {
			t.Fatalf("request refused: %v", err)
		}
		reply := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
		if !bytes.Contains(reply.Stdout, []byte("bob@example.org")) {
			t.Errorf("X-LIST-KEYS answer:\n%s", reply.Stdout)
		}
	})

	t.Run("require_binding refuses unbound content and says why", func(t *testing.T) {
		if _, err := s.app.Admin.SetOptions(ctx, team, []string{"require_binding=true"}); err != nil {
			t.Fatal(err)
		}
		s.clearOutbox(t)
		if err := s.send(t, alice.addr, []string{team}, post(team, listFpr, unbound+"again\r\n")); smtpCode(err) != 550 {
			t.Fatalf("unbound post with require_binding=true: %v, want 550", err)
		}
		notice := s.waitFor(t, "owner@example.org")
		for _, want := range []string{"protected To/Cc", "require_binding=false", "X-LIST-NAME"} {
			if !bytes.Contains(notice, []byte(want)) {
				t.Errorf("the owner's notice does not say %q:\n%s", want, notice)
			}
		}
		if bytes.Contains(notice, []byte(canary)) {
			t.Error("the owner's notice carries the post")
		}
	})

	t.Run("allow_unbound is retired with a clear message", func(t *testing.T) {
		_, err := s.app.Admin.SetOptions(ctx, team, []string{"allow_unbound=true"})
		if err == nil || !strings.Contains(err.Error(), "require_binding") {
			t.Errorf("list set allow_unbound=true: %v", err)
		}
	})
}

// TestBareTextFromGPG: a post made by `gpg --sign --encrypt` of a plain
// text file (no MIME header in the signed content at all) is distributed,
// not held as unreadable (docs/quirks.md bare-text).
func TestBareTextFromGPG(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	text := "Hello from a text file. " + canary + "\nGr\u00fc\u00dfe, Alice\n"
	armored := alice.gpg.MustRun([]byte(text), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, armored)); err != nil {
		t.Fatalf("refused: %v", err)
	}
	for addr, m := range ms {
		r := m.gpg.Run(s.waitFor(t, addr), "--decrypt")
		if !r.Verified(listFpr) || !bytes.Contains(r.Stdout, []byte(canary)) || !bytes.Contains(r.Stdout, []byte("charset=utf-8")) ||
			!bytes.Contains(r.Stdout, []byte("Gr\u00fc\u00dfe")) {
			t.Errorf("copy for %s:\n%s\n%s", addr, r.Report(), r.Stdout)
		}
	}
}
