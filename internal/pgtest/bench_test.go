package pgtest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/pgtest"
)

// BenchmarkStart: what a test pays for a server of its own (initdb and
// pg_ctl start, reported as start-ms) and for stopping and removing it
// (stop-ms).
func BenchmarkStart(b *testing.B) {
	var start, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		s := pgtest.Start(b)
		t1 := time.Now()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		start, stop = start+t1.Sub(t0), stop+time.Since(t1)
	}
	b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms")
}

// BenchmarkCreateDB: what a test pays for a database of the shared
// server.
func BenchmarkCreateDB(b *testing.B) {
	s := pgtest.Shared(b)
	for b.Loop() {
		s.CreateDB(b)
	}
}

// BenchmarkDropDB: what CreateDB's cleanup costs when a test ends.
func BenchmarkDropDB(b *testing.B) {
	s := pgtest.Shared(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		name := fmt.Sprintf("bench_drop_%d", i)
		if err := s.Exec("postgres", "CREATE DATABASE "+name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Exec("postgres", "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
	}
}
