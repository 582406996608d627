package app

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWebURL: password reset links start with [http] public_url, or the
// listener's own address; mail no list sends is from postmaster.
func TestWebURL(t *testing.T) {
	for _, tc := range []struct {
		toml, url, sender string
	}{
		{"[http]\nlisten = \"127.0.0.1:8025\"\n", "http://127.0.0.1:8025", "Sealpost <postmaster@localhost>"},
		{"hostname = \"mx.example.org\"\n[http]\nlisten = \"0.0.0.0:443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
			"https://mx.example.org:443", "Sealpost <postmaster@mx.example.org>"},
		{"[http]\nlisten = \"127.0.0.1:8025\"\npublic_url = \"https://lists.example.org/\"\n", "https://lists.example.org",
			"Sealpost <postmaster@lists.example.org>"},
		{"", "", "Sealpost <postmaster@localhost>"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tc.toml), 0o600)
		c, err := LoadConfig(dir)
		if err != nil {
			t.Fatalf("%q: %v", tc.toml, err)
		}
		if got := c.WebURL(); got != tc.url {
			t.Errorf("%q: WebURL %q, want %q", tc.toml, got, tc.url)
		}
		if got := c.MailSender(); got != tc.sender {
			t.Errorf("%q: MailSender %q, want %q", tc.toml, got, tc.sender)
		}
	}
}
