package cli

import (
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
)

// PasswordEnv is the environment variable a new account's password may
// be given in.
const PasswordEnv = "SEALPOST_PASSWORD"

func (e *env) userCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "user",
		Short: "Manage the accounts of the web admin UI and the API: add, list, set, remove",
		Long: `Accounts sign in to the web admin UI and hold API tokens ('sealpost token').
An account is an admin or an owner:

  admin   manages every list and gateway, every account and the keyring
  owner   sees and changes only the lists whose owner address (the list
          option owner) is the account's email

The command line itself needs no account: whoever can read the data
directory may do everything.`,
	})
	c.AddCommand(creates(e.userAddCmd()), e.userListCmd(), e.userSetCmd(), e.userRemoveCmd())
	return c
}

func (e *env) userAddCmd() *cobra.Command {
	var role, passFile string
	c := &cobra.Command{
		Use:   "add EMAIL --role admin|owner [--password-file FILE]",
		Short: "Create an account for the web admin UI and the API",
		Long: `Create an account that signs in as EMAIL. --role says what it may do:

  admin   manages every list and gateway, every account and the keyring
  owner   sees and changes only the lists whose owner address (the list
          option owner, 'sealpost list set LIST owner=EMAIL') is EMAIL

The password is the first line of --password-file, else the value of
$` + PasswordEnv + `; with neither, Sealpost makes a random one and prints it
once. A password needs at least ` + strconv.Itoa(admin.MinPasswordLength) + ` characters. Only an argon2id hash of
it is stored: a lost password cannot be recovered, only replaced with
'sealpost user set EMAIL --password-file FILE'.`,
		Example: `  sealpost user add alice@example.org --role admin --password-file alice.pass
  sealpost user add bob@example.org --role owner`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if role == "" {
				return usagef("--role admin|owner is required")
			}
			password, err := passwordFrom(passFile, true)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				generated := password == ""
				if generated {
					if password, err = ap.Admin.NewPassword(); err != nil {
						return err
					}
				}
				acct, err := ap.Admin.AddUser(cmd.Context(), a[0], role, password)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Added %s %s\n", acct.Role, acct.Email)
				if generated {
					fmt.Fprintf(e.stdout, "Password: %s  (shown once; change it with 'sealpost user set %s --password-file FILE')\n", password, acct.Email)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&role, "role", "", "admin (everything) or owner (the lists whose owner is EMAIL)")
	c.Flags().StringVar(&passFile, "password-file", "", "read the password from this file (first line); else $"+PasswordEnv+", else a random one")
	return c
}

// passwordFrom reads the password of --password-file; else, when env
// is set, that of $SEALPOST_PASSWORD; else it returns "".
func passwordFrom(file string, env bool) (string, error) {
	if file != "" {
		if !fileExists(file) {
			return "", usagef("password file %s not found", file)
		}
		p, err := readSecretFile(file)
		return string(p), err
	}
	if env {
		return os.Getenv(PasswordEnv), nil
	}
	return "", nil
}

// userJSON is the --json form of `user list`.
type userJSON struct {
	Email     string     `json:"email"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	LastLogin *time.Time `json:"last_login"` // null: never signed in
}

func (e *env) userListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the accounts, their roles and when they last signed in",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				us, err := ap.Admin.Users(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]userJSON, 0, len(us))
					for _, u := range us {
						out = append(out, userJSON{Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt, LastLogin: timeOrNil(u.LastLogin)})
					}
					return writeJSON(e, out)
				}
				if len(us) == 0 {
					fmt.Fprintln(e.stdout, "No accounts (add one with 'sealpost user add EMAIL --role admin')")
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "EMAIL\tROLE\tCREATED\tLAST LOGIN")
				for _, u := range us {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Email, u.Role, u.CreatedAt.Format(time.DateTime), timeOr(u.LastLogin, "never"))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) userSetCmd() *cobra.Command {
	var role, passFile string
	var reset2FA bool
	c := &cobra.Command{
		Use:   "set EMAIL [--role admin|owner] [--password-file FILE] [--reset-2fa]",
		Short: "Change an account's role or password, or reset its two-factor sign-in",
		Long: `Change the role of the account EMAIL (--role admin or owner; see
'sealpost user add --help') or its password (the first line of
--password-file, at least ` + strconv.Itoa(admin.MinPasswordLength) + ` characters). A new password signs the
account out everywhere: its web sessions end. Its API tokens stay valid;
revoke them with 'sealpost token revoke'.

--reset-2fa turns the account's two-factor sign-in off, for someone who
lost their phone and their recovery codes; its sessions end. Where
[http] require_2fa applies to the account, it sets up a new phone at its
next sign-in.`,
		Example: `  sealpost user set bob@example.org --role admin
  sealpost user set bob@example.org --password-file bob.pass
  sealpost user set bob@example.org --reset-2fa`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if role == "" && passFile == "" && !reset2FA {
				return usagef("nothing to change: give --role ROLE, --password-file FILE or --reset-2fa")
			}
			password, err := passwordFrom(passFile, false)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.SetUser(cmd.Context(), a[0], role, password); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Updated %s\n", a[0])
				if role != "" {
					fmt.Fprintf(e.stdout, "  role: %s\n", role)
				}
				if password != "" {
					fmt.Fprintln(e.stdout, "  password: changed; the account's sessions have ended")
				}
				if reset2FA {
					if err := ap.Admin.DisableTOTP(cmd.Context(), a[0], ""); err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, "  two-factor sign-in: off; the account's sessions have ended")
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&role, "role", "", "the new role: admin or owner")
	c.Flags().StringVar(&passFile, "password-file", "", "read the new password from this file (first line)")
	c.Flags().BoolVar(&reset2FA, "reset-2fa", false, "turn the account's two-factor sign-in off (a lost phone)")
	return c
}

func (e *env) userRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Delete an account with its API tokens and sessions",
		Long: `Delete the account EMAIL. Its API tokens stop working and its web
sessions end at once. The lists it owned are untouched.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RemoveUser(cmd.Context(), a[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed account %s with its API tokens and sessions\n", a[0])
				return nil
			})
		},
	}
}

