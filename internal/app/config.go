package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/smtpclient"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// ConfigFile is the optional configuration file inside the data directory.
const ConfigFile = "sealpost.toml"

// Config is Sealpost's configuration: defaults, then DATA/sealpost.toml,
// then command-line flags.
type Config struct {
	// DataDir holds the config file, the database, secrets and the outbox.
	DataDir string `toml:"-"`
	// Hostname names this host in SMTP greetings and Message-IDs.
	Hostname string `toml:"hostname"`
	SMTP     struct {
		// Listen is the address of the inbound SMTP listener.
		Listen string `toml:"listen"`
		// MaxMessageBytes bounds an inbound message (DESIGN §4.8).
		MaxMessageBytes int64 `toml:"max_message_bytes"`
	} `toml:"smtp"`
	HTTP struct {
		// Listen is the HTTP listener's address: the admin UI, the REST
		// API under /api/v1, /healthz, /metrics and the lists' keys as a
		// Web Key Directory. Empty serves nothing.
		Listen string `toml:"listen"`
		// TLSCert and TLSKey make the listener serve HTTPS.
		TLSCert string `toml:"tls_cert"`
		TLSKey  string `toml:"tls_key"`
		// SecureCookies marks the session cookie Secure even when the
		// request did not arrive over HTTPS, for a reverse proxy on
		// another host that terminates TLS. (One on the same host says
		// X-Forwarded-Proto: https, and that is enough.)
		SecureCookies bool `toml:"secure_cookies"`
		// Require2FA is whose sign-in to the UI needs a code from an
		// authenticator app as well as the password: "admins", "all",
		// or "" (each account may set it up; none must). An account it
		// applies to that has none sets it up at its next sign-in,
		// before anything else.
		Require2FA string `toml:"require_2fa"`
		// PublicURL is where people reach the UI ("https://lists.example.org"):
		// messages that ask a person to confirm something (joining or
		// leaving a list) carry a link there. Without it they carry
		// only a code, to enter on the subscription page. Password
		// reset links start with it too (without it, with the
		// listener's own address: set it behind a proxy).
		PublicURL string `toml:"public_url"`
	} `toml:"http"`
	SMIME struct {
		// TrustAnchors is a PEM file, or a directory of them, with the
		// certification authorities whose S/MIME certificates are
		// trusted for their addresses (like Sympa's cafile/capath).
		TrustAnchors string `toml:"trust_anchors"`
		// CRLs is a PEM or DER file, or a directory of them, with
		// certificate revocation lists. They revoke pinned and chained
		// certificates alike, but only when Sealpost can verify them: their
		// issuer is a trust anchor (global or a list's), or its certificate
		// is in a PEM file among the CRLs (it verifies CRLs and is trusted
		// for nothing else). A CRL none of these verifies revokes nothing,
		// and Sealpost warns about it when it starts.
		CRLs string `toml:"crls"`
		// RequireCRL refuses certificates whose issuer has no current CRL.
		RequireCRL bool `toml:"require_crl"`
		// FetchCRLs fetches CRLs from the distribution points named in
		// certificates (HTTP and HTTPS), caching them until nextUpdate.
		FetchCRLs bool `toml:"fetch_crls"`
		// KeyTransport is the RSA key transport of S/MIME copies for
		// members whose client announced none and for whom neither the
		// member's nor the list's smime_keytransport says otherwise:
		// "rsa-pkcs1v15" (the default, which every client reads),
		// "rsa-oaep-sha256" or "rsa-oaep-sha1".
		KeyTransport string `toml:"key_transport"`
	} `toml:"smime"`
	Keys struct {
		// WarnDays: members whose key expires within this many days get
		// an encrypted reminder, owners a summary (daily, inside serve);
		// 0 switches the reminders off.
		WarnDays int `toml:"warn_days"`
		// WKDRefreshDays: fetch every member's key from its Web Key
		// Directory once in this many days, spread out at random, and
		// merge new expiry dates, subkeys and revocations; 0 (the
		// default) never fetches. The fetches tell each member's mail
		// provider that this host holds their key.
		WKDRefreshDays int `toml:"wkd_refresh_days"`
	} `toml:"keys"`
	Submission struct {
		// Listen is the address of the submission listener through which
		// helpdesks behind gateways send their replies; empty (the
		// default) runs none.
		Listen string `toml:"listen"`
		// TLSCert and TLSKey are PEM files for STARTTLS on it. Without
		// them, SMTP AUTH is only offered to clients on loopback.
		TLSCert string `toml:"tls_cert"`
		TLSKey  string `toml:"tls_key"`
	} `toml:"submission"`
	Relay struct {
		// Addr is the smarthost, host:port; empty means the Maildir outbox.
		Addr string `toml:"addr"`
		// TLS is the relay's TLS level, named as Postfix names
		// smtp_tls_security_level: "none" never uses STARTTLS; "may" (the
		// default) uses it when the relay offers it, without verifying the
		// certificate (opportunistic TLS, as every MTA does), and sends in
		// plaintext when it does not; "encrypt" requires STARTTLS, not
		// verified; "verify" requires it and verifies the certificate for
		// the host of addr. A failed handshake is never followed by
		// plaintext: the copies wait and are retried.
		TLS string `toml:"tls"`
		// RequireTLS is the older way to say tls = "verify"; it cannot
		// be combined with another tls.
		RequireTLS bool `toml:"require_tls"`
	} `toml:"relay"`
	// Queue, Gateway and Audit say how long records stay in the database
	// (DESIGN §5); the daily job in serve removes what is older.
	Queue struct {
		// KeepDays: a delivered message's copy is removed this many days
		// after it was sent; 0 removes it at the next daily run.
		KeepDays int `toml:"keep_days"`
		// FailedKeepDays: the copy of a delivery that failed for good is
		// kept this long for `queue retry`, then removed likewise.
		FailedKeepDays int `toml:"failed_keep_days"`
		// RecordDays: a sent or failed delivery stays as a small record
		// without its copy (who, to whom, when, the last error) this many
		// days after its last attempt, then it is deleted. At least
		// MinRecordDays, so that a late bounce still finds the copy it
		// answers, and no less than KeepDays and FailedKeepDays.
		RecordDays int `toml:"record_days"`
	} `toml:"queue"`
	Gateway struct {
		// ConversationDays: a gateway conversation nobody wrote in for
		// this many days is forgotten, unless the gateway archives it. A
		// late reply to a forgotten conversation that arrived encrypted
		// is then no longer forced to be encrypted. 0 never forgets.
		ConversationDays int `toml:"conversation_days"`
	} `toml:"gateway"`
	Audit struct {
		// KeepDays: audit entries older than this are deleted; 0 keeps
		// them forever.
		KeepDays int `toml:"keep_days"`
	} `toml:"audit"`
	Database struct {
		// URL is the PostgreSQL database that every node of an
		// installation shares ("postgres://sealpost@db/sealpost");
		// empty keeps the records in SQLite in the data directory.
		// SEALPOST_DATABASE_URL overrides it, --database overrides both.
		// Without a password in it, the password comes from the systemd
		// credential sealpost-database-password when there is one, else
		// from PostgreSQL's usual places (PGPASSWORD, ~/.pgpass).
		URL string `toml:"url"`
	} `toml:"database"`
	OIDC struct {
		// Issuer turns on single sign-on to the admin UI through this
		// OpenID Connect provider (Keycloak, Authentik, Entra ID, Google
		// Workspace, ...): its issuer URL. Accounts are matched by the
		// email address the provider verified.
		Issuer   string `toml:"issuer"`
		ClientID string `toml:"client_id"`
		// ClientSecret is the client's secret; empty takes it from the
		// systemd credential sealpost-oidc-client-secret.
		ClientSecret string `toml:"client_secret"`
		// RedirectURL is the callback registered with the provider:
		// https://HOST/login/oidc/callback.
		RedirectURL string `toml:"redirect_url"`
		// Name labels the sign-in button ("Sign in with NAME").
		Name string `toml:"name"`
		// CreateAccounts makes an account, with DefaultRole, at the first
		// sign-in of a verified address that has none; else such a
		// sign-in is refused until an admin adds the account.
		CreateAccounts bool   `toml:"create_accounts"`
		DefaultRole    string `toml:"default_role"`
	} `toml:"oidc"`
}

