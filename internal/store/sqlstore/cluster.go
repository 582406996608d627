package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// ClaimJob reports whether node may run the job name now: when nobody
// ran it within every before now. The claim and the record of it are one
// statement, so of nodes asking together exactly one gets true.
func (s *DB) ClaimJob(ctx context.Context, name, node string, now time.Time, every time.Duration) (bool, error) {
	var got string
	err := s.writeRow(ctx, []any{&got}, `INSERT INTO jobs (name, last_run, node) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run, node = excluded.node
		WHERE jobs.last_run <= $4
		RETURNING name`, name, millis(now), node, millis(now.Add(-every)))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim job %s: %w", name, err)
	}
	return true, nil
}

// Jobs returns when each job last ran and where.
func (s *DB) Jobs(ctx context.Context) ([]store.JobRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, last_run, node FROM jobs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: jobs: %w", err)
	}
	defer rows.Close()
	var jobs []store.JobRun
	for rows.Next() {
		var j store.JobRun
		var at int64
		if err := rows.Scan(&j.Name, &at, &j.Node); err != nil {
			return nil, fmt.Errorf("sqlstore: jobs: %w", err)
		}
		j.LastRun = fromMillis(at)
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// Heartbeat records that node n is alive at now (its row made at its
// first beat).
func (s *DB) Heartbeat(ctx context.Context, n store.Node, now time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO nodes (id, hostname, pid, version, smtp, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, smtp = excluded.smtp`,
		n.ID, n.Hostname, n.PID, n.Version, n.SMTP, millis(n.StartedAt), millis(now))
	if err != nil {
		return fmt.Errorf("sqlstore: heartbeat: %w", err)
	}
	return nil
}

// NodeGone removes node id's row (it stopped cleanly), and the rows of
// nodes not seen since before.
func (s *DB) NodeGone(ctx context.Context, id string, before time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM nodes WHERE id = $1 OR seen_at < $2`, id, millis(before))
	if err != nil {
		return fmt.Errorf("sqlstore: node gone: %w", err)
	}
	return nil
}

// Nodes returns the nodes seen since alive, most recently started first,
// each with the copies it holds at now: the pending deliveries it claimed
// whose lease ends after now. A claim of a node not listed (stopped, or
// no node) counts for none of them.
func (s *DB) Nodes(ctx context.Context, now, alive time.Time) ([]store.Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hostname, pid, version, smtp, started_at, seen_at, COALESCE(held.n, 0)
		FROM nodes LEFT JOIN (SELECT claimed_by, COUNT(*) AS n FROM deliveries
			WHERE state = $2 AND claimed_until > $3 AND claimed_by <> '' GROUP BY claimed_by) held ON held.claimed_by = nodes.id
		WHERE seen_at >= $1 ORDER BY started_at DESC, id`, millis(alive), string(store.Pending), millis(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: nodes: %w", err)
	}
	defer rows.Close()
	var nodes []store.Node
	for rows.Next() {
		var n store.Node
		var started, seen int64
		if err := rows.Scan(&n.ID, &n.Hostname, &n.PID, &n.Version, &n.SMTP, &started, &seen, &n.Holds); err != nil {
			return nil, fmt.Errorf("sqlstore: nodes: %w", err)
		}
		n.StartedAt, n.SeenAt = fromMillis(started), fromMillis(seen)
		nodes = append(nodes, n)
	}
	return nodes, rows.Err()
}

// Claimed returns how many copies are claimed at now, by any node or
// process: pending deliveries whose lease ends after now.
func (s *DB) Claimed(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE state = $1 AND claimed_until > $2`,
		string(store.Pending), millis(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: claimed deliveries: %w", err)
	}
	return n, nil
}

// ReleaseDeadClaims makes the deliveries claimed by nodes not seen since
// alive due again at once, instead of when their leases end: their node
// died (killed, or its machine lost) in the middle of an attempt. A copy
// it had handed to the relay before it died goes out again: a duplicate,
// never a loss. Claims of processes that are no node (claimed_by ”)
// keep their lease.
func (s *DB) ReleaseDeadClaims(ctx context.Context, now, alive time.Time) (int64, error) {
	res, err := s.exec(ctx, `UPDATE deliveries SET claimed_until = 0
		WHERE state = $1 AND claimed_until > $2 AND claimed_by <> ''
		AND claimed_by NOT IN (SELECT id FROM nodes WHERE seen_at >= $3)`,
		string(store.Pending), millis(now), millis(alive))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: release dead claims: %w", err)
	}
	return res.RowsAffected()
}
