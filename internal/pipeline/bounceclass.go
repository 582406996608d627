package pipeline

import (
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
)

// What comes to a bounce address is not always a bounce: auto-replies
// go to the envelope sender (RFC 3834 §4), so do delay warnings and, from
// some programs, ordinary replies. classifyBounce tells them apart, and
// only a permanent failure ever counts: a false count stops someone's
// mail, a missed one only delays stopping it, so whatever is not
// recognised as a permanent failure is not counted.

// bounceKind is what a message to a bounce address is.
type bounceKind int

const (
	// notBounce is ordinary mail: a person's, or a program's that is
	// neither a report nor a mailer's.
	notBounce bounceKind = iota
	// bounceDelay is a warning that delivery is delayed and retried.
	bounceDelay
	// bounceAutoReply is an automatic answer: a vacation notice, an
	// auto-responder, a ticket or bug tracker's acknowledgement.
	bounceAutoReply
	// bounceUnsure is a report or a mailer's message that says of no
	// recipient that it failed for good (delivered, relayed, a notice).
	bounceUnsure
	// bounceFailed is a permanent failure: the only kind that counts.
	bounceFailed
)

var bounceKindNames = [...]string{"not a bounce", "delay", "auto-reply", "no permanent failure", "permanent failure"}

func (k bounceKind) String() string { return bounceKindNames[k] }

// bounceVerdict is classifyBounce's reading of a message.
type bounceVerdict struct {
	Kind bounceKind
	// Status is the RFC 3463 status of the failure, when the message
	// gives one ("5.1.1").
	Status string
	// DSN holds the per-recipient blocks of an RFC 3464 report; nil for
	// a message that is none.
	DSN []mail.DSNRecipient
	// Why says what decided, for the log.
	Why string
}

// classifyBounce reads msg, which came to a bounce address from
// envelopeFrom ("" for the null sender). It is pure: the message and its
// envelope sender decide, nothing else.
//
//  1. A delay's subject ("Delivery Status Notification (Delay)",
//     "Warning: message ... delayed") is a delay, whatever follows.
//  2. An RFC 3464 report (a message/delivery-status part of a
//     multipart/report, RFC 6522) is a permanent failure when one of its
//     recipients failed (mail.DSNRecipient.Failed), a delay when one was
//     delayed, else no failure.
//  3. Otherwise only a mailer's message (mailer): from a mailer's
//     address, with the text of a permanent failure (permanentText) and
//     none of a delay (delayText), is a permanent failure. Auto-replies
//     and everything else are not.
func classifyBounce(msg *mime.Part, envelopeFrom string) bounceVerdict {
	subject := strings.ToLower(msg.Header.Get("Subject"))
	if why := delayText(subject); why != "" {
		return bounceVerdict{Kind: bounceDelay, Why: "subject: " + why}
	}
	if rs, ok := dsnReport(msg); ok {
		return dsnVerdict(rs)
	}
	daemon := mailer(msg, envelopeFrom)
	if !daemon {
		if why := autoReply(msg, subject); why != "" {
			return bounceVerdict{Kind: bounceAutoReply, Why: why}
		}
		return bounceVerdict{Kind: notBounce, Why: "not from a mailer and no delivery report"}
	}
	text := strings.ToLower(reportText(msg))
	if why := delayText(text); why != "" {
		return bounceVerdict{Kind: bounceDelay, Why: "text: " + why}
	}
	status, why := permanentText(subject + "\n" + text)
	if why == "" {
		return bounceVerdict{Kind: bounceUnsure, Why: "from a mailer, but no permanent failure recognised"}
	}
	return bounceVerdict{Kind: bounceFailed, Status: status, Why: why}
}

// dsnVerdict reads an RFC 3464 report's recipients.
func dsnVerdict(rs []mail.DSNRecipient) bounceVerdict {
	v := bounceVerdict{Kind: bounceUnsure, DSN: rs, Why: "a delivery report without a failed recipient"}
	for _, r := range rs {
		switch {
		case r.Failed():
			return bounceVerdict{Kind: bounceFailed, Status: dsnStatus(r), DSN: rs, Why: "a delivery report: " + r.Recipient + " failed"}
		case r.Action == "delayed" || strings.HasPrefix(r.Status, "4."):
			v.Kind, v.Why = bounceDelay, "a delivery report: "+r.Recipient+" delayed"
		}
	}
	return v
}

