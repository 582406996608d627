package main_test

import (
	"strings"
	"testing"
)

// TestListRoleCommands: owners and moderators named, listed and removed
// from the command line; a wrong role's name and a missing list are
// refused.
func TestListRoleCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const list = "team@lists.example.org"
	sealpost(t, data, nil, "list", "create", list, "--owner", "alice@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "owner", "add", list, "carol@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "moderator", "add", list, "dave@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "moderator", "add", "nosuch@lists.example.org", "dave@example.org").want(t, exitData)
	if r := sealpost(t, data, nil, "list", "owner", "list", list).want(t, exitOK); !strings.Contains(r.stdout, "carol@example.org") ||
		strings.Contains(r.stdout, "dave@example.org") {
		t.Errorf("list owner list:\n%s", r.stdout)
	}
	if r := sealpost(t, data, nil, "list", "moderator", "list", list).want(t, exitOK); !strings.Contains(r.stdout, "dave@example.org") {
		t.Errorf("list moderator list:\n%s", r.stdout)
	}
	sealpost(t, data, nil, "list", "moderator", "remove", list, "dave@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "moderator", "remove", list, "dave@example.org").want(t, exitData)
	if r := sealpost(t, data, nil, "list", "moderator", "list", list).want(t, exitOK); !strings.Contains(r.stdout, "has no moderators") {
		t.Errorf("list moderator list after removal:\n%s", r.stdout)
	}
	var entries []auditJSON
	decodeJSON(t, data, &entries, "audit", "--json")
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "list.owner.") || strings.HasPrefix(e.Action, "list.moderator.") {
			actions = append(actions, e.Action+" "+e.Target)
		}
	}
	if len(actions) != 3 {
		t.Errorf("audit: %q, want the three changes", actions)
	}
}
