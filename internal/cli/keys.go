package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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

// maxImportFile bounds one file given to `key import`: a flooded key can
// be tens of megabytes before its third-party signatures are dropped.
const maxImportFile = 64 << 20

func (e *env) keyCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "key",
		Short: "Import, inspect and export the keys and certificates of lists and members",
		Long: `Sealpost keeps one keyring for OpenPGP keys and X.509 certificates, shared
by all lists. Members' keys and the lists' own public keys are in it; it
is indexed by fingerprint, key ID, subkey, email address, issuer and
serial number and subject key identifier.`,
	})
	c.AddCommand(creates(e.keyImportCmd()), e.keyShowCmd(), e.keyExportCmd(), e.keyCheckCmd())
	return c
}

func (e *env) keyImportCmd() *cobra.Command {
	var list string
	var pass passphraseFlags
	var quiet bool
	c := &cobra.Command{
		Use:   "import [--list LIST] FILE...",
		Short: "Import OpenPGP keys, X.509 certificates and PKCS#12 files into the keyring",
		Long: `Import every key and certificate in each FILE ('-' reads standard input):
OpenPGP keys armored or binary, public or secret, several per file (as
gpg --export writes them); X.509 certificates in PEM or DER (.pem .crt
.cer .der), bundles too; PKCS#12 files (.p12 .pfx) with their password.

A key already in the keyring is merged with the new copy (new self-
signatures, subkeys, revocations), so re-importing a refreshed key
updates every member who uses it. On the way in, third-party
certifications are dropped and self-signatures capped (certificate
flooding), and signing subkeys without a back-signature are dropped.

Secret keys are kept only as a list's own key: with --list LIST an
OpenPGP secret key or PKCS#12 identity for LIST's address becomes LIST's
key (a replaced OpenPGP key keeps decrypting for 30 days); without
--list only the public part is kept.

Passphrases of protected secret keys and PKCS#12 passwords are read,
in this order, from --passphrase-file, from the systemd credential
named by --passphrase-credential (default "sealpost-passphrase" in
$CREDENTIALS_DIRECTORY), or from $SEALPOST_PASSPHRASE. Nothing prompts.

Prints one line per key: new, updated, unchanged or refused (and why),
then a summary. Exits 65 when any key was refused; the others are
imported all the same.`,
		Example: `  gpg --export > members.pgp && sealpost key import members.pgp
  sealpost key import carol.crt dave.pem
  sealpost key import --list team@lists.example.org --passphrase-file pw.txt team-secret.asc
  SEALPOST_PASSPHRASE=secret sealpost key import --list support@example.org support.p12`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			passphrase, err := pass.source(cmd)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				p := e.newProgress()
				defer p.finish()
				var all []admin.ImportResult
				for _, name := range files {
					data, err := e.readFile(name, maxImportFile)
					if err != nil {
						return err
					}
					before := len(all)
					rs, err := ap.Admin.ImportKeys(cmd.Context(), name, data, admin.ImportOptions{
						List: list, Passphrase: passphrase, Progress: func(n int) { p.add(before + n) }})
					all = append(all, rs...)
					if err != nil {
						p.finish()
						e.importReport(all, quiet)
						return err
					}
				}
				p.finish()
				return e.importReport(all, quiet)
			})
		},
	}
	c.Flags().StringVar(&list, "list", "", "make secret keys and PKCS#12 identities for this list's address its keys")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only refused keys and the summary")
	pass.register(c)
	return c
}

// importReport prints one line per key and a summary; it fails when any
// key was refused.
func (e *env) importReport(rs []admin.ImportResult, quiet bool) error {
	count := map[admin.Outcome]int{}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, r := range rs {
		count[r.Outcome]++
		if quiet && r.Outcome != admin.Refused {
			continue
		}
		fpr := r.Fingerprint
		if fpr == "" {
			fpr = "-"
		}
		detail := strings.Join(r.Addresses, ", ")
		if r.Reason != "" {
			detail = r.Reason
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Outcome, r.Engine, fpr, detail)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "\t\t\t  %s\n", n)
		}
	}
	w.Flush()
	fmt.Fprintf(e.stdout, "%d keys: %d new, %d updated, %d unchanged, %d refused\n", len(rs),
		count[admin.Imported], count[admin.Updated], count[admin.Unchanged], count[admin.Refused])
	if count[admin.Refused] > 0 {
		return fmt.Errorf("%w: %d of %d keys refused", admin.ErrInvalid, count[admin.Refused], len(rs))
	}
	return nil
}

