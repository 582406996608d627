package mail

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/mime"
)

// ErrBadDSN is wrapped by the error DSN.Bytes returns for a report it
// refuses to write. The error names every problem found, not only the
// first.
var ErrBadDSN = errors.New("mail: invalid delivery status notification")

// DSN is a delivery status notification to write (RFC 3464), sent as a
// multipart/report (RFC 6522). It does no I/O: the caller sends the
// result, with a null envelope sender (RFC 5321 §4.5.5), to the original
// envelope sender.
//
// Single-line values must not hold CR, LF or NUL. The fields of the
// message/delivery-status part (Reporting-MTA, Original-Envelope-Id and
// the recipients) must be printable US-ASCII: non-ASCII ones need
// message/global-delivery-status (RFC 6533), which is not written.
type DSN struct {
	// ReportingMTA is the DNS name of the reporting MTA, written as
	// "Reporting-MTA: dns; NAME" (RFC 3464 §2.2.2). Required.
	ReportingMTA string
	// From is the report's From, e.g. "Mail Delivery System
	// <MAILER-DAEMON@example.org>"; empty means
	// "Mail Delivery System <MAILER-DAEMON@ReportingMTA>".
	From string
	// To is the original envelope sender, an addr-spec. Required: a
	// message with a null envelope sender gets no report (RFC 5321
	// §4.5.5).
	To string
	// Subject is the report's Subject; its words that are not ASCII are
	// encoded per RFC 2047, the others stay as they are (a helpdesk
	// finds its ticket tag in them); empty means "Delivery Status
	// Notification".
	Subject string
	// Date is the report's Date. Required.
	Date time.Time
	// MessageID is the report's Message-ID, "<...@...>"; empty means one
	// made by NewMessageID from the Bytes randomness and ReportingMTA.
	MessageID string
	// Explanation is the human-readable first part, UTF-8 text of any
	// number of lines (RFC 6522 §3). Required.
	Explanation string
	// OriginalEnvelopeID is the ENVID of the original transaction
	// (RFC 3464 §2.2.1); empty means no Original-Envelope-Id field.
	OriginalEnvelopeID string
	// ArrivalDate is when the original message arrived (RFC 3464
	// §2.2.5); the zero time means no Arrival-Date field.
	ArrivalDate time.Time
	// Recipients are the per-recipient blocks (RFC 3464 §2.3), at least
	// one. Recipient must be an addr-spec, Action one of failed, delayed,
	// delivered, relayed or expanded, Status an RFC 3463 code of class 2,
	// 4 or 5. Diagnostic, when set, is written as given
	// ("smtp; 550 5.7.1 ...").
	Recipients []DSNRecipient
	// Headers is the original message's header, returned as the
	// text/rfc822-headers third part; nil or empty means no third part.
	// Only the header block is used: anything after its first empty
	// line is dropped, so that passing a whole message never returns its
	// body.
	Headers []byte
	// InReplyTo is the original's Message-ID, written as In-Reply-To and
	// as the last entry of References; empty means neither.
	InReplyTo string
	// References are the original's own References (RFC 5322 §3.6.4),
	// written before InReplyTo in References, so that a reader threads
	// the report into the original's conversation. Each is a msg-id;
	// they are written only with InReplyTo.
	References []string
}

// Default values of DSN fields.
const (
	dsnDefaultSubject  = "Delivery Status Notification"
	dsnDefaultFromName = "Mail Delivery System"
)

// Bytes writes d as a complete message with CRLF line endings: a
// multipart/report; report-type=delivery-status (RFC 6522) holding the
// text/plain explanation, the message/delivery-status part and, when
// d.Headers is set, a text/rfc822-headers part. rnd supplies the
// boundary (mime.NewBoundary) and, when d.MessageID is empty, the
// Message-ID. An invalid d yields an error wrapping ErrBadDSN.
func (d DSN) Bytes(rnd io.Reader) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	boundary, err := mime.NewBoundary(rnd)
	if err != nil {
		return nil, fmt.Errorf("mail: dsn: %w", err)
	}
	id := d.MessageID
	if id == "" {
		if id, err = NewMessageID(rnd, d.ReportingMTA); err != nil {
			return nil, err
		}
	}
	parts, err := d.parts()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := mime.WriteFields(&b, d.topFields(id, boundary)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDSN, err)
	}
	if err := writeMultipart(&b, boundary, parts); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// dsnField is one header field to write.
type dsnField = mime.HeaderField

