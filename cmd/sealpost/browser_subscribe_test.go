package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestSubscribeInBrowser: a person joins a list on its public page in
// headless Chromium, pasting the public key of their real gpg; gpg opens
// the challenge that reaches their mailbox (the outbox), the browser
// follows its link and confirms, and the person is a member with that
// key, sent the welcome with the list's key.
func TestSubscribeInBrowser(t *testing.T) {
	const list = "team@lists.example.org"
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf("[http]\nlisten = %q\npublic_url = %q\n", httpAddr, "http://"+httpAddr)
	if err := os.WriteFile(filepath.Join(data, "sealpost.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	sealpost(t, data, nil, "list", "create", list, "--name", "Team", "--owner", "owner@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "set", list, "subscribe=confirm").want(t, exitOK)
	g := gpgtest.New(t)
	daveFpr := g.GenKey("Dave <dave@example.org>")
	srv := startServe(t, data)
	b := newBrowser(t, srv.httpAddr(t))

	b.open("/subscribe?list=" + list)
	b.do("the list's public page", chromedp.WaitVisible(`#join-form`))
	if fpr := strings.ReplaceAll(b.text(`.fpr-big`), " ", ""); fpr == "" || !strings.Contains(sealpost(t, data, nil, "list", "show", list).want(t, exitOK).stdout, fpr[len(fpr)-16:]) {
		t.Errorf("the page shows the list key %q", fpr)
	}
	b.do("fill in the form with a pasted key", chromedp.SendKeys(`#sub-email`, "dave@example.org"),
		chromedp.SetValue(`#sub-key-text`, string(g.Export(daveFpr))))
	b.screenshot("subscribe")
	b.do("join", chromedp.Click(`#join-form button[type=submit]`),
		chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "a message to it is on its way")]`))

	challenge := waitOutbox(t, data, "dave@example.org", nil)
	g.Import([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	res := g.Run(challenge.raw, "--decrypt")
	if res.ExitCode() != 0 || !strings.Contains(string(res.Stdout), "Confirmation code: SP-") {
		t.Fatalf("gpg does not open the challenge:\n%s", res.Report())
	}
	link := regexp.MustCompile(`http://\S+/subscribe/confirm\?code=SP-[A-Z2-7]+`).Find(res.Stdout)
	if link == nil {
		t.Fatalf("the challenge has no link:\n%s", res.Stdout)
	}
	b.open(strings.TrimPrefix(string(link), "http://"+httpAddr))
	b.do("confirm", chromedp.WaitVisible(`#confirm-form`), chromedp.Click(`#confirm-form button[type=submit]`),
		chromedp.WaitVisible(`//*[contains(@class, "flash-ok") and contains(., "is now a member")]`))
	members := sealpost(t, data, nil, "member", "list", list).want(t, exitOK).stdout
	if !strings.Contains(members, "dave@example.org") {
		t.Fatalf("dave is not a member after confirming:\n%s", members)
	}
	welcome := waitOutbox(t, data, "dave@example.org", map[string]bool{challenge.name: true})
	res = g.Run(welcome.raw, "--decrypt")
	if res.ExitCode() != 0 || !strings.Contains(string(res.Stdout), "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("the welcome does not carry the list's key, or gpg cannot open it:\n%s\n%s", res.Report(), res.Stdout)
	}
	if !strings.Contains(string(res.Stdout), "http://"+httpAddr+"/subscribe?list=") {
		t.Errorf("the welcome does not say where to leave:\n%s", res.Stdout)
	}
}

// waitOutbox waits for a message to rcpt in the outbox that is not in
// skip, and returns it.
func waitOutbox(t *testing.T, data, rcpt string, skip map[string]bool) outboxFile {
	t.Helper()
	var found *outboxFile
	eventually(30*time.Second, func() bool {
		for _, f := range readOutbox(t, data) {
			if f.deliveredTo == rcpt && !skip[f.name] {
				found = &f
				return true
			}
		}
		return false
	})
	if found == nil {
		t.Fatalf("no message to %s reached the outbox", rcpt)
	}
	return *found
}

