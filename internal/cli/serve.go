package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/smtpclient"
)

func (e *env) serveCmd() *cobra.Command {
	var smtpAddr, httpAddr, relayAddr, relayTLS, submissionAddr string
	var requireTLS bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the SMTP listener and deliver the outbound queue",
		Long: `Accept mail for the lists on the SMTP listener, process each message as it
arrives (the reply says whether the list took it), and deliver the copies:
to the smarthost given by --relay, or else into the Maildir outbox
DATA/outbox. Each batch of copies goes over one connection to the relay.

--relay-tls is the relay's TLS level, as Postfix names them: none (never
STARTTLS), may (the default: STARTTLS when the relay offers it, the
certificate not verified, plaintext when it offers none; what every MTA
does), encrypt (STARTTLS required, the certificate not verified) or verify
(STARTTLS required and the certificate verified for the relay's host
name). A failed TLS handshake never falls back to plaintext: the copies
wait and are retried. --relay-require-tls is the older flag for verify.
For a Postfix on the same host with its self-signed certificate
(Debian's snakeoil), keep may or use encrypt.

Only list addresses are accepted: Sealpost is never an open relay.

With --http, Sealpost serves:
  /               the web admin UI (sign in with an account made by
                  'sealpost user add'); /self-service lets members
                  offer a new key of their own, proven by a challenge
  /api/v1/        the REST API (tokens from 'sealpost token create');
                  its OpenAPI document is /api/v1/openapi.json
  /healthz        200 when the database answers (no sign-in needed)
  /metrics        Prometheus metrics (no sign-in needed; no list names)
  /.well-known/openpgpkey/  the lists' keys as a Web Key Directory, so
                  that mail programs find a list's key by its address
Serve it over HTTPS: with [http] tls_cert and tls_key, or behind a
reverse proxy (on the same host it should send X-Forwarded-Proto: https;
on another host, set [http] secure_cookies = true).
With --submission, helpdesks behind gateways send their replies there
(SMTP AUTH as the gateway, or from the gateway's submit_clients); see
'sealpost gateway --help'.
SIGTERM or Ctrl-C stops accepting (421) and finishes work in flight.

Settings may also be given in DATA/sealpost.toml:

  hostname = "lists.example.org"
  [smtp]
  listen = "127.0.0.1:2525"
  max_message_bytes = 33554432
  [relay]
  addr = "smtp.example.org:587"
  tls = "verify"                           # none, may (default), encrypt, verify
  [http]
  listen = "127.0.0.1:8025"
  tls_cert = "/etc/sealpost/admin.pem"     # HTTPS; or a reverse proxy
  tls_key = "/etc/sealpost/admin.key"
  secure_cookies = false                   # true behind a proxy elsewhere
  require_2fa = "admins"                   # codes from an authenticator app: "admins", "all", or "" (optional)
  [oidc]                                   # single sign-on to the UI (see the README)
  issuer = "https://id.example.org/realms/staff"
  client_id = "sealpost"
  redirect_url = "https://sealpost.example.org/login/oidc/callback"
  [submission]
  listen = "127.0.0.1:2587"                # gateways' helpdesks send replies here
  tls_cert = "/etc/sealpost/submission.pem"  # STARTTLS; without it AUTH only on loopback
  tls_key = "/etc/sealpost/submission.key"
  [smime]
  trust_anchors = "/etc/sealpost/ca.pem"   # PEM file or directory
  crls = "/etc/sealpost/crls"              # PEM or DER, file or directory
  require_crl = false
  fetch_crls = false                       # fetch CRLs named in certificates
  key_transport = "rsa-pkcs1v15"           # S/MIME copies to clients that announced none; or "rsa-oaep-sha256"
  [queue]                                  # what stays in the database (daily)
  keep_days = 3                            # a sent copy's message, after delivery
  failed_keep_days = 14                    # a failed one's, for 'queue retry'
  record_days = 30                         # the delivery's record (at least 30)
  [gateway]
  conversation_days = 365                  # 0 = never forget a conversation
  [audit]
  keep_days = 400                          # 0 = keep the audit log forever`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("smtp") {
				cfg.SMTP.Listen = smtpAddr
			}
			if cmd.Flags().Changed("http") {
				cfg.HTTP.Listen = httpAddr
			}
			if cmd.Flags().Changed("relay") {
				cfg.Relay.Addr = relayAddr
			}
			if cmd.Flags().Changed("submission") {
				cfg.Submission.Listen = submissionAddr
			}
			if err := relayTLSFlags(cmd, cfg, relayTLS, requireTLS); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			a, err := app.Open(cmd.Context(), cfg, e.logger(slog.LevelInfo))
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Serve(cmd.Context(), nil)
		},
	}
	c.Flags().StringVar(&smtpAddr, "smtp", app.DefaultSMTP, "SMTP listen address")
	c.Flags().StringVar(&httpAddr, "http", "", "HTTP listen address, e.g. "+app.DefaultHTTP+": the admin UI, the API, /healthz, /metrics and the lists' keys (off unless given)")
	c.Flags().StringVar(&relayAddr, "relay", "", "smarthost HOST:PORT for outbound mail (default: the Maildir outbox)")
	c.Flags().StringVar(&submissionAddr, "submission", "", "listen for gateways' helpdesks' replies on HOST:PORT (default: none)")
	c.Flags().StringVar(&relayTLS, "relay-tls", "may", "the relay's TLS level: none, may, encrypt or verify (see above)")
	c.Flags().BoolVar(&requireTLS, "relay-require-tls", false, "the same as --relay-tls verify: STARTTLS required and the relay's certificate verified")
	return c
}

// relayTLSFlags puts --relay-tls and --relay-require-tls, when given,
// over the configuration file's [relay] tls and require_tls; the two
// flags must not contradict each other.
func relayTLSFlags(cmd *cobra.Command, cfg *app.Config, level string, require bool) error {
	flags := cmd.Flags()
	if flags.Changed("relay-tls") {
		if _, err := smtpclient.ParseTLSLevel(level); err != nil {
			return usagef("--relay-tls: %v", err)
		}
		cfg.Relay.TLS, cfg.Relay.RequireTLS = level, false
	}
	if flags.Changed("relay-require-tls") {
		cfg.Relay.RequireTLS = require
		if require && flags.Changed("relay-tls") && level != "verify" {
			return usagef("--relay-require-tls means --relay-tls verify, not %s: give only one of them", level)
		}
		if require && !flags.Changed("relay-tls") {
			cfg.Relay.TLS = ""
		}
	}
	return nil
}
