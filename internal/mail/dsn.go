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
	Recipient string // the Final-Recipient (or Original-Recipient) addr-spec
	// Original is the Original-Recipient addr-spec, when the report gives
	// one: the address the sender used, before forwarding rewrote it into
	// Recipient (RFC 3464 §2.3.1).
	Original   string
	Action     string // failed, delayed, delivered, relayed, expanded (lower case)
	Status     string // e.g. "5.1.1"
	Diagnostic string // Diagnostic-Code, e.g. "smtp; 550 5.1.1 no such user"
}

// Failed reports whether the recipient failed permanently: RFC 3464
// §2.3.3 action "failed" means the message could not be delivered and
// will not be retried, whatever the status says (an MTA that gives up on
// a transient failure reports 4.x.x with it); a block without an action
// fails when its status is permanent (RFC 3463 §3.1, 5.x.x). A delay is
// never a failure.
func (r DSNRecipient) Failed() bool {
	switch r.Action {
	case "failed":
		return true
	case "":
		return strings.HasPrefix(r.Status, "5.")
	}
	return false
}

// Names reports whether the block is about addr: its final or its
// original recipient.
func (r DSNRecipient) Names(addr string) bool {
	return addr != "" && (r.Recipient == addr || r.Original == addr)
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
			orig := dsnAddress(h.Get("Original-Recipient"))
			rcpt := dsnAddress(h.Get("Final-Recipient"))
			if rcpt == "" {
				rcpt = orig
			}
			if rcpt != "" {
				out = append(out, DSNRecipient{Recipient: rcpt, Original: orig, Action: strings.ToLower(strings.TrimSpace(h.Get("Action"))),
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
