package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigReportsEveryProblem: STYLE §10, every problem at once with
// the file and key.
func TestConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("hostname = \"a b\"\n[smtp]\nlisten = \"nonsense\"\n[smime]\nkey_transport = \"rot13\"\nbogus = 1\n[keys]\nwarn_days = -1\n"), 0o600)
	_, err := LoadConfig(dir)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadConfig = %v", err)
	}
	for _, want := range []string{"smtp.listen", "smime.key_transport", "hostname", `unknown key "smime.bogus"`, "keys.warn_days"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), ConfigFile) {
		t.Errorf("error does not name the file:\n%v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("hostname = \"lists.example.org\"\n[smtp]\nlisten = \"127.0.0.1:2525\"\n"))
	f.Add([]byte("[relay]\naddr = \"x:25\"\nrequire_tls = true\n[smime]\nfetch_crls = true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("/data", "sealpost.toml", data)
		if err == nil && c.Validate() != nil {
			t.Fatal("parseConfig accepted a configuration that does not validate")
		}
	})
}
