package admin

import (
	"context"

	"github.com/sealpost/sealpost/internal/store"
)

// Status is the installation's state as the database holds it: what
// `sealpost status`, GET /api/v1/status and the dashboard's Nodes card
// show.
type Status struct {
	// Database says where the records are, without a password
	// (Options.Database).
	Database string
	// Nodes are the live `sealpost serve` nodes sharing the database,
	// each with the copies it holds.
	Nodes []store.Node
	// Queue counts the deliveries in each state.
	Queue map[store.DeliveryState]int
	// Jobs say when the once-per-cluster jobs last ran, and where.
	Jobs []store.JobRun
}

// Status returns the nodes sharing the database, the queue, and when
// the daily jobs last ran. It is not one list's: only an admin without a
// list limit may see it.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	if err := s.requireAdmin("see the nodes and the queue of the installation"); err != nil {
		return nil, err
	}
	now := s.now()
	nodes, err := s.st.Nodes(ctx, now, now.Add(-store.NodeTimeout))
	if err != nil {
		return nil, err
	}
	queue, err := s.st.QueueCounts(ctx, nil)
	if err != nil {
		return nil, err
	}
	jobs, err := s.st.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	return &Status{Database: s.database, Nodes: nodes, Queue: queue, Jobs: jobs}, nil
}
