package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/store"
)

func (e *env) statusCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the nodes that share the database, what each holds, the queue, and the daily jobs",
		Long: `Show the installation's state as the database holds it: the 'sealpost serve'
nodes that are running on it (each records that it is alive every 10 s;
one silent for 30 s is no longer listed) and how many copies each holds
(claimed for delivery, its lease not over), how many copies wait, were sent
or failed, and when the jobs that run once a day across all nodes (key
expiry reminders, hold expiry, purges; the WKD refresh) last ran, and
where. With SQLite there is at most one node; with [database] url several
nodes share one PostgreSQL database.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(a *app.App) error {
				st, err := a.Admin.Status(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return e.statusJSON(st)
				}
				e.printStatus(st, time.Now())
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) printStatus(st *admin.Status, now time.Time) {
	w := e.stdout
	fmt.Fprintf(w, "database  %s\n", st.Database)
	fmt.Fprintf(w, "nodes     %d running\n", len(st.Nodes))
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "  %s  host %s, pid %d, smtp %s, version %s, up %s, seen %s ago, holds %s\n",
			n.ID, n.Hostname, n.PID, orNone(n.SMTP), n.Version, now.Sub(n.StartedAt).Round(time.Second), now.Sub(n.SeenAt).Round(time.Second),
			copies(n.Holds))
	}
	var states []string
	for s := range st.Queue {
		states = append(states, string(s))
	}
	sort.Strings(states)
	var counts []string
	for _, s := range states {
		counts = append(counts, fmt.Sprintf("%s %d", s, st.Queue[store.DeliveryState(s)]))
	}
	fmt.Fprintf(w, "queue     %s\n", orNone(strings.Join(counts, ", ")))
	if len(st.Jobs) == 0 {
		fmt.Fprintln(w, "jobs      none has run yet")
	}
	for i, j := range st.Jobs {
		label := "          "
		if i == 0 {
			label = "jobs      "
		}
		fmt.Fprintf(w, "%s%s last ran %s on %s\n", label, j.Name, j.LastRun.UTC().Format(time.RFC3339), j.Node)
	}
}

func (e *env) statusJSON(st *admin.Status) error {
	type node struct {
		ID        string    `json:"id"`
		Hostname  string    `json:"hostname"`
		PID       int64     `json:"pid"`
		Version   string    `json:"version"`
		SMTP      string    `json:"smtp"`
		StartedAt time.Time `json:"started_at"`
		SeenAt    time.Time `json:"seen_at"`
		Holds     int       `json:"holds"`
	}
	type job struct {
		Name    string    `json:"name"`
		LastRun time.Time `json:"last_run"`
		Node    string    `json:"node"`
	}
	out := struct {
		Database string         `json:"database"`
		Nodes    []node         `json:"nodes"`
		Queue    map[string]int `json:"queue"`
		Jobs     []job          `json:"jobs"`
	}{Database: st.Database, Nodes: []node{}, Queue: map[string]int{}, Jobs: []job{}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, node{n.ID, n.Hostname, n.PID, n.Version, n.SMTP, n.StartedAt.UTC(), n.SeenAt.UTC(), n.Holds})
	}
	for s, n := range st.Queue {
		out.Queue[string(s)] = n
	}
	for _, j := range st.Jobs {
		out.Jobs = append(out.Jobs, job{j.Name, j.LastRun.UTC(), j.Node})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// copies says how many copies n is: "1 copy", "3 copies".
func copies(n int) string {
	if n == 1 {
		return "1 copy"
	}
	return fmt.Sprintf("%d copies", n)
}
