// Package memtest measures how much memory code under test holds at its
// peak, for the tests that bound memory (DESIGN §5: memory grows with the
// message's size, not with size × members), and the CPU time processes
// used (CPUTime, for the benchmarks that say which process did the work).
// Test support: only _test.go files import it.
package memtest

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// StatusKB returns the field name (VmHWM, VmRSS: in kB) of process pid's
// /proc status, pid 0 being this process; false where /proc cannot tell.
func StatusKB(pid int, name string) (int64, bool) {
	file := "/proc/self/status"
	if pid != 0 {
		file = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// PeakRSS reads the peak resident memory (VmHWM) of the running process
// pid every 2 ms until stop is called, which returns the highest value
// seen, in bytes (0 where /proc cannot tell). Not the rusage of an ended
// child: on Linux its ru_maxrss includes the resident memory of the
// process that forked it, up to the exec (a test binary's, hundreds of
// MB under -race). The last reading comes at most a few milliseconds
// before the exit; a peak in those would be missed.
func PeakRSS(pid int) (stop func() int64) {
	var mu sync.Mutex
	var peak int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if kib, ok := StatusKB(pid, "VmHWM"); ok {
				mu.Lock()
				peak = max(peak, kib<<10)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
