package mail_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	netmail "net/mail"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
)

// zeroRand is deterministic "randomness" for boundaries and Message-IDs.
func zeroRand() io.Reader { return bytes.NewReader(make([]byte, 1024)) }

// testDSN is a report about two recipients of one reply: one refused for
// want of a key, one delayed.
func testDSN() mail.DSN {
	return mail.DSN{
		ReportingMTA: "lists.example.org",
		From:         "Mail Delivery System <MAILER-DAEMON@lists.example.org>",
		To:           "Helpdesk@example.com",
		Subject:      "Undelivered Mail Returned to Sender",
		Date:         time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC),
		MessageID:    "<dsn1@lists.example.org>",
		Explanation: "Your reply could not be delivered to one recipient.\n" +
			"Der Empfänger hat keinen nutzbaren Schlüssel; the conversation must stay encrypted.\n",
		OriginalEnvelopeID: "QQ314159",
		ArrivalDate:        time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Recipients: []mail.DSNRecipient{
			{Recipient: "Alice@Example.org", Action: "failed", Status: "5.7.1",
				Diagnostic: "smtp; 550 5.7.1 <alice@example.org>: no usable encryption key"},
			{Recipient: "bob@example.org", Action: "Delayed", Status: "4.4.1"},
		},
		Headers:   []byte("From: helpdesk@example.com\nTo: alice@example.org\nSubject: Re: ticket 42\nMessage-ID: <orig@example.com>\n"),
		InReplyTo: "<orig@example.com>",
	}
}

// build writes d with zero randomness and parses the result.
func build(t *testing.T, d mail.DSN) ([]byte, *mime.Part) {
	t.Helper()
	raw, err := d.Bytes(zeroRand())
	if err != nil {
		t.Fatalf("Bytes: %v", err)
	}
	root, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatalf("mime.Parse: %v\n%s", err, raw)
	}
	return raw, root
}

// decoded returns the decoded body of p.
func decoded(t *testing.T, p *mime.Part) string {
	t.Helper()
	b, err := p.Decoded(1 << 20)
	if err != nil {
		t.Fatalf("%s: Decoded: %v", p.MediaType, err)
	}
	return string(b)
}

// mediaTypes returns the media types of the children of p.
func mediaTypes(p *mime.Part) []string {
	var out []string
	for _, c := range p.Children {
		out = append(out, c.MediaType)
	}
	return out
}

func TestDSNShape(t *testing.T) {
	_, root := build(t, testDSN())
	if root.MediaType != "multipart/report" || root.Params["report-type"] != "delivery-status" {
		t.Fatalf("root = %s %v", root.MediaType, root.Params)
	}
	want := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	if got := mediaTypes(root); !reflect.DeepEqual(got, want) {
		t.Fatalf("parts = %v, want %v", got, want)
	}
	if cs := root.Children[0].Params["charset"]; cs != "utf-8" {
		t.Errorf("explanation charset = %q", cs)
	}

	d := testDSN()
	d.Headers = nil
	_, root = build(t, d)
	if got := mediaTypes(root); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("without Headers: parts = %v, want %v", got, want[:2])
	}
}

