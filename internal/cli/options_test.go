package cli

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
)

// TestSetHelpListsTheTable: `list set --help` and `gateway set --help`
// list every option of the options table, once, under its group's
// heading, in the order the admin UI's settings form shows them.
func TestSetHelpListsTheTable(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		opts []admin.Option
	}{{"list", admin.ListOptions()}, {"gateway", admin.GatewayOptions()}} {
		var out bytes.Buffer
		if code := Main([]string{tc.cmd, "set", "--help"}, nil, &out, &out); code != ExitOK {
			t.Fatalf("%s set --help: exit %d\n%s", tc.cmd, code, out.String())
		}
		help, _, _ := strings.Cut(out.String(), "Usage:")
		var got, want []string
		for _, m := range regexp.MustCompile(`(?m)^  ([a-z_0-9]+) +\S`).FindAllStringSubmatch(help, -1) {
			got = append(got, m[1])
		}
		for _, sec := range admin.Grouped(tc.opts) {
			if !strings.Contains(help, "\n"+sec.Title+":\n") {
				t.Errorf("%s set --help: no heading %s", tc.cmd, sec.Title)
			}
			for _, o := range sec.Items {
				want = append(want, o.Name)
			}
		}
		if !slices.Equal(got, want) || len(want) != len(tc.opts) {
			t.Errorf("%s set --help lists\n%v\nthe table (%d options)\n%v", tc.cmd, got, len(tc.opts), want)
		}
		if !strings.Contains(help, "hold_days") || !strings.Contains(help, "[1-365]") {
			t.Errorf("%s set --help does not give hold_days its bounds", tc.cmd)
		}
	}
}
