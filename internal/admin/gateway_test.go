package admin_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/store"
)

func TestParseDestination(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want admin.Destination
	}{
		{"smtp://127.0.0.1:2526", admin.Destination{Scheme: "smtp", Network: "tcp", Addr: "127.0.0.1:2526"}},
		{"smtp://helpdesk.example.org", admin.Destination{Scheme: "smtp", Network: "tcp", Addr: "helpdesk.example.org:25"}},
		{"LMTP://[::1]", admin.Destination{Scheme: "lmtp", Network: "tcp", Addr: "[::1]:24"}},
		{"lmtp:/run/zammad/lmtp.sock", admin.Destination{Scheme: "lmtp", Network: "unix", Addr: "/run/zammad/lmtp.sock"}},
		{"lmtp:///run/x.sock", admin.Destination{Scheme: "lmtp", Network: "unix", Addr: "/run/x.sock"}},
		{"/var/mail/helpdesk/", admin.Destination{Scheme: "maildir", Addr: "/var/mail/helpdesk"}},
		{"maildir:/var/mail/helpdesk", admin.Destination{Scheme: "maildir", Addr: "/var/mail/helpdesk"}},
	} {
		got, err := admin.ParseDestination(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDestination(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "helpdesk", "ftp://x", "smtp://h:0", "smtp://h:99999", "smtp://h:25/path", "maildir:relative",
		"lmtp:relative.sock", "smtp:/path"} {
		if d, err := admin.ParseDestination(bad); err == nil {
			t.Errorf("ParseDestination(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestSubmitClientAllowed(t *testing.T) {
	gw := &store.List{Mode: store.ModeGateway, Gateway: store.GatewaySettings{SubmitClients: []string{"192.0.2.0/28", "2001:db8::/64"}}}
	for addr, want := range map[string]bool{"192.0.2.1": true, "192.0.2.16": false, "::ffff:192.0.2.3": true,
		"2001:db8::5": true, "2001:db9::5": false, "127.0.0.1": false} {
		if got := admin.SubmitClientAllowed(gw, netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed = %t, want %t", addr, got, want)
		}
	}
}

// TestParseStaff: staff are addresses and whole domains; any other
// wildcard is refused (issue 16 item 3).
func TestParseStaff(t *testing.T) {
	got, err := admin.ParseStaff(" *@Example.ORG, Bob@example.net bob@example.net,,")
	if err != nil || !slices.Equal(got, []string{"*@example.org", "bob@example.net"}) {
		t.Errorf("ParseStaff = %q, %v", got, err)
	}
	if got, err := admin.ParseStaff(""); err != nil || got != nil {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"*@*", "*", "*@", "*@*.example.org", "*.example.org", "bob*@example.org", "b*b@example.org",
		"@example.org", "*@x@example.org", "a@b@example.org", "example.org", "bob@example"} {
		if got, err := admin.ParseStaff("bob@example.net," + bad); err == nil {
			t.Errorf("ParseStaff(%q) = %q, want an error", bad, got)
		}
	}
}
