package mime_test

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
)

func TestFields(t *testing.T) {
	raw := "From: a@example.org\r\nX-Sealpost-Signature: good;\r\n trust=pinned\r\nSubject: hi\n\tthere\r\nbroken line\r\n\r\nbody"
	fs := mime.Fields([]byte(raw))
	var names, raws []string
	for _, f := range fs {
		names = append(names, f.Name)
		raws = append(raws, string(f.Raw))
	}
	if got, want := strings.Join(names, "|"), "From|X-Sealpost-Signature|Subject|"; got != want {
		t.Errorf("names = %q, want %q", got, want)
	}
	if got, want := strings.Join(raws, ""), raw[:strings.Index(raw, "\r\n\r\n")+2]; got != want {
		t.Errorf("fields do not add up to the header:\n got %q\nwant %q", got, want)
	}
	if !fs[1].HasPrefix("x-sealpost-") || fs[0].HasPrefix("x-sealpost-") || !fs[2].Is("SUBJECT") {
		t.Error("Is/HasPrefix do not ignore case")
	}
	// Appending to one field's bytes must not overwrite the next one.
	_ = append(fs[0].Raw, "XXXX"...)
	if !strings.HasPrefix(string(fs[1].Raw), "X-Sealpost-Signature") {
		t.Error("a field's Raw has capacity into the next field")
	}
}
