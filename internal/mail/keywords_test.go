package mail

import (
	"reflect"
	"testing"
)

func TestParseKeywords(t *testing.T) {
	text := "x-list-name: team@lists.example.org\r\n\r\nX-SUBSCRIBE: bob@example.org 0123ABCD\r\nX-LIST-KEYS:\r\n" +
		"Hello, this is text.\r\nX-NOT-A-KEYWORD: after text\r\n"
	kws, rest := ParseKeywords(text)
	want := []Keyword{{"LIST-NAME", []string{"team@lists.example.org"}}, {"SUBSCRIBE", []string{"bob@example.org", "0123ABCD"}}, {"LIST-KEYS", []string{}}}
	if !reflect.DeepEqual(kws, want) {
		t.Errorf("keywords = %#v", kws)
	}
	if rest != "Hello, this is text.\r\nX-NOT-A-KEYWORD: after text\r\n" {
		t.Errorf("rest = %q", rest)
	}
	for _, text := range []string{"", "Hello\r\nX-LIST-NAME: a\r\n", "X-: nothing\r\n", "Subject: x\r\n", "X-TWO WORDS: x\r\n"} {
		if kws, _ := ParseKeywords(text); len(kws) != 0 {
			t.Errorf("ParseKeywords(%q) = %v", text, kws)
		}
	}
}
