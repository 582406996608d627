package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// Several `sealpost serve` nodes may share one PostgreSQL database. Each
// says it is alive every store.HeartbeatInterval (the nodes table, `sealpost
// status`), and the jobs that must run once across all of them (the
// daily jobs, the WKD refresh) are claimed in the database before they
// run (store ClaimJob). On SQLite there is one node, and the same code
// keeps a restart from running the daily jobs twice in a day.

// forgetNodes: rows of nodes gone this long are removed. How often a
// node beats, and how long a silent one stays live, are
// store.HeartbeatInterval and store.NodeTimeout.
const forgetNodes = 24 * time.Hour

// Version is this build's version: what --version prints and the nodes
// table shows. The packaging sets it (-ldflags "-X
// github.com/sealpost/sealpost/internal/app.Version=...").
var Version = "devel"

// newNode describes this process as a node of the database.
func newNode(smtp string) store.Node {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return store.Node{
		ID:        fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		Hostname:  host,
		PID:       int64(os.Getpid()),
		Version:   Version,
		SMTP:      smtp,
		StartedAt: time.Now(),
	}
}

// heartbeat records that this node is alive, and releases the claims of
// nodes that are not (a node killed while it delivered): their copies are
// due again at once instead of when their leases end.
func (a *App) heartbeat(ctx context.Context) {
	now := time.Now()
	if err := a.Store.Heartbeat(ctx, a.node, now); err != nil {
		if ctx.Err() == nil {
			a.Logger.Warn("recording this node's heartbeat failed", "err", err)
		}
		return
	}
	n, err := a.Store.ReleaseDeadClaims(ctx, now, now.Add(-store.NodeTimeout))
	switch {
	case err != nil && ctx.Err() == nil:
		a.Logger.Warn("releasing the claims of stopped nodes failed", "err", err)
	case n > 0:
		a.Logger.Info("copies claimed by a node that stopped are due again", "count", n)
		a.Queue.Notify()
	}
}

// runHeartbeat beats every store.HeartbeatInterval until ctx ends, then
// removes this node's row (and the rows of nodes long gone).
func (a *App) runHeartbeat(ctx context.Context) {
	t := time.NewTicker(store.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			gone, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.Store.NodeGone(gone, a.node.ID, time.Now().Add(-forgetNodes)); err != nil {
				a.Logger.Warn("removing this node from the nodes table failed", "err", err)
			}
			return
		case <-t.C:
			a.heartbeat(ctx)
		}
	}
}

// claim reports whether this node runs job now: no node ran it within
// every. A database fault counts as no (the next check tries again).
func (a *App) claim(ctx context.Context, job string, every time.Duration) bool {
	ok, err := a.Store.ClaimJob(ctx, job, a.node.ID, time.Now(), every)
	if err != nil {
		if ctx.Err() == nil {
			a.Logger.Error("claiming a job failed; tried again later", "job", job, "err", err)
		}
		return false
	}
	return ok
}