func (e *env) keyShowCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show FINGERPRINT|KEYID|EMAIL",
		Short: "Show a key or certificate of the keyring",
		Long: `Show the keys matching a fingerprint, a 16-digit OpenPGP key ID (of the
primary key or a subkey) or an email address: fingerprint, addresses,
algorithm, what it may be used for, when it was created and expires,
its status (RT's reasons: Key expired, Key revoked, Wrong key usage, ...)
and which lists and members use it.`,
		Example: `  sealpost key show 0123456789ABCDEF0123456789ABCDEF01234567
  sealpost key show bob@example.org --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				ds, err := ap.Admin.FindKey(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]keyShowJSON, 0, len(ds))
					for _, d := range ds {
						out = append(out, keyShow(d))
					}
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				}
				for i, d := range ds {
					if i > 0 {
						fmt.Fprintln(e.stdout)
					}
					e.printKey(keyShow(d))
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

type keyShowJSON struct {
	Fingerprint string    `json:"fingerprint"`
	Engine      string    `json:"engine"`
	Addresses   []string  `json:"addresses"`
	Algorithm   string    `json:"algorithm"`
	Usage       []string  `json:"usage"`
	Created     string    `json:"created"`
	Expires     string    `json:"expires,omitempty"`
	Status      string    `json:"status"`
	Bits        int       `json:"bits,omitempty"`
	Weak        string    `json:"weak,omitempty"`
	PostQuantum bool      `json:"post_quantum"`
	Notes       []string  `json:"notes,omitempty"`
	UsedBy      []string  `json:"used_by"`
	Updated     time.Time `json:"updated_at"`
}

func keyShow(d admin.KeyDetails) keyShowJSON {
	v := keyShowJSON{Fingerprint: d.Fingerprint, Engine: d.Engine, Addresses: d.Info.Addresses, Algorithm: d.Info.Algorithm,
		Usage: []string{}, Created: d.Info.Created.UTC().Format(time.DateOnly), Status: d.Status.String(),
		Bits: d.Info.Bits, Weak: d.Weak, PostQuantum: d.Info.PostQuantum, Notes: d.Info.Notes, UsedBy: d.Users, Updated: d.UpdatedAt}
	if v.Addresses == nil {
		v.Addresses = []string{}
	}
	if v.UsedBy == nil {
		v.UsedBy = []string{}
	}
	if d.Info.CanSign {
		v.Usage = append(v.Usage, "sign")
	}
	if d.Info.CanEncrypt {
		v.Usage = append(v.Usage, "encrypt")
	}
	if !d.Info.Expires.IsZero() {
		v.Expires = d.Info.Expires.UTC().Format(time.DateOnly)
	}
	return v
}

func (e *env) printKey(v keyShowJSON) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	expires, usage, used := v.Expires, strings.Join(v.Usage, ", "), strings.Join(v.UsedBy, "\n\t")
	if expires == "" {
		expires = "never"
	}
	if usage == "" {
		usage = "none"
	}
	if used == "" {
		used = "nobody (kept in the keyring only)"
	}
	status := v.Status
	if v.Weak != "" {
		status += "; " + v.Weak + ": ask for a new key"
	}
	fmt.Fprintf(w, "fingerprint:\t%s\nengine:\t%s\naddresses:\t%s\nalgorithm:\t%s\nusage:\t%s\npost-quantum:\t%s\ncreated:\t%s\nexpires:\t%s\nstatus:\t%s\nused by:\t%s\n",
		crypto.FormatFingerprint(v.Fingerprint), v.Engine, strings.Join(v.Addresses, ", "), v.Algorithm, usage, postQuantumWord(v.PostQuantum, slices.Contains(v.Usage, "encrypt")),
		v.Created, expires, status, used)
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note:\t%s\n", n)
	}
	w.Flush()
}

// postQuantumWord says whether what is encrypted to a key is protected
// against a quantum computer, for key show and member add.
func postQuantumWord(pq, encrypts bool) string {
	switch {
	case pq:
		return "yes (encrypted with ML-KEM)"
	case encrypts:
		return "no (classical encryption only)"
	}
	return "no (the key does not encrypt)"
}

func (e *env) keyExportCmd() *cobra.Command {
	var secret, fingerprint bool
	c := &cobra.Command{
		Use:   "export FINGERPRINT [--secret | --fingerprint]",
		Short: "Write a key or certificate, or its fingerprint, to standard output",
		Long: `Write the key with FINGERPRINT (or a unique key ID or address): an OpenPGP
key ASCII-armored, an X.509 certificate in PEM.

--fingerprint writes the fingerprint as a small text file instead, for
people to compare by eye (what helpdesk admins hand out).