// DatabaseURLEnv names the environment variable that overrides
// [database] url.
const DatabaseURLEnv = "SEALPOST_DATABASE_URL"

// Defaults of the user's contract (DESIGN §3).
const (
	DefaultDataDir  = "./sealpost-data"
	DefaultSMTP     = "127.0.0.1:2525"
	DefaultHTTP     = "127.0.0.1:8025"
	DefaultMaxBytes = 32 << 20
	DefaultWarnDays = 14
)

// Defaults of the retention settings.
const (
	DefaultKeepDays         = 3
	DefaultFailedKeepDays   = 14
	DefaultRecordDays       = 30
	MinRecordDays           = 30
	DefaultConversationDays = 365
	DefaultAuditDays        = 400
)

// LoadConfig returns the configuration for dataDir: defaults overlaid with
// DATA/sealpost.toml when it exists. Every problem in the file is reported
// at once, with the file and key.
//
// $SEALPOST_DATABASE_URL, when set, replaces [database] url.
func LoadConfig(dataDir string) (*Config, error) {
	path := filepath.Join(dataDir, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		c := defaultConfig(dataDir)
		c.databaseFromEnv()
		return c, c.Validate()
	}
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", path, err)}}
	}
	c, err := parseConfig(dataDir, path, data)
	if c != nil && c.databaseFromEnv() {
		err = c.Validate()
	}
	return c, err
}

