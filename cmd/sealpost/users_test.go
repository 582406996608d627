package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// userJSON is one entry of `user list --json`.
type userJSON struct {
	Email     string  `json:"email"`
	Role      string  `json:"role"`
	LastLogin *string `json:"last_login"`
}

// tokenJSON is one entry of `token list --json`.
type tokenJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	List string `json:"list"`
}

// auditJSON is one entry of `audit --json`.
type auditJSON struct {
	Actor  string `json:"actor"`
	Via    string `json:"via"`
	Action string `json:"action"`
	List   string `json:"list"`
	Target string `json:"target"`
}

// decodeJSON runs sealpost with args, wants exit 0 and decodes its
// standard output into v.
func decodeJSON(t *testing.T, data string, v any, args ...string) {
	t.Helper()
	r := sealpost(t, data, nil, args...).want(t, exitOK)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("sealpost %s: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(name, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestUserCommands: accounts added, listed, changed and removed from the
// command line, each change in the audit log.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const alice, bob = "alice@example.org", "bob@example.org"
	noEnv := map[string]string{"SEALPOST_PASSWORD": ""}

	r := sealpost(t, data, nil, "user", "add", alice, "--role", "admin", "--password-file", writeSecret(t, "short")).want(t, exitData)
	if !strings.Contains(r.stderr, "at least 12 characters") {
		t.Errorf("a short password was refused with:\n%s", r.stderr)
	}
	r = sealpost(t, data, nil, "user", "add", alice, "--role", "admin", "--password-file", writeSecret(t, "correct horse battery")).want(t, exitOK)
	if strings.Contains(r.stdout, "Password:") || strings.Contains(r.stdout, "correct horse") {
		t.Errorf("user add printed a password it was given:\n%s", r.stdout)
	}
	sealpost(t, data, nil, "user", "add", alice, "--role", "owner", "--password-file", writeSecret(t, "another long password")).want(t, exitData)
	sealpost(t, data, nil, "user", "add", bob).want(t, exitUsage)
	r = sealpost(t, data, nil, "user", "add", bob, "--role", "root").want(t, exitData)
	if !strings.Contains(r.stderr, `"root"`) {
		t.Errorf("a bad role was refused with:\n%s", r.stderr)
	}

	r = run(t, data, nil, noEnv, "user", "add", bob, "--role", "owner").want(t, exitOK)
	pw := regexp.MustCompile(`(?m)^Password: (\S+)  \(shown once`).FindStringSubmatch(r.stdout)
	if pw == nil || len(pw[1]) < 12 {
		t.Fatalf("user add without a password printed:\n%s", r.stdout)
	}
	if strings.Count(r.stdout, pw[1]) != 1 {
		t.Errorf("the generated password is printed more than once:\n%s", r.stdout)
	}
	run(t, data, nil, map[string]string{"SEALPOST_PASSWORD": "from the environment"}, "user", "add", "carol@example.org", "--role", "owner").want(t, exitOK)

	var users []userJSON
	decodeJSON(t, data, &users, "user", "list", "--json")
	roles := map[string]string{}
	for _, u := range users {
		roles[u.Email] = u.Role
		if u.LastLogin != nil {
			t.Errorf("%s has a last login %s", u.Email, *u.LastLogin)
		}
	}
	if len(users) != 3 || roles[alice] != "admin" || roles[bob] != "owner" {
		t.Errorf("user list: %+v", users)
	}
	if out := sealpost(t, data, nil, "user", "list").want(t, exitOK).stdout; !strings.Contains(out, "never") {
		t.Errorf("user list does not say bob never signed in:\n%s", out)
	}

	sealpost(t, data, nil, "user", "set", bob).want(t, exitUsage)
	sealpost(t, data, nil, "user", "set", bob, "--role", "admin").want(t, exitOK)
	sealpost(t, data, nil, "user", "set", bob, "--password-file", writeSecret(t, "tiny")).want(t, exitData)
	sealpost(t, data, nil, "user", "set", bob, "--password-file", writeSecret(t, "a brand new password")).want(t, exitOK)
	sealpost(t, data, nil, "user", "set", "nobody@example.org", "--role", "owner").want(t, exitData)
	if r := sealpost(t, data, nil, "user", "set", bob, "--reset-2fa").want(t, exitOK); !strings.Contains(r.stdout, "two-factor sign-in: off") {
		t.Errorf("user set --reset-2fa says:\n%s", r.stdout)
	}
	decodeJSON(t, data, &users, "user", "list", "--json")
	for _, u := range users {
		if u.Email == bob && u.Role != "admin" {
			t.Errorf("bob's role is %q after user set --role admin", u.Role)
		}
	}

	sealpost(t, data, nil, "user", "remove", bob).want(t, exitOK)
	sealpost(t, data, nil, "user", "remove", bob).want(t, exitData)

	var log []auditJSON
	decodeJSON(t, data, &log, "audit", "--json")
	seen := map[string]bool{}
	for _, e := range log {
		seen[e.Action+" "+e.Target] = true
		if e.Actor != "operator" || e.Via != "cli" {
			t.Errorf("audit entry %+v is not the operator's via cli", e)
		}
	}
	for _, want := range []string{"user.add " + alice, "user.add " + bob, "user.set " + bob, "user.remove " + bob} {
		if !seen[want] {
			t.Errorf("the audit log lacks %q: %+v", want, log)
		}
	}
}

// TestTokenCommands: API tokens created, listed and revoked, and the
// audit log that records it.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const alice, owner, list = "alice@example.org", "olga@example.org", "team@lists.example.org"
	sealpost(t, data, nil, "list", "create", list).want(t, exitOK)
	sealpost(t, data, nil, "user", "add", alice, "--role", "admin", "--password-file", writeSecret(t, "correct horse battery")).want(t, exitOK)
	sealpost(t, data, nil, "user", "add", owner, "--role", "owner", "--password-file", writeSecret(t, "correct horse battery")).want(t, exitOK)

	sealpost(t, data, nil, "token", "create", alice).want(t, exitUsage)
	r := sealpost(t, data, nil, "token", "create", alice, "--name", "backup").want(t, exitOK)
	secret := regexp.MustCompile(`sealpost_[a-z0-9]+`).FindString(r.stdout)
	if secret == "" || !strings.Contains(r.stdout, "Authorization: Bearer "+secret) {
		t.Fatalf("token create printed:\n%s", r.stdout)
	}
	sealpost(t, data, nil, "token", "create", alice, "--name", "ci", "--list", list).want(t, exitOK)
	r = sealpost(t, data, nil, "token", "create", alice, "--name", "x", "--list", "none@lists.example.org").want(t, exitData)
	if !strings.Contains(r.stderr, "no list none@lists.example.org") {
		t.Errorf("a token for a missing list was refused with:\n%s", r.stderr)
	}
	// An owner's token may be limited only to a list the owner manages.
	r = sealpost(t, data, nil, "token", "create", owner, "--name", "x", "--list", list).want(t, exitData)
	if !strings.Contains(r.stderr, "does not own "+list) {
		t.Errorf("an owner's token for another's list was refused with:\n%s", r.stderr)
	}
	sealpost(t, data, nil, "token", "create", "nobody@example.org", "--name", "x").want(t, exitData)

	var ts []tokenJSON
	decodeJSON(t, data, &ts, "token", "list", alice, "--json")
	if len(ts) != 2 || ts[0].Name != "backup" || ts[0].List != "" || ts[1].Name != "ci" || ts[1].List != list {
		t.Fatalf("token list: %+v", ts)
	}
	if out := sealpost(t, data, nil, "token", "list", alice).want(t, exitOK).stdout; strings.Contains(out, secret) || !strings.Contains(out, "all of the account's") {
		t.Errorf("token list:\n%s", out)
	}

	sealpost(t, data, nil, "token", "revoke", alice, "x").want(t, exitUsage)
	sealpost(t, data, nil, "token", "revoke", alice, "999").want(t, exitData)
	sealpost(t, data, nil, "token", "revoke", alice, strconv.FormatInt(ts[0].ID, 10)).want(t, exitOK)
	decodeJSON(t, data, &ts, "token", "list", alice, "--json")
	if len(ts) != 1 || ts[0].Name != "ci" {
		t.Errorf("token list after revoke: %+v", ts)
	}

	sealpost(t, data, nil, "user", "remove", alice).want(t, exitOK)
	sealpost(t, data, nil, "token", "list", alice).want(t, exitData)

	var log []auditJSON
	decodeJSON(t, data, &log, "audit", "--json")
	seen := map[string]bool{}
	for _, e := range log {
		if e.Actor == "operator" && e.Via == "cli" {
			seen[e.Action] = true
		}
	}
	for _, want := range []string{"user.add", "token.create", "token.revoke", "user.remove"} {
		if !seen[want] {
			t.Errorf("the audit log lacks the operator's %s: %+v", want, log)
		}
	}
	decodeJSON(t, data, &log, "audit", "--json", "--list", list)
	if len(log) == 0 {
		t.Fatal("audit --list shows nothing of the list")
	}
	for _, e := range log {
		if e.List != list {
			t.Errorf("audit --list %s shows %+v", list, e)
		}
	}
	sealpost(t, data, nil, "audit", "--limit", "0").want(t, exitUsage)
	if out := sealpost(t, data, nil, "audit", "--limit", "1").want(t, exitOK).stdout; !strings.Contains(out, "user.remove") || strings.Contains(out, "token.revoke") {
		t.Errorf("audit --limit 1 (newest first):\n%s", out)
	}
}

