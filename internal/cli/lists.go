package cli

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

func (e *env) listCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "Create, inspect, configure and delete lists",
	}
	groupCommand(c)
	c.AddCommand(creates(e.listCreateCmd()), e.listShowCmd(), e.listSetCmd(), e.listKeyCmd(), e.listRotateKeyCmd(), e.listTemplateCmd(), e.listCertCmd(), e.listCertKEMCmd(), e.listTrustCmd(), e.listRoleCmd(store.ListOwner), e.listRoleCmd(store.ListModerator), e.listDeleteCmd())
	return c
}

func (e *env) listCreateCmd() *cobra.Command {
	var f identityFlags
	var kemGenerate bool
	c := &cobra.Command{
		Use:   "create ADDRESS",
		Short: "Create a list with its own newly generated OpenPGP key",
		Long: `Create a list at ADDRESS and generate its OpenPGP key (v4, so GnuPG 2.2 and
every current mail client can use it). The list also answers to
ADDRESS-request, ADDRESS-owner and ADDRESS-bounce.

Give members the list's public key ('sealpost list key ADDRESS'); posts
must be encrypted to it and signed with the member's own key.

For S/MIME members the list also needs a certificate for ADDRESS: give
its PKCS#12 file with --smime-cert (the password is read from the file
named by --smime-pass-file), or let Sealpost make a self-signed one with
--smime-generate to try it out. 'sealpost list cert ADDRESS' prints it.
With --smime-kem-generate the list also gets a post-quantum ML-KEM-768
certificate (RFC 9935) issued by that certificate, for clients that
encrypt with ML-KEM (RFC 9936); see 'sealpost list cert-kem'.`,
		Example: `  sealpost list create team@lists.example.org --owner alice@example.org
  sealpost list create team@lists.example.org --smime-cert team.p12 --smime-pass-file team.pass
  sealpost list create team@lists.example.org --smime-generate --smime-kem-generate`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			alg, id, err := e.readIdentityFlags(&f)
			if err != nil {
				return err
			}
			if kemGenerate && id == nil && !f.generate {
				return usagef("--smime-kem-generate needs --smime-cert or --smime-generate: the list's S/MIME certificate issues the ML-KEM one")
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := checkIdentity(ap, a[0], id, "list"); err != nil {
					return err
				}
				l, err := ap.Admin.CreateList(cmd.Context(), a[0], f.owner, f.name, alg)
				if err != nil {
					return err
				}
				cert, err := e.addSMIMEIdentity(cmd, ap, l.Address, "list", id, f.generate)
				if err != nil {
					return err
				}
				if kemGenerate {
					kl, err := ap.Admin.GenerateListKEM(cmd.Context(), l.Address)
					if err != nil {
						return e.undoCreate(cmd, ap, l.Address, err)
					}
					cert += kemCertLine(kl)
				}
				fmt.Fprintf(e.stdout, "Created list %s\n  key:   %s (%s)\n%s", l.Address, l.KeyFingerprint, alg, cert)
				if l.Owner != "" {
					fmt.Fprintf(e.stdout, "  owner: %s\n", l.Owner)
				}
				fmt.Fprintf(e.stdout, "Next: sealpost member add %s EMAIL --key FILE\n", l.Address)
				return nil
			})
		},
	}
	f.register(c, "list")
	c.Flags().BoolVar(&kemGenerate, "smime-kem-generate", false,
		"also make a post-quantum ML-KEM-768 certificate for the list, issued by its S/MIME certificate (needs --smime-cert or --smime-generate)")
	return c
}

// undoCreate deletes the list just created after a later step failed
// with err, so that nothing half-made stays behind.
func (e *env) undoCreate(cmd *cobra.Command, ap *app.App, list string, err error) error {
	if derr := ap.Admin.DeleteList(cmd.Context(), list); derr != nil {
		return fmt.Errorf("%w; the list %s was created without it, and removing it failed: %v", err, list, derr)
	}
	return fmt.Errorf("%w; the list was not created", err)
}

// kemCertLine describes the list's ML-KEM certificate ("" without one).
func kemCertLine(l *store.List) string {
	c, err := x509.ParseCertificate(l.SMIMEKEMCert)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("  ML-KEM certificate: %s (%s)\n", smime.Fingerprint(c), smime.CertInfo(c).Algorithm)
}

