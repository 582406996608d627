package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestModeratorWeb: an owner names a moderator on the list page; the
// moderator's dashboard lists the list's held messages, whose page opens,
// while the list's own page and settings are 403; taken away, the role
// opens nothing.
func TestModeratorWeb(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	p := alice.post("/lists/"+listA+"/roles", url.Values{"email": {"bob@example.org"}, "role": {"moderator"}})
	if p.status != http.StatusOK || row(p.body, "data-role", "bob@example.org") == "" {
		t.Fatalf("naming bob moderator: %d\n%s", p.status, p.body)
	}
	bob := f.signedIn("bob@example.org")
	if p := bob.get("/"); !strings.Contains(p.body, `data-moderated="`+listA+`"`) {
		t.Errorf("bob's dashboard does not list the list he moderates:\n%s", p.body)
	}
	if p := bob.get("/lists/" + listA + "/holds"); p.status != http.StatusOK {
		t.Errorf("bob's holds page: %d", p.status)
	}
	for _, path := range []string{"", "/archive", "/key.asc"} {
		if p := bob.get("/lists/" + listA + path); p.status != http.StatusForbidden {
			t.Errorf("bob's GET /lists/A%s: %d, want 403", path, p.status)
		}
	}
	if p := bob.post("/lists/"+listA+"/options", url.Values{"name": {"Bob's now"}}); p.status != http.StatusForbidden {
		t.Errorf("bob changes a setting: %d, want 403", p.status)
	}
	if p := bob.post("/lists/"+listA+"/roles", url.Values{"email": {"bob@example.org"}, "role": {"owner"}}); p.status != http.StatusForbidden {
		t.Errorf("bob makes himself owner: %d, want 403", p.status)
	}
	p = alice.post("/lists/"+listA+"/roles/bob@example.org/remove", nil)
	if p.status != http.StatusOK || row(p.body, "data-role", "bob@example.org") != "" {
		t.Fatalf("taking bob's role away: %d", p.status)
	}
	if p := bob.get("/lists/" + listA + "/holds"); p.status != http.StatusForbidden {
		t.Errorf("bob's holds page after his role was taken away: %d, want 403", p.status)
	}
}
