package pipeline

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
)

// report is a multipart/report whose status part (of type statusType)
// holds blocks, one per recipient: "ACTION STATUS RECIPIENT".
func report(subject, statusType string, blocks ...string) string {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n" +
		"--r\r\nContent-Type: text/plain\r\n\r\nA report.\r\n" +
		"--r\r\nContent-Type: " + statusType + "\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
	for _, bl := range blocks {
		f := strings.Fields(bl)
		b.WriteString("\r\nFinal-Recipient: rfc822; " + f[2] + "\r\nAction: " + f[0] + "\r\nStatus: " + f[1] + "\r\n")
	}
	b.WriteString("\r\n--r--\r\n")
	return b.String()
}

// TestClassifyBounce: only permanent failures are bounceFailed; delays,
// auto-replies, ordinary mail and whatever is not recognised are not.
func TestClassifyBounce(t *testing.T) {
	const daemon = "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
	const person = "From: Bob <bob@example.org>\r\n"
	for _, c := range []struct {
		name, from, raw string
		want            bounceKind
		status          string
	}{
		// RFC 3464 reports.
		{"report: failed 5.1.1", "", report("Undelivered Mail Returned to Sender", "message/delivery-status", "failed 5.1.1 bob@example.org"), bounceFailed, "5.1.1"},
		{"report: gave up on 4.0.0", "", report("Undelivered Mail Returned to Sender", "message/delivery-status", "failed 4.0.0 bob@example.org"), bounceFailed, "4.0.0"},
		{"report: status with a comment", "", report("Undeliverable", "message/delivery-status", "failed 5.1.10 bob@example.org (not found)"), bounceFailed, "5.1.10"},
		{"report: one of two failed", "", report("Undelivered", "message/delivery-status", "delivered 2.0.0 bob@example.org", "failed 5.1.1 bob@elsewhere.example"), bounceFailed, "5.1.1"},
		{"report: delayed", "", report("Delayed Mail", "message/delivery-status", "delayed 4.4.1 bob@example.org"), bounceDelay, ""},
		{"report: delay subject wins", "", report("Delivery Status Notification (Delay)", "message/delivery-status", "failed 5.0.0 bob@example.org"), bounceDelay, ""},
		{"report: delivered", "", report("Successful Mail Delivery Report", "message/delivery-status", "delivered 2.0.0 bob@example.org"), bounceUnsure, ""},
		{"report: relayed", "", report("Relayed", "message/delivery-status", "relayed 2.0.0 bob@example.org"), bounceUnsure, ""},
		{"RFC 6533 report", "", report("Undelivered Mail Returned to Sender", "message/global-delivery-status", "failed 5.1.1 bob@example.org"), bounceFailed, "5.1.1"},
		{"disposition notification", "bob@example.org", person + "Subject: Read: ...\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=r\r\n\r\n--r\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--r--\r\n", notBounce, ""},
		// A mailer's text.
		{"Exim: permanent, 550 5.1.1", "", daemon + "Auto-Submitted: auto-replied\r\nSubject: Mail delivery failed: returning message to sender\r\n\r\nThis is a permanent error.\r\n    550 5.1.1 <bob@example.org>: User unknown\r\n", bounceFailed, "5.1.1"},
		{"qmail: #5.1.1", "", "From: MAILER-DAEMON@mail.example.com\r\nSubject: failure notice\r\n\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n", bounceFailed, "5.1.1"},
		{"55x reply alone", "", daemon + "Subject: failure\r\n\r\n<bob@example.org>: host mx said: 550 mailbox unavailable\r\n", bounceFailed, ""},
		{"user unknown alone", "", "From: postmaster@mx.example.net\r\nSubject: failure\r\n\r\nUser unknown\r\n", bounceFailed, ""},
		{"daemon by its envelope sender", "MAILER-DAEMON@mx.example.net", "From: Mailer <mailer@mx.example.net>\r\nSubject: failure\r\n\r\nUser unknown\r\n", bounceFailed, ""},
		{"phrase with a transient code", "", daemon + "Subject: failure\r\n\r\ncould not be delivered: 452 4.2.2 mailbox full\r\n", bounceUnsure, ""},
		{"Exim delay warning", "", daemon + "Subject: Warning: message 1v7Rkp-000Aba-0x delayed 24 hours\r\n\r\nNo action is required on your part.\r\n", bounceDelay, ""},
		{"Gmail plain delay", "", "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nSubject: Delivery Status Notification (Delay)\r\n\r\nTHIS IS A WARNING MESSAGE ONLY.\r\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\r\n", bounceDelay, ""},
		{"Sendmail delay warning", "", daemon + "Subject: Warning: could not send message for past 4 hours\r\n\r\n550 5.1.1 said once\r\n", bounceDelay, ""},
		{"delay in the text alone", "", daemon + "Subject: Mail delivery report\r\n\r\n550 5.1.1 was said once, but delivery will be retried for 4 more days\r\n", bounceDelay, ""},
		{"nothing recognised", "", daemon + "Subject: Hello\r\n\r\nYour message arrived.\r\n", bounceUnsure, ""},
		{"failure only in the returned copy", "", daemon + "Subject: Report\r\n\r\nDelivered.\r\n\r\n------ This is a copy of the message, including all the headers. ------\r\n\r\nSubject: user unknown 550 5.1.1\r\n", bounceUnsure, ""},
		// Auto-replies and people.
		{"Auto-Submitted", "", person + "Auto-Submitted: auto-replied\r\nSubject: Re: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"Auto-Submitted: no is a person", "bob@example.org", person + "Auto-Submitted: no\r\nSubject: Re: ...\r\n\r\nThanks.\r\n", notBounce, ""},
		{"X-Autoreply", "", person + "X-Autoreply: yes\r\nSubject: Re: ...\r\n\r\nThis address does not exist any more: 550 5.1.1.\r\n", bounceAutoReply, ""},
		{"X-Autorespond", "bob@example.org", person + "X-Autorespond: yes\r\nSubject: Re: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"Precedence: auto_reply", "bob@example.org", person + "Precedence: auto_reply\r\nSubject: Re: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"Out of office", "bob@example.org", person + "Subject: Out of Office: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"Abwesenheitsnotiz", "bob@example.org", person + "Subject: Abwesenheitsnotiz: ...\r\n\r\nNicht da.\r\n", bounceAutoReply, ""},
		{"Automatic reply", "", person + "Subject: Automatic reply: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"Auto:", "bob@example.org", person + "Subject: Auto: ...\r\n\r\nAway.\r\n", bounceAutoReply, ""},
		{"a person's reply", "bob@example.org", person + "Subject: Re: the mailbox does not exist\r\n\r\n550 5.1.1 user unknown, they said.\r\n", notBounce, ""},
		{"a person's reply, null sender", "", person + "Subject: Re: ...\r\n\r\nUser unknown, they said.\r\n", notBounce, ""},
		{"a bug tracker's notice", "owner@bugs.example.org", "From: Bug Tracking System <owner@bugs.example.org>\r\nSubject: Processed: reassign 1\r\n\r\nBug #1 delivery fails with 550 5.1.1 user unknown\r\n", notBounce, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := mime.Parse([]byte(c.raw), mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			v := classifyBounce(msg, c.from)
			if v.Kind != c.want || v.Status != c.status || v.Why == "" {
				t.Errorf("classifyBounce = %s, status %q (%s); want %s, status %q", v.Kind, v.Status, v.Why, c.want, c.status)
			}
		})
	}
}

// TestFailureOf: at a member's VERP address a failure is theirs, whatever
// address the report names, unless the report's own block about them
// says their copy did not fail.
func TestFailureOf(t *testing.T) {
	read := func(raw string) bounceVerdict {
		msg, err := mime.Parse([]byte(raw), mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return classifyBounce(msg, "")
	}
	for _, c := range []struct {
		name, raw string
		failed    bool
		status    string
	}{
		{"names the member", report("x", "message/delivery-status", "failed 5.1.1 bob@example.org"), true, "5.1.1"},
		{"names the forward", report("x", "message/delivery-status", "failed 5.2.1 bob@elsewhere.example"), true, "5.2.1"},
		{"member delivered, forward failed", report("x", "message/delivery-status", "delivered 2.0.0 bob@example.org", "failed 5.1.1 bob@elsewhere.example"), false, "2.0.0"},
		{"no report", "From: MAILER-DAEMON@mx.example.net\r\nSubject: failure\r\n\r\n550 5.1.1 nobody here\r\n", true, "5.1.1"},
	} {
		status, failed := failureOf(read(c.raw), "bob@example.org")
		if failed != c.failed || status != c.status {
			t.Errorf("%s: failureOf = %q, %v; want %q, %v", c.name, status, failed, c.status, c.failed)
		}
	}
}
