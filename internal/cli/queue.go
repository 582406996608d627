package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/store"
)

// queueLimit is the most deliveries `queue list` shows.
const queueLimit = 1000

func (e *env) queueCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "queue",
		Short: "Inspect the outbound queue: list, flush, retry, drop",
		Long: `Every message Sealpost sends (a member's copy of a post, a notice, a
gateway's mail) is one delivery in the outbound queue. 'sealpost serve'
sends them; a delivery that meets a temporary error waits and is tried
again later; one that meets a permanent error, or runs out of retries,
fails.`,
	})
	c.AddCommand(e.queueListCmd(), e.queueFlushCmd(), e.queueRetryCmd(), e.queueDropCmd())
	return c
}

// queueJSON is the --json form of `queue list`.
type queueJSON struct {
	ID          int64      `json:"id"`
	Ref         string     `json:"ref"`
	List        string     `json:"list"`
	Kind        string     `json:"kind"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt"` // null unless pending
	Size        int        `json:"size"`
	LastError   string     `json:"last_error"`
	CreatedAt   time.Time  `json:"created_at"`
	// PurgedAt is when the message was removed ([queue] keep_days,
	// failed_keep_days); null while it is kept.
	PurgedAt *time.Time `json:"purged_at"`
}

func queueView(q admin.QueueItem) queueJSON {
	v := queueJSON{ID: q.ID, Ref: q.Ref, List: q.List, Kind: q.Kind, From: q.From, To: q.To, State: string(q.State),
		Attempts: q.Attempts, Size: q.Size, LastError: q.LastError, CreatedAt: q.CreatedAt, PurgedAt: timeOrNil(q.Purged)}
	if q.State == store.Pending {
		v.NextAttempt = timeOrNil(q.NextAttempt)
	}
	return v
}

func (e *env) queueListCmd() *cobra.Command {
	var list string
	var states []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--list LIST] [--state pending|failed|sent] [--json]",
		Short: "List the deliveries waiting, failed or sent",
		Long: `List the outbound queue's deliveries, oldest first, at most ` + fmt.Sprint(queueLimit) + `: by
default those still pending and those that failed; --state selects
others (repeat it, or separate states by commas). --list shows one list's
or gateway's only.

NEXT is when a pending delivery is tried again; LAST ERROR is what the
receiving server or the transport said the last time. SIZE is "removed"
once the message itself is gone from the database: a sent one after
[queue] keep_days, a failed one after failed_keep_days; its record stays
until record_days.`,
		Example: `  sealpost queue list
  sealpost queue list --list team@lists.example.org --state failed`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sts, err := deliveryStates(states)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				qs, err := ap.Admin.Queue(cmd.Context(), list, sts, queueLimit)
				if err != nil {
					return err
				}
				out := make([]queueJSON, 0, len(qs))
				for _, q := range qs {
					out = append(out, queueView(q))
				}
				if asJSON {
					return writeJSON(e, out)
				}
				return e.printQueue(out, sts, list)
			})
		},
	}
	c.Flags().StringVar(&list, "list", "", "show this list's or gateway's deliveries only")
	c.Flags().StringSliceVar(&states, "state", []string{string(store.Pending), string(store.Failed)}, "show deliveries in these states: pending, failed, sent")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// deliveryStates checks the states of --state.