func TestDSNHeader(t *testing.T) {
	raw, root := build(t, testDSN())
	h := root.Header
	for k, want := range map[string]string{
		"From":           `"Mail Delivery System" <MAILER-DAEMON@lists.example.org>`,
		"To":             "<helpdesk@example.com>",
		"Subject":        "Undelivered Mail Returned to Sender",
		"Message-Id":     "<dsn1@lists.example.org>",
		"In-Reply-To":    "<orig@example.com>",
		"References":     "<orig@example.com>",
		"Auto-Submitted": "auto-replied",
		"Mime-Version":   "1.0",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	date, err := netmail.ParseDate(h.Get("Date"))
	if err != nil || !date.Equal(testDSN().Date) {
		t.Errorf("Date %q = %v, %v", h.Get("Date"), date, err)
	}
	// RFC 5322 §2.3: every line ends in CRLF.
	if n := bytes.Count(raw, []byte("\n")); n != bytes.Count(raw, []byte("\r\n")) {
		t.Errorf("%d bare LFs in\n%s", n-bytes.Count(raw, []byte("\r\n")), raw)
	}
}

// TestDSNReferences: a report names the original's own References
// before the original (RFC 5322 §3.6.4), so a reader threads it into the
// original's conversation.
func TestDSNReferences(t *testing.T) {
	d := testDSN()
	d.References = []string{"<first@example.com>", "<second@example.com>"}
	_, root := build(t, d)
	if got, want := root.Header.Get("References"), "<first@example.com> <second@example.com> <orig@example.com>"; got != want {
		t.Errorf("References = %q, want %q", got, want)
	}
	if got := root.Header.Get("In-Reply-To"); got != "<orig@example.com>" {
		t.Errorf("In-Reply-To = %q", got)
	}
	for id, want := range map[string]bool{"<a@example.com>": true, "<a>": false, "a@example.com": false, "<a b@example.com>": false, "<@example.com>": false} {
		if mail.IsMsgID(id) != want {
			t.Errorf("IsMsgID(%q) = %v, want %v", id, !want, want)
		}
	}
}

// TestDSNSubjectEncoding: only the words of a Subject that are not ASCII
// are encoded (RFC 2047), so a program that does not decode still finds
// a ticket tag in it; decoded, it is the Subject as given.
func TestDSNSubjectEncoding(t *testing.T) {
	for _, subject := range []string{"Reply not sent: [example.org #7] Drucker brännt", "Reply not sent: [example.org #7] größer als brännt",
		"Éin [example.org #7] ça va"} {
		d := testDSN()
		d.Subject = subject
		_, root := build(t, d)
		raw := root.Header.Get("Subject")
		if !strings.Contains(raw, "[example.org #7]") {
			t.Errorf("Subject %q: the tag is encoded: %q", subject, raw)
		}
		if got, err := new(stdmime.WordDecoder).DecodeHeader(raw); err != nil || got != subject {
			t.Errorf("Subject %q decodes to %q, %v", subject, got, err)
		}
	}
}

func TestDSNOptionalFields(t *testing.T) {
	d := testDSN()
	d.InReplyTo, d.OriginalEnvelopeID, d.ArrivalDate = "", "", time.Time{}
	d.From, d.MessageID, d.Subject = "", "", ""
	raw, root := build(t, d)
	for _, absent := range []string{"In-Reply-To", "References"} {
		if root.Header.Has(absent) {
			t.Errorf("%s written without InReplyTo", absent)
		}
	}
	for _, absent := range []string{"Original-Envelope-Id", "Arrival-Date"} {
		if bytes.Contains(raw, []byte(absent)) {
			t.Errorf("%s written although unset", absent)
		}
	}
	h := root.Header
	if got := h.Get("From"); got != `"Mail Delivery System" <MAILER-DAEMON@lists.example.org>` {
		t.Errorf("default From = %q", got)
	}
	if got := h.Get("Message-Id"); got != "<00000000000000000000000000000000@lists.example.org>" {
		t.Errorf("default Message-ID = %q", got)
	}
	if got := h.Get("Subject"); got != "Delivery Status Notification" {
		t.Errorf("default Subject = %q", got)
	}
}

// TestDSNRoundTrip: mail.ParseDSN, which reads the reports Sealpost
// receives, finds every recipient of a report Sealpost writes.
func TestDSNRoundTrip(t *testing.T) {
	d := testDSN()
	long := "smtp; 550 5.7.1 " + strings.Repeat("the recipient has no usable key ", 10) + "end"
	d.Recipients = append(d.Recipients, mail.DSNRecipient{Recipient: "carol@example.org", Action: "failed", Status: "5.1.10", Diagnostic: long})
	_, root := build(t, d)
	status := root.Children[1]
	if cte := status.Header.Get("Content-Transfer-Encoding"); cte != "7bit" {
		t.Errorf("delivery-status Content-Transfer-Encoding = %q", cte)
	}
	got := mail.ParseDSN([]byte(decoded(t, status)))
	want := []mail.DSNRecipient{
		{Recipient: "alice@example.org", Action: "failed", Status: "5.7.1", Diagnostic: d.Recipients[0].Diagnostic},
		{Recipient: "bob@example.org", Action: "delayed", Status: "4.4.1"},
		{Recipient: "carol@example.org", Action: "failed", Status: "5.1.10", Diagnostic: long},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDSN =\n%+v\nwant\n%+v", got, want)
	}
}

// TestDSNPerMessageFields reads the first block of the delivery-status
// part (RFC 3464 §2.2) and checks the layout of the blocks.
func TestDSNPerMessageFields(t *testing.T) {
	_, root := build(t, testDSN())
	body := decoded(t, root.Children[1])
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(body))).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Reporting-Mta"); got != "dns; lists.example.org" {
		t.Errorf("Reporting-MTA = %q", got)
	}
	if got := h.Get("Original-Envelope-Id"); got != "QQ314159" {
		t.Errorf("Original-Envelope-Id = %q", got)
	}
	if got, err := netmail.ParseDate(h.Get("Arrival-Date")); err != nil || !got.Equal(testDSN().ArrivalDate) {
		t.Errorf("Arrival-Date = %q", h.Get("Arrival-Date"))
	}
	if h.Get("Final-Recipient") != "" {
		t.Error("per-message block holds a recipient: no blank line after it")
	}
	// RFC 3464 §2.1: blocks separated by one blank line, the content
	// ending with the last field's CRLF.
	if blocks := strings.Split(body, "\r\n\r\n"); len(blocks) != 3 || !strings.HasSuffix(body, "\r\nStatus: 4.4.1\r\n") {
		t.Errorf("delivery-status body = %q", body)
	}
}

