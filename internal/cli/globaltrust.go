package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
)

// trustCmd manages the certification authorities every list trusts
// (beside [smime] trust_anchors): what the keys page and the API's
// /trust-anchors do.
func (e *env) trustCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "trust",
		Short: "Manage the certification authorities every list trusts for S/MIME",
		Long: `Every list trusts the certification authorities of [smime] trust_anchors in
the configuration and those added here (or on the keys page, or through
the API's /trust-anchors); each list may add its own ('sealpost list
trust'). A member's certificate that chains to one of them, carries the
email-protection usage, names their address and is not revoked is taken.`,
	})
	c.AddCommand(&cobra.Command{
		Use:   "add FILE",
		Short: "Trust the CA certificate(s) in FILE (PEM or DER) for every list",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withFile(cmd, a[0], func(ap *app.App, data []byte) error {
				as, err := ap.Admin.AddGlobalTrustAnchors(cmd.Context(), data)
				if err != nil {
					return err
				}
				for _, t := range as {
					fmt.Fprintf(e.stdout, "Trusted %s (%s) for every list\n", t.Subject, t.Fingerprint)
				}
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "Show the trust anchors of every list: the configuration's and those added",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				as, err := ap.Admin.GlobalTrustAnchors(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "FINGERPRINT\tSUBJECT\tEXPIRES\tFROM")
				for _, t := range as {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Fingerprint, t.Subject, t.Cert.NotAfter.Format(time.DateOnly), t.Source)
				}
				return w.Flush()
			})
		},
	}, &cobra.Command{
		Use:   "remove FINGERPRINT",
		Short: "Stop trusting an added trust anchor (the configuration's stay)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				if err := ap.Admin.RemoveGlobalTrustAnchor(cmd.Context(), a[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed trust anchor %s\n", a[0])
				return nil
			})
		},
	})
	return c
}

// crlCmd loads and lists certificate revocation lists: what the keys
// page and the API's /crls do.
func (e *env) crlCmd() *cobra.Command {
	c := groupCommand(&cobra.Command{
		Use:   "crl",
		Short: "Load and list certificate revocation lists for S/MIME",
		Long: `A CRL revokes the certificates it names, for every list, once Sealpost can
verify it: its issuer must be a trust anchor (of the configuration, added
with 'sealpost trust add', or a list's own) or a CRL issuer of [smime]
crls. One per issuer is kept, the newest. Those of [smime] crls are
listed too.`,
	})
	c.AddCommand(&cobra.Command{
		Use:   "add FILE",
		Short: "Load the CRL(s) in FILE (PEM or DER)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withFile(cmd, a[0], func(ap *app.App, data []byte) error {
				cs, err := ap.Admin.AddCRLs(cmd.Context(), data)
				if err != nil {
					return err
				}
				for _, c := range cs {
					fmt.Fprintf(e.stdout, "Loaded the CRL of %s (%d revoked, issued %s)\n", c.Issuer, c.Entries, c.ThisUpdate)
				}
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "Show the CRLs loaded",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ap *app.App) error {
				cs, err := ap.Admin.CRLs(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "ISSUER\tISSUED\tNEXT UPDATE\tREVOKED\tFROM")
				for _, c := range cs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", c.Issuer, c.ThisUpdate, orNone(c.NextUpdate), c.Entries, c.Source)
				}
				return w.Flush()
			})
		},
	})
	return c
}
