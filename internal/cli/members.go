package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/keyring"
)

// maxKeyFile bounds a key file read from disk or stdin.
const maxKeyFile = 1 << 20

func (e *env) memberCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "member",
		Short: "Add, list and remove a list's members",
	}
	groupCommand(c)
	c.AddCommand(e.memberAddCmd(), e.memberKeyCmd(), e.memberSetCmd(), e.memberListCmd(), e.memberRemoveCmd())
	return c
}

func (e *env) memberAddCmd() *cobra.Command {
	var keyFile string
	var isAdmin, noWelcome bool
	c := &cobra.Command{
		Use:   "add LIST EMAIL --key FILE",
		Short: "Add a member and pin their OpenPGP key or S/MIME certificate",
		Long: `Add EMAIL to LIST and pin the OpenPGP public key (armored or binary) or
the X.509 certificate (PEM or DER: .pem .crt .cer .der) in FILE ('-' reads
standard input). Only posts signed by this key, with EMAIL as From, are
distributed, and the member's copies are encrypted to it: PGP/MIME for an
OpenPGP key, S/MIME for a certificate.

The key is refused if it does not name EMAIL, is expired or revoked, or
cannot be used for encryption. S/MIME copies are signed with the list's
own certificate: a certificate added to a list that has none is kept,
with a warning that names the command that gives the list one.

The new member is sent a welcome message, signed by the list and
encrypted to their key, with the list's key (and certificate) attached
and how to post. --no-welcome skips it for this member (a bulk import);
'sealpost list set LIST welcome=false' turns it off for the list.`,
		Example: `  gpg --export --armor bob@example.org > bob.asc
  sealpost member add team@lists.example.org bob@example.org --key bob.asc
  sealpost member add team@lists.example.org carol@example.org --key carol.crt`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := e.readKey(keyFile)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				m, info, err := ap.Admin.AddMemberWith(cmd.Context(), a[0], a[1], data,
					admin.MemberOptions{Admin: isAdmin, NoWelcome: noWelcome})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Added %s to %s\n  key: %s (%s)\n", m.Email, a[0], info.Fingerprint, info.Algorithm)
				e.printKeyFacts(info)
				return e.keyWarnings(cmd, ap, a[0], m.Email, info)
			})
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "file with the member's OpenPGP key or X.509 certificate ('-' for standard input)")
	c.Flags().BoolVar(&isAdmin, "admin", false, "make the member a list admin")
	c.Flags().BoolVar(&noWelcome, "no-welcome", false, "do not send this member the welcome message")
	return c
}

// printKeyFacts writes, under the line that names a key just added, when
// it expires, whether copies to it are post-quantum, and what of it
// Sealpost leaves unused (a GnuPG 2.5 "Kyber" subkey).
func (e *env) printKeyFacts(info crypto.KeyInfo) {
	if !info.Expires.IsZero() {
		fmt.Fprintf(e.stdout, "  expires: %s\n", info.Expires.Format("2006-01-02"))
	}
	fmt.Fprintf(e.stdout, "  post-quantum: %s\n", postQuantumWord(info.PostQuantum, info.CanEncrypt))
	for _, n := range info.Notes {
		fmt.Fprintf(e.stdout, "  note: %s\n", n)
	}
}

// keyWarnings writes to standard error what keeps the list from using
// the member's key just added, though the key itself is good. The key
// was added: a failure to tell is a warning too, not a failed command.
func (e *env) keyWarnings(cmd *cobra.Command, ap *app.App, list, email string, info crypto.KeyInfo) error {
	ws, err := ap.Admin.MemberKeyWarnings(cmd.Context(), list, email, info)
	if err != nil {
		ws = append(ws, "could not check whether the list can use the key: "+err.Error())
	}
	for _, w := range ws {
		fmt.Fprintf(e.stderr, "sealpost: warning: %s\n", w)
	}
	return nil
}

