package smtpserver

import (
	"strings"
	"testing"
)

func TestCheckAddress(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"alice@example.org", true},
		{"Alice.Smith+tag@Sub.Example.ORG", true},
		{"a b@example.org", true}, // quoted local part, unquoted by go-smtp
		{"foo@bar@example.org", true},
		{"alice@[192.0.2.1]", true},
		{"alice@[IPv6:2001:db8::1]", true},
		{"x@mail_out.example", true}, // QUIRK(senders)
		{"alice", false},
		{"@example.org", false},
		{"alice@", false},
		{"alice@example..org", false},
		{"alice@.example.org", false},
		{"alice@example.org.", false},
		{"alice@-example.org", false},
		{"alice@exa mple.org", false},
		{"alice@exämple.org", false}, // needs SMTPUTF8 / IDNA A-labels
		{"äli@example.org", false},
		{"al\x00ice@example.org", false},
		{"alice@[]", false},
		{"alice@[1.2.3.4", false},
		{strings.Repeat("a", 64) + "@example.org", true},
		{strings.Repeat("a", 65) + "@example.org", false},
		{"a@" + strings.Repeat("b", 63) + ".org", true},
		{"a@" + strings.Repeat("b", 64) + ".org", false},
		{"a@" + strings.Repeat("b.", 126) + "org", false}, // path over 256 octets
	}
	for _, tc := range cases {
		if err := checkAddress(tc.addr); (err == nil) != tc.ok {
			t.Errorf("checkAddress(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{"alice@example.org", "a@[1.2.3.4]", "x@y", "@", "a@b..c", "\x00@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if checkAddress(addr) != nil {
			return
		}
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || at == len(addr)-1 || len(addr) > 254 {
			t.Fatalf("accepted %q", addr)
		}
		for i := 0; i < len(addr); i++ {
			if addr[i] < 0x20 || addr[i] > 0x7e {
				t.Fatalf("accepted %q with byte %#x", addr, addr[i])
			}
		}
	})
}
