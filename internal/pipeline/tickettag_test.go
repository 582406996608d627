package pipeline

import (
	stdmime "mime"
	"strings"
	"testing"
)

// TestFindTag: the default pattern finds the tags of the common
// helpdesks anywhere in a Subject, also inside an encoded word (RFC 2047),
// and nothing in a Subject without one.
func TestFindTag(t *testing.T) {
	re, err := TicketTagPattern("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ subject, want string }{
		{"[example.org #7] Your printer", "[example.org #7]"},                  // Request Tracker
		{"Re: [Example Support #123456] Drucker", "[Example Support #123456]"}, // RT, rtname with a space
		{"RE: [Ticket#2026120710000012] Drucker", "[Ticket#2026120710000012]"}, // Znuny/OTRS
		{"Drucker [Ticket#: 2026120710000012]", "[Ticket#: 2026120710000012]"}, // Znuny, divider ": ", tag on the right
		{"Re: [Ticket#31001] printer", "[Ticket#31001]"},                       // Zammad
		{"[#123] printer", "[#123]"},                                           // osTicket
		{"=?utf-8?b?" + b64("[example.org #9] Drucker kaputt ä") + "?=", "[example.org #9]"},
		{"=?utf-8?q?Re:_[example.org_#9]_Gr=C3=BC=C3=9Fe?=", "[example.org #9]"},
		{"Re: ...", ""},
		{"...", ""},
		{"", ""},
		{"[team] list traffic", ""},
		{"[PATCH 1/2] fix", ""},
		{"[#] nothing", ""},
		{"[example.org #] nothing", ""},
	} {
		if got := findTag(re, tc.subject); got != tc.want {
			t.Errorf("findTag(%q) = %q, want %q", tc.subject, got, tc.want)
		}
	}
}

func b64(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(stdmime.BEncoding.Encode("utf-8", s), "=?utf-8?b?"), "?=")
}

// TestWithTag: the tag goes after the reply markers, the rest stays as
// it was, and the result decodes (RFC 2047) to what a reader expects.
func TestWithTag(t *testing.T) {
	const tag = "[example.org #7]"
	enc := stdmime.QEncoding.Encode("utf-8", "Grüße")
	for _, tc := range []struct{ subject, tag, want, decoded string }{
		{"Re: ...", tag, "Re: [example.org #7] ...", ""},
		{"...", tag, "[example.org #7] ...", ""},
		{"", tag, "[example.org #7]", ""},
		{"   ", tag, "[example.org #7]", ""},
		{"Re: Your printer", tag, "Re: [example.org #7] Your printer", ""},
		{"AW: Re[2]: FWD: x", tag, "AW: Re[2]: FWD: [example.org #7] x", ""},
		{"Printer still broken", tag, "[example.org #7] Printer still broken", ""},
		{"Rest of it", tag, "[example.org #7] Rest of it", ""}, // "Re" only as a marker with its colon
		{"Re: " + enc, tag, "Re: [example.org #7] " + enc, "Re: [example.org #7] Grüße"},
		{"Re: " + enc, "[Büro #7]", "Re: " + stdmime.QEncoding.Encode("utf-8", "[Büro #7] ") + " " + enc, "Re: [Büro #7] Grüße"},
		{"Re: ...", "[Büro #7]", "Re: " + stdmime.QEncoding.Encode("utf-8", "[Büro #7]") + " ...", "Re: [Büro #7] ..."},
	} {
		got := withTag(tc.subject, tc.tag)
		if got != tc.want {
			t.Errorf("withTag(%q, %q) = %q, want %q", tc.subject, tc.tag, got, tc.want)
		}
		want := tc.decoded
		if want == "" {
			want = tc.want
		}
		if d, err := new(stdmime.WordDecoder).DecodeHeader(got); err != nil || d != want {
			t.Errorf("withTag(%q, %q) decodes to %q, %v; want %q", tc.subject, tc.tag, d, err, want)
		}
	}
	if got := taggedDots(""); got != "..." {
		t.Errorf(`taggedDots("") = %q, want "..."`, got)
	}
}

// TestTicketTagPattern: a custom pattern is used as given; one that
// does not compile, or that matches an empty text (a tag in every
// Subject), is refused with a reason.
func TestTicketTagPattern(t *testing.T) {
	re, err := TicketTagPattern(`\[Support-[0-9]+\]`)
	if err != nil {
		t.Fatal(err)
	}
	if got := findTag(re, "Re: [Support-42] x [example.org #7]"); got != "[Support-42]" {
		t.Errorf("custom pattern found %q", got)
	}
	for expr, why := range map[string]string{
		`[`:                       "not a regular expression",
		`(?P<x`:                   "not a regular expression",
		`x*`:                      "matches an empty text",
		`\[?`:                     "matches an empty text",
		`|\[#[0-9]+\]`:            "matches an empty text",
		strings.Repeat("a", 1000): "longer than",
		`\[(?:[0-9]+)(?<!x)\]`:    "not a regular expression", // RE2 has no look-behind
	} {
		if _, err := TicketTagPattern(expr); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("TicketTagPattern(%.20q) = %v, want an error saying %q", expr, err, why)
		}
	}
}
