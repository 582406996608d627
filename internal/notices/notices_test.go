package notices

import (
	"slices"
	"strings"
	"testing"
)

// TestShipped: every template exists in every language, renders with its
// sample data as a list's and as a gateway's notice, and has a Subject;
// German subjects are RFC 2047-encoded.
func TestShipped(t *testing.T) {
	names := Names()
	if len(names) < 16 {
		t.Fatalf("%d templates", len(names))
	}
	for _, lang := range Languages {
		for _, name := range names {
			for _, gateway := range []bool{false, true} {
				subject, body, err := Set{Lang: lang}.Render(name, SampleFor(name, gateway))
				if err != nil {
					t.Errorf("%s/%s (gateway %v): %v", lang, name, gateway, err)
					continue
				}
				if subject == "" || body == "" || strings.Contains(body, "<no value>") || strings.Contains(body, "\n") && !strings.Contains(body, "\r\n") {
					t.Errorf("%s/%s (gateway %v): subject %q, body %q", lang, name, gateway, subject, body)
				}
				for i := 0; i < len(subject); i++ {
					if subject[i] >= 0x80 {
						t.Errorf("%s/%s: subject not encoded: %q", lang, name, subject)
						break
					}
				}
			}
		}
	}
}

// TestSamples: every template has sample data, so that a list's own text
// for it is checked with the fields it is rendered with, and every field
// a shipped template uses is in its sample (missingkey=error).
func TestSamples(t *testing.T) {
	for _, name := range Names() {
		if _, ok := samples[name]; !ok {
			t.Errorf("%s: no sample data", name)
		}
	}
	for name := range samples {
		if !slices.Contains(Names(), name) {
			t.Errorf("sample data for %s, which is no template", name)
		}
	}
}

func TestOverridesAndErrors(t *testing.T) {
	s := Set{Lang: "de", Overrides: map[string]string{"de/sendkey": "Subject: Schlüssel\n\nHier: {{.Fingerprint}}\n"}}
	subject, body, err := s.Render("sendkey", Sample("sendkey"))
	if err != nil || subject != "=?utf-8?q?Schl=C3=BCssel?=" || !strings.HasPrefix(body, "Hier: 0123") {
		t.Errorf("override: %q %q %v", subject, body, err)
	}
	if _, _, err := (Set{Lang: "en"}).Render("sendkey", Sample("sendkey")); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"no subject line\n\nbody", "Subject: x\n\n{{.Nope}}", "Subject: x\n\n{{if}}"} {
		if err := Check(bad, Sample("sendkey")); err == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
	if _, err := Shipped("fr", "sendkey"); err == nil {
		t.Error("French shipped")
	}
}
