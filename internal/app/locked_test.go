package app_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
)

// TestLockedListKeyIsTemporary: when the list's secret key cannot be
// opened (here: the master key that seals it was replaced), a post is a
// temporary failure (451, the sender's MTA retries), never a bounce and
// never plaintext; with the right master key the same post goes through.
func TestLockedListKeyIsTemporary(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir)
	listFpr, ms := setupList(t, s, "alice@example.org")
	alice := ms["alice@example.org"]
	post := wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout)

	keyFile := filepath.Join(dir, app.SecretsDir, app.MasterKeyFile)
	orig, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong := make([]byte, len(orig))
	rand.Read(wrong)
	if err := os.WriteFile(keyFile, wrong, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := startServerIn(t, dir)
	if err := os.WriteFile(keyFile, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := locked.send(t, alice.addr, []string{team}, post); smtpCode(err) != 451 {
		t.Fatalf("post while the list key is locked: %v, want 451", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, app.OutboxDir, "new", "*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(canary)) {
			t.Fatalf("%s carries the post in clear", f)
		}
	}
	if err := s.send(t, alice.addr, []string{team}, post); err != nil {
		t.Fatalf("the retried post with the key unlocked: %v", err)
	}
}
