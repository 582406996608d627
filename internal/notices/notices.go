// Package notices renders the messages Sealpost writes to people —
// notices to owners and members, challenges, replies — from templates.
// English and German ones are shipped; a list may replace any of them
// with its own text. It does no I/O beyond its embedded files.
package notices

import (
	"embed"
	"fmt"
	stdmime "mime"
	"path"
	"slices"
	"strings"
	"text/template"
)

//go:embed templates
var files embed.FS

// Languages are the languages templates are shipped in; the first is the
// default.
var Languages = []string{"en", "de"}

// Names returns the names of the templates, sorted.
func Names() []string {
	entries, err := files.ReadDir("templates/en")
	if err != nil {
		panic("notices: " + err.Error())
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".txt"))
	}
	slices.Sort(out)
	return out
}

// installationTexts are the templates of Sealpost's own mail to the
// holders of accounts (a password reset link), which no list's text
// replaces: a list owner must not write what an account's holder is sent.
var installationTexts = []string{"password-reset"}

// Replaceable reports whether a list may replace template name with its
// own text.
func Replaceable(name string) bool { return !slices.Contains(installationTexts, name) }

// Shipped returns the text of a template as Sealpost ships it.
func Shipped(lang, name string) (string, error) {
	if !slices.Contains(Languages, lang) {
		return "", fmt.Errorf("no templates in language %q (there are %s)", lang, strings.Join(Languages, ", "))
	}
	b, err := files.ReadFile(path.Join("templates", lang, name+".txt"))
	if err != nil {
		return "", fmt.Errorf("no template %q (see the names with: sealpost list template LIST)", name)
	}
	return string(b), nil
}

// Set is the templates one list uses: its language and its own texts,
// keyed "LANG/NAME", which replace the shipped ones.
type Set struct {
	Lang      string
	Overrides map[string]string
}

// Text returns the template text the set uses for name.
func (s Set) Text(name string) (string, error) {
	lang := s.Lang
	if lang == "" {
		lang = Languages[0]
	}
	if t, ok := s.Overrides[lang+"/"+name]; ok {
		return t, nil
	}
	return Shipped(lang, name)
}

// Render renders template name with data: the Subject (RFC 2047-encoded
// when it is not ASCII) and the body, with CRLF line endings.
func (s Set) Render(name string, data any) (subject, body string, err error) {
	text, err := s.Text(name)
	if err != nil {
		return "", "", err
	}
	return Render(text, data)
}

// Render renders a template text: its first line is "Subject: ...", then
// an empty line, then the body.
func Render(text string, data any) (subject, body string, err error) {
	t, err := template.New("notice").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", "", fmt.Errorf("notice template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", "", fmt.Errorf("notice template: %w", err)
	}
	out := strings.ReplaceAll(b.String(), "\r\n", "\n")
	first, rest, _ := strings.Cut(out, "\n")
	subject, ok := strings.CutPrefix(first, "Subject:")
	if !ok {
		return "", "", fmt.Errorf("notice template: the first line must be \"Subject: ...\"")
	}
	subject = strings.TrimSpace(subject)
	if !isASCII(subject) {
		subject = stdmime.QEncoding.Encode("utf-8", subject)
	}
	body = strings.ReplaceAll(strings.TrimLeft(rest, "\n"), "\n", "\r\n")
	return subject, body, nil
}

// Check parses a template text and renders it with data, so that a list
// cannot save a template that fails when a notice is due.
func Check(text string, data any) error {
	_, _, err := Render(text, data)
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
