package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

func (e *env) listRotateKeyCmd() *cobra.Command {
	var algo string
	var graceDays int
	c := &cobra.Command{
		Use:   "rotate-key LIST [--key-algo ALGO] [--grace-days N]",
		Short: "Give a list a new OpenPGP key and announce it to the members",
		Long: `Generate a new OpenPGP key for LIST and make it the list's key. Every
member with a usable key is sent the new key, encrypted, in a message
signed by both the old and the new key, so that they can see the new key
comes from the list they know. The announcements are queued in the same
transaction that switches the key; 'sealpost serve' delivers them.

Posts encrypted to the old key are still accepted for N days (default
30); after that only the new key decrypts. Members without a usable key
are listed: they must get the new key from the owner.`,
		Example: `  sealpost list rotate-key team@lists.example.org
  sealpost list rotate-key team@lists.example.org --key-algo rsa4096 --grace-days 60
  sealpost list rotate-key team@lists.example.org --key-algo pq`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			alg, err := pgp.ParseAlgorithm(algo)
			if err != nil {
				return usageError{err}
			}
			if graceDays < 0 {
				return usagef("--grace-days must not be negative")
			}
			return e.withApp(cmd, func(ap *app.App) error {
				r, err := ap.Admin.RotateListKey(cmd.Context(), a[0], alg, time.Duration(graceDays)*24*time.Hour)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "New key of %s: %s (%s)\n", a[0], crypto.FormatFingerprint(r.New.Fingerprint), r.New.Algorithm)
				fmt.Fprintf(e.stdout, "Old key %s decrypts until %s\n", crypto.FormatFingerprint(r.Old.Fingerprint), r.DecryptUntil.UTC().Format(time.DateOnly))
				fmt.Fprintf(e.stdout, "Announcement queued for %d members\n", r.Announced)
				for _, m := range r.Unreachable {
					fmt.Fprintf(e.stdout, "  not told (no usable key): %s\n", m)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&algo, "key-algo", "ed25519", "new key algorithm: "+pgp.AlgorithmHelp)
	c.Flags().IntVar(&graceDays, "grace-days", int(admin.DefaultGrace/(24*time.Hour)), "days the old key keeps decrypting posts")
	return c
}
