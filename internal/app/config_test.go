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

// TestRetentionConfig: the retention settings default to what the README
// says, and negative or inconsistent values are refused, each with its key.
func TestRetentionConfig(t *testing.T) {
	c, err := parseConfig("/data", ConfigFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.KeepDays != 3 || c.Queue.FailedKeepDays != 14 || c.Queue.RecordDays != 30 ||
		c.Gateway.ConversationDays != 365 || c.Audit.KeepDays != 400 {
		t.Errorf("defaults: queue %+v, gateway %+v, audit %+v", c.Queue, c.Gateway, c.Audit)
	}
	ok := "[queue]\nkeep_days = 0\nfailed_keep_days = 60\nrecord_days = 90\n[gateway]\nconversation_days = 0\n[audit]\nkeep_days = 0\n"
	if _, err := parseConfig("/data", ConfigFile, []byte(ok)); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	for _, tc := range []struct{ toml, want string }{
		{"[queue]\nkeep_days = -1\nfailed_keep_days = -2\n[gateway]\nconversation_days = -3\n[audit]\nkeep_days = -4\n",
			"queue.keep_days: -1 is negative|queue.failed_keep_days: -2 is negative|gateway.conversation_days: -3 is negative|audit.keep_days: -4 is negative"},
		{"[queue]\nrecord_days = 29\n", "queue.record_days: 29 is less than 30"},
		{"[queue]\nrecord_days = -1\n", "queue.record_days: -1 is less than 30"},
		{"[queue]\nkeep_days = 31\n", "queue.keep_days: 31 is more than queue.record_days (30)"},
		{"[queue]\nfailed_keep_days = 40\n", "queue.failed_keep_days: 40 is more than queue.record_days (30)"},
	} {
		_, err := parseConfig("/data", ConfigFile, []byte(tc.toml))
		if err == nil {
			t.Errorf("%q accepted", tc.toml)
			continue
		}
		for _, want := range strings.Split(tc.want, "|") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error does not say %q:\n%v", tc.toml, want, err)
			}
		}
	}
}

// TestSignInConfig: [http] require_2fa and [oidc] are checked, each
// problem with its key; a complete [oidc] passes.
func TestSignInConfig(t *testing.T) {
	ok := "[http]\nrequire_2fa = \"admins\"\n[oidc]\nissuer = \"https://id.example.org/realms/staff\"\nclient_id = \"sealpost\"\n" +
		"redirect_url = \"https://sealpost.example.org/login/oidc/callback\"\ncreate_accounts = true\ndefault_role = \"owner\"\n"
	if _, err := parseConfig("/data", ConfigFile, []byte(ok)); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	bad := "[http]\nrequire_2fa = \"everyone\"\n[oidc]\nissuer = \"http://id.example.org\"\n" +
		"redirect_url = \"https://sealpost.example.org/callback\"\ncreate_accounts = true\n"
	_, err := parseConfig("/data", ConfigFile, []byte(bad))
	for _, want := range []string{"http.require_2fa", "oidc.issuer", "oidc.client_id", "oidc.redirect_url", "oidc.default_role"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s:\n%v", want, err)
		}
	}
}
