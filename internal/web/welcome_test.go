package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestAddMemberWelcome: the member form's "Send welcome" box is checked
// by default and the member added gets the welcome; unchecked (the
// browser sends the hidden "off" alone), the member gets none.
func TestAddMemberWelcome(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	ctx := context.Background()
	if p := alice.get("/lists/" + listA); !strings.Contains(p.body, `<input type="checkbox" name="welcome" value="on" checked>`) ||
		!strings.Contains(p.body, `<input type="hidden" name="welcome" value="off">`) {
		t.Fatalf("the member form has no checked Send welcome box:\n%s", p.body)
	}
	for _, tc := range []struct {
		addr string
		form map[string]string
		want int
	}{
		{"dave@example.org", map[string]string{"email": "dave@example.org"}, 1},
		{"erin@example.org", map[string]string{"email": "erin@example.org", "welcome": "off"}, 0},
	} {
		if p := alice.postFile("/lists/"+listA+"/members", tc.form, memberKey(t, tc.addr)); p.status != http.StatusOK {
			t.Fatalf("add %s: %d\n%s", tc.addr, p.status, p.body)
		}
		qs, err := f.svc.Queue(ctx, listA, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		to := map[string]int{}
		for _, q := range qs {
			to[q.To]++
		}
		if to[tc.addr] != tc.want {
			t.Errorf("%s (form %v): %d messages queued, want %d", tc.addr, tc.form, to[tc.addr], tc.want)
		}
	}
}
