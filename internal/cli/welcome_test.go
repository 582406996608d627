package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// runOK returns a function that runs sealpost on the data directory dir
// and returns its output, failing t unless it exits ExitOK.
func runOK(t *testing.T, dir string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		code, out, errs := runIn(context.Background(), "", append([]string{"--data", dir}, args...)...)
		if code != ExitOK {
			t.Fatalf("sealpost %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
}

// TestMemberAddWelcome: `member add` queues the welcome for the new
// member and --no-welcome skips it for that one member; `list set`
// turns it off for the list; the audit log says which happened.
func TestMemberAddWelcome(t *testing.T) {
	const team = "team@lists.example.org"
	run := runOK(t, t.TempDir())
	key := func(addr string) string {
		t.Helper()
		k, err := pgp.GenerateKey("", addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "key.asc")
		if err := os.WriteFile(path, k.Armored(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run("list", "create", team)
	run("member", "add", team, "bob@example.org", "--key", key("bob@example.org"))
	run("member", "add", team, "carol@example.org", "--key", key("carol@example.org"), "--no-welcome")
	run("list", "set", team, "welcome=false")
	run("member", "add", team, "dave@example.org", "--key", key("dave@example.org"))

	var queued []queueJSON
	if err := json.Unmarshal([]byte(run("queue", "list", "--json", "--state", "pending,failed,sent")), &queued); err != nil {
		t.Fatal(err)
	}
	to := map[string]int{}
	for _, q := range queued {
		to[q.To]++
		if q.Kind != "notice" || q.List != team {
			t.Errorf("queued: %+v, want the welcome, a notice of %s", q, team)
		}
	}
	if len(queued) != 1 || to["bob@example.org"] != 1 {
		t.Errorf("queued for %v, want the welcome to bob alone", to)
	}
	var audit []auditJSON
	if err := json.Unmarshal([]byte(run("audit", "--json", "--list", team)), &audit); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bob@example.org": "; welcome sent", "carol@example.org": "; no welcome (skipped for this member)",
		"dave@example.org": "; no welcome (the list's welcome option is off)"}
	for _, e := range audit {
		if e.Action == "member.add" {
			if !strings.HasSuffix(e.Detail, want[e.Target]) {
				t.Errorf("audit of adding %s: %q, want it to end %q", e.Target, e.Detail, want[e.Target])
			}
			delete(want, e.Target)
		}
	}
	if len(want) > 0 {
		t.Errorf("no audit entry for adding %v", want)
	}
	if help := run("member", "add", "--help"); !strings.Contains(help, "--no-welcome") || !strings.Contains(help, "welcome=false") {
		t.Errorf("member add --help does not tell of the welcome:\n%s", help)
	}
}