// topFields returns the message header of d with Message-ID id.
func (d DSN) topFields(id, boundary string) []dsnField {
	ct := stdmime.FormatMediaType("multipart/report",
		map[string]string{"report-type": "delivery-status", "boundary": boundary})
	return []dsnField{
		{"From", d.from()},
		{"To", "<" + d.to() + ">"},
		{"Subject", encodeText(cmp.Or(d.Subject, dsnDefaultSubject))},
		// RFC 5322 §3.3: date-time, which RFC 1123 with a numeric zone is.
		{"Date", d.Date.Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"In-Reply-To", d.InReplyTo},
		{"References", d.references()},
		// RFC 3834 §5: a report answers a message; no responder may
		// answer it in turn.
		{"Auto-Submitted", "auto-replied"},
		{"MIME-Version", "1.0"},
		{"Content-Type", ct},
	}
}

// references returns the References field body of a checked d: the
// original's References, then the original (RFC 5322 §3.6.4); "" without
// InReplyTo.
func (d DSN) references() string {
	if d.InReplyTo == "" {
		return ""
	}
	return strings.Join(append(slices.Clone(d.References), d.InReplyTo), " ")
}

// encodeText writes s as an unstructured field body: each run of words
// that are not printable ASCII becomes one RFC 2047 encoded word (the
// spaces inside a run go into it, RFC 2047 §6.2: white space between
// encoded words is dropped), and ASCII words stay readable to programs
// that do not decode.
func encodeText(s string) string {
	words := strings.Split(s, " ")
	plain := func(w string) bool { return checkASCII(w) == "" && !strings.Contains(w, "=?") }
	var out []string
	for i := 0; i < len(words); {
		if plain(words[i]) {
			out = append(out, words[i])
			i++
			continue
		}
		j := i + 1
		for j < len(words) && !plain(words[j]) {
			j++
		}
		out = append(out, stdmime.QEncoding.Encode("utf-8", strings.Join(words[i:j], " ")))
		i = j
	}
	return strings.Join(out, " ")
}

// from returns the From field body of a checked d.
func (d DSN) from() string {
	if d.From == "" {
		return FormatAddress(dsnDefaultFromName, "MAILER-DAEMON@"+d.ReportingMTA)
	}
	// Rendered again so that a non-ASCII display name is RFC 2047 encoded.
	a, _ := netmail.ParseAddress(d.From)
	return a.String()
}

// to returns the normalised To of a checked d.
func (d DSN) to() string {
	to, _ := Normalize(d.To)
	return to
}

// parts returns the body parts of d, each its header and content
// followed by the CRLF that belongs to the next delimiter line
// (RFC 2046 §5.1.1).
func (d DSN) parts() ([][]byte, error) {
	status, err := d.statusPart()
	if err != nil {
		return nil, err
	}
	parts := [][]byte{textPart("text/plain; charset=utf-8", []byte(d.Explanation)), status}
	if len(d.Headers) > 0 {
		parts = append(parts, textPart("text/rfc822-headers; charset=utf-8", headerBlock(d.Headers)))
	}
	return parts, nil
}

// textPart returns a text part of type ct holding text, with CRLF line
// endings, ending in a line break. It is 7bit when it can be, else
// quoted-printable (RFC 2045 §6.7), which keeps it 7-bit clean for relays
// without 8BITMIME.
func textPart(ct string, text []byte) []byte {
	text = mime.Canonicalize(text)
	if !bytes.HasSuffix(text, []byte("\r\n")) {
		text = append(text, "\r\n"...)
	}
	cte := "7bit"
	if !is7bit(text) {
		cte, text = "quoted-printable", quotedPrintable(text)
	}
	h := "Content-Type: " + ct + "\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n"
	return append(append([]byte(h), text...), "\r\n"...)
}

// is7bit reports whether text, with CRLF line endings, is 7bit data
// (RFC 2045 §2.7): US-ASCII without NUL, in lines of at most 998 octets.
func is7bit(text []byte) bool {
	for _, line := range bytes.Split(text, []byte("\r\n")) {
		if len(line) > 998 {
			return false
		}
		for _, c := range line {
			if c == 0 || c > 127 {
				return false
			}
		}
	}
	return true
}

// quotedPrintable encodes text, whose lines end in CRLF, as
// quoted-printable; the line breaks stay CRLF.
func quotedPrintable(text []byte) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	// Writing to a bytes.Buffer cannot fail.
	_, _ = w.Write(text)
	_ = w.Close()
	return b.Bytes()
}

