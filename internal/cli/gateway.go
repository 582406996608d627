package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
)

func (e *env) gatewayCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "gateway",
		Short: "Encrypted mail in front of a helpdesk: create, configure, archive",
		Long: `A gateway is an address (support@example.org) in front of a helpdesk or
ticket system that has no encryption of its own (Zammad, osTicket, GLPI,
Request Tracker without its crypto). It has its own OpenPGP key and,
optionally, S/MIME certificate.

Inbound: mail to the address is decrypted and verified and handed to the
helpdesk (--deliver-to) in clear, with two fields it can rely on (any copy
of them arriving from outside is removed first):

  X-Sealpost-Encryption: yes; engine=openpgp; cipher=AES256    (or: none)
  X-Sealpost-Signature:  good; engine=openpgp; signer=FINGERPRINT; address=ADDR; trust=known

The signature's first word is good, untrusted (signed by another key than
the one on file for the sender), mismatch (the key is not the From
address's, or the signed message was addressed elsewhere), invalid
(expired or revoked key), bad, unknown (a key Sealpost does not have) or
none. trust is pinned (a key an administrator gave the gateway for the
sender: 'sealpost member add ADDRESS EMAIL --key FILE'), known (learnt from
the sender's earlier mail),
first-seen (the message brought the key) or ca (an S/MIME certificate from
a trust anchor). Keys of senders are learnt from good signatures: S/MIME
certificates, OpenPGP keys attached to the message, and Autocrypt headers
with autocrypt_import=true.

Outbound: the helpdesk sends its replies through the submission listener
('serve --submission ADDR', SMTP AUTH as the gateway with the password from
'gateway password', or from networks in submit_clients). Replies are
signed by the gateway and encrypted to each recipient whose key is known.
When the conversation arrived encrypted, a recipient without a usable key
does not get the reply in clear: the helpdesk gets a delivery status
notification naming the recipient and the reason, and the recipient a
notice asking for their key.`,
	}
	groupCommand(c)
	c.AddCommand(creates(e.gatewayCreateCmd()), e.gatewayShowCmd(), e.gatewaySetCmd(), e.gatewayPasswordCmd(), e.gatewayArchiveCmd())
	return c
}

func (e *env) gatewayCreateCmd() *cobra.Command {
	var f identityFlags
	var deliverTo string
	c := &cobra.Command{
		Use:   "create ADDRESS --deliver-to DESTINATION",
		Short: "Create a gateway with its own newly generated OpenPGP key",
		Long: `Create a gateway at ADDRESS in front of the helpdesk at DESTINATION and
generate its OpenPGP key. DESTINATION is where decrypted mail goes:

  smtp://HOST:PORT      the helpdesk's SMTP listener (port 25 by default)
  lmtp://HOST:PORT      its LMTP listener (port 24 by default; loopback only)
  lmtp:/PATH            an LMTP Unix socket
  /PATH or maildir:/PATH  a Maildir the helpdesk reads

Publish the gateway's key ('sealpost list key ADDRESS', or the Web Key
Directory of 'serve --http') so that customers can encrypt to it. For
S/MIME customers give the gateway a certificate with --smime-cert or
--smime-generate, as for lists. Then point the helpdesk's outgoing mail at
the submission listener ('sealpost gateway password ADDRESS').`,
		Example: `  sealpost gateway create support@example.org --deliver-to smtp://127.0.0.1:2526 --owner admin@example.org`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if deliverTo == "" {
				return usagef("--deliver-to is required: where the helpdesk receives mail")
			}
			alg, id, err := e.readIdentityFlags(&f)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := checkIdentity(ap, a[0], id, "gateway"); err != nil {
					return err
				}
				gw, err := ap.Admin.CreateGateway(cmd.Context(), a[0], f.owner, f.name, alg, deliverTo)
				if err != nil {
					return err
				}
				cert, err := e.addSMIMEIdentity(cmd, ap, gw.Address, "gateway", id, f.generate)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Created gateway %s\n  key:        %s (%s)\n  deliver to: %s\n%s",
					gw.Address, gw.KeyFingerprint, alg, gw.Gateway.DeliverTo, cert)
				if gw.Owner != "" {
					fmt.Fprintf(e.stdout, "  owner:      %s\n", gw.Owner)
				}
				fmt.Fprintf(e.stdout, "Next: sealpost gateway password %s (for the helpdesk's outgoing mail)\n", gw.Address)
				return nil
			})
		},
	}
	c.Flags().StringVar(&deliverTo, "deliver-to", "", "where decrypted mail goes: smtp://HOST:PORT, lmtp://HOST:PORT, lmtp:/SOCKET or a Maildir path")
	f.register(c, "gateway")
	return c
}

