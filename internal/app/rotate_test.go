package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// TestRotateListKey: `list rotate-key` announces the new key to every
// member, encrypted and signed by both the old and the new key (checked
// by each member's gpg); a post encrypted to the old key is still
// accepted during the grace period and refused after it; posts to the
// new key are signed by the new key on the way out.
func TestRotateListKey(t *testing.T) {
	s := startServer(t)
	oldFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	encryptTo := func(fpr string) []byte {
		// The key's fingerprint in the text makes each post distinct: never a replay.
		post := append(entity(alice.addr), []byte(fpr+"\r\n")...)
		armored := alice.gpg.MustRun(post, "--armor", "--sign", "--encrypt", "-r", fpr, "-u", alice.fpr).Stdout
		return wrap(alice.addr, armored)
	}
	early := encryptTo(oldFpr)

	r, err := s.app.Admin.RotateListKey(context.Background(), team, pgp.Ed25519, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify() // a running serve finds them within a minute by itself
	if ds, err := s.app.Admin.FindKey(context.Background(), oldFpr); err != nil || len(ds[0].Users) != 1 || !strings.Contains(ds[0].Users[0], "replaced; decrypts until") {
		t.Errorf("old key's users: %+v, %v", ds, err)
	}
	newFpr := r.New.Fingerprint
	if r.Old.Fingerprint != oldFpr || newFpr == oldFpr || r.Announced != 2 || len(r.Unreachable) != 0 {
		t.Fatalf("rotation = %+v", r)
	}
	for _, c := range s.outbox(t, 2) {
		m := ms[deliveredTo(c)]
		// The new key's signature cannot be checked yet (ERRSIG, NO_PUBKEY:
		// gpg exits 2), so only the old key's is looked at here; once the
		// new key is imported, both must verify with exit status 0.
		res := m.gpg.Run(c, "--decrypt")
		if !res.HasStatus("DECRYPTION_OKAY") || !res.HasStatus("VALIDSIG", oldFpr) {
			t.Fatalf("%s: announcement not decrypted or not signed by the old key:\n%s", m.addr, res.Status)
		}
		if !bytes.Contains(res.Stdout, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
			t.Fatalf("%s: announcement lacks the new key:\n%s", m.addr, res.Stdout)
		}
		// The member imports the new key from the announcement; now gpg
		// can check the second signature too.
		m.gpg.Import(res.Stdout[bytes.Index(res.Stdout, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")):])
		if res := m.gpg.Run(c, "--decrypt"); !res.Verified(oldFpr) || !res.Verified(newFpr) {
			t.Fatalf("%s: announcement not signed by both keys:\n%s", m.addr, res.Status)
		}
	}
	s.clearOutbox(t)

	// Within the grace period the old key still decrypts.
	if err := s.send(t, alice.addr, []string{team}, early); err != nil {
		t.Fatalf("post to the old key refused during the grace period: %v", err)
	}
	for _, c := range s.outbox(t, 2) {
		if res := ms[deliveredTo(c)].gpg.Run(c, "--decrypt"); !res.Verified(newFpr) {
			t.Fatalf("copy not signed by the new list key:\n%s", res.Status)
		}
	}
	s.clearOutbox(t)

	// A second rotation without grace: the key it replaces no longer
	// decrypts at all. (Alice imported it from the announcement.)
	late := encryptTo(newFpr)
	if _, err := s.app.Admin.RotateListKey(context.Background(), team, pgp.Ed25519, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.send(t, alice.addr, []string{team}, late); smtpCode(err) != 550 {
		t.Fatalf("post to a key past its grace period: %v, want 550", err)
	}
}