// readKey reads the file named by --key ('-' for standard input); a
// missing --key is a usage error.
func (e *env) readKey(name string) ([]byte, error) {
	if name == "" {
		return nil, usagef("--key FILE is required")
	}
	data, err := e.readFile(name, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return data, nil
}

// memberJSON is the --json form of `member list`. The key_* fields
// describe the key the member's copies are encrypted to (else their
// first usable key, else their first key); keys lists all of them.
type memberJSON struct {
	Email          string    `json:"email"`
	Admin          bool      `json:"admin"`
	KeyFingerprint string    `json:"key_fingerprint"`
	KeyStatus      string    `json:"key_status"`
	KeyExpires     string    `json:"key_expires,omitempty"`
	Keys           []keyJSON `json:"keys"`
	AddedAt        time.Time `json:"added_at"`
	// Delivery is "on", or "off" with why (bounces, an administrator).
	Delivery string `json:"delivery"`
	// Copies says how the member's copies are encrypted: "post-quantum"
	// (ML-KEM), "classical", or "none" when they get none.
	Copies string `json:"copies"`
}

type keyJSON struct {
	Engine      string `json:"engine"`
	Fingerprint string `json:"fingerprint"`
	Source      string `json:"source"`
	Status      string `json:"status"`
	Expires     string `json:"expires,omitempty"`
	// PostQuantum: the key has an ML-KEM encryption key (KeyInfo.PostQuantum).
	PostQuantum bool `json:"post_quantum"`
}

func memberView(m admin.MemberView, now time.Time) memberJSON {
	v := memberJSON{Email: m.Email, Admin: m.Admin, AddedAt: m.CreatedAt, KeyStatus: "no key", Keys: []keyJSON{}, Delivery: "on",
		Copies: m.Copies()}
	if !m.DisabledAt.IsZero() {
		v.Delivery = "off (" + m.DisabledReason + ")"
	}
	chosen := -1
	for i, mk := range m.Member.Keys {
		info := m.Keys[i]
		k := keyJSON{Engine: mk.Engine, Fingerprint: mk.Fingerprint, Source: mk.Source, Status: "usable", PostQuantum: info.PostQuantum}
		if err := keyring.CheckMemberKey(info, m.Email, now); err != nil {
			k.Status = err.Error()
		} else if chosen < 0 || mk.Fingerprint == m.CopyKey {
			chosen = i
		}
		if !info.Expires.IsZero() {
			k.Expires = info.Expires.Format("2006-01-02")
		}
		v.Keys = append(v.Keys, k)
	}
	if chosen < 0 && len(v.Keys) > 0 {
		chosen = 0
	}
	if chosen >= 0 {
		k := v.Keys[chosen]
		v.KeyFingerprint, v.KeyStatus, v.KeyExpires = k.Fingerprint, k.Status, k.Expires
	}
	return v
}

func (e *env) memberListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list LIST",
		Short: "List a list's members and the state of their keys",
		Long: `List the members of LIST: whether they are list admins, whether mail is
delivered to them, the key their copies are encrypted to and its state,
and COPIES: "post-quantum" when their copies are encrypted with ML-KEM
(their OpenPGP key has an ML-KEM-768+X25519 subkey, or their S/MIME
certificate is an ML-KEM one), so that a quantum computer could not open
them later; "classical" otherwise; "none" when they get no copies.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				ms, err := ap.Admin.Members(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				out := make([]memberJSON, 0, len(ms))
				for _, m := range ms {
					out = append(out, memberView(m, time.Now()))
				}
				if asJSON {
					return writeJSON(e, out)
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "EMAIL\tADMIN\tDELIVERY\tKEY\tSTATUS\tCOPIES")
				for _, m := range out {
					fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\n", m.Email, m.Admin, m.Delivery, m.KeyFingerprint, m.KeyStatus, m.Copies)
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) memberKeyCmd() *cobra.Command {
	var keyFile string
	var challenge bool
	c := &cobra.Command{
		Use:   "key LIST EMAIL --key FILE [--challenge]",
		Short: "Give a member a further key or certificate",
		Long: `Add another OpenPGP key or X.509 certificate to an existing member: for
example a separate S/MIME signing certificate beside the encryption
certificate, or a new key before the old one expires. It must name EMAIL
and be valid; a signing-only certificate is accepted here. Adding it
this way vouches for it: it is in use at once.

With --challenge the OpenPGP key is not vouched for: the member is sent
a challenge encrypted to it, and the key becomes theirs only when they
answer it by mail, signed with the key (proof of possession). Members
can also send a new key themselves to LIST-request, signed with their
current key; a member who lost their key needs you.`,
		Example: `  sealpost member key team@lists.example.org bob@example.org --key bob-new.asc
  sealpost member key team@lists.example.org bob@example.org --key bob-new.asc --challenge`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := e.readKey(keyFile)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if challenge {
					info, err := ap.Admin.ChallengeMemberKey(cmd.Context(), a[0], a[1], data)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "Sent %s a challenge for key %s; it becomes theirs when they answer it\n", a[1], info.Fingerprint)
					return nil
				}
				info, err := ap.Admin.AddMemberKey(cmd.Context(), a[0], a[1], data)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Added %s key %s (%s) to %s on %s\n", info.Engine, info.Fingerprint, info.Algorithm, a[1], a[0])
				e.printKeyFacts(info)
				return e.keyWarnings(cmd, ap, a[0], a[1], info)
			})
		},
	}
	c.Flags().StringVar(&keyFile, "key", "", "file with the OpenPGP key or X.509 certificate ('-' for standard input)")
	c.Flags().BoolVar(&challenge, "challenge", false, "do not vouch for the key: make the member prove they hold it first")
	return c
}

func (e *env) memberSetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set LIST EMAIL OPTION=VALUE",
		Short: "Set a member's copy format, S/MIME encryption, delivery or admin role",
		Long: `Options:

  format=pgpmime|inline|smime|auto
                              the format of the member's copies; auto follows
                              the list's outgoing_format (inline: RT's Inline
                              format, for mail programs without PGP/MIME)
  smime_cipher=VALUE          content encryption of the member's S/MIME copies:
                              aes256-gcm, aes128-gcm (AuthEnvelopedData, which
                              gpgsm 2.2, Outlook and Apple Mail cannot read),
                              aes256-cbc, aes128-cbc, or auto (the default) to
                              follow what the member's client announced in its
                              signed posts, else the list's smime_cipher, else
                              aes256-cbc, which every client reads
  smime_keytransport=VALUE    RSA key transport of the member's S/MIME copies:
                              rsa-oaep-sha256, rsa-oaep-sha1 (which gpgsm 2.2
                              cannot read), rsa-pkcs1v15, or auto (the default)
                              to follow what the member's client announced,
                              else the list's smime_keytransport, else the
                              server's [smime] key_transport, else
                              rsa-pkcs1v15, which every client reads
  delivery=on|off             off stops copies to the member (they may still
                              post); on resumes them and forgets the member's
                              bounces. Sealpost turns delivery off by itself
                              after bounce_threshold bounces in bounce_days
  admin=on|off                on makes the member a list admin (admin-only
                              request keywords, posts to an announcement
                              list); off makes them an ordinary member`,
		Args: args(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, a []string) error {
			name, value, ok := strings.Cut(a[2], "=")
			if !ok || !slices.ContainsFunc(admin.MemberSettings(), func(m admin.MemberSetting) bool { return m.Name == name }) {
				return usagef("unknown member option %q (want format=VALUE, smime_cipher=VALUE, smime_keytransport=VALUE, "+
					"delivery=on|off or admin=on|off)", a[2])
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.SetMember(cmd.Context(), a[0], a[1], name, value); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Updated %s on %s\n", a[1], a[0])
				return nil
			})
		},
	}
}

func (e *env) memberRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove LIST EMAIL",
		Short: "Remove a member from a list",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RemoveMember(cmd.Context(), a[0], a[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed %s from %s\n", a[1], a[0])
				return nil
			})
		},
	}
}