func (e *env) gatewayShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ADDRESS",
		Short: "Show a gateway's key, destination and options",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				gw, err := ap.Admin.Gateway(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				info, err := ap.Admin.KeyInfo(gw)
				if err != nil {
					return err
				}
				opts := map[string]string{}
				for _, o := range admin.GatewayOptions() {
					opts[o.Name] = o.Value(gw)
				}
				if asJSON {
					return writeJSON(e, map[string]any{"address": gw.Address, "name": gw.Name, "owner": gw.Owner,
						"key_fingerprint": gw.KeyFingerprint, "key_algorithm": info.Algorithm, "options": opts,
						"submit_password_set": gw.Gateway.SubmitSecret != "", "created_at": gw.CreatedAt})
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "gateway\t%s\nkey\t%s (%s)\nowner\t%s\nsubmit password\t%s\ncreated\t%s\n", gw.Address,
					gw.KeyFingerprint, info.Algorithm, orNone(gw.Owner), map[bool]string{true: "set", false: "(none)"}[gw.Gateway.SubmitSecret != ""],
					gw.CreatedAt.Format(time.RFC3339))
				for _, o := range admin.GatewayOptions() {
					fmt.Fprintf(w, "option %s\t%s\n", o.Name, orNone(o.Value(gw)))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) gatewaySetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "set ADDRESS OPTION=VALUE...",
		Short:   "Change gateway options",
		Long:    "Change one or more gateway options. Options:\n" + optionsHelp(admin.GatewayOptions()),
		Example: `  sealpost gateway set support@example.org require_encryption=true archive=true submit_clients=192.0.2.10/32`,
		Args:    args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if _, err := ap.Admin.Gateway(cmd.Context(), a[0]); err != nil {
					return err
				}
				gw, err := ap.Admin.SetOptions(cmd.Context(), a[0], a[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Updated %s\n", gw.Address)
				return nil
			})
		},
	}
}

func (e *env) gatewayPasswordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "password ADDRESS",
		Short: "Make a new password for the helpdesk's outgoing mail (SMTP AUTH)",
		Long: `Make a new random password with which the helpdesk authenticates on the
submission listener ('serve --submission ADDR'): user name ADDRESS, the
printed password, mechanism PLAIN or LOGIN. It is shown once and only its
hash is kept; the previous password stops working. AUTH is offered only
over TLS ([submission] tls_cert and tls_key) or to clients on loopback.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				pw, err := ap.Admin.NewSubmitPassword(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, pw)
				return nil
			})
		},
	}
}

func (e *env) gatewayArchiveCmd() *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "archive ADDRESS [CONVERSATION]",
		Short: "List a gateway's archived conversations, or print one as an mbox",
		Long: `With archive=true a gateway keeps every message of every conversation,
sealed under the master key: what the helpdesk got, and each reply as the
helpdesk sent it. Without CONVERSATION this lists the most recent
conversations (each named by its first Message-ID); with it, it prints
that conversation's messages in clear as an mbox on standard output.
Reading the archive needs the data directory and its master key.`,
		Example: `  sealpost gateway archive support@example.org
  sealpost gateway archive support@example.org '<1234@mail.example.net>' > conversation.mbox`,
		Args: args(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if len(a) == 2 {
					ms, err := ap.Admin.Conversation(cmd.Context(), a[0], a[1])
					if err != nil {
						return err
					}
					return admin.WriteMbox(e.stdout, ms)
				}
				ts, err := ap.Admin.Conversations(cmd.Context(), a[0], limit)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "CONVERSATION\tTICKET\tENCRYPTED\tMESSAGES\tLAST")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%t\t%d\t%s\n", t.ID, orDash(t.Tag), t.Encrypted, t.Messages, t.UpdatedAt.Format(time.RFC3339))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().IntVar(&limit, "limit", 50, "how many conversations to list")
	return c
}
