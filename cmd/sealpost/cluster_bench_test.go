package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/memtest"
	"github.com/sealpost/sealpost/internal/pgtest"
)

// BenchmarkCluster is the whole path a provider sees: b.N posts to a
// 100-member list sent over SMTP to 1, 2 and 3 `sealpost serve` nodes on
// one PostgreSQL database (a private server on this machine), and to one
// node on SQLite, in the same run; each post's time ends when its 100
// copies reached the nodes' relays. It reports posts/s. On one machine
// the nodes, the database and the senders share its cores: more nodes
// add no cores here, and the figures say what the database costs, not
// how a cluster of machines scales. bench/cluster.sh runs it.
func BenchmarkCluster(b *testing.B) {
	b.Run("engine=sqlite/nodes=1", func(b *testing.B) { benchCluster(b, nil, 1) })
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("engine=postgres/nodes=%d", n), func(b *testing.B) {
			benchCluster(b, pgtest.Shared(b), n)
		})
	}
}

const clusterMembers = 100

// benchCluster measures posts through nodes nodes on a database of pg
// (nil: SQLite). Beside the time per post it reports the CPU time the
// nodes and the database server spent per post: on a machine whose
// cores they share, the database's share is what a deployment pays for
// it per node, whatever the nodes run on.
func benchCluster(b *testing.B, pg *pgtest.Server, nodes int) {
	url := ""
	if pg != nil {
		url = pg.CreateDB(b)
	}
	dirs := make([]string, nodes)
	var relays []*recorder
	for i := range dirs {
		addr, rec := recordingRelay(b)
		relays = append(relays, rec)
		dirs[i] = filepath.Join(b.TempDir(), fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(filepath.Join(dirs[i], "secrets"), 0o700); err != nil {
			b.Fatal(err)
		}
		conf := fmt.Sprintf("[relay]\naddr = %q\n", addr)
		if url != "" {
			conf += fmt.Sprintf("[database]\nurl = %q\n", url)
		}
		if err := os.WriteFile(filepath.Join(dirs[i], "sealpost.toml"), []byte(conf), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	keys, listPub := crashList(b, dirs[0], postfixListAddr)
	for i := 3; i < clusterMembers; i++ {
		addr := fmt.Sprintf("m%03d@example.org", i)
		k, err := pgp.GenerateKey("", addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(dirs[0], addr+".asc")
		if err := os.WriteFile(f, k.Armored(), 0o600); err != nil {
			b.Fatal(err)
		}
		sealpost(b, dirs[0], nil, "member", "add", postfixListAddr, addr, "--key", f, "--no-welcome").want(b, exitOK)
	}
	master, err := os.ReadFile(filepath.Join(dirs[0], "secrets", "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	var servers []*server
	for i, dir := range dirs {
		if i > 0 {
			if err := os.WriteFile(filepath.Join(dir, "secrets", "master.key"), master, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		servers = append(servers, startServe(b, dir))
	}
	posts := make([][]byte, b.N)
	for i := range posts {
		posts[i] = signedPost(b, keys["alice@example.org"], listPub, postfixListAddr, fmt.Sprintf("bench post %d", i))
	}
	copies := func() int {
		n := 0
		for _, r := range relays {
			n += len(r.messages())
		}
		return n
	}
	base := copies()
	cpu := func() (node, db time.Duration) {
		for _, s := range servers {
			d, err := memtest.CPUTime(s.cmd.Process.Pid, false)
			if err != nil {
				b.Fatal(err)
			}
			node += d
		}
		if pg != nil {
			pid, err := pg.PID()
			if err == nil {
				db, err = memtest.CPUTime(pid, true)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		return node, db
	}
	node0, db0 := cpu()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	const senders = 4
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += senders {
				if err := trySend(servers[i%len(servers)].addr, "alice@example.org", postfixListAddr, posts[i]); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want := base + b.N*clusterMembers
	for copies() < want {
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("%d of %d copies after 10 minutes", copies()-base, b.N*clusterMembers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	node1, db1 := cpu()
	b.ReportMetric(float64((node1-node0).Microseconds())/1000/float64(b.N), "node-cpu-ms/post")
	b.ReportMetric(float64((db1-db0).Microseconds())/1000/float64(b.N), "db-cpu-ms/post")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/post")
}