func TestDSNExplanation(t *testing.T) {
	d := testDSN()
	_, root := build(t, d)
	text := root.Children[0]
	if cte := text.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Errorf("non-ASCII explanation: Content-Transfer-Encoding = %q", cte)
	}
	if bytes.ContainsFunc(text.Body, func(r rune) bool { return r > 127 }) {
		t.Error("quoted-printable body holds 8-bit data")
	}
	want := strings.ReplaceAll(d.Explanation, "\n", "\r\n")
	if got := decoded(t, text); got != want {
		t.Errorf("explanation = %q, want %q", got, want)
	}

	d.Explanation = "All ASCII,\r\nno final line break"
	_, root = build(t, d)
	text = root.Children[0]
	if cte := text.Header.Get("Content-Transfer-Encoding"); cte != "7bit" {
		t.Errorf("ASCII explanation: Content-Transfer-Encoding = %q", cte)
	}
	if got := decoded(t, text); got != d.Explanation+"\r\n" {
		t.Errorf("ASCII explanation = %q", got)
	}
}

// TestDSNHeadersPart: the third part is the header block with CRLF line
// endings and its terminating empty line, never a body.
func TestDSNHeadersPart(t *testing.T) {
	const want = "Subject: x\r\nTo: a@example.org\r\n\r\n"
	for _, in := range []string{
		"Subject: x\nTo: a@example.org",
		"Subject: x\nTo: a@example.org\n",
		"Subject: x\r\nTo: a@example.org\r\n\r\n",
		"Subject: x\nTo: a@example.org\n\nthe original body, not to be returned\n",
		"Subject: x\r\nTo: a@example.org\r\n\r\n\r\n\r\n",
	} {
		d := testDSN()
		d.Headers = []byte(in)
		_, root := build(t, d)
		if got := decoded(t, root.Children[2]); got != want {
			t.Errorf("Headers %q: part = %q, want %q", in, got, want)
		}
	}
}

func TestDSNRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*mail.DSN)
	}{
		{"CRLF in Subject", func(d *mail.DSN) { d.Subject = "x\r\nBcc: eve@example.net" }},
		{"LF in From", func(d *mail.DSN) { d.From = "a@example.org\nBcc: eve@example.net" }},
		{"CR in To", func(d *mail.DSN) { d.To = "a@example.org\rBcc: eve@example.net" }},
		{"CRLF in Message-ID", func(d *mail.DSN) { d.MessageID = "<a@b>\r\nBcc: eve@example.net" }},
		{"CRLF in In-Reply-To", func(d *mail.DSN) { d.InReplyTo = "<a@b>\r\nBcc: eve@example.net" }},
		{"CRLF in References", func(d *mail.DSN) { d.References = []string{"<a@b>\r\nBcc: eve@example.net"} }},
		{"References not a msg-id", func(d *mail.DSN) { d.References = []string{"<a@b>", "ticket-1"} }},
		{"CRLF in Reporting-MTA", func(d *mail.DSN) { d.ReportingMTA = "mx.example.org\r\nX: y" }},
		{"CRLF in Original-Envelope-Id", func(d *mail.DSN) { d.OriginalEnvelopeID = "id\r\n\r\nFinal-Recipient: rfc822; eve@example.net" }},
		{"CRLF in Diagnostic-Code", func(d *mail.DSN) {
			d.Recipients[0].Diagnostic = "smtp; 550\r\n\r\nFinal-Recipient: rfc822; eve@example.net\r\nAction: failed\r\nStatus: 5.0.0"
		}},
		{"NUL in Diagnostic-Code", func(d *mail.DSN) { d.Recipients[0].Diagnostic = "smtp; 550\x00" }},
		{"non-ASCII Diagnostic-Code", func(d *mail.DSN) { d.Recipients[0].Diagnostic = "smtp; 550 Schlüssel" }},
		{"CRLF in Action", func(d *mail.DSN) { d.Recipients[0].Action = "failed\r\nX: y" }},
		{"unknown Action", func(d *mail.DSN) { d.Recipients[0].Action = "bounced" }},
		{"status too short", func(d *mail.DSN) { d.Recipients[0].Status = "5.7" }},
		{"status class 3", func(d *mail.DSN) { d.Recipients[0].Status = "3.1.1" }},
		{"status too long", func(d *mail.DSN) { d.Recipients[0].Status = "5.1.1.1" }},
		{"status letters", func(d *mail.DSN) { d.Recipients[0].Status = "5.x.1" }},
		{"status detail of 4 digits", func(d *mail.DSN) { d.Recipients[0].Status = "5.1.1000" }},
		{"status SMTP code", func(d *mail.DSN) { d.Recipients[0].Status = "550" }},
		{"status with CRLF", func(d *mail.DSN) { d.Recipients[0].Status = "5.1.1\r\nX: y" }},
		{"empty status", func(d *mail.DSN) { d.Recipients[0].Status = "" }},
		{"recipient not an address", func(d *mail.DSN) { d.Recipients[0].Recipient = "alice" }},
		{"no recipients", func(d *mail.DSN) { d.Recipients = nil }},
		{"To with a display name", func(d *mail.DSN) { d.To = "Helpdesk <helpdesk@example.com>" }},
		{"To missing (null sender)", func(d *mail.DSN) { d.To = "" }},
		{"From not an address", func(d *mail.DSN) { d.From = "Mail Delivery System" }},
		{"Message-ID without brackets", func(d *mail.DSN) { d.MessageID = "a@b" }},
		{"Reporting-MTA missing", func(d *mail.DSN) { d.ReportingMTA = "" }},
		{"Reporting-MTA with a space", func(d *mail.DSN) { d.ReportingMTA = "mx example.org" }},
		{"zero Date", func(d *mail.DSN) { d.Date = time.Time{} }},
		{"empty explanation", func(d *mail.DSN) { d.Explanation = " \n" }},
		{"explanation not UTF-8", func(d *mail.DSN) { d.Explanation = "caf\xe9" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDSN()
			d.Recipients = append([]mail.DSNRecipient(nil), d.Recipients...)
			tt.change(&d)
			raw, err := d.Bytes(zeroRand())
			if !errors.Is(err, mail.ErrBadDSN) || raw != nil {
				t.Errorf("Bytes = %d bytes, %v; want ErrBadDSN", len(raw), err)
			}
		})
	}
}

// TestDSNRefusesAll: one error names every problem.
func TestDSNRefusesAll(t *testing.T) {
	d := testDSN()
	d.To, d.Recipients = "nobody", []mail.DSNRecipient{{Recipient: "a@example.org", Action: "failed", Status: "6.0.0"}}
	_, err := d.Bytes(zeroRand())
	if err == nil || !strings.Contains(err.Error(), "To:") || !strings.Contains(err.Error(), "recipient 1 Status:") {
		t.Errorf("err = %v; want both To and Status named", err)
	}
}

