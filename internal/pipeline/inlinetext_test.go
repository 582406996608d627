package pipeline

import "testing"

// TestInlineUTF8: which texts an inline copy carries as UTF-8, and how
// they are converted; the rest keep their bytes and charset.
func TestInlineUTF8(t *testing.T) {
	for _, c := range []struct {
		in, charset  string
		want, wantCS string
	}{
		{"plain ASCII", "koi8-r", "plain ASCII", "utf-8"},
		{"Grüße", "UTF-8", "Grüße", "utf-8"},
		{"Gr\xfc\xdfe", "utf-8", "Gr\uFFFDe", "utf-8"}, // invalid UTF-8: replaced, never signed as is
		{"Grüße", "", "Grüße", "utf-8"},                // undeclared UTF-8
		{"Gr\xfc\xdfe", "", "Grüße", "utf-8"},          // undeclared 8-bit: windows-1252
		{"Gr\xfc\xdfe \x80", "ISO-8859-1", "Grüße €", "utf-8"},
		{"\x93quoted\x94 \x85", "windows-1252", "\u201cquoted\u201d \u2026", "utf-8"},
		{"caf\xe9 \x81", "us-ascii", "café \u0081", "utf-8"},
		{"\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r"},
	} {
		got, cs := inlineUTF8([]byte(c.in), c.charset)
		if string(got) != c.want || cs != c.wantCS {
			t.Errorf("%q in %q: %q in %q, want %q in %q", c.in, c.charset, got, cs, c.want, c.wantCS)
		}
	}
}
