package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/notices"
)

// TemplateInfo is one notice template of a list.
type TemplateInfo struct {
	Name   string
	Lang   string
	Custom bool // the list's own text replaces the shipped one
}

// Templates lists a list's notice templates in its language.
func (s *Service) Templates(ctx context.Context, list string) ([]TemplateInfo, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	lang := listLang(l.Settings.Language)
	var out []TemplateInfo
	for _, n := range notices.Names() {
		if !notices.Replaceable(n) {
			continue
		}
		_, custom := l.Settings.Templates[lang+"/"+n]
		out = append(out, TemplateInfo{Name: n, Lang: lang, Custom: custom})
	}
	return out, nil
}

// Template returns the text a list uses for a notice template in lang
// ("" for the list's language).
func (s *Service) Template(ctx context.Context, list, lang, name string) (string, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return "", err
	}
	if lang == "" {
		lang = listLang(l.Settings.Language)
	}
	text, err := notices.Set{Lang: lang, Overrides: l.Settings.Templates}.Text(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return text, nil
}

// SetTemplate gives a list its own text for a notice template. The text
// is rendered with example data first, as a list's and as a gateway's
// notice, so that a broken template is refused now and not when a notice
// is due.
func (s *Service) SetTemplate(ctx context.Context, list, lang, name, text string) error {
	if !notices.Replaceable(name) {
		return fmt.Errorf("%w: %s is Sealpost's own mail to the holder of an account, which no list's text replaces", ErrInvalid, name)
	}
	return s.changeTemplate(ctx, list, lang, name, "template.set", func(ts map[string]string, key string) error {
		for _, gateway := range []bool{false, true} {
			if err := notices.Check(text, notices.SampleFor(name, gateway)); err != nil {
				return fmt.Errorf("%w: %v (fields: %s)", ErrInvalid, err, fieldNames(name))
			}
		}
		ts[key] = text
		return nil
	})
}

// ResetTemplate goes back to the shipped text of a notice template.
func (s *Service) ResetTemplate(ctx context.Context, list, lang, name string) error {
	return s.changeTemplate(ctx, list, lang, name, "template.reset", func(ts map[string]string, key string) error {
		delete(ts, key)
		return nil
	})
}

// changeTemplate applies change (which may refuse) to the list's own templates under the key
// of a shipped template lang/name (lang "" for the list's language), and
// records it as action.
func (s *Service) changeTemplate(ctx context.Context, list, lang, name, action string, change func(ts map[string]string, key string) error) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	if lang == "" {
		lang = listLang(l.Settings.Language)
	}
	if _, err := notices.Shipped(lang, name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if l.Settings.Templates == nil {
		l.Settings.Templates = map[string]string{}
	}
	if err := change(l.Settings.Templates, lang+"/"+name); err != nil {
		return err
	}
	if err := s.st.UpdateList(ctx, l); err != nil {
		return err
	}
	return s.audit(ctx, action, l.Address, lang+"/"+name, "")
}

// TemplateFields names the fields a notice template may use.
func TemplateFields(name string) string { return fieldNames(name) }

func fieldNames(name string) string {
	var fs []string
	for k := range notices.Sample(name) {
		fs = append(fs, "{{."+k+"}}")
	}
	slices.Sort(fs)
	return strings.Join(fs, " ")
}

func listLang(l string) string {
	if l == "" {
		return notices.Languages[0]
	}
	return l
}
