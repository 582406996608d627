package mail

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
)

// DSNRecipient is one per-recipient block of a delivery status
// notification (RFC 3464 §2.3).
type DSNRecipient struct {
	Recipient  string // the Final-Recipient (or Original-Recipient) addr-spec
	Action     string // failed, delayed, delivered, relayed, expanded (lower case)
	Status     string // e.g. "5.1.1"
	Diagnostic string // Diagnostic-Code, e.g. "smtp; 550 5.1.1 no such user"
}

// Failed reports whether the recipient failed permanently.
func (r DSNRecipient) Failed() bool {
	return r.Action == "failed" && strings.HasPrefix(r.Status, "5")
}

// maxDSNRecipients bounds the blocks read from one report.
const maxDSNRecipients = 100

// ParseDSN reads the body of a message/delivery-status part: one block
// of per-message fields, then a block per recipient, separated by blank
// lines (RFC 3464 §2.1). Blocks without a recipient are skipped.
func ParseDSN(body []byte) []DSNRecipient {
	var out []DSNRecipient
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	for first := true; len(out) < maxDSNRecipients; first = false {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 && !first {
			rcpt := dsnAddress(h.Get("Final-Recipient"))
			if rcpt == "" {
				rcpt = dsnAddress(h.Get("Original-Recipient"))
			}
			if rcpt != "" {
				out = append(out, DSNRecipient{Recipient: rcpt, Action: strings.ToLower(strings.TrimSpace(h.Get("Action"))),
					Status: strings.TrimSpace(h.Get("Status")), Diagnostic: strings.TrimSpace(h.Get("Diagnostic-Code"))})
			}
		}
		if err != nil {
			break
		}
	}
	return out
}

// dsnAddress reads "rfc822; addr" (RFC 3464 §2.3.2).
func dsnAddress(v string) string {
	typ, addr, ok := strings.Cut(v, ";")
	if !ok || !strings.EqualFold(strings.TrimSpace(typ), "rfc822") {
		return ""
	}
	a, err := Normalize(strings.Trim(strings.TrimSpace(addr), "<>"))
	if err != nil {
		return ""
	}
	return a
}
