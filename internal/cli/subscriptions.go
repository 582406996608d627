package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto"
)

// subscriptionCmd is `sealpost subscription`: the open requests to join
// or leave a list, and an owner's decision on those waiting for one.
func (e *env) subscriptionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "subscription",
		Short: "See and decide on requests to join or leave a list",
		Long: `People ask to join a list on the public subscription page (/subscribe) or
by mail, offering their OpenPGP key or S/MIME certificate, when the list's
subscribe option allows it:

  closed    only owners add members (the default)
  confirm   a person becomes a member once they answer the challenge sent
            to their address, encrypted to the key they offered
  moderate  as confirm, and then an owner approves

  sealpost list set team@lists.example.org subscribe=moderate

Leaving works on every list: the challenge goes to the key the list holds
for the member. These commands show the open requests and decide on those
that wait for an owner.`,
	}
	groupCommand(c)
	c.AddCommand(&cobra.Command{
		Use:     "list LIST",
		Short:   "List LIST's open requests, those waiting for an owner first",
		Example: "  sealpost subscription list team@lists.example.org",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				subs, err := ap.Admin.Subscriptions(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				if len(subs) == 0 {
					fmt.Fprintf(e.stdout, "%s has no open requests to join or leave\n", a[0])
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "EMAIL\tWANTS TO\tWAITING FOR\tKEY\tASKED\tEXPIRES")
				for _, s := range subs {
					wants, waiting, key := "join", "their answer", "-"
					if s.Action == "unsubscribe" {
						wants = "leave"
					}
					if s.State == "approval" {
						waiting = "an owner"
					}
					if s.Fingerprint != "" {
						key = s.Engine + " " + crypto.FormatFingerprint(s.Fingerprint)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Email, wants, waiting, key,
						s.CreatedAt.UTC().Format(time.DateOnly), s.ExpiresAt.UTC().Format(time.DateOnly))
				}
				return w.Flush()
			})
		},
	}, &cobra.Command{
		Use:     "approve LIST EMAIL",
		Short:   "Make EMAIL, whose answered request waits for an owner, a member of LIST",
		Long:    "EMAIL becomes a member with the key they offered, and gets the welcome message.",
		Example: "  sealpost subscription approve team@lists.example.org dave@example.org",
		Args:    args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if _, err := ap.Admin.ApproveSubscription(cmd.Context(), a[0], a[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s is now a member of %s\n", a[1], a[0])
				return nil
			})
		},
	})
	var reason string
	reject := &cobra.Command{
		Use:     "reject LIST EMAIL",
		Short:   "Decline EMAIL's request to join LIST",
		Long:    "EMAIL is told, with --reason when given, in a message encrypted to the key they offered.",
		Example: "  sealpost subscription reject team@lists.example.org mallory@example.net --reason 'This list is for staff only.'",
		Args:    args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RejectSubscription(cmd.Context(), a[0], a[1], reason); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "declined %s's request to join %s; they are told\n", a[1], a[0])
				return nil
			})
		},
	}
	reject.Flags().StringVar(&reason, "reason", "", "why, for the person (optional)")
	c.AddCommand(reject)
	return c
}
