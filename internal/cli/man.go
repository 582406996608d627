package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// manCmd writes the manual pages, one per command, from the same help
// text that --help prints: the Debian package installs them. It is
// hidden: an admin reads the pages, the packaging writes them.
func (e *env) manCmd() *cobra.Command {
	var date string
	c := &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the manual pages (man1) of every command into DIR",
		Hidden: true,
		Args:   args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			day := time.Now().UTC()
			if date != "" {
				var err error
				if day, err = time.Parse("2006-01-02", date); err != nil {
					return usagef("--date %q: want YYYY-MM-DD", date)
				}
			}
			n, err := writeManPages(cmd.Root(), a[0], day)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d manual pages in %s\n", n, a[0])
			return nil
		},
	}
	c.Flags().StringVar(&date, "date", "", "date in the pages' footers, YYYY-MM-DD (default today; set it for reproducible builds)")
	return c
}

// writeManPages writes root's page (sealpost.1) and one page per command
// below it (sealpost-list-create.1, ...), skipping hidden commands,
// cobra's own help command and its shell-completion scripts; it returns
// how many it wrote.
func writeManPages(root *cobra.Command, dir string, day time.Time) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if err := os.WriteFile(filepath.Join(dir, manName(c)+".1"), manPage(c, day), 0o644); err != nil {
			return err
		}
		n++
		for _, sub := range manCommands(c) {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return n, walk(root)
}

// manCommands are c's subcommands that get a page.
func manCommands(c *cobra.Command) []*cobra.Command {
	var subs []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Hidden || !sub.IsAvailableCommand() || (sub.Name() == "completion" && !c.HasParent()) {
			continue
		}
		subs = append(subs, sub)
	}
	return subs
}

// manName is the page's name: the command path joined with hyphens.
func manName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-")
}

// manPage renders one command's page in man(7) roff.
func manPage(c *cobra.Command, day time.Time) []byte {
	var b bytes.Buffer
	name := manName(c)
	fmt.Fprintf(&b, ".TH %s 1 %q \"Sealpost\" \"Sealpost Manual\"\n", roffText(strings.ToUpper(name)), day.Format("2006-01-02"))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roffText(name), roffText(c.Short))
	b.WriteString(".SH SYNOPSIS\n")
	if c.Runnable() {
		fmt.Fprintf(&b, ".B %s\n", roffText(c.UseLine()))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, ".B %s\n.I COMMAND\n", roffText(c.CommandPath()))
	}
	b.WriteString(".SH DESCRIPTION\n")
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	roffParagraphs(&b, desc)
	if len(manCommands(c)) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, sub := range manCommands(c) {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\nSee\n.BR %s (1).\n", roffText(sub.Name()), roffText(sub.Short), manName(sub))
		}
	}
	roffFlags(&b, "OPTIONS", c.NonInheritedFlags())
	roffFlags(&b, "GLOBAL OPTIONS", c.InheritedFlags())
	if c.HasExample() {
		b.WriteString(".SH EXAMPLES\n.nf\n")
		b.WriteString(roffText(c.Example))
		b.WriteString("\n.fi\n")
	}
	b.WriteString(".SH EXIT STATUS\n")
	roffParagraphs(&b, `0 done; 64 usage; 65 bad data or a policy rejection; 67 no such list; 75 a temporary failure (try again; an MTA does); 77 not permitted; 78 a configuration error.`)
	b.WriteString(".SH SEE ALSO\n")
	var see []string
	if p := c.Parent(); p != nil {
		see = append(see, ".BR "+manName(p)+" (1)")
	}
	see = append(see, "the README of the Sealpost sources, /usr/share/doc/sealpost/README.md.gz")
	b.WriteString(strings.Join(see, ",\n") + "\n")
	return b.Bytes()
}

// roffFlags renders a flag set as a tagged list under a section heading.
func roffFlags(b *bytes.Buffer, heading string, fs *pflag.FlagSet) {
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", heading)
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		tag := "\\-\\-" + roffText(f.Name)
		if f.Shorthand != "" {
			tag = "\\-" + roffText(f.Shorthand) + ", " + tag
		}
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" {
			tag += " " + roffText(varname)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(b, ".TP\n.B %s\n%s\n", tag, roffText(usage))
	})
}

// roffParagraphs renders help text: paragraphs separated by blank lines,
// and indented lines (tables, examples, configuration) kept as they are.
func roffParagraphs(b *bytes.Buffer, text string) {
	inPre := false
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		pre := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
		switch {
		case strings.TrimSpace(line) == "":
			if inPre {
				b.WriteString(".fi\n")
				inPre = false
			}
			b.WriteString(".PP\n")
			continue
		case pre && !inPre:
			b.WriteString(".nf\n")
			inPre = true
		case !pre && inPre:
			b.WriteString(".fi\n")
			inPre = false
		}
		b.WriteString(roffText(line) + "\n")
	}
	if inPre {
		b.WriteString(".fi\n")
	}
}

// roffText escapes text for roff: backslashes and hyphens, and a line
// that would start with a control character (. or ').
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
