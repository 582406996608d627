package mime

import (
	"bytes"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no line break", "abc", "abc"},
		{"LF", "a\nb\n", "a\r\nb\r\n"},
		{"CRLF kept", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n"},
		{"mixed", "a\r\nb\nc\rd", "a\r\nb\r\nc\r\nd"},
		{"LF CR is two breaks", "a\n\rb", "a\r\n\r\nb"},
		{"CR CR LF", "a\r\r\nb", "a\r\n\r\nb"},
		{"empty lines", "\n\n\r\n", "\r\n\r\n\r\n"},
		{"trailing LF", "armor\n", "armor\r\n"},
		{"trailing CR", "armor\r", "armor\r\n"},
		{"trailing CRLF", "armor\r\n", "armor\r\n"},
		{"binary kept", "\x00\xff\t", "\x00\xff\t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := Canonicalize(in)
			if string(got) != tt.want {
				t.Errorf("Canonicalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("input modified to %q", in)
			}
			if again := Canonicalize(got); string(again) != string(got) {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

// TestCanonicalizeFreshSlice checks that the result never shares memory
// with the input, even when nothing changes.
func TestCanonicalizeFreshSlice(t *testing.T) {
	in := []byte("a\r\n")
	out := Canonicalize(in)
	out[0] = 'X'
	if in[0] != 'a' {
		t.Error("Canonicalize returned the input slice")
	}
}

// TestIsCanonical: IsCanonical says whether Canonicalize would change b,
// for every bare CR, bare LF and CRLF placement, at either end too.
func TestIsCanonical(t *testing.T) {
	for _, s := range []string{"", "a", "a\r\n", "\r\n", "\r\n\r\n", "a\rb", "a\nb", "\r", "\n", "a\r", "\n\r", "a\r\nb\n", "a\r\r\n", "x\r\ny\r\nz"} {
		b := []byte(s)
		want := bytes.Equal(Canonicalize(b), b)
		if got := IsCanonical(b); got != want {
			t.Errorf("IsCanonical(%q) = %v, want %v", s, got, want)
		}
		if got := AsCanonical(b); !bytes.Equal(got, Canonicalize(b)) {
			t.Errorf("AsCanonical(%q) = %q", s, got)
		}
	}
}