// databaseFromEnv puts $SEALPOST_DATABASE_URL over [database] url and
// reports whether it was set.
func (c *Config) databaseFromEnv() bool {
	url, ok := os.LookupEnv(DatabaseURLEnv)
	if ok && url != "" {
		c.Database.URL = url
	}
	return ok && url != ""
}

func defaultConfig(dataDir string) *Config {
	c := &Config{DataDir: dataDir}
	c.SMTP.Listen, c.SMTP.MaxMessageBytes = DefaultSMTP, DefaultMaxBytes
	c.Keys.WarnDays = DefaultWarnDays
	c.Queue.KeepDays, c.Queue.FailedKeepDays, c.Queue.RecordDays = DefaultKeepDays, DefaultFailedKeepDays, DefaultRecordDays
	c.Gateway.ConversationDays = DefaultConversationDays
	c.Audit.KeepDays = DefaultAuditDays
	return c
}

// parseConfig reads the TOML in data (from the file path) over the
// defaults and validates it.
func parseConfig(dataDir, path string, data []byte) (*Config, error) {
	c := defaultConfig(dataDir)
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", path, err)}}
	}
	var problems []string
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Sprintf("%s: unknown key %q", path, k.String()))
	}
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				problems = append(problems, path+": "+p)
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return c, nil
}

// Validate checks the configuration and reports every problem at once.
func (c *Config) Validate() error {
	var problems []string
	check := func(key, addr string, optional bool) {
		if addr == "" && optional {
			return
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			problems = append(problems, fmt.Sprintf("%s: %q is not HOST:PORT", key, addr))
		}
	}
	check("smtp.listen", c.SMTP.Listen, false)
	check("http.listen", c.HTTP.Listen, true)
	check("relay.addr", c.Relay.Addr, true)
	problems = append(problems, c.relayTLSProblems()...)
	check("submission.listen", c.Submission.Listen, true)
	problems = append(problems, c.oidcProblems()...)
	if err := admin.CheckRequire2FA(c.HTTP.Require2FA); err != nil {
		problems = append(problems, "http."+strings.TrimPrefix(err.Error(), admin.ErrInvalid.Error()+": "))
	}
	if u := c.HTTP.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.RawQuery != "" {
			problems = append(problems, fmt.Sprintf("http.public_url: %q should be the address people open, like https://lists.example.org", u))
		}
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		problems = append(problems, "http.tls_cert and http.tls_key: give both or neither")
	}
	if (c.Submission.TLSCert == "") != (c.Submission.TLSKey == "") {
		problems = append(problems, "submission.tls_cert and submission.tls_key: give both or neither")
	}
	if c.SMTP.MaxMessageBytes < 1024 {
		problems = append(problems, fmt.Sprintf("smtp.max_message_bytes: %d is too small", c.SMTP.MaxMessageBytes))
	}
	if c.Keys.WKDRefreshDays < 0 {
		problems = append(problems, fmt.Sprintf("keys.wkd_refresh_days: %d is negative (0 switches the refresh off)", c.Keys.WKDRefreshDays))
	}
	if c.Keys.WarnDays < 0 {
		problems = append(problems, fmt.Sprintf("keys.warn_days: %d is negative (0 switches reminders off)", c.Keys.WarnDays))
	}
	problems = append(problems, c.retentionProblems()...)
	if err := c.checkKeyTransport(); err != nil {
		problems = append(problems, err.Error())
	}
	if u := c.Database.URL; u != "" && !sqlstore.IsPostgres(u) {
		problems = append(problems, fmt.Sprintf("database.url: %q is not a postgres:// URL (without it, the records stay in SQLite in the data directory)", redactURL(u)))
	}
	if strings.ContainsAny(c.Hostname, " \t\r\n<>@") {
		problems = append(problems, fmt.Sprintf("hostname: %q is not a host name", c.Hostname))
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// ConfigError lists everything wrong with a configuration.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "configuration error:\n  " + strings.Join(e.Problems, "\n  ")
}