func deliveryStates(names []string) ([]store.DeliveryState, error) {
	var out []store.DeliveryState
	for _, n := range names {
		switch st := store.DeliveryState(strings.TrimSpace(n)); st {
		case store.Pending, store.Failed, store.Sent:
			out = append(out, st)
		default:
			return nil, usagef("--state %q: want pending, failed or sent", n)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--state: want pending, failed or sent")
	}
	return out, nil
}

func (e *env) printQueue(qs []queueJSON, states []store.DeliveryState, list string) error {
	if len(qs) == 0 {
		names := make([]string, len(states))
		for i, st := range states {
			names[i] = string(st)
		}
		of := ""
		if list != "" {
			of = " of " + list
		}
		fmt.Fprintf(e.stdout, "The queue is empty: no %s deliveries%s\n", strings.Join(names, " or "), of)
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tLIST\tKIND\tTO\tSTATE\tATTEMPTS\tNEXT\tSIZE\tLAST ERROR")
	for _, q := range qs {
		next := "-"
		if q.NextAttempt != nil {
			next = q.NextAttempt.Format(time.DateTime)
		}
		size := strconv.Itoa(q.Size)
		if q.PurgedAt != nil {
			size = "removed"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", q.ID, orDash(q.List), q.Kind, q.To, q.State,
			q.Attempts, next, size, orDash(strings.Join(strings.Fields(q.LastError), " ")))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(qs) >= queueLimit {
		fmt.Fprintf(e.stdout, "(the first %d only; narrow it with --list or --state)\n", queueLimit)
	}
	return nil
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) queueFlushCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "flush",
		Short: "Send every waiting delivery now, from this process",
		Long: `Make every delivery that waits for its next attempt due now and send
them from this process, then say how many went out and how many still
wait: for example after the relay (Postfix) was down and is back, like
Postfix's 'postqueue -f'. A 'sealpost serve' running at the same time
is safe: each delivery is attempted by one process only.

Where Sealpost runs only as an MTA's pipe ('sealpost process') and no
'sealpost serve' runs, nothing else retries a copy the relay did not
take: run 'sealpost queue flush' from a timer (every few minutes).

It sends through the relay of the configuration file ([relay] addr), or
into the outbox without one: give a 'sealpost serve' its relay in the
configuration, not only with --relay, so that both send the same way.

Failed deliveries stay failed; 'sealpost queue retry ID' retries one.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				ctx := cmd.Context()
				due, err := ap.Admin.QueueDueNow(ctx)
				if err != nil {
					return err
				}
				tried, err := ap.Queue.Flush(ctx)
				if err != nil {
					return err
				}
				counts, err := ap.Admin.QueueCounts(ctx)
				if err != nil {
					return err
				}
				// Where they went: the relay of the configuration, not a
				// --relay that a running serve was given.
				to := "the relay " + ap.Config.Relay.Addr
				if ap.Config.Relay.Addr == "" {
					to = "the Maildir outbox " + filepath.Join(ap.Config.DataDir, app.OutboxDir) + " (no [relay] addr in the configuration)"
				}
				fmt.Fprintf(e.stdout, "%d deliveries attempted (%d made due now) through %s; %d still waiting, %d failed.\n",
					tried, due, to, counts[store.Pending], counts[store.Failed])
				if counts[store.Pending] > 0 {
					fmt.Fprintln(e.stdout, "'sealpost queue list --state pending' shows why they wait.")
				}
				return nil
			})
		},
	}
}

func (e *env) queueRetryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Make a waiting or failed delivery due now",
		Long: `Make the delivery ID ('sealpost queue list' shows the IDs) due now,
whether it waits for its next attempt or failed: for example after the
receiving server was fixed. A 'sealpost serve' running elsewhere picks
it up within its poll interval (a minute). A delivery that was sent
cannot be retried, nor a failed one whose message was removed after
[queue] failed_keep_days.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := idArg(a[0], "delivery", "sealpost queue list")
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RetryDelivery(cmd.Context(), id); err != nil {
					return err
				}
				ap.Queue.Notify()
				fmt.Fprintf(e.stdout, "Delivery %d is due now.\n", id)
				return nil
			})
		},
	}
}

func (e *env) queueDropCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drop ID",
		Short: "Remove a delivery that was not sent: it is not tried again",
		Long: `Remove the delivery ID ('sealpost queue list' shows the IDs) from the
queue: it is not tried again, and its recipient does not get that
message. Nobody is told. A delivery that was sent, or that is being
attempted right now, cannot be dropped.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := idArg(a[0], "delivery", "sealpost queue list")
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.DropDelivery(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Dropped delivery %d\n", id)
				return nil
			})
		},
	}
}
