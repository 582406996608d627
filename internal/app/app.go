// Package app builds every Sealpost component from the configuration and
// owns their start and stop. Nothing imports it but the command line.
package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/maildir"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/obs"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/queue"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// Paths inside the data directory.
const (
	DatabaseFile  = "sealpost.db"
	SecretsDir    = "secrets"
	MasterKeyFile = "master.key"
	OutboxDir     = "outbox"
)

// App is a running Sealpost: its store, pipeline, queue and use cases.
type App struct {
	node     store.Node // this process, as a node of the database (cluster.go)
	Config   *Config
	Logger   *slog.Logger
	Store    *sqlstore.DB
	Pipeline *pipeline.Pipeline
	Queue    *queue.Queue
	Admin    *admin.Service
	// Metrics counts what Sealpost does, for /metrics.
	Metrics *obs.Metrics
	// Outbox is the Maildir used when no relay is configured.
	Outbox *maildir.Outbox
	// submissionAddr is where the submission listener accepts, once
	// Serve has started it.
	submissionAddr net.Addr
	authOnce       sync.Once
	auth           *auth.Auth
	// retries holds start-up maintenance that failed (a full disk), for
	// Serve to do again.
	retries *retries
}

// Options changes what Open builds. The zero value builds everything, for
// serve and the admin commands.
type Options struct {
	// OneMessage is for `sealpost process`, a process that handles one
	// message and exits: Open builds no metrics registry (nothing would
	// read it) and leaves start-up maintenance to serve and the admin
	// commands; the database syncs its commits once, in ProcessRef,
	// instead of one by one, and Close leaves its write-ahead log to the
	// next process instead of checkpointing it.
	OneMessage bool
}

