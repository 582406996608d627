package app_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/pipeline"
)

// TestModeration: a list that holds unsigned posts and posts with bad
// signatures keeps them (ciphertext) for the moderator. Released, an
// unsigned post reaches the members marked unsigned (read by their gpg);
// a post with a bad signature cannot be released and stays held;
// rejected, the sender is told; discarded, nobody is.
func TestModeration(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	ctx := context.Background()
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"on_unsigned=hold", "on_bad_signature=hold"}); err != nil {
		t.Fatal(err)
	}
	unsigned := func() []byte {
		return wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--encrypt", "-r", listFpr).Stdout)
	}
	sig := bob.gpg.MustRun(entity(bob.addr), "--armor", "--detach-sign", "-u", bob.fpr).Stdout
	altered := strings.Replace(string(entity(bob.addr)), "Hello", "Jello", 1)
	badSig := wrap(bob.addr, bob.gpg.MustRun([]byte("Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n"+
		"--sig\r\n"+altered+"\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n"+string(sig)+"\r\n--sig--\r\n"), "--armor", "--encrypt", "-r", listFpr).Stdout)

	for _, raw := range [][]byte{unsigned(), badSig, unsigned(), unsigned()} {
		if err := s.send(t, alice.addr, []string{team}, raw); err != nil {
			t.Fatalf("held post refused: %v", err)
		}
	}
	hs, err := s.app.Admin.Holds(ctx, team)
	if err != nil || len(hs) != 4 {
		t.Fatalf("holds = %d, %v", len(hs), err)
	}
	if h := admin.HoldHeaders(&hs[0]); h["From"] != alice.addr || strings.Contains(string(hs[0].Raw), canary) || hs[0].EnvelopeFrom != alice.addr {
		t.Fatalf("hold 1: headers %v, sender %q", h, hs[0].EnvelopeFrom)
	}
	s.clearOutbox(t)

	// Released: distributed, marked unsigned.
	if err := s.app.Admin.ReleaseHold(ctx, team, hs[0].ID); err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify()
	for _, m := range []*member{alice, bob} {
		res := m.gpg.Run(s.waitFor(t, m.addr), "--decrypt")
		if !res.Verified(listFpr) || !strings.Contains(string(res.Stdout), canary) ||
			!strings.Contains(string(res.Stdout), pipeline.VerifiedHeader+": no; not signed") {
			t.Fatalf("%s: released copy:\n%s\n%s", m.addr, res.Status, res.Stdout)
		}
	}
	if err := s.app.Admin.ReleaseHold(ctx, team, hs[0].ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("releasing twice: %v", err)
	}
	// A bad signature cannot be released.
	if err := s.app.Admin.ReleaseHold(ctx, team, hs[1].ID); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("releasing an altered post: %v, want ErrInvalid", err)
	}
	s.clearOutbox(t)
	// Rejected: the sender hears of it, with nothing of the message.
	if err := s.app.Admin.RejectHold(ctx, team, hs[2].ID, ""); err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify()
	// Alice is a member with a key: the notice is encrypted to her.
	n := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
	if !n.Verified(listFpr) || !strings.Contains(string(n.Stdout), "not accepted by the list's moderator") ||
		strings.Contains(string(n.Stdout), canary) {
		t.Errorf("rejection notice:\n%s\n%s", n.Status, n.Stdout)
	}
	// The last one is discarded by mail: bob is no admin and may not;
	// once he is one, his signed X-HOLD-DISCARD does it.
	discard := "Content-Type: text/plain\r\n\r\nX-LIST-NAME: " + team + "\r\nX-HOLD-LIST:\r\nX-HOLD-DISCARD: " + strconv.FormatInt(hs[3].ID, 10) + "\r\n"
	s.clearOutbox(t)
	if err := s.send(t, bob.addr, []string{teamRequest}, request(t, bob, listFpr, bob.fpr, requestEntity(bob.addr, discard))); err != nil {
		t.Fatal(err)
	}
	if r := bob.gpg.Run(s.waitFor(t, bob.addr), "--decrypt"); !strings.Contains(string(r.Stdout), "X-HOLD-LIST is for the list's admins only") {
		t.Fatalf("a member moderating by mail:\n%s", r.Stdout)
	}
	if err := s.app.Admin.RemoveMember(ctx, team, bob.addr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, bob.addr, bob.gpg.Export(bob.fpr), quiet(true)); err != nil {
		t.Fatal(err)
	}
	s.clearOutbox(t)
	discard2 := strings.Replace(discard, "X-HOLD-LIST:", "X-HOLD-LIST: again", 1) // a new signature, not a replay
	if err := s.send(t, bob.addr, []string{teamRequest}, request(t, bob, listFpr, bob.fpr, requestEntity(bob.addr, discard2))); err != nil {
		t.Fatal(err)
	}
	if r := bob.gpg.Run(s.waitFor(t, bob.addr), "--decrypt"); !strings.Contains(string(r.Stdout), "#"+strconv.FormatInt(hs[3].ID, 10)+": discarded") {
		t.Fatalf("an admin moderating by mail:\n%s", r.Stdout)
	}
	if left, _ := s.app.Admin.Holds(ctx, team); len(left) != 1 || left[0].ID != hs[1].ID {
		t.Errorf("holds left = %+v, want only the altered post", left)
	}

	// Three days on, with hold_days=2, the daily job drops it and tells
	// the owner.
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"hold_days=2"}); err != nil {
		t.Fatal(err)
	}
	later := admin.New(s.app.Store, nil, admin.Options{Flow: s.app.Pipeline,
		Now: func() time.Time { return time.Now().Add(3 * 24 * time.Hour) }})
	if n, err := later.ExpireHolds(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireHolds = %d, %v", n, err)
	}
	s.app.Queue.Notify()
	if n := string(s.waitFor(t, "owner@example.org")); !strings.Contains(n, "held for more than 2 days") || !strings.Contains(n, "#"+strconv.FormatInt(hs[1].ID, 10)) {
		t.Errorf("owner's expiry notice:\n%s", n)
	}
	if left, _ := s.app.Admin.Holds(ctx, team); len(left) != 0 {
		t.Errorf("holds after expiry: %+v", left)
	}
}
