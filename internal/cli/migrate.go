package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

func (e *env) migrateCmd() *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "migrate --to URL",
		Short: "Copy this installation's records from SQLite into an empty PostgreSQL database",
		Long: `Copy every record of the data directory's SQLite database (lists, members,
the keyring, holds, the queue, accounts, the audit log, archives) into an
empty PostgreSQL database, then read both back and compare them table by
table (row counts and checksums). Nothing in the data directory changes.

Stop 'sealpost serve' first: what it commits after the copy began is not
copied. Then set, on every node,

  [database]
  url = "postgres://sealpost@db/sealpost"

in sealpost.toml, give every node this data directory's
secrets/master.key (the lists' keys are sealed with it), and start serve
on each. The password can come from the URL, PGPASSWORD, ~/.pgpass or the
systemd credential sealpost-database-password.`,
		Example: `  sealpost migrate --to postgres://sealpost@db.example.org/sealpost`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usagef("migrate: --to URL is required (the empty PostgreSQL database to copy into)")
			}
			cfg, err := e.config()
			if err != nil {
				return err
			}
			report, err := app.MigrateTo(cmd.Context(), cfg, to)
			if err != nil {
				return err
			}
			var rows int64
			for _, t := range report {
				fmt.Fprintf(e.stdout, "%-20s %8d rows  checksum %s…  verified\n", t.Table, t.Rows, t.Checksum[:16])
				rows += t.Rows
			}
			fmt.Fprintf(e.stdout, "Copied and verified %d rows in %d tables.\n", rows, len(report))
			fmt.Fprintf(e.stdout, "Next: on every node, set [database] url in sealpost.toml (or --database, or $%s),\n", app.DatabaseURLEnv)
			fmt.Fprintln(e.stdout, "give it this data directory's secrets/master.key, and start 'sealpost serve'.")
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "the empty PostgreSQL database to copy into, postgres://USER@HOST/DB")
	return c
}
