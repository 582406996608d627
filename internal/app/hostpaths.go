package app

import (
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/internal/hostcheck"
)

// HostPaths lists what Sealpost keeps in the data directory dir, for
// `check` to inspect who owns it and who may read and write it: the
// configuration, the database with its write-ahead log and shared
// memory, the secrets with the master key, the outbox Maildir; and the
// master key's systemd credential when the service manager passes one
// (it owns that file, not Sealpost's user). Paths that Sealpost only
// reads may belong to another user (AnyOwner).
func HostPaths(dir string) []hostcheck.Path {
	in := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	paths := []hostcheck.Path{
		// Root may own the configuration (the Debian package links it
		// to its conffile in /etc/sealpost): Sealpost only reads it.
		{Path: in(ConfigFile), Kind: hostcheck.Config, AnyOwner: true},
		{Path: in(DatabaseFile), Kind: hostcheck.Private},
		{Path: in(DatabaseFile + "-wal"), Kind: hostcheck.Private},
		{Path: in(DatabaseFile + "-shm"), Kind: hostcheck.Private},
		{Path: in(SecretsDir), Kind: hostcheck.SecretDir},
		{Path: in(SecretsDir, MasterKeyFile), Kind: hostcheck.Secret},
		{Path: in(OutboxDir), Kind: hostcheck.Dir},
		{Path: in(OutboxDir, "new"), Kind: hostcheck.Dir},
		{Path: in(OutboxDir, "cur"), Kind: hostcheck.Dir},
		{Path: in(OutboxDir, "tmp"), Kind: hostcheck.Dir},
	}
	if creds := os.Getenv("CREDENTIALS_DIRECTORY"); creds != "" {
		paths = append(paths, hostcheck.Path{Path: filepath.Join(creds, MasterKeyCredential), Kind: hostcheck.Secret, AnyOwner: true})
	}
	return paths
}
