package pipeline_test

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
)

// The posts of TestOneLegacyDisplay, written by hand as RFC 9788 §4.5
// and its Appendix E describe them (no client that writes them is
// installed here: Thunderbird is not), and as Enigmail wrote its
// protected-headers="v1" posts. Each has one legacy display of the real
// Subject; the text the member wrote contains the canary.
const (
	hpFields = "From: alice@example.org\r\nTo: " + team + "\r\nSubject: the real subject\r\n" +
		"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <hp-1@example.org>\r\n"
	hpOuter = "HP-Outer: From: alice@example.org\r\nHP-Outer: To: " + team + "\r\nHP-Outer: Subject: [...]\r\n"
	// RFC 9788 §4.5.2 and Appendix E.1: the display leads the text of the
	// main body part, which says so with hp-legacy-display="1".
	hpText = "Content-Type: text/plain; charset=\"us-ascii\"; hp-legacy-display=\"1\"; hp=\"cipher\"\r\n" + hpFields + hpOuter +
		"\r\nSubject: the real subject\r\n\r\nHello list. " + canary + "\r\n"
	// The same in the text and the HTML of a multipart/alternative
	// (RFC 9788 §4.5.3 and Appendix E.2: a div of class
	// header-protection-legacy-display), base64-encoded, beside an
	// attachment, which is not a main body part and keeps its bytes.
	hpAttachment = "Content-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n" +
		"Subject: not a display, an attachment\r\n\r\nkept as is\r\n"
	// The display in a quoted-printable text beside an attachment.
	hpTextAttached = "Content-Type: multipart/mixed; boundary=\"ta\"; hp=\"cipher\"\r\n" + hpFields + hpOuter +
		"\r\n--ta\r\nContent-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Subject: the real subject\r\n\r\nHello list, caf=C3=A9. " + canary + "\r\n--ta\r\n" + hpAttachment + "--ta--\r\n"
	// Enigmail: a text/rfc822-headers part before the content.
	enigmail = "Content-Type: multipart/mixed; boundary=\"en\"; protected-headers=\"v1\"\r\n" + hpFields +
		"\r\n--en\r\nContent-Type: text/rfc822-headers; protected-headers=\"v1\"\r\nContent-Disposition: inline\r\n\r\n" +
		"Subject: the real subject\r\n\r\n--en\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello list. " + canary + "\r\n--en--\r\n"
	// The older draft's form, which Sealpost writes itself: a part that
	// holds only the display, before the content.
	draftPart = "Content-Type: multipart/mixed; boundary=\"dp\"; protected-headers=\"v1\"\r\n" + hpFields +
		"\r\n--dp\r\nContent-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\n\r\nSubject: the real subject\r\n" +
		"\r\n--dp\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello list. " + canary + "\r\n--dp--\r\n"
)

