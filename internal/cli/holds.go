package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
)

func (e *env) holdCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "hold",
		Short: "Moderate a list's held messages: list, show, release, reject, discard",
		Long: `Messages a list holds (its on_OUTCOME options say hold, or a message could
not be processed) wait here, as they arrived: encrypted. A moderator
releases, rejects or discards them.`,
	})
	c.AddCommand(e.holdListCmd(), e.holdShowCmd(),
		e.holdActionCmd("release", "Distribute a held message, waiving the rule it broke",
			`Distribute the held message ID as if the rule it broke did not apply: an
unsigned post goes out marked unsigned, a post by a non-member marked as
such. A message that cannot be distributed at all (altered, a replay,
not readable) stays held and the command says why (exit 65).`,
			func(ap *app.App, cmd *cobra.Command, list string, id int64) error {
				if err := ap.Admin.ReleaseHold(cmd.Context(), list, id); err != nil {
					return err
				}
				ap.Queue.Notify()
				return nil
			}, "Released"),
		e.holdRejectCmd(),
		e.holdActionCmd("discard", "Drop a held message without telling anyone",
			`Drop the held message ID silently.`,
			func(ap *app.App, cmd *cobra.Command, list string, id int64) error {
				return ap.Admin.DiscardHold(cmd.Context(), list, id)
			}, "Discarded"),
	)
	return c
}

func (e *env) holdListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list LIST",
		Short: "List a list's held messages",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				hs, err := ap.Admin.Holds(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				if len(hs) == 0 {
					fmt.Fprintf(e.stdout, "No held messages on %s\n", a[0])
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tHELD\tSENDER\tSIZE\tREASON")
				for _, h := range hs {
					sender := h.EnvelopeFrom
					if sender == "" {
						sender = "-"
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", h.ID, h.CreatedAt.Format(time.DateTime), sender, len(h.Raw), h.Reason)
				}
				return w.Flush()
			})
		},
	}
}

func (e *env) holdShowCmd() *cobra.Command {
	var decrypt bool
	c := &cobra.Command{
		Use:   "show LIST ID",
		Short: "Show a held message's envelope, outer headers and why it is held; --decrypt to read it",
		Long: `Show what is known of the held message ID without decrypting it: why it
is held, its envelope sender and size, and the outer header fields From,
To, Subject and Date, which the sender's client wrote unprotected and
nothing vouches for.

With --decrypt, open it with the list's key, in memory only (it stays
encrypted on disk), and show who signed it, its inner (protected) header
fields, its text and its attachments' names, types and sizes. Each such
reading is recorded in the audit log as the operator's.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := holdID(a[1])
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if decrypt {
					p, err := ap.Admin.ReadHold(cmd.Context(), a[0], id)
					if err != nil {
						return err
					}
					return admin.WriteHeldPost(e.stdout, p)
				}
				_, h, err := ap.Admin.Hold(cmd.Context(), a[0], id)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "id:\t%d\nheld:\t%s\nreason:\t%s\nreference:\t%s\nenvelope sender:\t%s\nsize:\t%d bytes\n",
					h.ID, h.CreatedAt.Format(time.RFC1123Z), h.Reason, h.Ref, h.EnvelopeFrom, len(h.Raw))
				hdr := admin.HoldHeaders(h)
				for _, k := range []string{"From", "To", "Subject", "Date"} {
					if v, ok := hdr[k]; ok {
						fmt.Fprintf(w, "%s (unverified):\t%s\n", k, v)
					}
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&decrypt, "decrypt", false, "decrypt it and show its signer, inner headers, text and attachment names (audited)")
	return c
}

func (e *env) holdRejectCmd() *cobra.Command {
	var reason string
	c := e.holdActionCmd("reject", "Drop a held message and tell its sender",
		`Drop the held message ID and send its envelope sender a notice that the
list's moderator did not accept it (nothing of the message is in it).
--reason gives the sender your reason, quoted in the notice as you wrote it.`,
		func(ap *app.App, cmd *cobra.Command, list string, id int64) error {
			return ap.Admin.RejectHold(cmd.Context(), list, id, reason)
		}, "Rejected")
	c.Flags().StringVar(&reason, "reason", "", "a reason for the sender, quoted in the notice (plain text)")
	return c
}

func (e *env) holdActionCmd(name, short, long string, do func(*app.App, *cobra.Command, string, int64) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:   name + " LIST ID",
		Short: short,
		Long:  long,
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := holdID(a[1])
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := do(ap, cmd, a[0], id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s held message %d of %s\n", done, id, a[0])
				return nil
			})
		},
	}
}

func holdID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a held message ID (see sealpost hold list LIST)", s)
	}
	return id, nil
}
