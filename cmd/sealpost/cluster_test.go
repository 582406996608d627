package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pgtest"
)

// clusterNode is one `sealpost serve` of the cluster test, with a data
// directory and a relay of its own, so that every copy the relays take
// is known to come from it.
type clusterNode struct {
	dir   string
	relay *recorder
	srv   *server
	kills []time.Time // when the test killed it
}

// TestClusterKill runs three `sealpost serve` nodes on one PostgreSQL
// database, sends posts to all three at once, and SIGKILLs one node at a
// random moment (then starts it again). Every post answered 250 must
// reach every member at least once; a copy may come twice only when the
// node that sent it first was killed before its delivery was recorded
// (in flight at the kill), never from two nodes that were both alive;
// the daily jobs ran once across the nodes; `sealpost status` lists the
// three.
func TestClusterKill(t *testing.T) {
	pg := pgtest.Shared(t)
	url := pg.CreateDB(t)
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		addr, rec := recordingRelay(t)
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf("[database]\nurl = %q\n[relay]\naddr = %q\n", url, addr)
		if err := os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes[i] = &clusterNode{dir: dir, relay: rec}
	}
	keys, listPub := crashList(t, nodes[0].dir, postfixListAddr)
	master, err := os.ReadFile(filepath.Join(nodes[0].dir, "secrets", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		if err := os.WriteFile(filepath.Join(n.dir, "secrets", "master.key"), master, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		n.srv = startServe(t, n.dir)
	}
	st := clusterStatus(t, nodes[0].dir)
	if len(st.Nodes) != 3 {
		t.Fatalf("status lists %d nodes, want 3: %+v", len(st.Nodes), st)
	}

	// Posts go to the three nodes in turn from three senders at once;
	// one node is killed at a random moment and started again.
	const posts = 45
	var (
		mu       sync.Mutex
		accepted = map[string]bool{} // text of each post answered 250
		wg       sync.WaitGroup
	)
	// The victim's relay is slow, and the victim is killed while it hands
	// a copy over: it dies holding claims (and a copy the relay took but
	// it had not recorded), which the others must take over once it has
	// been silent for 30 s.
	victim := nodes[rand.IntN(len(nodes))]
	victim.relay.delay.Store(int64(time.Second))
	killed := make(chan int, 1)
	go func() {
		eventually(60*time.Second, func() bool { return victim.relay.inData.Load() > 0 })
		time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
		mu.Lock()
		victim.srv.cmd.Process.Signal(syscall.SIGKILL)
		victim.kills = append(victim.kills, time.Now())
		mu.Unlock()
		killed <- len(victim.kills)
	}()
	// Signed beforehand: a go-crypto key is not safe for concurrent use.
	raw := make([][]byte, posts)
	for i := range raw {
		raw[i] = signedPost(t, keys["alice@example.org"], listPub, postfixListAddr, fmt.Sprintf("cluster post %03d", i))
	}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < posts; i += 3 {
				text := fmt.Sprintf("cluster post %03d", i)
				mu.Lock()
				n := nodes[i%len(nodes)]
				addr, done := n.srv.addr, n.srv.done
				mu.Unlock()
				select {
				case <-done:
					continue // killed: its senders' MTAs would retry elsewhere
				default:
				}
				if err := trySend(addr, "alice@example.org", postfixListAddr, raw[i]); err == nil {
					mu.Lock()
					accepted[text] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	<-killed
	<-victim.srv.done
	logs := victim.srv.output.String()
	victim.srv = startServe(t, victim.dir)
	restarted := time.Now()

	// Every accepted post reaches every member, within the time it takes
	// the others to see the killed node silent (30 s) and retry.
	members := []string{"alice@example.org", "bob@example.org", "carol@example.org"}
	type copyKey struct{ text, member string }
	var got map[copyKey][]int
	complete := eventually(120*time.Second, func() bool {
		got = map[copyKey][]int{}
		for i, n := range nodes {
			for _, m := range n.relay.messages() {
				if len(m.to) != 1 {
					t.Fatalf("a copy to %v", m.to)
				}
				if keys[m.to[0]] == nil {
					continue // a notice to the owner
				}
				k := copyKey{postText(t, m, keys[m.to[0]], listPub), m.to[0]}
				got[k] = append(got[k], i)
			}
		}
		for text := range accepted {
			for _, m := range members {
				if len(got[copyKey{text, m}]) == 0 {
					return false
				}
			}
		}
		return true
	})
	if !complete {
		for text := range accepted {
			for _, m := range members {
				if len(got[copyKey{text, m}]) == 0 {
					t.Errorf("%q never reached %s", text, m)
				}
			}
		}
	}
	if len(accepted) < posts/2 {
		t.Errorf("only %d of %d posts were accepted", len(accepted), posts)
	}
	dups := 0
	for k, senders := range got {
		if len(senders) < 2 {
			continue
		}
		dups++
		for _, s := range senders[:len(senders)-1] {
			if len(nodes[s].kills) == 0 {
				t.Errorf("%q reached %s from nodes %v, and node %d was never killed", k.text, k.member, senders, s)
			}
		}
	}
	t.Logf("%d posts accepted of %d, node %s killed while it delivered, %d copies delivered twice", len(accepted), posts, filepath.Base(victim.dir), dups)
	// The killed node died holding at least the claim of the copy it was
	// handing over. Every accepted post may have reached every member
	// before that (the copy in flight counts once the relay has it, and
	// the others may have claimed the rest), so the release is waited
	// for: it comes once the node has been silent for 30 s.
	released := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range nodes {
			if bytes.Contains([]byte(n.srv.output.String()), []byte("copies claimed by a node that stopped are due again")) {
				return true
			}
		}
		return false
	}
	if !eventually(75*time.Second, released) {
		t.Errorf("no node released the killed node's claims")
	}

	// Each node looks for the daily jobs 10 s after its start (the
	// restarted one too): one of them runs them.
	time.Sleep(time.Until(restarted.Add(15 * time.Second)))
	st = clusterStatus(t, nodes[0].dir)
	if len(st.Nodes) < 3 {
		t.Errorf("status after the restart lists %d nodes, want the 3 running: %+v", len(st.Nodes), st.Nodes)
	}
	for _, n := range nodes {
		logs += n.srv.output.String()
	}
	if runs := bytes.Count([]byte(logs), []byte(`msg="daily jobs ran on this node"`)); runs != 1 {
		t.Errorf("the daily jobs ran %d times across the nodes, want once", runs)
	}
	if len(st.Jobs) != 1 || st.Jobs[0].Name != "daily" {
		t.Errorf("status lists the jobs %+v, want daily once", st.Jobs)
	}
}

// trySend submits raw to rcpt at addr and reports the server's verdict
// (nil: 250); a node that is gone is an error like a refusal.
func trySend(addr, from, rcpt string, raw []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		conn.Close()
		return err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	return c.SendMail(from, []string{rcpt}, bytes.NewReader(raw))
}

var postMarker = regexp.MustCompile(`cluster post \d{3}`)

// postText opens a copy with its member's key and returns the marker of
// the post it carries.
func postText(t *testing.T, m received, key, list *pgp.Key) string {
	t.Helper()
	msg, err := mime.Parse(m.data, mime.Limits{})
	if err != nil {
		t.Fatalf("copy for %s: %v", m.to[0], err)
	}
	u, err := pgp.Unwrap(msg, key, []*pgp.Key{list}, pgp.Options{})
	if err != nil {
		t.Fatalf("copy for %s does not open: %v", m.to[0], err)
	}
	marker := postMarker.Find(u.Content)
	if marker == nil {
		t.Fatalf("copy for %s carries no post marker:\n%s", m.to[0], u.Content)
	}
	return string(marker)
}

// clusterStatusJSON is `sealpost status --json`.
type clusterStatusJSON struct {
	Database string `json:"database"`
	Nodes    []struct {
		ID string `json:"id"`
	} `json:"nodes"`
	Queue map[string]int `json:"queue"`
	Jobs  []struct {
		Name string `json:"name"`
		Node string `json:"node"`
	} `json:"jobs"`
}

func clusterStatus(t *testing.T, dir string) clusterStatusJSON {
	t.Helper()
	r := sealpost(t, dir, nil, "status", "--json").want(t, exitOK)
	var st clusterStatusJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// TestMigrateToPostgres: a single-node installation on SQLite is copied
// into PostgreSQL with `sealpost migrate --to`, and a node with the same
// master key and [database] url then runs the list: a post reaches
// every member. A second migrate into the same database is refused; a
// node with another master key is refused at start.
func TestMigrateToPostgres(t *testing.T) {
	url := pgtest.Shared(t).CreateDB(t)
	old := t.TempDir()
	keys, listPub := crashList(t, old, postfixListAddr)
	r := sealpost(t, old, nil, "migrate", "--to", url).want(t, exitOK)
	for _, want := range []string{"lists ", "members ", "verified", "Copied and verified"} {
		if !bytes.Contains([]byte(r.stdout), []byte(want)) {
			t.Errorf("migrate says:\n%s\nwant %q", r.stdout, want)
		}
	}
	if r := sealpost(t, old, nil, "migrate", "--to", url); r.code == exitOK || !bytes.Contains([]byte(r.stderr), []byte("not empty")) {
		t.Errorf("a second migrate into the same database: exit %d, %s", r.code, r.stderr)
	}

	relayAddr, rec := recordingRelay(t)
	node := t.TempDir()
	if err := os.MkdirAll(filepath.Join(node, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[database]\nurl = %q\n[relay]\naddr = %q\n", url, relayAddr)
	if err := os.WriteFile(filepath.Join(node, "sealpost.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another master key first: refused, saying what to do.
	if err := os.WriteFile(filepath.Join(node, "secrets", "master.key"), bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sealpost(t, node, nil, "list", "show", postfixListAddr); r.code == exitOK || !bytes.Contains([]byte(r.stderr), []byte("same master key")) {
		t.Errorf("a node with another master key: exit %d, %s", r.code, r.stderr)
	}
	master, err := os.ReadFile(filepath.Join(old, "secrets", "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(node, "secrets", "master.key"), master, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, node)
	sendPost(t, s.addr, "alice@example.org", postfixListAddr, signedPost(t, keys["alice@example.org"], listPub, postfixListAddr, "after the move"))
	if !eventually(30*time.Second, func() bool { return len(rec.messages()) >= 3 }) {
		t.Fatalf("the relay got %d copies, want 3", len(rec.messages()))
	}
	for _, m := range rec.messages() {
		checkCopy(t, m, keys[m.to[0]], listPub, "after the move")
	}
}
