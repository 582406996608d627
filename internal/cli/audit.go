package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

// auditJSON is the --json form of an audit log entry.
type auditJSON struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"` // an account's email, or "operator"
	Via    string    `json:"via"`   // cli, api, web or mail
	Action string    `json:"action"`
	List   string    `json:"list"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

func (e *env) auditCmd() *cobra.Command {
	var list string
	var limit int
	var before int64
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit [--list LIST] [--limit N] [--json]",
		Short: "Show the audit log: who changed what, when and how",
		Long: `Show the audit log, newest first: every change made to lists, members,
keys, held messages, the queue, accounts and API tokens, with who made
it (an account's email, or "operator" for the command line), how (VIA:
cli, api, web or mail) and to what.

--list shows one list's entries only (changes to accounts and tokens
are no list's). --limit says how many entries (at most 1000); to read
further back, give --before the smallest ID shown (--json has the IDs).`,
		Example: `  sealpost audit
  sealpost audit --list team@lists.example.org --limit 20`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return usagef("--limit %d: want 1 to 1000", limit)
			}
			if before < 0 {
				return usagef("--before %d: want an entry ID", before)
			}
			return e.withApp(cmd, func(ap *app.App) error {
				es, err := ap.Admin.Audit(cmd.Context(), list, before, limit)
				if err != nil {
					return err
				}
				out := make([]auditJSON, 0, len(es))
				for _, a := range es {
					out = append(out, auditJSON{ID: a.ID, At: a.At, Actor: a.Actor, Via: a.Via, Action: a.Action, List: a.List, Target: a.Target, Detail: a.Detail})
				}
				if asJSON {
					return writeJSON(e, out)
				}
				return e.printAudit(out, list)
			})
		},
	}
	c.Flags().StringVar(&list, "list", "", "show this list's or gateway's entries only")
	c.Flags().IntVar(&limit, "limit", 100, "show at most this many entries (1 to 1000)")
	c.Flags().Int64Var(&before, "before", 0, "show entries older than the entry with this ID")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) printAudit(es []auditJSON, list string) error {
	if len(es) == 0 {
		if list != "" {
			fmt.Fprintf(e.stdout, "No audit entries for %s\n", list)
		} else {
			fmt.Fprintln(e.stdout, "The audit log is empty")
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "WHEN\tWHO\tVIA\tACTION\tLIST\tTARGET\tDETAIL")
	for _, a := range es {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.At.Format(time.DateTime), a.Actor, a.Via, a.Action,
			orDash(a.List), orDash(a.Target), orDash(strings.Join(strings.Fields(a.Detail), " ")))
	}
	return w.Flush()
}
