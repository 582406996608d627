package app_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// TestNothingInClearAtRest: DESIGN §4.6. After a post went through, no
// file in the data directory holds the post's plaintext, and the list's
// secret key material is only in the database sealed under the master
// key, which lives outside the database with mode 0600.
func TestNothingInClearAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, err := a.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := pgp.GenerateKey("", "alice@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Admin.AddMemberWith(ctx, team, "alice@example.org", alice.PublicBytes(), quiet(false)); err != nil {
		t.Fatal(err)
	}
	listPub, _ := pgp.ParseKey(l.PublicKey)
	raw := benchPost(t, alice, "alice@example.org", listPub, 1, "the body "+canary+"\r\n")
	if _, err := a.Process(ctx, team, "alice@example.org", raw); err != nil {
		t.Fatal(err)
	}
	// A rejected post (unsigned by a member) leaves nothing either.
	mallory, _ := pgp.GenerateKey("", "mallory@example.org", pgp.Ed25519, pgp.Options{})
	if _, err := a.Process(ctx, team, "mallory@example.org", benchPost(t, mallory, "mallory@example.org", listPub, 2, canary)); err == nil {
		t.Fatal("a non-member's post was accepted")
	}

	// An unencrypted post held for the moderator (issue 14 item 6): the
	// hold, and the spool it passed through, are sealed.
	if _, err := a.Admin.SetOptions(ctx, team, []string{"on_unencrypted=hold"}); err != nil {
		t.Fatal(err)
	}
	clear := []byte("From: alice@example.org\r\nTo: " + team + "\r\nSubject: subject " + canary + "\r\n" +
		"Message-ID: <clear-1@example.org>\r\nContent-Type: text/plain\r\n\r\nUnencrypted body " + canary + "\r\n")
	if _, err := a.Process(ctx, team, "alice@example.org", clear); err != nil {
		t.Fatalf("unencrypted post with on_unencrypted=hold: %v", err)
	}
	holds, err := a.Admin.Holds(ctx, team)
	if err != nil || len(holds) != 1 || !bytes.Equal(holds[0].Raw, clear) {
		t.Fatalf("holds = %d, %v; want the post, readable by the moderator", len(holds), err)
	}
	// The database and its journal as the next reader finds them.
	a.Close()
	if a, err = app.Open(ctx, cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}

	listKey, err := a.Admin.OpenListKey(l)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := listKey.SecretBytes()
	secretOnly := windows(secret, l.PublicKey, 24)
	if len(secretOnly) == 0 {
		t.Fatal("found no secret-only key material to look for")
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s holds the post's plaintext", path)
		}
		for _, w := range secretOnly {
			if bytes.Contains(b, w) {
				t.Errorf("%s holds the list's secret key in clear", path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, app.SecretsDir, app.MasterKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}

// windows returns the n-byte windows of secret that do not occur in public.
func windows(secret, public []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i+n <= len(secret); i += n / 2 {
		w := secret[i : i+n]
		if !bytes.Contains(public, w) {
			out = append(out, w)
		}
	}
	return out
}
