package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
)

// TestLockedListKeyIsTemporary: when the list's secret key cannot be
// opened (here: its sealed copy in the database is damaged; a wrong
// master key no longer starts at all, TestOtherMasterKeyRefused), a post
// is a temporary failure (451, the sender's MTA retries), never a bounce
// and never plaintext; with the key intact the same post goes through.
func TestLockedListKeyIsTemporary(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	listFpr, ms := setupList(t, s, "alice@example.org")
	alice := ms["alice@example.org"]
	post := wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout)

	db := rawStore(t, s)
	var orig []byte
	if err := db.QueryRow(`SELECT sealed_key FROM lists WHERE address = $1`, team).Scan(&orig); err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(orig)
	damaged[len(damaged)-1] ^= 1
	if _, err := db.Exec(`UPDATE lists SET sealed_key = $1 WHERE address = $2`, damaged, team); err != nil {
		t.Fatal(err)
	}
	locked := startServerIn(t, dir)
	if err := locked.send(t, alice.addr, []string{team}, post); smtpCode(err) != 451 {
		t.Fatalf("post while the list key is locked: %v, want 451", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, app.OutboxDir, "new", "*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(canary)) {
			t.Fatalf("%s carries the post in clear", f)
		}
	}
	if _, err := db.Exec(`UPDATE lists SET sealed_key = $1 WHERE address = $2`, orig, team); err != nil {
		t.Fatal(err)
	}
	if err := s.send(t, alice.addr, []string{team}, post); err != nil {
		t.Fatalf("the retried post with the key unlocked: %v", err)
	}
}