// headerBlock returns the header block at the start of h with CRLF line
// endings, ending in the empty line that ends a header block; anything
// after that line is dropped.
func headerBlock(h []byte) []byte {
	h = mime.Canonicalize(h)
	if bytes.HasPrefix(h, []byte("\r\n")) {
		return []byte("\r\n")
	}
	if i := bytes.Index(h, []byte("\r\n\r\n")); i >= 0 {
		return h[:i+4]
	}
	if !bytes.HasSuffix(h, []byte("\r\n")) {
		h = append(h, "\r\n"...)
	}
	return append(h, "\r\n"...)
}

// statusPart returns the message/delivery-status part of a checked d:
// the per-message fields, then one block per recipient, each block
// ended by an empty line (RFC 3464 §2.1). The last empty line is the
// CRLF of the next delimiter.
func (d DSN) statusPart() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	blocks := [][]dsnField{d.messageFields()}
	for _, r := range d.Recipients {
		blocks = append(blocks, recipientFields(r))
	}
	for _, fs := range blocks {
		// The fields are header fields (RFC 3464 §2.1): WriteHeader
		// folds a long Diagnostic-Code and refuses line breaks.
		if err := mime.WriteFields(&b, fs); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDSN, err)
		}
	}
	return b.Bytes(), nil
}

// messageFields returns the per-message fields of d (RFC 3464 §2.2).
func (d DSN) messageFields() []dsnField {
	fs := []dsnField{
		// RFC 3464 §2.2.1: the ENVID of the original transaction.
		{"Original-Envelope-Id", d.OriginalEnvelopeID},
		// RFC 3464 §2.2.2: Reporting-MTA: mta-name-type; mta-name.
		{"Reporting-MTA", "dns; " + d.ReportingMTA},
	}
	if !d.ArrivalDate.IsZero() {
		// RFC 3464 §2.2.5: an RFC 822 date-time.
		fs = append(fs, dsnField{"Arrival-Date", d.ArrivalDate.Format(time.RFC1123Z)})
	}
	return fs
}

// recipientFields returns the per-recipient fields of a checked r
// (RFC 3464 §2.3).
func recipientFields(r DSNRecipient) []dsnField {
	addr, _ := Normalize(r.Recipient)
	return []dsnField{
		// RFC 3464 §2.3.2: Final-Recipient: address-type; address.
		{"Final-Recipient", "rfc822; " + addr},
		{"Action", strings.ToLower(r.Action)},
		{"Status", r.Status},
		// RFC 3464 §2.3.6: Diagnostic-Code: diagnostic-type; text.
		{"Diagnostic-Code", r.Diagnostic},
	}
}

// writeMultipart writes the body of a multipart entity with parts, each
// of which ends with the CRLF of the delimiter after it.
func writeMultipart(b *bytes.Buffer, boundary string, parts [][]byte) error {
	for _, p := range parts {
		// RFC 2046 §5.1.1: the boundary must not occur in the parts.
		// A random one cannot; this guards against a broken rnd.
		if bytes.Contains(p, []byte("--"+boundary)) {
			return fmt.Errorf("mail: dsn: boundary occurs in a part")
		}
		b.WriteString("--" + boundary + "\r\n")
		b.Write(p)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return nil
}

// check returns an error wrapping ErrBadDSN that names every problem of
// d, or nil.
func (d DSN) check() error {
	var c dsnChecker
	c.add("Reporting-MTA", checkDNSName(d.ReportingMTA))
	if d.From != "" {
		c.add("From", checkFrom(d.From))
	}
	c.add("To", checkAddrSpec(d.To))
	c.add("Subject", checkLine(d.Subject))
	if d.Date.IsZero() {
		c.add("Date", "missing")
	}
	c.add("Message-ID", checkOptional(d.MessageID, checkMsgID))
	c.add("In-Reply-To", checkOptional(d.InReplyTo, checkMsgID))
	for _, r := range d.References {
		c.add("References", checkMsgID(r))
	}
	c.add("Original-Envelope-Id", checkASCII(d.OriginalEnvelopeID))
	c.add("explanation", checkText(d.Explanation))
	if len(d.Recipients) == 0 {
		c.add("recipients", "none")
	}
	for i, r := range d.Recipients {
		c.recipient(i+1, r)
	}
	return c.err()
}

// dsnChecker collects the problems of a DSN.
type dsnChecker struct{ problems []string }

// add records problem for field, unless problem is empty.
func (c *dsnChecker) add(field, problem string) {
	if problem != "" {
		c.problems = append(c.problems, field+": "+problem)
	}
}

// recipient checks the nth per-recipient block r.
func (c *dsnChecker) recipient(n int, r DSNRecipient) {
	field := func(name string) string { return fmt.Sprintf("recipient %d %s", n, name) }
	c.add(field("Final-Recipient"), checkRecipient(r.Recipient))
	c.add(field("Action"), checkAction(r.Action))
	c.add(field("Status"), checkStatus(r.Status))
	c.add(field("Diagnostic-Code"), checkASCII(r.Diagnostic))
}

// err returns the collected problems as one error, or nil.
func (c *dsnChecker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrBadDSN, strings.Join(c.problems, "; "))
}

