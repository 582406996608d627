package mail

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, name, addr string
		bad            bool
	}{
		{in: "alice@example.org", addr: "alice@example.org"},
		{in: "Alice <Alice@Example.ORG>", name: "Alice", addr: "alice@example.org"},
		{in: `"Lovelace, Ada" <ada@example.org>`, name: "Lovelace, Ada", addr: "ada@example.org"},
		{in: "nobody", bad: true},
		{in: "a@b", bad: true},
		{in: "", bad: true},
		{in: "a@localhost", addr: "a@localhost"},
	}
	for _, tt := range tests {
		name, addr, err := ParseAddress(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParseAddress(%q) err = %v, want ErrBadAddress", tt.in, err)
			}
			continue
		}
		if err != nil || name != tt.name || addr != tt.addr {
			t.Errorf("ParseAddress(%q) = %q, %q, %v; want %q, %q", tt.in, name, addr, err, tt.name, tt.addr)
		}
	}
}

func TestListRoles(t *testing.T) {
	got := ListRoles("team-request@lists.example.org")
	want := []Target{{List: "team-request@lists.example.org", Role: RolePost}, {List: "team@lists.example.org", Role: RoleRequest}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ListRoles = %v, want %v", got, want)
	}
	if got := ListRoles("-owner@x.org"); len(got) != 1 {
		t.Errorf("a bare suffix must not yield an empty list name: %v", got)
	}
	for _, r := range []Role{RoleRequest, RoleOwner, RoleBounce} {
		a := RoleAddress("team@lists.example.org", r)
		roles := ListRoles(a)
		if roles[len(roles)-1] != (Target{List: "team@lists.example.org", Role: r}) {
			t.Errorf("RoleAddress/ListRoles round trip for %s: %v", r, roles)
		}
	}
	// VERP: the member comes back out of the bounce address, even one
	// whose local part holds '=' or '+'.
	for _, m := range []string{"alice@example.org", "a=b+c@sub.example.org"} {
		v := VERP("team@lists.example.org", m)
		roles := ListRoles(v)
		last := roles[len(roles)-1]
		if last != (Target{List: "team@lists.example.org", Role: RoleBounce, Member: m}) {
			t.Errorf("VERP %s: ListRoles = %+v", v, roles)
		}
	}
	if roles := ListRoles("team-bounce+nonsense@lists.example.org"); roles[len(roles)-1].Role == RoleBounce {
		t.Errorf("a bounce tag without '=' yields %+v", roles)
	}
}

func TestListHeaders(t *testing.T) {
	if got := ListID("team@lists.example.org", ""); got != "<team.lists.example.org>" {
		t.Errorf("ListID = %q", got)
	}
	if got := ListID("team@lists.example.org", "Team"); got != `"Team" <team.lists.example.org>` {
		t.Errorf("ListID with name = %q", got)
	}
	if got := ListPost("team@lists.example.org"); got != "<mailto:team@lists.example.org>" {
		t.Errorf("ListPost = %q", got)
	}
}

func TestNewMessageID(t *testing.T) {
	id, err := NewMessageID(bytes.NewReader(make([]byte, 16)), "lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if id != "<00000000000000000000000000000000@lists.example.org>" {
		t.Errorf("NewMessageID = %q", id)
	}
	if _, err := NewMessageID(strings.NewReader("short"), "x.org"); err == nil {
		t.Error("NewMessageID with exhausted randomness must fail")
	}
}

func TestAutocryptRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{0x99, 1, 2, 3}, 100)
	addr, got, err := ParseAutocrypt(Autocrypt("team@lists.example.org", key))
	if err != nil || addr != "team@lists.example.org" || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %q, %v", addr, err)
	}
	for _, bad := range []string{
		"addr=a@example.org", // no keydata
		"keydata=AAAA",       // no addr
		"addr=a@example.org; critical=1; keydata=AAAA", // unknown critical attribute
		"addr=a@example.org; keydata=!!!",              // not base64
	} {
		if _, _, err := ParseAutocrypt(bad); !errors.Is(err, ErrBadAutocrypt) {
			t.Errorf("ParseAutocrypt(%q) = %v", bad, err)
		}
	}
	if _, _, err := ParseAutocrypt("addr=a@example.org; _extra=x; prefer-encrypt=mutual; keydata=AAAA"); err != nil {
		t.Errorf("non-critical attribute refused: %v", err)
	}
}

func FuzzParseAutocrypt(f *testing.F) {
	f.Add(Autocrypt("a@example.org", []byte{1, 2, 3}))
	f.Add("addr=a@example.org; _x=y; keydata=AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		addr, key, err := ParseAutocrypt(v)
		if err == nil && (addr == "" || len(key) == 0) {
			t.Fatalf("accepted %q without addr or key", v)
		}
	})
}

func TestDisplayName(t *testing.T) {
	for _, tc := range []struct{ name, addr, want string }{
		{"Alice Example", "alice@example.org", "Alice Example"},
		{"  Alice \t  Example ", "alice@example.org", "Alice Example"},
		{"bob@example.org", "alice@example.org", ""},
		{"manager@bigcorporation.example", "eve@example.org", ""},
		{"manager\uFF20bigcorporation.example", "eve@example.org", ""}, // fullwidth @
		{"manager\uFE6Bbigcorporation.example", "eve@example.org", ""}, // small @
		{"Manager <manager@corp.example>", "eve@example.org", ""},
		{"Manager \u2039manager\u203A", "eve@example.org", ""},
		{"Ev\u200Be", "eve@example.org", "Eve"},             // zero-width space
		{"\u202Eelgnis\u202C", "eve@example.org", "elgnis"}, // bidi override
		{"alice@example.org", "alice@example.org", ""},      // the address itself: shown anyway
		{strings.Repeat("x", 100), "x@example.org", strings.Repeat("x", 64)},
	} {
		if got := DisplayName(tc.name, tc.addr); got != tc.want {
			t.Errorf("DisplayName(%q, %q) = %q, want %q", tc.name, tc.addr, got, tc.want)
		}
	}
}
