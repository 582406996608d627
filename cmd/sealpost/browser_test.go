//go:build unix

package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin UI in headless Chromium (DESIGN §7), driven by chromedp.
// The tests skip when no Chromium is installed, unless REQUIRE_INTEROP=1
// (.ci/run installs Debian's chromium and sets it).
//
// With SEALPOST_SCREENSHOTS=DIR they save screenshots of the main pages
// in DIR (the README's come from `SEALPOST_SCREENSHOTS=docs/screenshots`).

// chromiumPath finds the browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_INTEROP") == "1" {
		t.Fatal("no chromium found, and REQUIRE_INTEROP=1 (apt-get install -y chromium)")
	}
	t.Skip("no chromium found; install Debian's chromium to run the browser tests")
	return ""
}

// browser is one headless Chromium tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the admin UI's URL
	shot string // where screenshots go, or ""
}

// newBrowser starts headless Chromium for the UI at base. Every action
// is bounded by the test's own timeout.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("window-size", "1280,860"),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, base: base, shot: os.Getenv("SEALPOST_SCREENSHOTS")}
}

// do runs steps, failing the test with what was asked on an error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text("body"))
		b.t.Fatalf("browser: %s: %v\nat %s:\n%.2000s", what, err, loc, body)
	}
}

// open navigates to a path of the UI and waits for its main content.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady("main"))
}

// text returns the visible text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// screenshot saves the page as DIR/name.png when screenshots are asked for.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shot, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

var httpLine = regexp.MustCompile(`msg="sealpost serving" .*http=(\S+)`)

// httpAddr is the admin UI's address from the serve log.
func (s *server) httpAddr(t *testing.T) string {
	t.Helper()
	m := httpLine.FindStringSubmatch(s.output.String())
	if m == nil || strings.Trim(m[1], `"`) == "" {
		t.Fatalf("no http listener in the log:\n%s", s.output.String())
	}
	return "http://" + strings.Trim(m[1], `"`)
}