// hpAlternative is the multipart/mixed post with a multipart/alternative
// main body part whose text and HTML each carry the display.
func hpAlternative() string {
	b64 := func(s string) string {
		enc := base64.StdEncoding.EncodeToString([]byte(s))
		var out strings.Builder
		for len(enc) > 76 {
			out.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		return out.String() + enc + "\r\n"
	}
	text := "Subject: the real subject\r\n\r\nHello list. " + canary + "\r\n"
	html := "<html><head><title></title></head><body><div class=\"header-protection-legacy-display\">" +
		"<pre>Subject: the real subject</pre></div><p>Hello list. " + canary + "</p></body></html>\r\n"
	return "Content-Type: multipart/mixed; boundary=\"mx\"; hp=\"cipher\"\r\n" + hpFields + hpOuter +
		"\r\n--mx\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(text) +
		"--alt\r\nContent-Type: text/html; charset=utf-8; hp-legacy-display=\"1\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html) +
		"--alt--\r\n\r\n--mx\r\n" + hpAttachment + "--mx--\r\n"
}

// displays counts the legacy displays in a copy's content: text parts
// that begin with header fields, HTML display elements, Enigmail's
// header parts. It fails t when a leaf cannot be decoded.
func displays(t *testing.T, p *mime.Part) int {
	t.Helper()
	if p.IsMultipart() {
		n := 0
		for _, c := range p.Children {
			n += displays(t, c)
		}
		return n
	}
	if strings.Contains(p.Header.Get("Content-Disposition"), "attachment") {
		return 0
	}
	text, err := p.Decoded(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	switch p.MediaType {
	case "text/rfc822-headers":
		return 1
	case "text/html":
		return strings.Count(string(text), "header-protection-legacy-display")
	case "text/plain":
		if regexp.MustCompile(`^(?:[A-Za-z-]+: [^\r\n]*\r?\n)+(?:\r?\n|$)`).Match(text) {
			return 1
		}
	}
	return 0
}

// leaves returns the decoded bodies of p's leaf parts, by media type.
func leaves(t *testing.T, p *mime.Part, out map[string][]string) {
	t.Helper()
	if p.IsMultipart() {
		for _, c := range p.Children {
			leaves(t, c, out)
		}
		return
	}
	b, err := p.Decoded(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	out[p.MediaType] = append(out[p.MediaType], string(b))
}

// TestOneLegacyDisplay: issue 15 item 9. A post that carries a legacy
// display of its protected headers already (RFC 9788 §4.5 in the text,
// in text and HTML, base64-encoded; Enigmail's text/rfc822-headers; the
// older draft's display part) is distributed with exactly one display
// when the list has legacy_display=true (the list's, which shows the
// copy's own headers), and with none when it has not; the member's text
// and the attachment arrive whole.
func TestOneLegacyDisplay(t *testing.T) {
	posts := []struct{ name, inner string }{
		{"RFC 9788 text/plain", hpText},
		{"RFC 9788 quoted-printable text with an attachment", hpTextAttached},
		{"RFC 9788 text and HTML with an attachment", hpAlternative()},
		{"Enigmail text/rfc822-headers", enigmail},
		{"draft display part", draftPart},
	}
	for _, legacy := range []bool{true, false} {
		f := newFixture(t)
		l := f.list(team, "alice@example.org", "bob@example.org")
		l.rec.Settings.LegacyDisplay = legacy
		if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
			t.Fatal(err)
		}
		want := 0
		if legacy {
			want = 1
		}
		for i, post := range posts {
			signed, err := pgp.Sign(f.member("alice@example.org"), []byte(post.inner), pgp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			armored, err := signed.EncryptTo(l.key, false)
			if err != nil {
				t.Fatal(err)
			}
			ct, body := pgp.EncryptedBody(armored, "b")
			raw := append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
			ref := "hp" + string(rune('a'+i))
			if err := f.process(l, raw, ref); err != nil {
				t.Fatalf("%s: %v", post.name, err)
			}
			_, got := f.open(l, f.deliveries(ref)[0])
			if n := displays(t, got); n != want {
				t.Errorf("legacy_display=%v, %s: %d legacy displays, want %d; tree:\n%s", legacy, post.name, n, want, mime.Tree(got))
			}
			parts := map[string][]string{}
			leaves(t, got, parts)
			all := strings.Join(parts["text/plain"], "\n") + strings.Join(parts["text/html"], "\n")
			if !hasCanary([]byte(all)) {
				t.Errorf("legacy_display=%v, %s: the member's text is lost; tree:\n%s", legacy, post.name, mime.Tree(got))
			}
			if strings.Contains(post.inner, "notes.txt") && !strings.Contains(strings.Join(parts["text/plain"], "\n"), "Subject: not a display, an attachment\r\n\r\nkept as is") {
				t.Errorf("legacy_display=%v, %s: the attachment changed: %q", legacy, post.name, parts["text/plain"])
			}
			if strings.Contains(post.inner, "caf=C3=A9") && !strings.Contains(all, "Hello list, café. "+canary) {
				t.Errorf("legacy_display=%v, %s: the text changed: %q", legacy, post.name, parts["text/plain"])
			}
			if legacy {
				checkHeader(t, got, "Subject", "the real subject")
			}
		}
	}
}
