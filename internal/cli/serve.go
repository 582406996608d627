package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

func (e *env) serveCmd() *cobra.Command {
	var smtpAddr, httpAddr, relayAddr, submissionAddr string
	var requireTLS bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the SMTP listener and deliver the outbound queue",
		Long: `Accept mail for the lists on the SMTP listener, process each message as it
arrives (the reply says whether the list took it), and deliver the copies:
to the smarthost given by --relay (STARTTLS whenever it is offered), or
else into the Maildir outbox DATA/outbox.

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
  require_tls = true
  [http]
  listen = "127.0.0.1:8025"
  tls_cert = "/etc/sealpost/admin.pem"     # HTTPS; or a reverse proxy
  tls_key = "/etc/sealpost/admin.key"
  secure_cookies = false                   # true behind a proxy elsewhere
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
			cfg, err := app.LoadConfig(e.dataDir)
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
			if cmd.Flags().Changed("relay-require-tls") {
				cfg.Relay.RequireTLS = requireTLS
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
	c.Flags().BoolVar(&requireTLS, "relay-require-tls", false, "refuse to send to the relay without STARTTLS")
	return c
}
