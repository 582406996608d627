package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
)

// TestMasterKeyCredential: the systemd credential, when the service
// manager passes one, is the master key, and no key file is made beside
// it; a key file that differs from it, or a credential of the wrong
// size, stops the start with a clear error.
func TestMasterKeyCredential(t *testing.T) {
	data, creds := t.TempDir(), t.TempDir()
	key := bytes.Repeat([]byte{7}, keyring.MasterKeySize)
	if err := os.WriteFile(filepath.Join(creds, MasterKeyCredential), key, 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	got, err := masterKey(data)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("masterKey with the credential = %x, %v; want the credential's key", got, err)
	}
	file := filepath.Join(data, SecretsDir, MasterKeyFile)
	if _, err := os.Stat(file); err == nil {
		t.Errorf("%s was created although the credential holds the key", file)
	}

	// The same key in the data directory as well is fine.
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := masterKey(data); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("masterKey with the same key in both places = %x, %v", got, err)
	}
	// A different one is refused, naming both.
	if err := os.WriteFile(file, bytes.Repeat([]byte{8}, keyring.MasterKeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := masterKey(data); err == nil || !strings.Contains(err.Error(), "differs from "+file) {
		t.Errorf("masterKey with two different keys: %v, want an error naming %s", err, file)
	}
	// A credential of the wrong size is refused.
	if err := os.WriteFile(filepath.Join(creds, MasterKeyCredential), []byte("secret\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := masterKey(data); err == nil || !strings.Contains(err.Error(), "has 7 bytes") {
		t.Errorf("masterKey with a 7-byte credential: %v, want a size error", err)
	}
	// Without the variable, the data directory's key file counts.
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if got, err := masterKey(data); err != nil || bytes.Equal(got, key) {
		t.Errorf("masterKey without the credential = %x, %v; want the file's key", got, err)
	}
}

// TestOtherMasterKeyRefused: a node whose master key is not the one that
// sealed the database's secrets (a second node given a fresh key) is
// refused at start with the error that says what to do, and does not
// make its key the reference, even for a database made before the check.
func TestOtherMasterKeyRefused(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	cfg, err := LoadConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.CreateList(ctx, "team@lists.example.org", "owner@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// As a database from before the check: without its row.
	raw, err := sql.Open("sqlite", filepath.Join(data, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DELETE FROM master_key_check`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	keyFile := filepath.Join(data, SecretsDir, MasterKeyFile)
	good, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, bytes.Repeat([]byte{9}, keyring.MasterKeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if a, err := Open(ctx, cfg, nil); !errors.Is(err, errOtherMasterKey) {
			if a != nil {
				a.Close()
			}
			t.Fatalf("Open with another master key: %v, want errOtherMasterKey", err)
		}
	}
	if err := os.WriteFile(keyFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err = Open(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("Open with the right key again: %v", err)
	}
	a.Close()
}
