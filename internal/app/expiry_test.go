package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestExpiryReminders: a member whose key expires within the warning
// period gets a reminder encrypted to that key (read by their gpg), the
// owner one summary; a member whose key lasts gets nothing, and a second
// run the same day sends nothing again.
func TestExpiryReminders(t *testing.T) {
	s := startServer(t)
	listFpr, _ := setupList(t, s, "alice@example.org")
	ctx := context.Background()
	bob := gpgtest.New(t)
	bobFpr := genKeyExpiring(t, bob, "bob@example.org", "5d")
	carol := gpgtest.New(t)
	carolFpr := genKeyExpiring(t, carol, "carol@example.org", "60d")
	listKey, err := s.app.Admin.ListKey(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	for addr, g := range map[string]*gpgtest.GPG{"bob@example.org": bob, "carol@example.org": carol} {
		g.Import(listKey)
		fpr := bobFpr
		if g == carol {
			fpr = carolFpr
		}
		if _, _, err := s.app.Admin.AddMemberWith(ctx, team, addr, g.Export(fpr), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}

	run, err := s.app.Admin.WarnExpiring(ctx, 14)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Members) != 1 || run.Members[0].Holder != "bob@example.org" || run.Owners != 1 {
		t.Fatalf("run = %+v", run)
	}
	s.app.Queue.Notify()
	reminder := s.waitFor(t, "bob@example.org")
	res := bob.Run(reminder, "--decrypt")
	if !res.HasStatus("DECRYPTION_OKAY") || !res.Verified(listFpr) || !strings.Contains(string(res.Stdout), "expires on") {
		t.Fatalf("reminder:\n%s\n%s", res.Status, res.Stdout)
	}
	summary := string(s.waitFor(t, "owner@example.org"))
	if !strings.Contains(summary, bobFpr) || strings.Contains(summary, carolFpr) {
		t.Errorf("owner summary:\n%s", summary)
	}
	if again, err := s.app.Admin.WarnExpiring(ctx, 14); err != nil || len(again.Members) != 0 || again.Owners != 0 {
		t.Errorf("second run = %+v, %v; want nothing", again, err)
	}
}

func genKeyExpiring(t *testing.T, g *gpgtest.GPG, addr, expire string) string {
	t.Helper()
	r := g.MustRun(nil, "--quick-generate-key", addr+" <"+addr+">", "future-default", "default", expire)
	for _, line := range strings.Split(r.Status, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == "KEY_CREATED" {
			return f[3]
		}
	}
	t.Fatal("no KEY_CREATED")
	return ""
}