func (e *env) listCertKEMCmd() *cobra.Command {
	var generate bool
	var certFile, keyFile string
	c := &cobra.Command{
		Use:   "cert-kem ADDRESS --generate|--import CERT --key KEY",
		Short: "Give the list a post-quantum ML-KEM certificate beside its S/MIME one",
		Long: `Give the list an ML-KEM certificate (RFC 9935) beside its RSA or EC S/MIME
certificate. S/MIME clients that know ML-KEM (RFC 9629 KEMRecipientInfo,
RFC 9936) can then encrypt posts to it, protected against a future quantum
computer; the list decrypts them. Clients that do not know ML-KEM keep
encrypting to the list's S/MIME certificate, which stays as it is. The list
keeps signing with its S/MIME certificate (ML-KEM cannot sign).

--generate makes an ML-KEM-768 key and a certificate for the list's
address issued by the list's S/MIME certificate (keyUsage keyEncipherment
only). The list's certificate is no certification authority, so a
client that checks the chain will not accept it: members must trust the
ML-KEM certificate itself. --import takes a certificate issued elsewhere
(by your CA, which chains normally), with its private key
in --key (PEM or DER; PKCS#8 in RFC 9935's "seed" or "both" form). Either
replaces an ML-KEM certificate the list had, which keeps decrypting posts
for 30 days. 'sealpost list cert ADDRESS'
prints both certificates.`,
		Example: `  sealpost list cert-kem team@lists.example.org --generate
  sealpost list cert-kem team@lists.example.org --import team-mlkem.pem --key team-mlkem.key`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var k *smime.KEMIdentity
			switch {
			case generate == (certFile != ""):
				return usagef("give either --generate or --import CERT --key KEY")
			case (certFile == "") != (keyFile == ""):
				return usagef("--import and --key go together")
			case certFile != "":
				certData, err := os.ReadFile(certFile)
				if err != nil {
					return usagef("--import: %v", err)
				}
				keyData, err := os.ReadFile(keyFile)
				if err != nil {
					return usagef("--key: %v", err)
				}
				if k, err = smime.ParseKEMIdentity(certData, keyData); err != nil {
					return fmt.Errorf("%w: --import: %v", admin.ErrInvalid, err)
				}
			}
			return e.withApp(cmd, func(ap *app.App) error {
				var l *store.List
				var err error
				if generate {
					l, err = ap.Admin.GenerateListKEM(cmd.Context(), a[0])
				} else {
					l, err = ap.Admin.SetListKEM(cmd.Context(), a[0], k)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "List %s\n%s", l.Address, kemCertLine(l))
				return nil
			})
		},
	}
	c.Flags().BoolVar(&generate, "generate", false, "make an ML-KEM-768 key and a certificate issued by the list's S/MIME certificate")
	c.Flags().StringVar(&certFile, "import", "", "file with the ML-KEM certificate to use (PEM or DER)")
	c.Flags().StringVar(&keyFile, "key", "", "file with the private key of the --import certificate (PKCS#8, PEM or DER)")
	return c
}

// identityFlags are the flags of a new list's or gateway's identity.
type identityFlags struct {
	owner, name, algo, p12File, passFile string
	generate                             bool
}

// register adds the flags to c; what is "list" or "gateway".
func (f *identityFlags) register(c *cobra.Command, what string) {
	c.Flags().StringVar(&f.owner, "owner", "", "address that receives the "+what+"'s notices")
	c.Flags().StringVar(&f.name, "name", "", "display name of the "+what+" (default: the address)")
	c.Flags().StringVar(&f.algo, "key-algo", "ed25519", what+" key algorithm: "+pgp.AlgorithmHelp)
	c.Flags().StringVar(&f.p12File, "smime-cert", "", "PKCS#12 file with the "+what+"'s S/MIME certificate and key")
	c.Flags().StringVar(&f.passFile, "smime-pass-file", "", "file whose first line is the PKCS#12 password")
	c.Flags().BoolVar(&f.generate, "smime-generate", false, "make a self-signed S/MIME certificate for the "+what+" (for trying it out)")
}

// readIdentityFlags checks the key algorithm and reads the S/MIME
// identity the flags name, before anything is created.
func (e *env) readIdentityFlags(f *identityFlags) (pgp.Algorithm, *smime.Identity, error) {
	alg, err := pgp.ParseAlgorithm(f.algo)
	if err != nil {
		return alg, nil, usageError{err}
	}
	id, err := e.smimeIdentity(f.p12File, f.passFile, f.generate)
	return alg, id, err
}

