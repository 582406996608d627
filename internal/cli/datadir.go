package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

// A command says how it uses the data directory with this annotation; a
// command without it needs an existing one (requireData).
const dataAnnotation = "sealpost/data"

const (
	// dataCreates: the command creates state, and so may create the data
	// directory, its master key and database (serve, list create, ...).
	dataCreates = "creates"
	// dataNone: the command never opens the data directory (help,
	// completion, commands that only hold others, demo's own directory).
	dataNone = "none"
	// dataMTA: process, for which an MTA waits: it checks for itself and
	// answers 75, never 78 (DESIGN §3), with the reason in its log only.
	dataMTA = "mta"
)

// dataUse marks c as using the data directory as use says.
func dataUse(c *cobra.Command, use string) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[dataAnnotation] = use
	return c
}

// creates marks a command that creates state: it may make a new data
// directory.
func creates(c *cobra.Command) *cobra.Command { return dataUse(c, dataCreates) }

// usesData says how c uses the data directory: its annotation, else
// cobra's own hidden completion requests, which use none, else it needs
// one.
func usesData(c *cobra.Command) string {
	if use, ok := c.Annotations[dataAnnotation]; ok {
		return use
	}
	if c.Name() == cobra.ShellCompRequestCmd || c.Name() == cobra.ShellCompNoDescRequestCmd {
		return dataNone
	}
	return ""
}

// markBuiltins marks cobra's help and completion commands, and all below
// them, as using no data directory.
func markBuiltins(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var mark func(c *cobra.Command)
	mark = func(c *cobra.Command) {
		dataUse(c, dataNone)
		for _, sub := range c.Commands() {
			mark(sub)
		}
	}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			mark(c)
		}
	}
}

// requireData is the root's PersistentPreRunE: every command that does
// not create state refuses to run without a data directory, instead of
// making an empty one (with a new master key) wherever it was started.
func (e *env) requireData(cmd *cobra.Command, _ []string) error {
	e.dataFrom = dataSource(cmd)
	if usesData(cmd) != "" {
		return nil
	}
	return e.missingData()
}

// dataSource says where --data's value came from, for the message.
func dataSource(cmd *cobra.Command) string {
	switch {
	case cmd.Flags().Changed("data"):
		return "given with --data"
	case os.Getenv("SEALPOST_DATA") != "":
		return "from $SEALPOST_DATA"
	}
	if !filepath.IsAbs(defaultDataDir) {
		return "the default " + defaultDataDir + ", in the current directory"
	}
	return "the default " + defaultDataDir
}

// noDataError: the data directory a command needs is not there. Its text
// says where the command looked, why there, and how to point it
// elsewhere.
type noDataError struct {
	what string // what is wrong, naming the absolute path
	from string // dataSource
}

func (e *noDataError) Error() string {
	return fmt.Sprintf(`%s
  (%s; this command creates none).
  Name the data directory with --data DIR or SEALPOST_DATA=DIR
  (e.g. sealpost --data /var/lib/sealpost ...), and run it as the user who owns it.
  A new one is made by 'sealpost list create', 'gateway create', 'user add', 'key import' or 'serve'.`,
		e.what, e.from)
}

// missingData returns a *noDataError when the data directory does not
// exist or holds neither a database nor a configuration. A directory it
// may not look into is left to the command, which says so in its own
// words.
func (e *env) missingData() error {
	dir, err := filepath.Abs(e.dataDir)
	if err != nil {
		dir = e.dataDir
	}
	missing := func(what string) error { return &noDataError{what: what, from: e.dataFrom} }
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return missing("no Sealpost data directory at " + dir)
	case err != nil:
		return nil
	case !fi.IsDir():
		return missing(dir + " is not a Sealpost data directory: it is not a directory")
	}
	// A configuration alone makes a data directory too: the admin wrote
	// it there for Sealpost, which has not started yet. So does a master
	// key alone: a node whose records are in PostgreSQL.
	for _, name := range []string{app.DatabaseFile, app.ConfigFile, filepath.Join(app.SecretsDir, app.MasterKeyFile)} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return missing(dir + " is not a Sealpost data directory: it holds no database (" + app.DatabaseFile + "), configuration (" + app.ConfigFile + ") or master key")
}
