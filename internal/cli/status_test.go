package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/store"
)

// TestStatusHolds: `sealpost status` says what each node holds, in text
// and in --json.
func TestStatusHolds(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	st := &admin.Status{Database: "postgres://sealpost@db/sealpost",
		Nodes: []store.Node{
			{ID: "a-1-x", Hostname: "a", PID: 1, Version: "v1", StartedAt: now.Add(-time.Hour), SeenAt: now.Add(-5 * time.Second), Holds: 3},
			{ID: "b-2-y", Hostname: "b", PID: 2, Version: "v1", StartedAt: now.Add(-time.Minute), SeenAt: now, Holds: 1},
		},
		Queue: map[store.DeliveryState]int{store.Pending: 4, store.Sent: 9}}
	var out bytes.Buffer
	e := &env{stdout: &out}
	e.printStatus(st, now)
	for _, want := range []string{"nodes     2 running", "a-1-x  host a, pid 1, smtp (none), version v1, up 1h0m0s, seen 5s ago, holds 3 copies",
		"b-2-y  host b, pid 2, smtp (none), version v1, up 1m0s, seen 0s ago, holds 1 copy", "queue     pending 4, sent 9"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status says:\n%s\nwant %q", out.String(), want)
		}
	}
	out.Reset()
	if err := e.statusJSON(st); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Nodes []struct {
			ID    string `json:"id"`
			Holds int    `json:"holds"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	if len(got.Nodes) != 2 || got.Nodes[0].Holds != 3 || got.Nodes[1].Holds != 1 {
		t.Errorf("status --json nodes: %+v\n%s", got.Nodes, out.String())
	}
}
