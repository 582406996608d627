package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	stdmime "mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageTemplate is one page: its file with the shared layout.
type pageTemplate struct {
	t *template.Template
	// bare pages (sign-in, self-service) have no navigation.
	bare bool
}

// barePages are shown without the navigation, to people not signed in.
var barePages = map[string]bool{"login": true, "login-code": true, "self-service": true, "subscribe": true,
	"login-reset": true, "login-reset-set": true}

// parsePages parses every page with the layout. A template that does not
// parse is a bug of this package: it panics.
func parsePages(funcs template.FuncMap) map[string]pageTemplate {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]pageTemplate{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
		pages[name] = pageTemplate{t: t, bare: barePages[name]}
	}
	return pages
}

// view is what every page's template gets.
type view struct {
	Title   string
	Section string // the navigation item to mark
	Me      *admin.Actor
	CSRF    string
	Flash   *flash
	Form    url.Values // the values of a refused form, shown again
	Bare    bool
	Data    any
}

// render writes the page name with data.
func (q *request) render(name, title, section string, data any) error {
	p, ok := q.s.pages[name]
	if !ok {
		return fmt.Errorf("web: no page template %q", name)
	}
	halfway := q.id != nil && q.id.Session != nil && q.id.Session.Stage != "" // signing in: the pages it leads to are not open yet
	v := view{Title: title, Section: section, Form: q.form, Data: data, Bare: p.bare || q.id == nil || halfway, Flash: q.flash}
	if v.Form == nil {
		v.Form = url.Values{}
	}
	if q.id != nil {
		a := q.id.Actor
		v.Me, v.CSRF = &a, q.id.CSRF()
	}
	if f := takeFlash(q.w, q.r); v.Flash == nil {
		v.Flash = f
	}
	var b bytes.Buffer
	if err := p.t.ExecuteTemplate(&b, "layout", v); err != nil {
		return fmt.Errorf("web: page %s: %w", name, err)
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if q.status != 0 {
		q.w.WriteHeader(q.status)
	}
	_, err := q.w.Write(b.Bytes())
	return err
}

// timeLayout is how pages show a moment: in UTC, to the minute.
const timeLayout = "2006-01-02 15:04 UTC"

// funcs are the template functions; asset names the static files'
// versioned paths.
func funcs(assets map[string]asset) template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format(timeLayout)
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format(time.DateOnly)
		},
		"fpr":      crypto.FormatFingerprint,
		"shortfpr": shortFingerprint,
		"pathesc":  url.PathEscape,
		"listpath": func(list string, rest ...string) string { return listPath(list, rest...) },
		"keypath":  func(fpr string) string { return "/keys/" + url.PathEscape(fpr) },
		"size":     humanSize,
		"join":     strings.Join,
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"icon":  icon,
		"logo":  func() template.HTML { return logo },
		"badge": badgeHTML,
		"asset": func(name string) string {
			return "/static/" + name + "?v=" + assets[name].version
		},
	}
}

// shortFingerprint is the last 16 hex digits of a fingerprint (the key
// ID), grouped, for tables; the full one is a click away.
func shortFingerprint(fpr string) string {
	if len(fpr) > 16 {
		fpr = fpr[len(fpr)-16:]
	}
	return crypto.FormatFingerprint(fpr)
}

// humanSize writes a byte count for people.
func humanSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

// flash is a one-shot message shown on the next page.
type flash struct {
	Error bool
	Text  string
}

const flashCookie = "sealpost_flash"

// setFlash keeps f for the next page, in a short-lived cookie that no
// script reads and no other site's request carries.
func setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	kind := "ok"
	if f.Error {
		kind = "error"
	}
	text := f.Text
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: kind + "." + base64.RawURLEncoding.EncodeToString([]byte(text)),
		Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// takeFlash returns the message kept for this page, if any, and forgets it.
func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil})
	kind, enc, _ := strings.Cut(c.Value, ".")
	text, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(text) == 0 {
		return nil
	}
	return &flash{Error: kind == "error", Text: string(text)}
}

// asset is an embedded static file.
type asset struct {
	data    []byte
	version string // the start of its SHA-256, for cache busting
}

// assets are the embedded static files by name, read once.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(staticFS, "static/"+e.Name())
		if err != nil {
			panic(err)
		}
		h := sha256.Sum256(data)
		out[e.Name()] = asset{data: data, version: hex.EncodeToString(h[:6])}
	}
	return out
}

// static serves an embedded file.
func (s *server) static(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct := stdmime.TypeByExtension(path.Ext(r.PathValue("name")))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+a.version+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// attachment is a Content-Disposition for a file to save.
func attachment(filename string) string {
	return stdmime.FormatMediaType("attachment", map[string]string{"filename": filename})
}
