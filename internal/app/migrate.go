package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// MigrateTo copies the SQLite database of cfg's data directory into the
// empty PostgreSQL database at url (its schema made first) and verifies
// the copy, table by table. The sealed secrets move as they are: every
// node that uses the copy needs this data directory's master key.
func MigrateTo(ctx context.Context, cfg *Config, url string) ([]sqlstore.TableCopy, error) {
	if !sqlstore.IsPostgres(url) {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("--to: %q is not a postgres:// URL", redactURL(url))}}
	}
	if cfg.Database.URL != "" {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("this installation's records are in %s already ([database] url); migrate copies from SQLite", redactURL(cfg.Database.URL))}}
	}
	file := filepath.Join(cfg.DataDir, DatabaseFile)
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("no database to copy: %w", err)
	}
	src, err := sqlstore.Open(ctx, file)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	target := &Config{DataDir: cfg.DataDir}
	target.Database.URL = url
	source, err := databaseSource(target)
	if err != nil {
		return nil, err
	}
	dst, err := sqlstore.Open(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redactURL(url), err)
	}
	defer dst.Close()
	report, err := src.CopyTo(ctx, dst)
	if errors.Is(err, sqlstore.ErrNotEmpty) {
		return nil, fmt.Errorf("database %s: %w", redactURL(url), err)
	}
	return report, err
}
