// Package cli is the sealpost command line: subcommands and flags, turned
// into configuration and calls on app. Exit codes follow sysexits(3):
// 0 ok, 64 usage, 65 bad data or policy rejection, 75 temporary failure
// (an MTA retries), 67 no such list (process), 77 not permitted (an
// account may not do that), 78 configuration error (also: no data
// directory where a command that creates nothing looked for one).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/pipeline"
)

// Exit codes (sysexits.h).
const (
	ExitOK       = 0
	ExitUsage    = 64
	ExitDataErr  = 65
	ExitNoUser   = 67
	ExitSoftware = 70
	ExitTempFail = 75
	ExitNoPerm   = 77
	ExitConfig   = 78
)

// Set at build time by the packaging (packaging/build-deb.sh, with
// -ldflags "-X github.com/sealpost/sealpost/internal/cli.defaultDataDir=...";
// the version is app.Version, set the same way).
var (
	// defaultDataDir is the data directory when neither --data nor
	// SEALPOST_DATA names one: ./sealpost-data from a source build,
	// /var/lib/sealpost in the Debian package.
	defaultDataDir = app.DefaultDataDir
)

// env carries what every command needs.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dataDir        string
	database       string // --database: the PostgreSQL URL over [database] url
	// dataFrom says where dataDir came from (--data, $SEALPOST_DATA or
	// the default), for messages about it.
	dataFrom string
	verbose  bool
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

// run is Main under ctx, whose end stops a running serve as SIGTERM does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := e.root()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "sealpost: %v\n", err)
	if code == ExitUsage {
		fmt.Fprintln(stderr, "Run 'sealpost --help' for usage.")
	}
	return code
}

// usageError marks a problem with how a command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var (
		ue  usageError
		ce  *app.ConfigError
		rej *pipeline.Rejection
		mta *mtaAnswer
		nd  *noDataError
	)
	switch {
	case errors.As(err, &mta):
		return mta.exit
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ce), errors.As(err, &nd):
		return ExitConfig
	case errors.Is(err, admin.ErrForbidden), errors.Is(err, admin.ErrUnauthenticated):
		return ExitNoPerm
	case errors.As(err, &rej), errors.Is(err, admin.ErrInvalid), errors.Is(err, admin.ErrExists), errors.Is(err, admin.ErrNotFound):
		return ExitDataErr
	}
	return ExitTempFail
}

func (e *env) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "sealpost",
		Short: "Secure group email: OpenPGP-encrypted mailing lists in one binary",
		Long: `Sealpost runs encrypted mailing lists. Members write to the list encrypted
to the list's own key and signed with their own; Sealpost checks the
signature, then signs with the list's key and encrypts a separate copy to
each member's key. Members need only the list's public key.

Start with 'sealpost demo' for a walkthrough that needs nothing set up.`,
		Version:       app.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	groupCommand(root)
	def := os.Getenv("SEALPOST_DATA")
	if def == "" {
		def = defaultDataDir
	}
	root.PersistentFlags().StringVar(&e.dataDir, "data", def, "data directory: config, database, secrets, outbox (env SEALPOST_DATA)")
	root.PersistentFlags().StringVar(&e.database, "database", "", "PostgreSQL database URL shared by several nodes, e.g. postgres://sealpost@db/sealpost (env "+app.DatabaseURLEnv+"; default: [database] url, else SQLite in the data directory)")
	root.PersistentFlags().BoolVarP(&e.verbose, "verbose", "v", false, "log every step to stderr")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(creates(e.serveCmd()), e.listCmd(), e.gatewayCmd(), e.memberCmd(), e.keyCmd(), e.trustCmd(), e.crlCmd(), e.holdCmd(), e.subscriptionCmd(), dataUse(e.processCmd(), dataMTA), e.checkCmd(), dataUse(e.demoCmd(), dataNone),
		e.userCmd(), e.tokenCmd(), e.queueCmd(), e.auditCmd(), e.statusCmd(), e.migrateCmd(), dataUse(e.manCmd(), dataNone))
	// Only commands that create state may create a data directory; the
	// others say where they looked (datadir.go).
	root.PersistentPreRunE = e.requireData
	// cobra's completion command keeps the writer it finds now.
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	markBuiltins(root)
	return root
}

// groupCommand makes a command that only holds subcommands print its help
// when called alone, and refuse an unknown subcommand as a usage error.
func groupCommand(c *cobra.Command) *cobra.Command {
	c.Args = args(cobra.NoArgs)
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return dataUse(c, dataNone)
}

// args wraps a cobra positional-argument check so that its failure is a
// usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usagef("%s: %v\nUsage: %s", cmd.CommandPath(), err, cmd.UseLine())
		}
		return nil
	}
}

func (e *env) logger(level slog.Level) *slog.Logger {
	if e.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// config loads the data directory's configuration with --database over
// it.
func (e *env) config() (*app.Config, error) {
	cfg, err := app.LoadConfig(e.dataDir)
	if err != nil || e.database == "" {
		return cfg, err
	}
	cfg.Database.URL = e.database
	return cfg, cfg.Validate()
}

// open loads the configuration and opens the app; quiet commands log
// warnings only.
func (e *env) open(ctx context.Context, cfg *app.Config) (*app.App, error) {
	if cfg == nil {
		var err error
		if cfg, err = e.config(); err != nil {
			return nil, err
		}
	}
	return app.Open(ctx, cfg, e.logger(slog.LevelWarn))
}

// withApp runs fn with an open app and closes it afterwards.
func (e *env) withApp(cmd *cobra.Command, fn func(*app.App) error) error {
	a, err := e.open(cmd.Context(), nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
