package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/store"
)

// listRoleCmd is `list owner` or `list moderator`: add, remove and list
// the people with that role on a list.
func (e *env) listRoleCmd(role string) *cobra.Command {
	what := map[string]string{
		store.ListOwner: `Further owners of a list manage everything of it, as its owner address
(the owner option) does, and get the owner's notices: held and refused
messages, members without a usable key, mail to LIST-owner.`,
		store.ListModerator: `Moderators of a list decide on its held messages (read, release, reject,
discard) and get the notice of each message held; they see and change
nothing else of the list.`,
	}[role]
	c := &cobra.Command{
		Use:   role,
		Short: "Add, remove and list the " + role + "s of a list",
		Long: what + `

Each is the address of an account of the admin UI and the API (role
owner; make one with 'sealpost user add EMAIL --role owner'). The list's
owners may name and remove them in the UI and the API too; every change
is in the audit log.`,
	}
	groupCommand(c)
	c.AddCommand(&cobra.Command{
		Use:     "add LIST EMAIL",
		Short:   "Make EMAIL a " + role + " of LIST",
		Example: "  sealpost list " + role + " add team@lists.example.org carol@example.org",
		Args:    args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.AddListRole(cmd.Context(), a[0], a[1], role); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s is now a %s of %s\n", a[1], role, a[0])
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "remove LIST EMAIL",
		Short: "Take EMAIL's role on LIST away",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RemoveListRole(cmd.Context(), a[0], a[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s is no longer a %s of %s\n", a[1], role, a[0])
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "list LIST",
		Short: "List the " + role + "s of LIST",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				roles, err := ap.Admin.ListRoles(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				n := 0
				for _, r := range roles {
					if r.Role == role {
						if n == 0 {
							fmt.Fprintln(w, "EMAIL\tSINCE")
						}
						fmt.Fprintf(w, "%s\t%s\n", r.Email, r.AddedAt.UTC().Format(time.DateOnly))
						n++
					}
				}
				if n == 0 {
					fmt.Fprintf(e.stdout, "%s has no %ss (add one with 'sealpost list %s add %s EMAIL')\n", a[0], role, role, a[0])
				}
				return w.Flush()
			})
		},
	})
	return c
}