// RelayTLS is the relay's TLS level: [relay] tls, or verify for
// require_tls, or may.
func (c *Config) RelayTLS() smtpclient.TLSLevel {
	if c.Relay.RequireTLS {
		return smtpclient.TLSVerify
	}
	level, _ := smtpclient.ParseTLSLevel(c.Relay.TLS) // checked by Validate
	return level
}

// oidcProblems checks [oidc].
func (c *Config) oidcProblems() []string {
	o := c.OIDC
	if o.Issuer == "" {
		return nil
	}
	var problems []string
	if u, err := url.Parse(o.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopbackHost(u.Hostname())) {
		problems = append(problems, fmt.Sprintf("oidc.issuer: %q is not an https:// URL", o.Issuer))
	}
	if o.ClientID == "" {
		problems = append(problems, "oidc.client_id: give the client id registered with the provider")
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || u.Path != "/login/oidc/callback" {
		problems = append(problems, fmt.Sprintf("oidc.redirect_url: %q should be https://HOST/login/oidc/callback, as registered with the provider", o.RedirectURL))
	}
	if o.CreateAccounts && o.DefaultRole != store.RoleOwner && o.DefaultRole != store.RoleAdmin {
		problems = append(problems, fmt.Sprintf("oidc.default_role: %q; create_accounts needs owner or admin", o.DefaultRole))
	}
	return problems
}

// isLoopbackHost reports whether host names this machine (a test's
// provider may speak plain HTTP there).
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// relayTLSProblems checks relay.tls and relay.require_tls.
func (c *Config) relayTLSProblems() []string {
	if c.Relay.TLS == "" {
		return nil
	}
	level, err := smtpclient.ParseTLSLevel(c.Relay.TLS)
	if err != nil {
		return []string{fmt.Sprintf("relay.tls: %q is not \"none\", \"may\", \"encrypt\" or \"verify\"", c.Relay.TLS)}
	}
	if c.Relay.RequireTLS && level != smtpclient.TLSVerify {
		return []string{fmt.Sprintf("relay.require_tls: true means tls = \"verify\", but relay.tls is %q: keep only one of them", c.Relay.TLS)}
	}
	return nil
}

// checkKeyTransport checks smime.key_transport.
func (c *Config) checkKeyTransport() error {
	if _, ok := smime.ParseKeyTransport(c.SMIME.KeyTransport); c.SMIME.KeyTransport != "" && !ok {
		return fmt.Errorf("smime.key_transport: %q is not %s", c.SMIME.KeyTransport, strings.Join(smime.KeyTransportNames(), ", "))
	}
	return nil
}

// retentionProblems checks [queue], [gateway] and [audit].
func (c *Config) retentionProblems() []string {
	var problems []string
	for _, d := range []struct {
		key, zero string
		days      int
	}{
		{"queue.keep_days", "0 removes copies at the next daily run", c.Queue.KeepDays},
		{"queue.failed_keep_days", "0 removes them at the next daily run", c.Queue.FailedKeepDays},
		{"gateway.conversation_days", "0 never forgets a conversation", c.Gateway.ConversationDays},
		{"audit.keep_days", "0 keeps the audit log forever", c.Audit.KeepDays},
	} {
		if d.days < 0 {
			problems = append(problems, fmt.Sprintf("%s: %d is negative (%s)", d.key, d.days, d.zero))
		}
	}
	q := c.Queue
	switch {
	case q.RecordDays < MinRecordDays:
		problems = append(problems, fmt.Sprintf("queue.record_days: %d is less than %d (a bounce may come that late)", q.RecordDays, MinRecordDays))
	case q.KeepDays > q.RecordDays:
		problems = append(problems, fmt.Sprintf("queue.keep_days: %d is more than queue.record_days (%d)", q.KeepDays, q.RecordDays))
	case q.FailedKeepDays > q.RecordDays:
		problems = append(problems, fmt.Sprintf("queue.failed_keep_days: %d is more than queue.record_days (%d)", q.FailedKeepDays, q.RecordDays))
	}
	return problems
}
