package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/store"
)

// TestMigrationKeepsMemberKeys: a database made by schema version 1 keeps
// every member's key when it is brought up to date.
func TestMigrationKeepsMemberKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := migrations.ReadFile("migrations/sqlite/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO lists (id, address, key_fingerprint, public_key, sealed_key, created_at) VALUES (1, 'team@x.org', 'L', x'01', x'02', 0)`,
		`INSERT INTO members VALUES (1, 'a@x.org', 1, 'openpgp', 'AFPR', x'0304', 5)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := db.Members(ctx, 1)
	if err != nil || len(ms) != 1 || !ms[0].Admin {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	k := ms[0].Key(store.EngineOpenPGP)
	if k == nil || k.Fingerprint != "AFPR" || string(k.Data) != "\x03\x04" || k.Source != store.SourcePinned {
		t.Errorf("migrated key = %+v", k)
	}
	// The key moved into the keyring, waiting to be indexed.
	if ks, err := db.KeysToIndex(ctx, 1, 10); err != nil || len(ks) != 1 || ks[0].Fingerprint != "AFPR" {
		t.Errorf("keys to index = %+v, %v", ks, err)
	}
	if l, err := db.ListByAddress(ctx, "team@x.org"); err != nil || len(l.SMIMECert) != 0 {
		t.Errorf("migrated list = %+v, %v", l, err)
	}
}
