package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// TestListRoles: a further owner manages the list as its owner does; a
// moderator reaches its held messages and nothing else of it; only
// owners name them; each change is audited, and a role taken away is
// gone at once.
func TestListRoles(t *testing.T) {
	ctx := context.Background()
	s, db := keyService(t)
	for _, u := range []string{"alice@example.org", "carol@example.org", "dave@example.org"} {
		if _, err := s.AddUser(ctx, u, store.RoleOwner, "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateList(ctx, teamList, "alice@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	as := func(email string) *admin.Service {
		return s.As(admin.Actor{Email: email, Role: store.RoleOwner, Via: admin.ViaWeb})
	}
	alice, carol, dave := as("alice@example.org"), as("carol@example.org"), as("dave@example.org")
	if err := carol.AddListRole(ctx, teamList, "carol@example.org", store.ListOwner); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("carol named herself owner: %v, want ErrForbidden", err)
	}
	if err := alice.AddListRole(ctx, teamList, "Carol@Example.org", store.ListOwner); err != nil {
		t.Fatal(err)
	}
	if err := carol.AddListRole(ctx, teamList, "dave@example.org", store.ListModerator); err != nil {
		t.Fatalf("a further owner names a moderator: %v", err)
	}
	if err := alice.AddListRole(ctx, teamList, "eve@example.org", "admin"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("role admin on a list: %v, want ErrInvalid", err)
	}
	if err := alice.AddListRole(ctx, teamList, "alice@example.org", store.ListModerator); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("the owner address as moderator: %v, want ErrInvalid", err)
	}
	roles, err := alice.ListRoles(ctx, teamList)
	if err != nil || len(roles) != 2 || roles[0].Email != "carol@example.org" || roles[0].Role != store.ListOwner ||
		roles[1].Email != "dave@example.org" || roles[1].Role != store.ListModerator {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}

	// carol, a further owner: everything of the list.
	if _, err := carol.List(ctx, teamList); err != nil {
		t.Errorf("carol's List: %v", err)
	}
	if _, err := carol.SetOptions(ctx, teamList, []string{"name=Team"}); err != nil {
		t.Errorf("carol's SetOptions: %v", err)
	}
	if ls, err := carol.Lists(ctx); err != nil || len(ls) != 1 {
		t.Errorf("carol's Lists = %v, %v", ls, err)
	}
	// dave, a moderator: the holds, nothing else.
	if _, err := dave.Holds(ctx, teamList); err != nil {
		t.Errorf("dave's Holds: %v", err)
	}
	if _, role, err := dave.ListAccess(ctx, teamList); err != nil || role != store.ListModerator {
		t.Errorf("dave's ListAccess = %q, %v", role, err)
	}
	for what, err := range map[string]error{
		"List":        func() error { _, err := dave.List(ctx, teamList); return err }(),
		"SetOptions":  func() error { _, err := dave.SetOptions(ctx, teamList, []string{"name=Dave"}); return err }(),
		"Members":     func() error { _, err := dave.Members(ctx, teamList); return err }(),
		"AddListRole": dave.AddListRole(ctx, teamList, "eve@example.org", store.ListModerator),
	} {
		if !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("dave's %s: %v, want ErrForbidden", what, err)
		}
	}
	if ls, err := dave.Lists(ctx); err != nil || len(ls) != 0 {
		t.Errorf("dave's Lists = %v, %v; want none", ls, err)
	}
	if ls, err := dave.Moderated(ctx); err != nil || len(ls) != 1 || ls[0].Address != teamList {
		t.Errorf("dave's Moderated = %v, %v", ls, err)
	}
	// Taken away: gone at once.
	if err := alice.RemoveListRole(ctx, teamList, "dave@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.Holds(ctx, teamList); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("dave's Holds after removal: %v, want ErrForbidden", err)
	}
	if err := alice.RemoveListRole(ctx, teamList, "dave@example.org"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("removing dave twice: %v, want ErrNotFound", err)
	}
	entries, err := db.Audit(ctx, store.AuditQuery{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.List == teamList && (e.Action == "list.owner.add" || e.Action == "list.moderator.add" || e.Action == "list.moderator.remove") {
			got = append(got, e.Actor+" "+e.Action+" "+e.Target)
		}
	}
	want := []string{"alice@example.org list.moderator.remove dave@example.org", "carol@example.org list.moderator.add dave@example.org",
		"alice@example.org list.owner.add carol@example.org"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("audit: %q, want %q", got, want)
	}
}