// dsnStatus is a failed block's status code alone (some MTAs add a
// comment after it).
func dsnStatus(r mail.DSNRecipient) string {
	if f := strings.Fields(r.Status); len(f) > 0 {
		return f[0]
	}
	return ""
}

// dsnReport returns the recipients of msg's RFC 3464 report, and whether
// it is one: a multipart/report (RFC 6522) with a message/delivery-status
// part, or its RFC 6533 form for internationalised addresses. A report
// attached inside another message (a person forwarding a bounce) is not
// msg's own and is not read.
func dsnReport(msg *mime.Part) ([]mail.DSNRecipient, bool) {
	if msg.MediaType != "multipart/report" {
		return nil, false
	}
	for _, c := range msg.Children {
		if c.MediaType == "message/delivery-status" || c.MediaType == "message/global-delivery-status" {
			body, err := c.Decoded(64 << 10)
			if err != nil {
				return nil, false
			}
			return mail.ParseDSN(body), true
		}
	}
	return nil, false
}

// mailer reports whether msg comes from a mail system rather than a
// person or an auto-responder: its envelope sender or its From is a
// mailer's address (MAILER-DAEMON, postmaster; RFC 5321 §4.5.1). The
// null envelope sender alone is not enough: RFC 3834 §3.3 has
// auto-responders use it too.
func mailer(msg *mime.Part, envelopeFrom string) bool {
	if envelopeFrom != "" && isDaemon(envelopeFrom) {
		return true
	}
	name, from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return false
	}
	name = strings.ToLower(name)
	return isDaemon(from) || (envelopeFrom == "" && (strings.Contains(name, "mail delivery") || strings.Contains(name, "mailer-daemon")))
}

// autoReplyField names the header field that marks h's message as sent
// by a program, or "": RFC 3834 §5's Auto-Submitted (other than "no"),
// and the fields auto-responders write without it. automated reads it
// too; a subject is a person's words as well, and only autoReply reads
// it.
func autoReplyField(h textproto.Header) string {
	switch {
	case h.Get("Auto-Submitted") != "" && !strings.EqualFold(strings.TrimSpace(h.Get("Auto-Submitted")), "no"):
		return "Auto-Submitted: " + strings.TrimSpace(h.Get("Auto-Submitted"))
	case h.Get("X-Autoreply") != "":
		return "X-Autoreply"
	case h.Get("X-Autorespond") != "":
		return "X-Autorespond"
	case strings.EqualFold(strings.TrimSpace(h.Get("Precedence")), "auto_reply"):
		return "Precedence: auto_reply"
	}
	return ""
}

// autoReply says why msg is an automatic answer, or "": a field that
// says so (autoReplyField), or a vacation notice's subject.
func autoReply(msg *mime.Part, subject string) string {
	if why := autoReplyField(msg.Header); why != "" {
		return why
	}
	for _, s := range vacationSubjects {
		if strings.HasPrefix(subject, s) || (len(s) > 5 && strings.Contains(subject, s)) {
			return "subject: " + s
		}
	}
	return ""
}

// vacationSubjects start (or, when long enough to be unambiguous, are
// part of) the subjects of vacation notices, in lower case.
var vacationSubjects = []string{
	"auto:", "autoreply", "auto-reply", "auto reply", "automatic reply", "automatische antwort",
	"out of office", "out of the office", "abwesenheitsnotiz", "abwesend", "vacation",
	"réponse automatique", "respuesta automática", "risposta automatica", "automatisch antwoord",
}

// delayMarkers are phrases of delay warnings, in lower case: Postfix's
// "Delayed Mail (still being retried)", Exim's "Warning: message ...
// delayed", Gmail's "Delivery Status Notification (Delay)" and "You do
// not need to resend", Sendmail's "Warning: could not send message for
// past 4 hours", Exchange's "Delivery delayed".
var delayMarkers = []string{
	"(delay)", "delayed", "could not send message for past", "still being retried", "will retry", "will be retried", "will continue",
	"do not need to resend", "don't need to resend", "warning message only",
	"not yet been delivered", "still trying", "no action is required", "delivery attempts will continue",
}

