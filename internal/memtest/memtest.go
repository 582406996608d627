// Package memtest measures how much memory code under test holds at its
// peak, for the tests that bound memory (DESIGN §5: memory grows with the
// message's size, not with size × members). Test support: only _test.go
// files import it.
package memtest

import (
	"runtime"
	"sync"
	"time"
)

// Sink is an io.Writer that discards what it is written and, every 2 MiB,
// records the live heap after a collection: the most a writer streaming
// into it held at once.
type Sink struct {
	// Written is how many bytes it was written.
	Written int
	next    int
	// Peak is the highest live heap (HeapAlloc after a collection) seen.
	Peak uint64
}

func (s *Sink) Write(p []byte) (int, error) {
	s.Written += len(p)
	if s.Written >= s.next {
		s.next += 2 << 20
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.Peak = max(s.Peak, ms.HeapAlloc)
	}
	return len(p), nil
}

// PeakHeap samples the heap in use (HeapInuse) every 10 ms until stop is
// called, which returns the highest value seen.
func PeakHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