// Open prepares the data directory (creating it, the master key and the
// database when missing) and builds every component.
func Open(ctx context.Context, cfg *Config, logger *slog.Logger) (*App, error) {
	return OpenWith(ctx, cfg, logger, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, cfg *Config, logger *slog.Logger, opt Options) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkOwner(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	master, err := masterKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sealer, err := keyring.NewSealer(master, nil)
	if err != nil {
		return nil, err
	}
	source, err := databaseSource(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.OpenWith(ctx, source, sqlstore.Options{DeferSync: opt.OneMessage, KeepLog: opt.OneMessage})
	if err != nil {
		if cfg.Database.URL != "" {
			// pgx's errors may quote the URL: say which database without
			// its password.
			return nil, fmt.Errorf("database %s: %s", redactURL(cfg.Database.URL), strings.ReplaceAll(err.Error(), source, redactURL(source)))
		}
		return nil, err
	}
	if err := checkMasterKey(ctx, db, sealer); err != nil {
		db.Close()
		return nil, err
	}
	a := &App{Config: cfg, Logger: logger, Store: db, retries: newRetries()}
	if !opt.OneMessage {
		a.Metrics = obs.NewMetrics()
	}
	tr, err := a.transport()
	if err != nil {
		db.Close()
		return nil, err
	}
	anchors, err := loadTrustAnchors(cfg.SMIME.TrustAnchors)
	if err != nil {
		db.Close()
		return nil, &ConfigError{Problems: []string{err.Error()}}
	}
	crls, crlIssuers, err := loadCRLs(cfg.SMIME.CRLs)
	if err != nil {
		db.Close()
		return nil, &ConfigError{Problems: []string{err.Error()}}
	}
	var fetch func(context.Context, string) (*x509.RevocationList, error)
	if cfg.SMIME.FetchCRLs {
		fetch = newCRLFetcher().Fetch
	}
	a.Pipeline = pipeline.New(db, sealer, pipeline.Options{
		FetchCRL:          fetch,
		Logger:            logger,
		SMIMEKeyTransport: cfg.SMIME.KeyTransport, // validated with the configuration
		Limits:            mime.Limits{MaxSize: cfg.SMTP.MaxMessageBytes},
		TrustAnchors:      anchors,
		CRLs:              crls,
		CRLIssuers:        crlIssuers,
		RequireCRL:        cfg.SMIME.RequireCRL,
		Metrics:           a.Metrics,
		PublicURL:         cfg.HTTP.PublicURL,
	})
	helpdesks := &routes{hostname: cfg.Hostname}
	a.Queue = queue.New(db, tr, queue.Options{Logger: logger, Failed: func(ctx context.Context, d store.Delivery, reason string) {
		// A copy that cannot be delivered is a bounce of its member.
		if err := a.Pipeline.CopyFailed(ctx, d, reason); err != nil {
			logger.Error("counting a failed copy as a bounce", "msgid", d.Ref, "rcpt", d.To, "err", err)
		}
	}, Route: helpdesks.transport, Render: a.Pipeline.WriteDelivery, Recorded: a.countAttempt})
	a.Admin = admin.New(db, sealer, admin.Options{Flow: a.Pipeline, TrustAnchors: anchors, CRLs: crls, CRLIssuers: crlIssuers,
		Database: a.DatabaseName(), Require2FA: cfg.HTTP.Require2FA, ResetURL: cfg.WebURL(), ResetSender: cfg.MailSender(),
		Logger: logger})
	a.registerGauges()
	a.Pipeline.SetCommands(a.Admin) // members' requests by mail run the admin use cases
	// Maintenance, not a reason to stay down (startup.go): without the
	// index, keys are only found through the members that hold them.
	if opt.OneMessage {
		// serve and every admin command do it; one message does not wait.
	} else if err := a.reindexKeys(ctx); err != nil {
		logger.Error("updating the keyring index failed; retried later", "err", err)
		a.retries.add("updating the keyring index", a.reindexKeys)
	}
	if err := a.warnUnverifiedCRLs(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// Close releases the store; opened with Options.OneMessage, it leaves the
// database to the process's exit, without a checkpoint (sqlstore KeepLog).
func (a *App) Close() error { return a.Store.Close() }

// MasterKeyCredential is the name of the systemd credential
// (LoadCredential=sealpost-master-key:PATH in the unit) that holds the
// master key instead of DATA/secrets/master.key.
const MasterKeyCredential = "sealpost-master-key"

// masterKey reads the master key from the systemd credential when the
// service manager passed one ($CREDENTIALS_DIRECTORY), else from
// DATA/secrets/master.key, creating that on first start (mode 0600 in a
// 0700 directory). It never lives in the database (DESIGN §4.6).
func masterKey(dataDir string) ([]byte, error) {
	dir := filepath.Join(dataDir, SecretsDir)
	path := filepath.Join(dir, MasterKeyFile)
	if key, err := credentialMasterKey(path); key != nil || err != nil {
		return key, err
	}
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != keyring.MasterKeySize {
			return nil, fmt.Errorf("master key %s: has %d bytes, want %d", path, len(key), keyring.MasterKeySize)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, DatabaseFile)); err == nil {
		return nil, fmt.Errorf("master key %s is missing but the database exists: restore the key from your backup (without it the lists' keys cannot be opened)", path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key = make([]byte, keyring.MasterKeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("master key: %w", err)
	}
	return key, f.Close()
}

// credentialMasterKey reads the master key from the systemd credential,
// or returns nil when there is none. A key file in the data directory
// as well must hold the same key: two different keys would open the
// lists' keys in one process and fail in another (the Postfix pipe, an
// admin command), so Sealpost refuses to start instead.
func credentialMasterKey(file string) ([]byte, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return nil, nil
	}
	cred := filepath.Join(dir, MasterKeyCredential)
	key, err := os.ReadFile(cred)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(key) != keyring.MasterKeySize {
		return nil, fmt.Errorf("master key credential %s: has %d bytes, want %d (make one with: head -c %d /dev/urandom)",
			cred, len(key), keyring.MasterKeySize, keyring.MasterKeySize)
	}
	onDisk, err := os.ReadFile(file)
	switch {
	case err == nil && subtle.ConstantTimeCompare(onDisk, key) != 1:
		return nil, fmt.Errorf("master key credential %s differs from %s: keep one of them (the one the lists' keys were sealed with)", cred, file)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("master key: %w", err)
	}
	return key, nil
}

// transport returns the outbound hop: the relay when configured, else the
// Maildir outbox.
func (a *App) transport() (queue.Transport, error) {
	if a.Config.Relay.Addr != "" {
		return relay{newRelayClient(a.Config)}, nil
	}
	ob, err := maildir.Open(filepath.Join(a.Config.DataDir, OutboxDir), maildir.Options{Hostname: a.Config.Hostname})
	if err != nil {
		return nil, err
	}
	a.Outbox = ob
	return outbox{ob}, nil
}

// outbox adapts the Maildir to queue.Transport.
type outbox struct{ o *maildir.Outbox }

func (t outbox) Deliver(_ context.Context, from, to string, data []byte) error {
	_, err := t.o.Deliver(from, to, data)
	return err
}

func (t outbox) DeliverBatch(_ context.Context, ds []store.Delivery, write func(i int, w io.Writer) error) []error {
	msgs := make([]maildir.Message, len(ds))
	for i, d := range ds {
		msgs[i] = maildir.Message{From: d.From, Rcpt: d.To, Write: func(w io.Writer) error { return write(i, w) }}
	}
	return t.o.DeliverAll(msgs)
}