--secret writes a list's own secret key, unprotected (OpenPGP armored,
or for S/MIME the private key, certificate and chain in PEM), to back
it up or move the list; Sealpost keeps no other secret keys. Keep the
output safe.`,
		Example: `  sealpost key export 0123456789ABCDEF0123456789ABCDEF01234567 > bob.asc
  sealpost key export team@lists.example.org --fingerprint > team-fingerprint.txt
  sealpost key export 0123456789ABCDEF0123456789ABCDEF01234567 --secret > team-secret.asc`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if secret && fingerprint {
				return usagef("--secret and --fingerprint exclude each other")
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if fingerprint {
					ds, err := ap.Admin.FindKey(cmd.Context(), a[0])
					if err != nil {
						return err
					}
					for _, d := range ds {
						fmt.Fprint(e.stdout, fingerprintText(d))
					}
					return nil
				}
				data, err := ap.Admin.ExportKey(cmd.Context(), a[0], secret)
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(data)
				return err
			})
		},
	}
	c.Flags().BoolVar(&secret, "secret", false, "export a list's secret key (unprotected)")
	c.Flags().BoolVar(&fingerprint, "fingerprint", false, "write the fingerprint as a text file")
	return c
}

// fingerprintText is the fingerprint file of one key.
func fingerprintText(d admin.KeyDetails) string {
	what := "OpenPGP key"
	if d.Engine == "smime" {
		what = "X.509 certificate (SHA-256)"
	}
	return fmt.Sprintf("%s of %s\n%s\n", what, strings.Join(d.Info.Addresses, ", "), crypto.FormatFingerprint(d.Fingerprint))
}

// readFile reads a named file ('-' for standard input) up to limit bytes.
func (e *env) readFile(name string, limit int64) ([]byte, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, usagef("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

func (e *env) keyCheckCmd() *cobra.Command {
	var list string
	var days int
	var pq bool
	check := &cobra.Command{
		Use:   "check [--list LIST] [--days N | --post-quantum]",
		Short: "List keys and certificates that are unusable or expire within N days",
		Long: `Report every list key, list certificate and member key or certificate that
cannot be used now (Key expired, Key revoked, Wrong key usage, Policy
mismatch, ...; a certificate that a CRL loaded from [smime] crls lists is
Key revoked), that is weak (an RSA, DSA or ElGamal key under 2048 bits:
"Weak key (1024 bits)"; still used), or that expires within the next N
days (default 14), so that fresh keys can be asked for in time. Prints nothing else when there
is nothing to report; suitable for a daily cron job.

--post-quantum reports instead who is protected against a quantum
computer: for each list, its own keys (whether members can encrypt
posts to it with ML-KEM) and each member (whether their copies are
encrypted with ML-KEM: "post-quantum", "classical", or "no copies"),
then how many members' copies are post-quantum. A member becomes
post-quantum by giving the list a key with an ML-KEM-768+X25519 subkey
(RFC 9980) or an ML-KEM certificate; see the README's "Post-quantum".`,
		Example: `  sealpost key check --days 30
  sealpost key check --list team@lists.example.org --post-quantum`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 0 {
				return usagef("--days must not be negative")
			}
			if pq {
				return e.withApp(cmd, func(ap *app.App) error { return e.printPostQuantum(cmd, ap, list) })
			}
			return e.withApp(cmd, func(ap *app.App) error {
				fs, err := ap.Admin.CheckKeysWeak(cmd.Context(), list, days)
				if err != nil || len(fs) == 0 {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "LIST\tHOLDER\tENGINE\tFINGERPRINT\tSTATUS\tEXPIRES")
				for _, f := range fs {
					expires := "never"
					if !f.Expires.IsZero() {
						expires = f.Expires.Format(time.DateOnly)
					}
					status := f.Status.String()
					switch {
					case f.Weak != "" && f.Status == keyring.Usable:
						status = f.Weak
					case f.Weak != "":
						status += "; " + f.Weak
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.List, f.Holder, f.Engine, f.Fingerprint, status, expires)
				}
				return w.Flush()
			})
		},
	}
	check.Flags().StringVar(&list, "list", "", "check only this list")
	check.Flags().IntVar(&days, "days", 14, "also report keys that expire within this many days")
	check.Flags().BoolVar(&pq, "post-quantum", false, "report which list keys and members' copies are post-quantum (ML-KEM) instead")

	return check
}

// printPostQuantum writes key check --post-quantum: each list's keys and
// members, whether they are post-quantum, and a count per list.
func (e *env) printPostQuantum(cmd *cobra.Command, ap *app.App, list string) error {
	rs, err := ap.Admin.PostQuantum(cmd.Context(), list)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LIST\tHOLDER\tENGINE\tFINGERPRINT\tENCRYPTION")
	type count struct{ members, pq int }
	var order []string
	counts := map[string]*count{}
	for _, r := range rs {
		c := counts[r.List]
		if c == nil {
			c = &count{}
			counts[r.List] = c
			order = append(order, r.List)
		}
		word := "classical"
		switch {
		case r.PostQuantum:
			word = "post-quantum"
		case r.Fingerprint == "":
			word = "no copies"
		}
		if r.Holder != "list" {
			c.members++
			if r.PostQuantum {
				c.pq++
			}
		}
		engine, fpr := string(r.Engine), r.Fingerprint
		if fpr == "" {
			engine, fpr = "-", "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.List, r.Holder, engine, fpr, word)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, l := range order {
		c := counts[l]
		fmt.Fprintf(e.stdout, "%s: %d of %d members' copies are post-quantum\n", l, c.pq, c.members)
	}
	return nil
}