// smimeIdentity reads the list identity named by --smime-cert before
// anything is created, so a wrong password creates nothing.
func (e *env) smimeIdentity(p12File, passFile string, generate bool) (*smime.Identity, error) {
	switch {
	case p12File != "" && generate:
		return nil, usagef("give either --smime-cert or --smime-generate, not both")
	case p12File == "" && passFile != "":
		return nil, usagef("--smime-pass-file needs --smime-cert")
	case p12File == "":
		return nil, nil
	}
	data, err := os.ReadFile(p12File)
	if err != nil {
		return nil, usagef("--smime-cert: %v", err)
	}
	var password string
	if passFile != "" {
		p, err := os.ReadFile(passFile)
		if err != nil {
			return nil, usagef("--smime-pass-file: %v", err)
		}
		password, _, _ = strings.Cut(string(p), "\n")
		password = strings.TrimRight(password, "\r")
	}
	id, err := smime.ParsePKCS12(data, password)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", admin.ErrInvalid, p12File, err)
	}
	return id, nil
}

// checkIdentity refuses, before anything is created, a PKCS#12 identity
// (--smime-cert) that cannot be the new list's or gateway's (what): one
// for another address, expired, or not for signing.
func checkIdentity(ap *app.App, address string, id *smime.Identity, what string) error {
	if id == nil {
		return nil
	}
	if err := ap.Admin.CheckListIdentity(address, id); err != nil {
		return fmt.Errorf("--smime-cert: %w; no %s was created", err, what)
	}
	return nil
}

// addSMIMEIdentity gives a new list (or gateway: what) its S/MIME
// identity and returns the line that describes its certificate ("" when
// it gets none); on failure the list is deleted again so that nothing
// half-made stays behind.
func (e *env) addSMIMEIdentity(cmd *cobra.Command, ap *app.App, list, what string, id *smime.Identity, generate bool) (string, error) {
	if id == nil && !generate {
		return "", nil
	}
	var l *store.List
	var err error
	if generate {
		l, err = ap.Admin.GenerateSMIMEIdentity(cmd.Context(), list)
	} else {
		l, err = ap.Admin.SetSMIMEIdentity(cmd.Context(), list, id)
	}
	if err != nil {
		if derr := ap.Admin.DeleteList(cmd.Context(), list); derr != nil {
			return "", fmt.Errorf("%w; the %s %s was created without it, and removing it failed: %v", err, what, list, derr)
		}
		return "", fmt.Errorf("%w; the %s was not created", err, what)
	}
	cert, err := x509.ParseCertificate(l.SMIMECert)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("  S/MIME certificate: %s (%s)\n", smime.Fingerprint(cert), smime.CertInfo(cert).Algorithm), nil
}

func (e *env) listCertCmd() *cobra.Command {
	return e.printCmd("cert ADDRESS", "Print the list's S/MIME certificate (PEM) for members to install, then its ML-KEM certificate if it has one",
		func(ap *app.App, cmd *cobra.Command, list string) ([]byte, error) {
			return ap.Admin.ListCert(cmd.Context(), list)
		})
}

// listJSON is the --json form of `list show`.
type listJSON struct {
	Address        string            `json:"address"`
	Name           string            `json:"name"`
	Owner          string            `json:"owner"`
	KeyFingerprint string            `json:"key_fingerprint"`
	KeyAlgorithm   string            `json:"key_algorithm"`
	Addresses      map[string]string `json:"addresses"`
	Members        int               `json:"members"`
	Options        map[string]string `json:"options"`
	CreatedAt      time.Time         `json:"created_at"`
}

