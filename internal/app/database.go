package app

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DatabasePasswordCredential is the systemd credential that holds the
// PostgreSQL password when [database] url has none.
const DatabasePasswordCredential = "sealpost-database-password"

// databaseSource is what sqlstore opens: the PostgreSQL URL of
// [database] url, with the password from the systemd credential when the
// URL has none, or else the SQLite file in the data directory.
func databaseSource(cfg *Config) (string, error) {
	if cfg.Database.URL == "" {
		return filepath.Join(cfg.DataDir, DatabaseFile), nil
	}
	u, err := url.Parse(cfg.Database.URL)
	if err != nil {
		return "", &ConfigError{Problems: []string{fmt.Sprintf("database.url: %q: %v", redactURL(cfg.Database.URL), err)}}
	}
	if _, set := u.User.Password(); set {
		return cfg.Database.URL, nil
	}
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return cfg.Database.URL, nil
	}
	pw, err := os.ReadFile(filepath.Join(dir, DatabasePasswordCredential))
	if errors.Is(err, os.ErrNotExist) {
		return cfg.Database.URL, nil
	}
	if err != nil {
		return "", fmt.Errorf("database password: %w", err)
	}
	name := "sealpost"
	if u.User != nil {
		name = u.User.Username()
	}
	u.User = url.UserPassword(name, strings.TrimRight(string(pw), "\r\n"))
	return u.String(), nil
}

// redactURL is a database URL fit for a log or an error: without its
// password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 && err != nil {
			return "…" + s[i:]
		}
		return s
	}
	if _, set := u.User.Password(); set {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// DatabaseName says where the records are, for people: the PostgreSQL
// URL without its password, or the SQLite file.
func (a *App) DatabaseName() string {
	if a.Config.Database.URL != "" {
		return redactURL(a.Config.Database.URL)
	}
	return filepath.Join(a.Config.DataDir, DatabaseFile)
}