func (e *env) tokenCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "token",
		Short: "Manage API tokens: create, list, revoke",
		Long: `An API token lets a program call the HTTP API as an account ('sealpost
user'), with the account's rights, or only on one list. The program
sends it in every request:

  Authorization: Bearer TOKEN

Only a hash of the token is stored: it is shown once, when created.`,
	})
	c.AddCommand(e.tokenCreateCmd(), e.tokenListCmd(), e.tokenRevokeCmd())
	return c
}

func (e *env) tokenCreateCmd() *cobra.Command {
	var name, list string
	c := &cobra.Command{
		Use:   "create EMAIL --name NAME [--list LIST]",
		Short: "Create an API token for an account and print it once",
		Long: `Create an API token that acts as the account EMAIL. --name says what it is
for (a script, a host), so that you know which one to revoke. With
--list the token may act on that one list only, which the account must
be able to manage; without it, on everything the account may.

The token is printed once; only its hash is stored. A program sends it
in every request as the HTTP header 'Authorization: Bearer TOKEN'.`,
		Example: `  sealpost token create alice@example.org --name backup-script
  sealpost token create bob@example.org --name ci --list team@lists.example.org`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if name == "" {
				return usagef("--name NAME is required: say what the token is for")
			}
			return e.withApp(cmd, func(ap *app.App) error {
				secret, t, err := ap.Admin.CreateToken(cmd.Context(), a[0], name, list)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Created token %d %q for %s, acting on %s\n", t.ID, t.Name, a[0], tokenScope(t.List))
				fmt.Fprintf(e.stdout, "Token: %s  (shown once; only its hash is kept)\n", secret)
				fmt.Fprintf(e.stdout, "Send it in every API request as the header:\n  Authorization: Bearer %s\n", secret)
				return nil
			})
		},
	}
	c.Flags().StringVar(&name, "name", "", "what the token is for (required)")
	c.Flags().StringVar(&list, "list", "", "limit the token to this one list")
	return c
}

func tokenScope(list string) string {
	if list == "" {
		return "all of the account's lists"
	}
	return list
}

// tokenJSON is the --json form of `token list`.
type tokenJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	List      string     `json:"list"` // "": all of the account's lists
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used"` // null: never used
}

func (e *env) tokenListCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list EMAIL [--json]",
		Short: "List an account's API tokens (never their secrets)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				ts, err := ap.Admin.Tokens(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]tokenJSON, 0, len(ts))
					for _, t := range ts {
						out = append(out, tokenJSON{ID: t.ID, Name: t.Name, List: t.List, CreatedAt: t.CreatedAt, LastUsed: timeOrNil(t.LastUsed)})
					}
					return writeJSON(e, out)
				}
				if len(ts) == 0 {
					fmt.Fprintf(e.stdout, "%s has no API tokens\n", a[0])
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tLIST\tCREATED\tLAST USED")
				for _, t := range ts {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Name, tokenScope(t.List), t.CreatedAt.Format(time.DateTime), timeOr(t.LastUsed, "never"))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke EMAIL ID",
		Short: "Revoke one of an account's API tokens",
		Long: `Delete the API token ID of the account EMAIL ('sealpost token list EMAIL'
shows the IDs). A program that still sends it is refused from now on.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := idArg(a[1], "token", "sealpost token list EMAIL")
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RevokeToken(cmd.Context(), a[0], id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Revoked token %d of %s\n", id, a[0])
				return nil
			})
		},
	}
}

// idArg parses the positive ID of a what; see names the command that
// lists them.
func idArg(s, what, see string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a %s ID (see %s)", s, what, see)
	}
	return id, nil
}

// timeOr formats t, or returns none when t is zero.
func timeOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Format(time.DateTime)
}

// timeOrNil returns &t, or nil when t is zero.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