// TestQueueCommands: the outbound queue of a fresh data directory, and
// deliveries that do not exist.
func TestQueueCommands(t *testing.T) {
	t.Parallel()
	data := freshData(t)
	if out := sealpost(t, data, nil, "queue", "list").want(t, exitOK).stdout; !strings.Contains(out, "queue is empty") {
		t.Errorf("queue list of a fresh data directory:\n%s", out)
	}
	if out := strings.TrimSpace(sealpost(t, data, nil, "queue", "list", "--json").want(t, exitOK).stdout); out != "[]" {
		t.Errorf("queue list --json of a fresh data directory: %s", out)
	}
	sealpost(t, data, nil, "queue", "list", "--state", "lost").want(t, exitUsage)
	sealpost(t, data, nil, "queue", "list", "--list", "none@lists.example.org").want(t, exitData)
	for _, cmd := range []string{"retry", "drop"} {
		r := sealpost(t, data, nil, "queue", cmd, "42").want(t, exitData)
		if !strings.Contains(r.stderr, "no delivery 42") {
			t.Errorf("queue %s of a missing delivery said:\n%s", cmd, r.stderr)
		}
		sealpost(t, data, nil, "queue", cmd, "abc").want(t, exitUsage)
	}
}

// TestAuditEmpty: a fresh data directory has an empty audit log.
func TestAuditEmpty(t *testing.T) {
	t.Parallel()
	data := freshData(t)
	if out := strings.TrimSpace(sealpost(t, data, nil, "audit", "--json").want(t, exitOK).stdout); out != "[]" {
		t.Errorf("audit --json of a fresh data directory: %s", out)
	}
	if out := sealpost(t, data, nil, "audit").want(t, exitOK).stdout; !strings.Contains(out, "empty") {
		t.Errorf("audit of a fresh data directory:\n%s", out)
	}
}

// freshData is a data directory as an admin prepares it before Sealpost
// first runs: its configuration only (an empty one). Commands that
// create nothing refuse a directory without it (or a database).
func freshData(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	writeFile(t, data, "sealpost.toml", nil)
	return data
}
