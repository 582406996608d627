package pipeline

import (
	"errors"
	"fmt"
	stdmime "mime"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/store"
)

// A helpdesk threads mail into a ticket by the tag it writes into the
// Subject of its replies: Request Tracker "[example.org #7]", Znuny and
// OTRS "[Ticket#2026120710000012]" (with the TicketHookDivider ": ",
// "[Ticket#: 2026120710000012]"), Zammad "[Ticket#31001]", osTicket
// "[#123]". All of them find the tag anywhere in the Subject. An
// encrypted reply hides its Subject ("..." outside, RFC 9788), so a
// customer whose mail program does not show protected headers answers
// "Re: ..." and the helpdesk opens a new ticket. A gateway can keep the
// tag outside (reply_subject=tag), and gives a message of a known
// conversation whose Subject lost the tag the conversation's tag back
// (restoreTag).

// DefaultTicketTag is the pattern that finds a ticket tag when a gateway
// sets none: RT's "[NAME #N]", Znuny/OTRS's and Zammad's "[Ticket#N]"
// (also "[Ticket#: N]"), osTicket's "[#N]".
const DefaultTicketTag = `\[(?:[^\[\]#]{1,64} #[0-9]{1,20}|(?i:ticket)#(?:: ?)?[0-9]{1,20}|#[0-9]{1,20})\]`

// Bounds of a ticket tag pattern and of a tag found with it. RE2 matches
// in time linear in the Subject, which the header limits bound.
const (
	maxTagPattern = 512
	maxTagLen     = 128
)

// TicketTagPattern compiles a gateway's ticket_tag ("" is
// DefaultTicketTag). It refuses a pattern that matches the empty string:
// that would find a tag in every Subject.
func TicketTagPattern(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		expr = DefaultTicketTag
	}
	if len(expr) > maxTagPattern {
		return nil, fmt.Errorf("longer than %d characters", maxTagPattern)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("not a regular expression: %s", se.Code)
		}
		return nil, errors.New("not a regular expression")
	}
	if re.MatchString("") {
		return nil, errors.New("it matches an empty text, so it would find a tag in every Subject")
	}
	return re, nil
}

// defaultTicketTag is DefaultTicketTag compiled once, when first needed
// (not at start-up: `process` of a list post never needs it); most
// gateways use it.
var defaultTicketTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(DefaultTicketTag) })

// ticketTag is gw's ticket tag pattern. A stored pattern that no longer
// compiles (it is checked when set) counts as the default.
func ticketTag(gw *store.List) *regexp.Regexp {
	if gw.Gateway.TicketTag == "" {
		return defaultTicketTag()
	}
	re, err := TicketTagPattern(gw.Gateway.TicketTag)
	if err != nil {
		return defaultTicketTag()
	}
	return re
}

// findTag returns the ticket tag in a Subject field's value, "" when it
// has none. Encoded words are decoded first (RFC 2047 §6): a helpdesk
// writes a Subject with a non-ASCII word as one encoded word, tag
// included. A tag that is too long or holds control characters is none.
func findTag(re *regexp.Regexp, subject string) string {
	if d, err := new(stdmime.WordDecoder).DecodeHeader(subject); err == nil && utf8.ValidString(d) {
		subject = d
	}
	tag := strings.TrimSpace(re.FindString(subject))
	if len(tag) > maxTagLen || !utf8.ValidString(tag) || strings.ContainsFunc(tag, unicode.IsControl) {
		return ""
	}
	return tag
}

// replyPrefix matches the reply and forward markers mail programs put
// before a Subject ("Re: ", "AW: ", "Fwd: ", "Re[2]: ", several of them).
var replyPrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[ \t]*(?i:re|aw|sv|vs|antw|fwd?|wg|tr)(?:\[[0-9]{1,3}\])?[ \t]*:)*[ \t]*`)
})

// withTag returns a Subject field's value with tag put after its reply
// markers: "Re: ..." becomes "Re: [example.org #7] ...", "" becomes the
// tag alone. The rest of the value is kept byte for byte, and the tag
// stands apart from it by a space, so encoded words stay valid (RFC 2047
// §5 (1): an encoded word is separated from text by white space).
func withTag(subject, tag string) string {
	head := replyPrefix().FindString(subject)
	rest := strings.TrimSpace(subject[len(head):])
	head = strings.TrimSpace(head)
	word := tag
	if !printableASCII(tag) {
		// RFC 2047 §5 (1): non-ASCII text in a Subject is an encoded
		// word; one before another encoded word would be joined to it
		// without the space (RFC 2047 §6.2), so the space goes inside.
		if strings.HasPrefix(rest, "=?") {
			tag += " "
		}
		word = stdmime.QEncoding.Encode("utf-8", tag)
	}
	parts := []string{word}
	if head != "" {
		parts = []string{head, word}
	}
	if rest != "" {
		parts = append(parts, rest)
	}
	return strings.Join(parts, " ")
}

// printableASCII reports whether s is printable US-ASCII and can be
// written as it is into an unstructured field (RFC 5322 §3.2.5).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// taggedDots is the outer Subject of an encrypted reply with
// reply_subject=tag: the reply's ticket tag before "..." (RFC 9788's
// placeholder), or "..." alone when the reply has no tag.
func taggedDots(tag string) string {
	if tag == "" {
		return "..."
	}
	return withTag("...", tag)
}

// restoreTag decides, for an inbound message of conversation t (nil when
// it refers to none), the Subject the helpdesk gets ("" leaves it as it
// came) and the tag the conversation keeps from it ("" leaves its own).
//
// A Subject without a tag gets the conversation's, which the helpdesk
// wrote in a reply, and a tag is kept from inbound mail only for a
// conversation that has none yet (one from before tags were kept): the
// helpdesk's tag wins. Both only for a message whose sender the content
// proves and the conversation answers to: a good signature (not
// untrusted, mismatch or unsigned) by an address of t's answerable ones
// (binding.go). Anyone can refer to a conversation: its Message-IDs
// travel in clear. A message that only does so already reaches the
// helpdesk with those references, as before; given the tag, it would be
// put into the customer's ticket, whose tag in a hidden Subject the
// sender need not even know (DESIGN §4.3: no more than before), and its
// tag would steer the customer's next replies into another ticket. So
// everything else keeps its Subject as it came.
func restoreTag(gw *store.List, t *store.Thread, a *arrival) (subject, tag string) {
	if t == nil || a.verdict != "good" || !a.bound || !slices.Contains(t.Answerable, a.sender.addr) {
		return "", ""
	}
	subject = helpdeskSubject(a)
	if found := findTag(ticketTag(gw), subject); found != "" {
		if t.Tag == "" {
			return "", found
		}
		return "", ""
	}
	if t.Tag == "" {
		return "", ""
	}
	return withTag(subject, t.Tag), ""
}

// helpdeskSubject is the Subject the helpdesk gets: the protected one
// when an encrypted message has one (RFC 9788), else the outer one
// (forHelpdesk).
func helpdeskSubject(a *arrival) string {
	if a.engine != "" && a.content.Header.Has("Subject") {
		return a.content.Header.Get("Subject")
	}
	return a.outer.Header.Get("Subject")
}
