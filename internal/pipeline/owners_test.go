package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestNoticesToEveryOwner: a list's notices go to its owner address and
// to the further owners it names; a held message's notice also to its
// moderators, who get no other.
func TestNoticesToEveryOwner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.list(team, "alice@example.org")
	for email, role := range map[string]string{"carol@example.org": store.ListOwner, "dave@example.org": store.ListModerator} {
		if err := f.db.SetListRole(ctx, l.rec.ID, email, role, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	mallory := f.member("mallory@example.org")
	noticesTo := func(ref string) []string {
		var to []string
		for _, d := range f.deliveries(ref) {
			if d.Kind == store.KindNotice {
				to = append(to, d.To)
			}
		}
		slices.Sort(to)
		return to
	}
	// Refused: the owners.
	if err := f.process(l, f.post(l, postSpec{signer: mallory, from: "mallory@example.org"}), "refused"); err == nil {
		t.Fatal("a stranger's post was taken")
	}
	if got := noticesTo("refused"); !slices.Equal(got, []string{"carol@example.org", "owner@example.org"}) {
		t.Errorf("refusal notices to %q, want the owner address and carol", got)
	}
	// Held: the owners and the moderator.
	l.rec.Settings.Actions = map[string]string{"unknown_signer": "hold"}
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	if err := f.process(l, f.post(l, postSpec{signer: mallory, from: "mallory@example.org"}), "held"); err != nil {
		t.Fatal(err)
	}
	if got := noticesTo("held"); !slices.Equal(got, []string{"carol@example.org", "dave@example.org", "owner@example.org"}) {
		t.Errorf("hold notices to %q, want the owner address, carol and dave", got)
	}
}
