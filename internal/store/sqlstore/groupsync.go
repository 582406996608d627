package sqlstore

import "sync"

// groupSync makes commits durable together (group commit): the database
// runs with synchronous=NORMAL, so a commit writes the write-ahead log
// without an fsync and frees the connection at once, and then each
// committer waits for one fsync of the log that started after its
// commit. Commits that wait at the same time share the next fsync, so
// concurrent posts pay for one between them, and no transaction holds the
// one connection while the disk flushes.
//
// An fsync that fails is remembered: from then on every wait fails (a
// later fsync that succeeds does not prove that the pages the failed one
// lost were written), and the process must restart to accept mail again.
type groupSync struct {
	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // fsyncs started
	done    uint64 // fsyncs finished
	running bool
	err     error
}

// wait returns once an fsync (by sync) that started after the call has
// finished: everything committed before the call is durable.
func (g *groupSync) wait(sync func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	// An fsync running now may have started before the caller's
	// commit: the next one is the first that surely covers it.
	target := g.started + 1
	for g.done < target && g.err == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		g.mu.Unlock()
		err := sync()
		g.mu.Lock()
		g.running = false
		g.done = g.started
		if err != nil && g.err == nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}