// delayText returns the delay marker s holds, or "".
func delayText(s string) string {
	for _, m := range delayMarkers {
		if strings.Contains(s, m) {
			return m
		}
	}
	return ""
}

// permanentPhrases are phrases of permanent failures, in lower case:
// what Postfix, Exim, qmail, Sendmail, Gmail and Exchange write when a
// mailbox does not exist or a message was refused for good.
var permanentPhrases = []string{
	"user unknown", "unknown user", "no such user", "does not exist", "doesn't exist", "mailbox unavailable",
	"mailbox not found", "no mailbox here", "permanent error", "permanent failure", "permanently",
	"sorry, i couldn't deliver", "i wasn't able to deliver", "could not be delivered", "undeliverable",
	"recipient address rejected", "address rejected", "unrouteable address", "mail delivery failed",
	"returned to sender", "delivery has failed",
}

var (
	// RFC 3463 §3.1: a permanent failure's class is 5, a persistent
	// transient one's 4.
	permanentCode = regexp.MustCompile(`\b5\.[0-9]{1,3}\.[0-9]{1,3}\b`)
	transientCode = regexp.MustCompile(`\b4\.[0-9]{1,3}\.[0-9]{1,3}\b`)
	// RFC 5321 §4.2.1: 55x, the permanent refusals of a mailbox or a
	// message, as a reply quoted at the start of a line or after a colon.
	permanentReply = regexp.MustCompile(`(?m)(^|[:;]|\bsaid)\s*55[0-9][ -]`)
)

// permanentText reads a mailer's text: an RFC 3463 5.x.x code or a 55x
// reply is a permanent failure, and so is a phrase of one when no 4.x.x
// code says the failure was transient. It returns the status (the code,
// or "" when there is none) and why, or "", "" when the text says no
// such thing.
func permanentText(s string) (status, why string) {
	if code := permanentCode.FindString(s); code != "" {
		return code, "a permanent status " + code
	}
	if permanentReply.MatchString(s) {
		return "", "a 55x reply"
	}
	if transientCode.MatchString(s) {
		return "", ""
	}
	for _, p := range permanentPhrases {
		if strings.Contains(s, p) {
			return "", "the text of a permanent failure: " + p
		}
	}
	return "", ""
}

// reportTextMax bounds the text read from a mailer's message.
const reportTextMax = 16 << 10

// returnedMarkers start the copy of the returned message in plain-text
// bounces (Exim, qmail, Sendmail, Postfix's own wording): what follows is
// the original, which any sender wrote, and is not read as the report.
var returnedMarkers = []string{
	"------ this is a copy of the",                 // Exim: "...of the message, including all the headers"
	"--- below this line is a copy of the message", // qmail
	"----- original message",                       // Sendmail: "----- Original message follows -----"
	"------ original message",
}

// reportText is the text a mailer wrote in msg: its text/plain parts
// outside any returned message, up to the copy of the original, at most
// reportTextMax bytes. A transcript of the session is kept: it holds
// the remote server's reply.
func reportText(msg *mime.Part) string {
	var b strings.Builder
	var walk func(p *mime.Part, depth int)
	walk = func(p *mime.Part, depth int) {
		switch {
		case b.Len() >= reportTextMax || depth > 3:
		case p.IsMultipart():
			for _, c := range p.Children {
				walk(c, depth+1)
			}
		case p.MediaType == "text/plain":
			body, err := p.Decoded(reportTextMax)
			if err == nil {
				b.WriteString(beforeReturned(string(body)))
				b.WriteString("\n")
			}
		}
	}
	walk(msg, 0)
	return b.String()
}

// beforeReturned cuts s where the copy of the returned message starts.
func beforeReturned(s string) string {
	lower := strings.ToLower(s)
	end := len(s)
	for _, m := range returnedMarkers {
		if i := strings.Index(lower, m); i >= 0 && i < end {
			end = i
		}
	}
	return s[:end]
}
