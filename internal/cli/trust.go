package cli

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/smime"
)

// listTrustCmd manages a list's own S/MIME trust anchors.
func (e *env) listTrustCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "trust",
		Short: "Manage the certification authorities a list trusts for S/MIME",
		Long: `A member's S/MIME certificate that is not pinned is accepted when it chains
to a trusted certification authority, carries the email-protection usage,
names the From address and is not revoked; the list then keeps it. The
authorities are those in [smime] trust_anchors of the configuration, for
every list, plus each list's own, managed here (Sympa's cafile).`,
	})
	c.AddCommand(&cobra.Command{
		Use:   "add LIST FILE",
		Short: "Trust the CA certificate(s) in FILE (PEM or DER) for LIST",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withFile(cmd, a[1], func(ap *app.App, data []byte) error {
				certs, err := ap.Admin.AddTrustAnchors(cmd.Context(), a[0], data)
				if err != nil {
					return err
				}
				for _, c := range certs {
					fmt.Fprintf(e.stdout, "Trusted %s (%s) for %s\n", c.Subject, smime.Fingerprint(c), a[0])
				}
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "list LIST",
		Short: "Show the list's own trust anchors",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				certs, err := ap.Admin.TrustAnchors(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "FINGERPRINT\tSUBJECT\tEXPIRES")
				for _, c := range certs {
					fmt.Fprintf(w, "%s\t%s\t%s\n", smime.Fingerprint(c), c.Subject, c.NotAfter.Format(time.DateOnly))
				}
				return w.Flush()
			})
		},
	}, &cobra.Command{
		Use:   "remove LIST FINGERPRINT",
		Short: "Stop trusting one of the list's own trust anchors",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RemoveTrustAnchor(cmd.Context(), a[0], a[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed trust anchor %s from %s\n", a[1], a[0])
				return nil
			})
		},
	})
	return c
}

// withFile reads the file at path (a usage error when it cannot) and runs
// fn with the application and its contents.
func (e *env) withFile(cmd *cobra.Command, path string, fn func(ap *app.App, data []byte) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usagef("%v", err)
	}
	return e.withApp(cmd, func(ap *app.App) error { return fn(ap, data) })
}
