package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
)

// maxTemplateFile bounds a notice template read from a file.
const maxTemplateFile = 64 << 10

func (e *env) listTemplateCmd() *cobra.Command {
	var lang string
	c := &cobra.Command{
		Use:   "template LIST [show|set|reset NAME]",
		Short: "Show or change the texts of a list's notices",
		Long: `Sealpost's notices (to owners, to members, challenges, replies) are
templates, shipped in English and German (list set LIST language=de). A
list may replace any of them with its own text.

  template LIST                       the templates, and which are the list's own
  template LIST show NAME             the text in use
  template LIST set NAME --file FILE  the list's own text ('-' reads standard input)
  template LIST reset NAME            back to the shipped text

A template's first line is "Subject: ...", then an empty line, then the
body; {{.List}} and the other fields (show names them) are filled in. A
text that does not render is refused. --lang picks the language (default:
the list's).`,
		Example: `  sealpost list template team@lists.example.org show member-missed > missed.txt
  sealpost list template team@lists.example.org set member-missed --file missed.txt
  sealpost list template team@lists.example.org show key-challenge --lang de`,
		Args: args(func(cmd *cobra.Command, a []string) error {
			switch {
			case len(a) == 1:
				return nil
			case len(a) == 3 && (a[1] == "show" || a[1] == "set" || a[1] == "reset"):
				return nil
			}
			return fmt.Errorf("want LIST, or LIST show|set|reset NAME")
		}),
		RunE: func(cmd *cobra.Command, a []string) error {
			file, _ := cmd.Flags().GetString("file")
			if len(a) == 3 && a[1] == "set" && file == "" {
				return usagef("set needs --file FILE")
			}
			var text []byte
			if len(a) == 3 && a[1] == "set" {
				var err error
				if text, err = e.readFile(file, maxTemplateFile); err != nil {
					return err
				}
			}
			return e.withApp(cmd, func(ap *app.App) error {
				ctx := cmd.Context()
				if len(a) == 1 {
					ts, err := ap.Admin.Templates(ctx, a[0])
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
					fmt.Fprintln(w, "NAME\tLANGUAGE\tTEXT")
					for _, t := range ts {
						which := "shipped"
						if t.Custom {
							which = "the list's own"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.Lang, which)
					}
					return w.Flush()
				}
				switch a[1] {
				case "show":
					t, err := ap.Admin.Template(ctx, a[0], lang, a[2])
					if err != nil {
						return err
					}
					fmt.Fprint(e.stdout, t)
					fmt.Fprintf(e.stderr, "fields: %s\n", admin.TemplateFields(a[2]))
				case "set":
					if err := ap.Admin.SetTemplate(ctx, a[0], lang, a[2], string(text)); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s now uses its own %s\n", a[0], a[2])
				case "reset":
					if err := ap.Admin.ResetTemplate(ctx, a[0], lang, a[2]); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s uses the shipped %s again\n", a[0], a[2])
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&lang, "lang", "", "language of the template (default: the list's)")
	c.Flags().String("file", "", "file with the template text, for set ('-' for standard input)")
	return c
}
