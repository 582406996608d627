package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// holdList returns the list whose held messages the actor asks for: the
// one place that says who may moderate a list (its owners, an admin, and
// its moderators).
func (s *Service) holdList(ctx context.Context, list string) (*store.List, error) {
	l, _, err := s.ListAccess(ctx, list)
	return l, err
}

// HeldPost is a held message read by its moderator. Its Raw is not
// set: the reader has the message opened.
type HeldPost struct {
	store.Hold
	// Outer are the outer header fields (HoldHeaders), as claimed.
	Outer map[string]string
	// Post is what the held message says once opened: signer, inner
	// headers, texts and attachments, or why it cannot be read.
	pipeline.HeldPost
}

// ReadHold decrypts a held message with the list's key, in memory and for
// this request only (DESIGN §4.6: the hold stays ciphertext), and returns
// who signed it, why it is held, its inner header fields, its texts and
// its attachments' names. Each reading is recorded in the audit log
// ("hold.read"), as reading a gateway's archive is.
func (s *Service) ReadHold(ctx context.Context, list string, id int64) (*HeldPost, error) {
	l, h, err := s.Hold(ctx, list, id)
	if err != nil {
		return nil, err
	}
	if s.flow == nil {
		return nil, errors.New("admin: no flow configured")
	}
	p, err := s.flow.ReadHeld(ctx, l, h)
	if err != nil {
		return nil, err
	}
	held := &HeldPost{Hold: *h, Outer: HoldHeaders(h), HeldPost: *p}
	held.Size, held.Raw = len(h.Raw), nil
	return held, s.audit(ctx, "hold.read", l.Address, holdTarget(id), "")
}

// MaxRejectReason is the longest reason a moderator may give a sender,
// in characters.
const MaxRejectReason = 2000

// rejectReason checks a moderator's reason for the sender: plain text of
// at most MaxRejectReason characters, line breaks and tabs the only
// control characters; surrounding space is trimmed.
func rejectReason(reason string) (string, error) {
	reason = strings.TrimSpace(strings.ReplaceAll(reason, "\r\n", "\n"))
	if !utf8.ValidString(reason) {
		return "", fmt.Errorf("%w: the reason is not UTF-8 text", ErrInvalid)
	}
	if n := utf8.RuneCountInString(reason); n > MaxRejectReason {
		return "", fmt.Errorf("%w: the reason is %d characters long; at most %d", ErrInvalid, n, MaxRejectReason)
	}
	if strings.IndexFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return "", fmt.Errorf("%w: the reason may not hold control characters", ErrInvalid)
	}
	return reason, nil
}

// quoteReason quotes the moderator's reason as theirs, each line "> ",
// for the plain-text notice; "" stays "".
func quoteReason(reason string) string {
	if reason == "" {
		return ""
	}
	lines := strings.Split(reason, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("> "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// Hold decisions, for DecideHolds.
const (
	HoldRelease = "release"
	HoldReject  = "reject"
	HoldDiscard = "discard"
)

// HoldResult is what became of one held message of a DecideHolds.
type HoldResult struct {
	ID  int64
	Err error // nil when done
}

// DecideHolds releases, rejects (with reason, for the sender) or discards
// several held messages of a list, each on its own: one that cannot be
// done (not there, cannot be distributed) does not stop the others. The
// error is for a request that cannot be done at all (an unknown action,
// a list the actor may not moderate, a reason that is not acceptable).
func (s *Service) DecideHolds(ctx context.Context, list, action string, ids []int64, reason string) ([]HoldResult, error) {
	if _, err := s.holdList(ctx, list); err != nil {
		return nil, err
	}
	var do func(int64) error
	switch action {
	case HoldRelease:
		do = func(id int64) error { return s.ReleaseHold(ctx, list, id) }
	case HoldReject:
		r, err := rejectReason(reason)
		if err != nil {
			return nil, err
		}
		do = func(id int64) error { return s.RejectHold(ctx, list, id, r) }
	case HoldDiscard:
		do = func(id int64) error { return s.DiscardHold(ctx, list, id) }
	default:
		return nil, fmt.Errorf("%w: %q is not a decision on a held message (release, reject or discard)", ErrInvalid, action)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no held message chosen", ErrInvalid)
	}
	out := make([]HoldResult, 0, len(ids))
	for _, id := range ids {
		out = append(out, HoldResult{ID: id, Err: do(id)})
	}
	return out, nil
}

// WriteHeldPost writes a held message as ReadHold opened it, as plain
// text for a terminal or a mail: why it is held, who signed it, its
// header fields, its texts and its attachments.
func WriteHeldPost(w io.Writer, p *HeldPost) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Held message %d, held %s\n", p.ID, p.CreatedAt.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Held because: %s\n", p.Reason)
	sender := p.EnvelopeFrom
	if sender == "" {
		sender = "(none)"
	}
	fmt.Fprintf(&b, "Envelope sender: %s\n", sender)
	if p.Unreadable != "" {
		fmt.Fprintf(&b, "Its content cannot be shown. %s\n", p.Unreadable)
		_, err := io.WriteString(w, b.String())
		return err
	}
	enc := "no: it arrived unencrypted"
	if p.Encrypted {
		enc = "yes, to the list's key"
	}
	fmt.Fprintf(&b, "Encrypted: %s\nSignature: %s\n\n", enc, p.Signature)
	for _, f := range p.Headers {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, oneLine(f.Value))
	}
	for i, t := range p.Texts {
		t = printable(t)
		fmt.Fprintf(&b, "\n----- text %d of %d -----\n%s", i+1, len(p.Texts), t)
		if !strings.HasSuffix(t, "\n") {
			b.WriteByte('\n')
		}
	}
	if len(p.Texts) == 0 {
		b.WriteString("\n(no text part)\n")
	}
	if len(p.Attachments) > 0 {
		b.WriteString("\n----- attachments (not opened) -----\n")
		for _, a := range p.Attachments {
			fmt.Fprintf(&b, "%s (%s, %d bytes)\n", oneLine(a.Name), a.Type, a.Size)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine replaces line breaks and other control characters (a header
// field's folding, a file name's tricks) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// printable replaces the control characters of a text but line breaks
// and tabs (a terminal's escape sequences, say) with U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return '\uFFFD'
		}
		return r
	}, s)
}