func TestDSNRandomness(t *testing.T) {
	_, err := testDSN().Bytes(strings.NewReader("short"))
	if err == nil || errors.Is(err, mail.ErrBadDSN) {
		t.Errorf("exhausted randomness: err = %v", err)
	}
	// A boundary that occurs in a part (only a broken rnd could make
	// one) is refused rather than written.
	d := testDSN()
	d.Explanation = "--=_" + strings.Repeat("0", 48) + "\n"
	if raw, err := d.Bytes(zeroRand()); err == nil {
		t.Errorf("boundary inside a part written:\n%s", raw)
	}
}

func FuzzDSNBytes(f *testing.F) {
	f.Add("Undelivered", "smtp; 550 5.7.1 no key", "Hello\n", "Subject: x\n")
	f.Add("x\r\nBcc: y", "smtp; 550\r\nAction: delivered", "\r", "\n\n")
	f.Fuzz(func(t *testing.T, subject, diag, text, headers string) {
		d := testDSN()
		d.Subject, d.Explanation, d.Headers = subject, text, []byte(headers)
		d.Recipients = []mail.DSNRecipient{{Recipient: "a@example.org", Action: "failed", Status: "5.7.1", Diagnostic: diag}}
		raw, err := d.Bytes(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
		if err != nil {
			return
		}
		root, err := mime.Parse(raw, mime.Limits{})
		if err != nil {
			t.Fatalf("written report does not parse: %v", err)
		}
		if n := len(root.Children); n != 2 && n != 3 {
			t.Fatalf("%d parts", n)
		}
		body, _ := root.Children[1].Decoded(1 << 20)
		got := mail.ParseDSN(body)
		// Folding may turn runs of whitespace into one space.
		if len(got) != 1 || strings.Join(strings.Fields(got[0].Diagnostic), " ") != strings.Join(strings.Fields(diag), " ") {
			t.Fatalf("ParseDSN = %+v, diagnostic %q", got, diag)
		}
	})
}

func ExampleDSN_Bytes() {
	d := mail.DSN{
		ReportingMTA: "lists.example.org",
		To:           "helpdesk@example.com",
		Subject:      "Undelivered Mail Returned to Sender",
		Date:         time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC),
		MessageID:    "<dsn1@lists.example.org>",
		InReplyTo:    "<ticket42@example.com>",
		Explanation:  "Your reply could not be delivered to alice@example.org:\nshe has no usable encryption key.\n",
		Recipients: []mail.DSNRecipient{{
			Recipient:  "alice@example.org",
			Action:     "failed",
			Status:     "5.7.1",
			Diagnostic: "smtp; 550 5.7.1 no usable encryption key",
		}},
		// Headers, the original's header block, would add a third part.
	}
	// Use crypto/rand.Reader outside of examples.
	raw, err := d.Bytes(bytes.NewReader(make([]byte, 24)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(string(raw), "\r\n", "\n"))
	// Output:
	// From: "Mail Delivery System" <MAILER-DAEMON@lists.example.org>
	// To: <helpdesk@example.com>
	// Subject: Undelivered Mail Returned to Sender
	// Date: Sun, 22 Nov 2026 10:05:00 +0000
	// Message-Id: <dsn1@lists.example.org>
	// In-Reply-To: <ticket42@example.com>
	// References: <ticket42@example.com>
	// Auto-Submitted: auto-replied
	// Mime-Version: 1.0
	// Content-Type: multipart/report;
	//  boundary="=_000000000000000000000000000000000000000000000000";
	//  report-type=delivery-status
	//
	// --=_000000000000000000000000000000000000000000000000
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: 7bit
	//
	// Your reply could not be delivered to alice@example.org:
	// she has no usable encryption key.
	//
	// --=_000000000000000000000000000000000000000000000000
	// Content-Type: message/delivery-status
	// Content-Transfer-Encoding: 7bit
	//
	// Reporting-Mta: dns; lists.example.org
	//
	// Final-Recipient: rfc822; alice@example.org
	// Action: failed
	// Status: 5.7.1
	// Diagnostic-Code: smtp; 550 5.7.1 no usable encryption key
	//
	// --=_000000000000000000000000000000000000000000000000--
}
