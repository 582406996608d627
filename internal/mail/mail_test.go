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
	if roles := ListRoles("team-bounce+nonsense@lists.example.org"); roles[len(roles)-1].Role == RoleBounce {
		t.Errorf("a bounce tag without '=' yields %+v", roles)
	}
}

// TestVERP: the member and the token come back out of a VERP address,
// whatever the member's local part holds; an address too long for RFC
// 5321 §4.5.3.1.1 keeps only the token; the old form without a token is
// still read, and the forms are never mistaken for each other.
func TestVERP(t *testing.T) {
	const list = "team@lists.example.org"
	token := VERPToken([]byte("0123456789abcdef"))
	if len(token) != VERPTokenLen || strings.ToLower(token) != token {
		t.Fatalf("VERPToken = %q, want %d lower-case characters", token, VERPTokenLen)
	}
	long := strings.Repeat("x", 40) + "@example.org"
	for _, tc := range []struct {
		member, addr string
		want         Target
	}{
		{"alice@example.org", "team-bounce+alice=example.org=" + token + "@lists.example.org",
			Target{List: list, Role: RoleBounce, Member: "alice@example.org", Token: token}},
		{"a=b+c.d-e@sub.example.org", "team-bounce+a=b+c.d-e=sub.example.org=" + token + "@lists.example.org",
			Target{List: list, Role: RoleBounce, Member: "a=b+c.d-e@sub.example.org", Token: token}},
		// A member whose address holds "-bounce+" is read first with the
		// shortest list address.
		{"x-bounce+y@example.org", "team-bounce+x-bounce+y=example.org=" + token + "@lists.example.org",
			Target{List: list, Role: RoleBounce, Member: "x-bounce+y@example.org", Token: token}},
		{long, "team-bounce+" + token + "@lists.example.org", Target{List: list, Role: RoleBounce, Token: token}},
	} {
		v := VERP(list, tc.member, token)
		if v != tc.addr {
			t.Errorf("VERP(%s) = %s, want %s", tc.member, v, tc.addr)
		}
		if local, _ := Split(v); len(local) > 64 {
			t.Errorf("VERP(%s): local part of %d octets", tc.member, len(local))
		}
		var bounces []Target
		for _, r := range ListRoles(v) {
			if r.Role == RoleBounce {
				bounces = append(bounces, r)
			}
		}
		if len(bounces) == 0 || bounces[0] != tc.want {
			t.Errorf("ListRoles(%s) bounce readings %+v, want first %+v", v, bounces, tc.want)
		}
	}
	// The old form: a member, no token.
	for _, tc := range []struct {
		addr string
		want Target
	}{
		{"team-bounce+bob=example.org@lists.example.org", Target{List: list, Role: RoleBounce, Member: "bob@example.org"}},
		{"team-bounce+a=b=example.org@lists.example.org", Target{List: list, Role: RoleBounce, Member: "a=b@example.org"}},
		// The token's place holds no token: read as the old form, whose
		// domain has no dot, so no reading.
		{"team-bounce+bob=example.org=" + token[:12] + "@lists.example.org", Target{}},
		{"team-bounce+bob=example.org=" + token + "x@lists.example.org", Target{}},
		{"team-bounce+" + strings.ToUpper(token) + "@lists.example.org", Target{}},
		{"team-bounce+=" + token + "@lists.example.org", Target{}},
		{"team-bounce+nonsense@lists.example.org", Target{}},
	} {
		var got Target
		for _, r := range ListRoles(tc.addr) {
			if r.Role == RoleBounce && got == (Target{}) {
				got = r
			}
		}
		if got != tc.want {
			t.Errorf("ListRoles(%s) = %+v, want %+v", tc.addr, got, tc.want)
		}
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

// FuzzListRoles: reading any address never panics, and the VERP address
// of any member (whose domain is a domain name) gives back that member,
// or the short form, and the token.
func FuzzListRoles(f *testing.F) {
	f.Add("alice", "example.org", []byte("0123456789abcdef"))
	f.Add("a=b+c-bounce+d", "sub.example.org", []byte("xxxxxxxxxxxxxxxx"))
	f.Add(strings.Repeat("y", 50), "example.org", []byte("12345678"))
	f.Fuzz(func(t *testing.T, mlocal, mdomain string, tag []byte) {
		ListRoles(mlocal + "@" + mdomain)
		const list = "team@lists.example.org"
		member, err := Normalize(mlocal + "@" + mdomain)
		if err != nil || len(tag) < 8 || strings.Contains(mlocal, "@") ||
			strings.Trim(strings.ToLower(mdomain), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
			return
		}
		token := VERPToken(tag)
		v := VERP(list, member, token)
		for _, r := range ListRoles(v) {
			if r.List == list && r.Role == RoleBounce && r.Token == token && (r.Member == member || r.Member == "") {
				return
			}
		}
		t.Errorf("VERP(%q) = %q: ListRoles = %+v", member, v, ListRoles(v))
	})
}
