package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayCommands: a gateway made, configured and used from the
// command line, with a Maildir as its helpdesk.
func TestGatewayCommands(t *testing.T) {
	data := t.TempDir()
	desk := filepath.Join(t.TempDir(), "helpdesk")
	const gw = "support@example.org"

	sealpost(t, data, nil, "gateway", "create", gw).want(t, 64)
	sealpost(t, data, nil, "gateway", "create", gw, "--deliver-to", "ftp://x").want(t, 65)
	out := sealpost(t, data, nil, "gateway", "create", gw, "--deliver-to", desk, "--owner", "admin@example.org").want(t, 0).stdout
	if !strings.Contains(out, "Created gateway "+gw) || !strings.Contains(out, "gateway password") {
		t.Errorf("create said:\n%s", out)
	}
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, 0)
	sealpost(t, data, nil, "gateway", "show", "team@lists.example.org").want(t, 65)

	r := sealpost(t, data, nil, "gateway", "set", gw, "subject_prefix=[x]", "submit_clients=not-a-net")
	r.want(t, 65)
	if !strings.Contains(r.stderr, `unknown option "subject_prefix"`) || !strings.Contains(r.stderr, "not a network in CIDR form") {
		t.Errorf("set reported:\n%s", r.stderr)
	}
	sealpost(t, data, nil, "gateway", "set", gw, "archive=true", "submit_clients=192.0.2.10/32", "encrypt_replies=always").want(t, 0)

	pw := strings.TrimSpace(sealpost(t, data, nil, "gateway", "password", gw).want(t, 0).stdout)
	if len(pw) < 32 {
		t.Errorf("password %q is short", pw)
	}
	var show struct {
		Options     map[string]string `json:"options"`
		PasswordSet bool              `json:"submit_password_set"`
	}
	if err := json.Unmarshal([]byte(sealpost(t, data, nil, "gateway", "show", gw, "--json").want(t, 0).stdout), &show); err != nil {
		t.Fatal(err)
	}
	if !show.PasswordSet || show.Options["deliver_to"] != desk || show.Options["archive"] != "true" ||
		show.Options["encrypt_replies"] != "always" || show.Options["submit_clients"] != "192.0.2.10/32" || show.Options["sign_replies"] != "true" {
		t.Errorf("gateway show: %+v", show)
	}
	if strings.Contains(sealpost(t, data, nil, "gateway", "show", gw, "--json").stdout, pw) {
		t.Error("gateway show prints the password")
	}

	msg := "From: dave@example.com\r\nTo: " + gw + "\r\nSubject: printer\r\nMessage-ID: <dave-1@example.com>\r\n" +
		"X-Sealpost-Signature: good; trust=pinned\r\n\r\nThe printer again.\r\n"
	sealpost(t, data, []byte(msg), "process", gw, "--sender", "dave@example.com").want(t, 0)
	files, _ := filepath.Glob(filepath.Join(desk, "new", "*"))
	if len(files) != 1 {
		t.Fatalf("the helpdesk's Maildir has %d messages", len(files))
	}
	got, _ := os.ReadFile(files[0])
	for _, want := range []string{"Delivered-To: <" + gw + ">", "X-Sealpost-Encryption: none", "X-Sealpost-Signature: none", "The printer again."} {
		if !strings.Contains(string(got), want) {
			t.Errorf("the helpdesk's message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "trust=pinned") {
		t.Error("the spoofed status field reached the helpdesk")
	}

	list := sealpost(t, data, nil, "gateway", "archive", gw).want(t, 0).stdout
	if !strings.Contains(list, "<dave-1@example.com>") {
		t.Errorf("archive list:\n%s", list)
	}
	mbox := sealpost(t, data, nil, "gateway", "archive", gw, "<dave-1@example.com>").want(t, 0).stdout
	if !strings.HasPrefix(mbox, "From sealpost ") || !strings.Contains(mbox, "The printer again.") {
		t.Errorf("archived conversation:\n%s", mbox)
	}
	sealpost(t, data, nil, "gateway", "archive", gw, "<nothing@example.com>").want(t, 65)
}