func (e *env) listShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ADDRESS",
		Short: "Show a list's key, addresses, options and member count",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				l, err := ap.Admin.List(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				ms, err := ap.Admin.Members(cmd.Context(), l.Address)
				if err != nil {
					return err
				}
				info, err := ap.Admin.KeyInfo(l)
				if err != nil {
					return err
				}
				v := listJSON{Address: l.Address, Name: l.Name, Owner: l.Owner, KeyFingerprint: l.KeyFingerprint,
					KeyAlgorithm: info.Algorithm, Members: len(ms), CreatedAt: l.CreatedAt,
					Addresses: map[string]string{}, Options: map[string]string{}}
				for _, r := range append([]mail.Role{mail.RolePost}, mail.RoleSuffixes...) {
					v.Addresses[string(r)] = mail.RoleAddress(l.Address, r)
				}
				for _, o := range admin.ListOptions() {
					v.Options[o.Name] = o.Value(l)
				}
				if asJSON {
					return writeJSON(e, v)
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(w, "list\t%s\nkey\t%s (%s)\nowner\t%s\nmembers\t%d\ncreated\t%s\n", v.Address, v.KeyFingerprint,
					v.KeyAlgorithm, orNone(v.Owner), v.Members, v.CreatedAt.Format(time.RFC3339))
				fmt.Fprintf(w, "addresses\t%s\n", strings.Join([]string{v.Addresses["request"], v.Addresses["owner"], v.Addresses["bounce"]}, ", "))
				for _, o := range admin.ListOptions() {
					fmt.Fprintf(w, "option %s\t%s\n", o.Name, orNone(o.Value(l)))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e *env) listSetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "set ADDRESS OPTION=VALUE...",
		Short:   "Change list options",
		Long:    "Change one or more list options. Options:\n" + optionsHelp(admin.ListOptions()),
		Example: `  sealpost list set team@lists.example.org name="Team" owner=alice@example.org`,
		Args:    args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				l, err := ap.Admin.SetOptions(cmd.Context(), a[0], a[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Updated %s\n", l.Address)
				return nil
			})
		},
	}
}

// optionsHelp describes opts for `list set --help` and `gateway set
// --help`: under their groups' headings, in the order of the admin UI's
// settings form, each with the values it takes.
func optionsHelp(opts []admin.Option) string {
	var b strings.Builder
	for _, sec := range admin.Grouped(opts) {
		fmt.Fprintf(&b, "\n%s:\n", sec.Title)
		for _, o := range sec.Items {
			fmt.Fprintf(&b, "  %-26s %s%s\n", o.Name, o.Help, optionValues(o))
		}
	}
	return b.String()
}

// optionValues says what values o takes, when its help may not.
func optionValues(o admin.Option) string {
	switch o.Type {
	case admin.TypeBool:
		return " [true|false]"
	case admin.TypeChoice:
		return " [" + strings.Join(o.Choices, "|") + "]"
	case admin.TypeNumber:
		if o.Max > 0 {
			return fmt.Sprintf(" [%d-%d]", o.Min, o.Max)
		}
		return fmt.Sprintf(" [%d or more]", o.Min)
	}
	return ""
}

func (e *env) listKeyCmd() *cobra.Command {
	var classic bool
	c := e.printCmd("key ADDRESS [--classic]", "Print the list's public key, armored, for members to encrypt to",
		func(ap *app.App, cmd *cobra.Command, list string) ([]byte, error) {
			if classic {
				return ap.Admin.ListClassicKey(cmd.Context(), list)
			}
			return ap.Admin.ListKey(cmd.Context(), list)
		})
	c.Long = `Print the list's public key, armored, for members to encrypt to.

A list made with --key-algo pq has a post-quantum encryption subkey
(ML-KEM-768+X25519, RFC 9980) beside its Cv25519 one. Give members the
whole key: RFC 9980 software encrypts to the post-quantum subkey, older
software (GnuPG 2.2) keeps it and encrypts to Cv25519.

--classic prints the same key (same fingerprint) without the post-quantum
subkey, for a member whose software refuses the whole key because of it:
Thunderbird builds whose RNP predates RFC 9980 do. What they send is then
not protected against a quantum computer.`
	c.Flags().BoolVar(&classic, "classic", false, "leave out the post-quantum subkey, for software that refuses it")
	return c
}

// printCmd is a command that prints what fetch returns for a list.
func (e *env) printCmd(use, short string, fetch func(*app.App, *cobra.Command, string) ([]byte, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				out, err := fetch(ap, cmd, a[0])
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(out)
				return err
			})
		},
	}
}

func (e *env) listDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ADDRESS",
		Short: "Delete a list, its key and its members",
		Long: `Delete a list, its secret key and its members. Copies already queued
are still delivered. This cannot be undone: the list's secret key is gone.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.DeleteList(cmd.Context(), a[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Deleted list %s\n", a[0])
				return nil
			})
		},
	}
}
