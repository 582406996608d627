//go:build unix

package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
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

// screenshot saves what the window shows (1280×860) as DIR/name.png when
// screenshots are asked for.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if b.shot == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
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

// TestAdminUIInBrowser drives the admin UI as a person would: sign in,
// create a list, add a member by uploading their key file and see its
// badge, set the list to hold posts by strangers, read one that arrived
// over SMTP and release it from there, and find it all in the audit log. The released post
// reaches the member encrypted to their key.
func TestAdminUIInBrowser(t *testing.T) {
	const (
		list     = "team@lists.example.org"
		password = "a browser test password"
	)
	data := t.TempDir()
	pw := writeFile(t, data, "admin.pw", []byte(password+"\n"))
	sealpost(t, data, nil, "user", "add", "admin@example.org", "--role", "admin", "--password-file", pw).want(t, exitOK)
	// Something to look at besides what the test makes in the browser.
	sealpost(t, data, nil, "list", "create", "board@lists.example.org", "--name", "Board", "--owner", "alice@example.org").want(t, exitOK)
	sealpost(t, data, nil, "gateway", "create", "support@example.org", "--name", "Support", "--deliver-to", filepath.Join(data, "helpdesk")).want(t, exitOK)
	srv := startServe(t, data, "--http", "127.0.0.1:0")
	b := newBrowser(t, srv.httpAddr(t))

	b.open("/")
	b.do("the sign-in page", chromedp.WaitVisible(`#password`))
	b.screenshot("login")
	b.do("sign in", chromedp.SendKeys(`#email`, "admin@example.org"), chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form[action="/login"] button[type=submit]`), chromedp.WaitReady(`main.main`))

	b.open("/lists/new")
	b.do("create a list", chromedp.SendKeys(`#address`, list), chromedp.SendKeys(`#name`, "Team"),
		chromedp.SendKeys(`#owner`, "owner@example.org"),
		chromedp.Click(`form[action="/lists"] button[type=submit]`), chromedp.WaitVisible(`#member-email`))

	dave, err := pgp.GenerateKey("Dave", "dave@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, data, "dave.asc", dave.Armored())
	b.do("add a member by uploading a key file", chromedp.SendKeys(`#member-email`, "dave@example.org"),
		chromedp.SetUploadFiles(`#member-key`, []string{keyFile}),
		chromedp.Click(`form[action$="/members"] button[type=submit]`),
		chromedp.WaitVisible(`tr[data-member="dave@example.org"] [data-badge="valid"]`))
	if got := b.text(`tr[data-member="dave@example.org"] [data-badge]`); got != "valid" {
		t.Errorf("dave's badge says %q", got)
	}

	for _, name := range []string{"Carol", "Frank"} {
		addr := strings.ToLower(name) + "@example.org"
		k, err := pgp.GenerateKey(name, addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sealpost(t, data, nil, "member", "add", list, addr, "--key", writeFile(t, data, name+".asc", k.Armored())).want(t, exitOK)
	}
	b.do("hold posts by strangers", chromedp.SetValue(`#opt-on_unknown_signer`, "hold"),
		// The page before the click is ready too (and may show another
		// flash): wait for this save's own message.
		chromedp.Click(`form.options-form button[type=submit]`),
		chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "Saved on_unknown_signer")]`))
	if got := showList(t, data, list).Options["on_unknown_signer"]; got != "hold" {
		t.Fatalf("on_unknown_signer after saving the form: %q", got)
	}
	// A setting through its checkbox: on, then off again (the browser
	// sends only the hidden field then, which says false).
	for _, want := range []string{"true", "false"} {
		// The last save's message says the same: it goes first, so that
		// the wait is for this save's page.
		b.do("toggle smime_opaque", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".flash-ok").forEach(e => e.remove())`),
			chromedp.Click(`#opt-smime_opaque`), chromedp.Click(`form.options-form button[type=submit]`),
			chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "Saved smime_opaque")]`))
		if got := showList(t, data, list).Options["smime_opaque"]; got != want {
			t.Errorf("smime_opaque after the checkbox: %q, want %q", got, want)
		}
	}
	// A member's delivery, from their row.
	b.do("turn carol's delivery off", chromedp.Click(`tr[data-member="carol@example.org"] form[data-setting="delivery"] button`),
		chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "carol@example.org: delivery off")]`))
	var members []struct{ Email, Delivery string }
	if err := json.Unmarshal([]byte(sealpost(t, data, nil, "member", "list", list, "--json").want(t, exitOK).stdout), &members); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.Email == "carol@example.org" && !strings.HasPrefix(m.Delivery, "off") {
			t.Errorf("carol's delivery after the row's button: %q", m.Delivery)
		}
	}
	b.open("/lists/" + list)
	b.screenshot("list")

	listKey, err := pgp.ParseKey([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	if err != nil {
		t.Fatal(err)
	}
	erin, err := pgp.GenerateKey("Erin", "erin@example.net", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sendPost(t, srv.addr, "erin@example.net", list, signedPost(t, erin, listKey, list, "canary-browser-hold"))

	b.open("/")
	b.screenshot("dashboard")
	b.open("/lists/" + list + "/holds")
	b.do("see the held post", chromedp.WaitVisible(`tr[data-hold]`))
	b.screenshot("holds")
	b.do("read it", chromedp.Click(`tr[data-hold] a[href*="/holds/"]`), chromedp.WaitVisible(`pre.hold-text`))
	if got := b.text(`pre.hold-text`); !strings.Contains(got, "canary-browser-hold") {
		t.Errorf("the read page shows %q, not the held text", got)
	}
	if got := b.text(`.hold-signature`); !strings.Contains(got, "no member's") {
		t.Errorf("the read page says of erin's signature: %q", got)
	}
	b.screenshot("hold")
	b.do("release it from there", chromedp.Click(`.hold-actions button[value=release]`), chromedp.WaitReady(`main.main`),
		chromedp.WaitVisible(`.page-head`), chromedp.WaitNotPresent(`tr[data-hold]`))

	// Dave's outbox holds his welcome too: the copy is the one that
	// opens to the post.
	released := false
	var lastErr error
	eventually(30*time.Second, func() bool {
		for _, f := range readOutbox(t, data) {
			if f.deliveredTo != "dave@example.org" {
				continue
			}
			msg, err := mime.Parse(f.raw, mime.Limits{})
			if err != nil {
				lastErr = err
				continue
			}
			u, err := pgp.Unwrap(msg, dave, []*pgp.Key{listKey}, pgp.Options{})
			if err == nil && strings.Contains(string(u.Content), "canary-browser-hold") {
				released = true
				return true
			}
			lastErr = err
		}
		return false
	})
	if !released {
		t.Errorf("the released post did not reach dave (last message: %v)", lastErr)
	}

	b.open("/keys/" + dave.Fingerprint())
	b.do("the key page", chromedp.WaitVisible(`main.main`))
	var shown string
	if !eventually(10*time.Second, func() bool {
		shown = strings.ReplaceAll(b.text(`main.main`), " ", "")
		return strings.Contains(shown, dave.Fingerprint())
	}) {
		t.Errorf("the key page does not show the fingerprint %s:\n%.1500s", dave.Fingerprint(), shown)
	}
	b.screenshot("key")
	b.open("/queue")
	b.screenshot("queue")
	b.open("/audit")
	audit := b.text(`main.main`)
	for _, want := range []string{"list.create", "member.add", "list.set", "hold.read", "hold.release", "admin@example.org"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit page lacks %q", want)
		}
	}
	b.screenshot("audit")
}