// checkOptional returns check(s), or "" for an empty s.
func checkOptional(s string, check func(string) string) string {
	if s == "" {
		return ""
	}
	return check(s)
}

// checkLine refuses a value that would end its header field early and
// so inject fields (RFC 5322 §2.2).
func checkLine(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "contains CR, LF or NUL"
	}
	return ""
}

// checkASCII refuses a value that is not one line of printable US-ASCII
// (spaces and tabs allowed), as message/delivery-status fields must be
// (RFC 3464 §2.1; UTF-8 needs RFC 6533).
func checkASCII(s string) string {
	if p := checkLine(s); p != "" {
		return p
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c > '~' {
			return "not printable US-ASCII"
		}
	}
	return ""
}

// checkDNSName checks a Reporting-MTA name: letters, digits, hyphens and
// dots, without empty labels.
func checkDNSName(s string) string {
	if s == "" {
		return "missing"
	}
	if p := checkLine(s); p != "" {
		return p
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return "not a DNS name"
		}
	}
	return ""
}

// checkFrom checks a From address, "Name <addr>" or an addr-spec.
func checkFrom(s string) string {
	if p := checkLine(s); p != "" {
		return p
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return "not an address"
	}
	return checkAddrSpec(a.Address)
}

// checkAddrSpec checks a bare addr-spec.
func checkAddrSpec(s string) string {
	if s == "" {
		return "missing"
	}
	if p := checkLine(s); p != "" {
		return p
	}
	if _, err := Normalize(s); err != nil {
		return "not an addr-spec"
	}
	return ""
}

// checkRecipient checks a Final-Recipient addr-spec, which must be
// US-ASCII for the rfc822 address type (RFC 3464 §2.3.2).
func checkRecipient(s string) string {
	if p := checkAddrSpec(s); p != "" {
		return p
	}
	return checkASCII(s)
}

// IsMsgID reports whether s is a msg-id a DSN can name (InReplyTo,
// References): "<left@right>" in printable US-ASCII (RFC 5322 §3.6.4).
func IsMsgID(s string) bool { return checkMsgID(s) == "" }

// checkMsgID checks a msg-id, "<left@right>" (RFC 5322 §3.6.4).
func checkMsgID(s string) string {
	if p := checkASCII(s); p != "" {
		return p
	}
	inner, ok := strings.CutPrefix(s, "<")
	inner, ok2 := strings.CutSuffix(inner, ">")
	left, right, ok3 := strings.Cut(inner, "@")
	if !ok || !ok2 || !ok3 || left == "" || right == "" || strings.ContainsAny(inner, " \t<>") {
		return "not <left@right>"
	}
	return ""
}

// checkText checks the explanation: present, and UTF-8 as its charset
// says.
func checkText(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "missing"
	case !utf8.ValidString(s):
		return "not UTF-8"
	}
	return ""
}

// checkAction checks an Action value (RFC 3464 §2.3.3), in any case.
func checkAction(s string) string {
	switch strings.ToLower(s) {
	case "failed", "delayed", "delivered", "relayed", "expanded":
		return ""
	}
	return fmt.Sprintf("%q is not failed, delayed, delivered, relayed or expanded", s)
}

// checkStatus checks a Status value (RFC 3464 §2.3.4), an RFC 3463 §3.1
// status-code: class "." subject "." detail, class "2", "4" or "5",
// subject and detail 1*3digit.
func checkStatus(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") ||
		!digits(parts[1]) || !digits(parts[2]) {
		return fmt.Sprintf("%q is not an RFC 3463 status code 2.X.X, 4.X.X or 5.X.X", s)
	}
	return ""
}

// digits reports whether s is one to three ASCII digits.
func digits(s string) bool {
	return len(s) >= 1 && len(s) <= 3 && strings.Trim(s, "0123456789") == ""
}