// TestModeratorInBrowser: a moderator of a list signs in, finds the list
// on their dashboard, opens its held messages, and is refused its
// settings.
func TestModeratorInBrowser(t *testing.T) {
	const (
		list     = "team@lists.example.org"
		password = "a moderator's password"
	)
	data := t.TempDir()
	pw := writeFile(t, data, "greta.pw", []byte(password+"\n"))
	sealpost(t, data, nil, "list", "create", list, "--name", "Team", "--owner", "owner@example.org").want(t, exitOK)
	sealpost(t, data, nil, "user", "add", "greta@example.org", "--role", "owner", "--password-file", pw).want(t, exitOK)
	sealpost(t, data, nil, "list", "moderator", "add", list, "greta@example.org").want(t, exitOK)
	srv := startServe(t, data, "--http", "127.0.0.1:0")
	b := newBrowser(t, srv.httpAddr(t))

	b.open("/login")
	b.do("sign in as the moderator", chromedp.SendKeys(`#email`, "greta@example.org"), chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form[action="/login"] button[type=submit]`), chromedp.WaitReady(`main.main`))
	b.do("the dashboard names the list", chromedp.WaitVisible(`[data-moderated="`+list+`"]`))
	b.open("/lists/" + list + "/holds")
	if h := b.text(`h1`); h != "Held messages" {
		t.Errorf("the moderator's holds page says %q", h)
	}
	b.open("/lists/" + list)
	if code := b.text(`.error-code`); code != "403" {
		t.Errorf("the moderator opened the list's settings: %q", code)
	}
}

// TestSubscriptionCommands: on a moderated list, two people ask to join
// by mail through `process` (X-SUBSCRIBE, their gpg key attached) and
// answer their challenges by mail; `sealpost subscription list` shows
// both waiting for an owner, approve makes one a member (with the
// welcome), reject tells the other why, in a message gpg opens.
func TestSubscriptionCommands(t *testing.T) {
	const (
		list    = "team@lists.example.org"
		request = "team-request@lists.example.org"
	)
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "set", list, "subscribe=moderate").want(t, exitOK)
	listKey := []byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout)
	listFpr := showList(t, data, list).KeyFingerprint
	people := map[string]*gpgtest.GPG{}
	for _, addr := range []string{"dave@example.org", "erin@example.org"} {
		g := gpgtest.New(t)
		fpr := g.GenKey(addr + " <" + addr + ">")
		g.Import(listKey)
		people[addr] = g
		ask := "From: " + addr + "\r\nTo: " + request + "\r\nSubject: join\r\nContent-Type: multipart/mixed; boundary=\"k\"\r\n\r\n" +
			"--k\r\nContent-Type: text/plain\r\n\r\nX-LIST-NAME: " + list + "\r\nX-SUBSCRIBE:\r\n\r\n--k\r\n" +
			"Content-Type: application/pgp-keys\r\n\r\n" + string(g.Export(fpr)) + "\r\n--k--\r\n"
		before := readOutbox(t, data)
		sealpost(t, data, pgpMIME(addr, request, g.MustRun([]byte(ask), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fpr).Stdout),
			"process", request, "--sender", addr).want(t, exitOK)
		added := newFiles(before, readOutbox(t, data))
		if len(added) != 1 || added[0].deliveredTo != addr {
			t.Fatalf("%s's request added %d messages to the outbox, want the challenge", addr, len(added))
		}
		res := g.Run(added[0].raw, "--decrypt")
		code := regexp.MustCompile(`Confirmation code: SP-[A-Z2-7]+`).Find(res.Stdout)
		if code == nil || !res.Verified(listFpr) {
			t.Fatalf("%s's challenge:\n%s\n%s", addr, res.Report(), res.Stdout)
		}
		answer := "From: " + addr + "\r\nTo: " + request + "\r\nSubject: Re: join\r\nContent-Type: text/plain\r\n\r\n> " + string(code) + "\r\n"
		sealpost(t, data, pgpMIME(addr, request, g.MustRun([]byte(answer), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", fpr).Stdout),
			"process", request, "--sender", addr).want(t, exitOK)
	}
	open := sealpost(t, data, nil, "subscription", "list", list).want(t, exitOK).stdout
	for _, addr := range []string{"dave@example.org", "erin@example.org"} {
		if !regexp.MustCompile(regexp.QuoteMeta(addr) + `\s+join\s+an owner`).MatchString(open) {
			t.Errorf("subscription list does not show %s waiting for an owner:\n%s", addr, open)
		}
	}
	sealpost(t, data, nil, "subscription", "approve", list, "dave@example.org").want(t, exitOK)
	if !strings.Contains(sealpost(t, data, nil, "member", "list", list).want(t, exitOK).stdout, "dave@example.org") {
		t.Error("dave is not a member after approval")
	}
	before := readOutbox(t, data)
	sealpost(t, data, nil, "subscription", "reject", list, "erin@example.org", "--reason", "Staff only, sorry.").want(t, exitOK)
	sealpost(t, data, nil, "queue", "flush").want(t, exitOK) // no serve runs: send what the command queued
	told := false
	for _, f := range newFiles(before, readOutbox(t, data)) {
		if f.deliveredTo == "erin@example.org" {
			told = strings.Contains(string(people["erin@example.org"].Run(f.raw, "--decrypt").Stdout), "Staff only, sorry.")
		}
	}
	if !told {
		t.Error("erin was not told why, in a message her gpg opens")
	}
	sealpost(t, data, nil, "subscription", "approve", list, "erin@example.org").want(t, exitData)
	if out := sealpost(t, data, nil, "subscription", "list", list).want(t, exitOK).stdout; !strings.Contains(out, "no open requests") {
		t.Errorf("requests left:\n%s", out)
	}
}
