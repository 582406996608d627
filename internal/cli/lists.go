package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
)

func (e *env) listCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "Create, inspect, configure and delete lists",
	}
	groupCommand(c)
	c.AddCommand(e.listCreateCmd(), e.listShowCmd(), e.listSetCmd(), e.listKeyCmd(), e.listDeleteCmd())
	return c
}

func (e *env) listCreateCmd() *cobra.Command {
	var owner, name, algo string
	c := &cobra.Command{
		Use:   "create ADDRESS",
		Short: "Create a list with its own newly generated OpenPGP key",
		Long: `Create a list at ADDRESS and generate its OpenPGP key (v4, so GnuPG 2.2 and
every current mail client can use it). The list also answers to
ADDRESS-request, ADDRESS-owner and ADDRESS-bounce.

Give members the list's public key ('sealpost list key ADDRESS'); posts
must be encrypted to it and signed with the member's own key.`,
		Example: `  sealpost list create team@lists.example.org --owner alice@example.org`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			alg, err := pgp.ParseAlgorithm(algo)
			if err != nil {
				return usageError{err}
			}
			return e.withApp(cmd, func(ap *app.App) error {
				l, err := ap.Admin.CreateList(cmd.Context(), a[0], owner, name, alg)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Created list %s\n  key:   %s (%s)\n", l.Address, l.KeyFingerprint, alg)
				if l.Owner != "" {
					fmt.Fprintf(e.stdout, "  owner: %s\n", l.Owner)
				}
				fmt.Fprintf(e.stdout, "Next: sealpost member add %s EMAIL --key FILE\n", l.Address)
				return nil
			})
		},
	}
	c.Flags().StringVar(&owner, "owner", "", "address that receives the list's notices")
	c.Flags().StringVar(&name, "name", "", "display name of the list (default: the address)")
	c.Flags().StringVar(&algo, "key-algo", "ed25519", "list key algorithm: ed25519, rsa3072 or rsa4096")
	return c
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
				for _, r := range []mail.Role{mail.RolePost, mail.RoleRequest, mail.RoleOwner, mail.RoleBounce} {
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
	var help strings.Builder
	for _, o := range admin.ListOptions() {
		fmt.Fprintf(&help, "  %-16s %s\n", o.Name, o.Help)
	}
	return &cobra.Command{
		Use:     "set ADDRESS OPTION=VALUE...",
		Short:   "Change list options",
		Long:    "Change one or more list options. Options:\n\n" + help.String(),
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

func (e *env) listKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key ADDRESS",
		Short: "Print the list's public key, armored, for members to encrypt to",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				k, err := ap.Admin.ListKey(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(k)
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
