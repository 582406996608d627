package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

func (e *env) keyCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "key",
		Short: "Inspect the keys and certificates of lists and members",
	})
	var list string
	var days int
	check := &cobra.Command{
		Use:   "check [--list LIST] [--days N]",
		Short: "List keys and certificates that are unusable or expire within N days",
		Long: `Report every list key, list certificate and member key or certificate that
cannot be used now (Key expired, Key revoked, Wrong key usage, Policy
mismatch, ...) or that expires within the next N days (default 14), so
that fresh keys can be asked for in time. Prints nothing else when there
is nothing to report; suitable for a daily cron job.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 0 {
				return usagef("--days must not be negative")
			}
			return e.withApp(cmd, func(ap *app.App) error {
				fs, err := ap.Admin.CheckKeys(cmd.Context(), list, days)
				if err != nil || len(fs) == 0 {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "LIST\tHOLDER\tENGINE\tFINGERPRINT\tSTATUS\tEXPIRES")
				for _, f := range fs {
					expires := "never"
					if !f.Expires.IsZero() {
						expires = f.Expires.Format(time.DateOnly)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.List, f.Holder, f.Engine, f.Fingerprint, f.Status, expires)
				}
				return w.Flush()
			})
		},
	}
	check.Flags().StringVar(&list, "list", "", "check only this list")
	check.Flags().IntVar(&days, "days", 14, "also report keys that expire within this many days")
	c.AddCommand(check)
	return c
}
