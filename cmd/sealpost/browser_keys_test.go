//go:build unix

package main_test

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestKeysPageInBrowser: an admin imports, on the keys page, a PKCS#12
// file made by `openssl pkcs12 -export`, giving its password, and finds
// the certificate in the keyring's listing; trusts its CA for every
// list; the certificate's page then shows the chain to it, subjects by
// attribute name, and the address once. With SEALPOST_SCREENSHOTS it saves
// the keys page and the certificate's page.
func TestKeysPageInBrowser(t *testing.T) {
	const password = "a browser test password"
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("carol@example.org", openssltest.RSA2048, openssltest.LeafOptions{CommonName: "Carol Example"})
	data := t.TempDir()
	p12 := writeFile(t, data, "carol.p12", o.PKCS12(leaf.Cert, leaf.Key, "p12 secret"))
	pw := writeFile(t, data, "admin.pw", []byte(password+"\n"))
	sealpost(t, data, nil, "user", "add", "admin@example.org", "--role", "admin", "--password-file", pw).want(t, exitOK)
	sealpost(t, data, nil, "list", "create", "team@lists.example.org", "--name", "Team").want(t, exitOK)
	srv := startServe(t, data, "--http", "127.0.0.1:0")
	b := newBrowser(t, srv.httpAddr(t))

	b.open("/keys")
	b.do("sign in", chromedp.WaitVisible(`#password`), chromedp.SendKeys(`#email`, "admin@example.org"),
		chromedp.SendKeys(`#password`, password), chromedp.Click(`form[action="/login"] button[type=submit]`),
		chromedp.WaitVisible(`#import-file`))
	b.do("import a PKCS#12 file with its password", chromedp.SetValue(`#import-kind`, "keys"),
		chromedp.SetUploadFiles(`#import-file`, []string{p12}), chromedp.SendKeys(`#import-password`, "p12 secret"),
		chromedp.Click(`form[action="/keys/import"] button[type=submit]`),
		chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "Imported carol@example.org (new)")]`))
	fpr := smime.Fingerprint(leaf.Cert)
	b.do("the certificate in the keyring", chromedp.WaitVisible(`#keyring tr[data-key="`+fpr+`"]`))
	caFile := writeFile(t, data, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	b.do("trust the CA for every list", chromedp.SetValue(`#import-kind`, "anchor"),
		chromedp.SetUploadFiles(`#import-file`, []string{caFile}),
		chromedp.Click(`form[action="/keys/import"] button[type=submit]`),
		chromedp.WaitVisible(`#trust tr[data-anchor="`+smime.Fingerprint(ca.Cert)+`"]`))
	b.screenshot("keys")

	b.open("/keys/" + fpr)
	chain := b.text(`table.chain`)
	if !strings.Contains(chain, "CN=Carol Example") || strings.Contains(chain, "1.2.840") {
		t.Errorf("the chain does not name the subject by attribute:\n%s", chain)
	}
	if got := b.text(`.chain-status`); got != "chains to a trusted certification authority" {
		t.Errorf("the chain's status: %q", got)
	}
	if got := b.text(`p.addresses`); got != "carol@example.org" {
		t.Errorf("the page's addresses: %q, want carol@example.org once", got)
	}
	b.do("scroll to the chain", chromedp.ScrollIntoView(`table.chain`))
	b.screenshot("key-smime")
}
