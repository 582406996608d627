package pipeline

import (
	"context"
	"errors"
	stdmime "mime"
	"strings"
	"unicode/utf8"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// HeldPost is a held message opened for its moderator: decrypted in
// memory for one reading (DESIGN §4.6: nothing of it is stored in clear)
// and only when its integrity checked out (DESIGN §4.1).
type HeldPost struct {
	// Encrypted is whether it arrived encrypted to the list.
	Encrypted bool
	// Status is the signature's status; Signer is set when it is good.
	Status spcrypto.Status
	Signer *spcrypto.Signer
	// Signature says, in words, who signed and whether that signer may
	// post as the From address says; never message content.
	Signature string
	// Verified is set when a member signed it as their From address.
	Verified bool
	// Unreadable says, in a sentence, why the content cannot be shown
	// (not decryptable, no integrity protection, not MIME); the fields
	// below are then empty.
	Unreadable string
	// Headers are the header fields of the content (the protected ones
	// when it was encrypted), RFC 2047 decoded.
	Headers []HeaderField
	// Texts are the text parts that are not attachments, in UTF-8.
	Texts []string
	// Attachments are the other leaf parts: named, never opened.
	Attachments []HeldAttachment
}

// HeaderField is one header field of a held post.
type HeaderField struct{ Name, Value string }

// HeldAttachment is a part of a held post that is not shown as text.
type HeldAttachment struct {
	Name string
	Type string
	Size int // decoded size in bytes
}

// shownHeaders are the header fields a moderator reads, in this order.
var shownHeaders = []string{"From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-Id", "In-Reply-To"}

// ReadHeld opens a held post for its moderator: decrypts it with the
// list's key, verifies the signature against the members' keys as a post
// is, and returns what it says. It changes nothing: the hold stays, no
// replay mark is taken.
func (p *Pipeline) ReadHeld(ctx context.Context, list *store.List, h *store.Hold) (*HeldPost, error) {
	h, err := p.sealer.OpenHold(h)
	if err != nil {
		return nil, err
	}
	msg, err := mime.Parse(h.Raw, p.opt.Limits)
	if err != nil {
		return &HeldPost{Unreadable: policy.Unparseable.TextFor(list.IsGateway())}, nil
	}
	r, err := p.roster(ctx, list)
	if err != nil {
		return nil, err
	}
	o, err := p.open(list, r, msg)
	var ee *engineError
	switch {
	case errors.As(err, &ee) && errors.Is(err, pgp.ErrNotEncrypted):
		o = p.openClearAny(r, msg)
	case errors.As(err, &ee):
		return &HeldPost{Encrypted: true, Unreadable: ee.reason.TextFor(list.IsGateway())}, nil
	case err != nil:
		return nil, err
	}
	out := &HeldPost{Encrypted: o.protection.Encrypted}
	if o.protection.Encrypted && o.protection.Integrity == "" {
		// DESIGN §4.1: unauthenticated plaintext is not even parsed.
		out.Unreadable = policy.NoIntegrity.TextFor(list.IsGateway())
		return out, nil
	}
	content, err := p.parseContent(o.content)
	if err != nil {
		out.Unreadable = "Its decrypted content could not be parsed as MIME."
		return out, nil
	}
	hdr := readHeaders(msg, content)
	certified, err := p.certify(ctx, list, o, hdr.from.addr, r)
	if err != nil {
		return nil, err
	}
	out.Status, out.Signer = o.status, o.signer
	out.Signature, out.Verified = signatureVerdict(o, certified, hdr, r, list)
	out.Headers = contentHeaders(msg, content)
	// No part decodes to more than the content it is in.
	readParts(content, 0, int64(len(content.Raw)), out)
	return out, nil
}

// signatureVerdict says who signed a held post and whether the list
// would take that signature as its From address's (DESIGN §4.2).
func signatureVerdict(o *opened, certified bool, hdr headers, r *roster, list *store.List) (string, bool) {
	if o.status != spcrypto.StatusGood || o.signer == nil {
		text := o.status.String()
		switch o.status {
		case spcrypto.StatusUnsigned:
			text = "not signed"
		case spcrypto.StatusBad:
			text = "the signature does not verify: the message or its signature was altered"
		case spcrypto.StatusUnknownSigner:
			text = "signed by a key that is no member's"
		}
		if o.reason != "" && o.status != spcrypto.StatusUnsigned && o.status != spcrypto.StatusUnknownSigner {
			text += " (" + o.reason + ")"
		}
		return text, false
	}
	who := o.signer.Fingerprint
	if len(o.signer.Addresses) > 0 {
		who = strings.Join(o.signer.Addresses, ", ") + ", key " + o.signer.Fingerprint
	}
	_, reason := policy.FindSender(policy.Input{Signer: o.signer, Certified: certified, From: hdr.from.addr,
		MultipleFrom: hdr.multipleFrom, Members: r.members, Rules: rules(list.Settings)})
	switch reason {
	case policy.OK:
		return "good signature by the member " + hdr.from.addr + " (" + who + ")", true
	case policy.FromMismatch:
		return "good signature by a member's key (" + who + "), but not for the From address " + hdr.from.addr, false
	}
	return "good signature by a key that is no member's (" + who + ")", false
}

// contentHeaders are the shown header fields of the content, each taken
// from the content when it has it, else from the outer message.
func contentHeaders(outer, content *mime.Part) []HeaderField {
	var out []HeaderField
	for _, k := range shownHeaders {
		v := content.Header.Get(k)
		if v == "" {
			v = outer.Header.Get(k)
		}
		if v == "" {
			continue
		}
		if d, err := new(stdmime.WordDecoder).DecodeHeader(v); err == nil && utf8.ValidString(d) {
			v = d
		}
		out = append(out, HeaderField{Name: k, Value: strings.ToValidUTF8(v, "\uFFFD")})
	}
	return out
}

// readParts adds p's text parts and attachments to out, depth first.
// A message/rfc822 part is an attachment: it is named, not opened.
func readParts(part *mime.Part, i int, max int64, out *HeldPost) {
	if part.IsMultipart() {
		for j, c := range part.Children {
			readParts(c, j, max, out)
		}
		return
	}
	body, err := part.Decoded(max)
	if part.MediaType == "text/plain" && !isAttachment(part) && err == nil {
		text, charset := inlineUTF8(body, part.Params["charset"])
		if charset != "utf-8" {
			text = []byte(strings.ToValidUTF8(string(text), "\uFFFD"))
		}
		out.Texts = append(out.Texts, strings.ReplaceAll(string(text), "\r\n", "\n"))
		return
	}
	size := len(body)
	if err != nil {
		size = len(part.Body)
	}
	out.Attachments = append(out.Attachments, HeldAttachment{Name: attachmentName(part, i), Type: part.MediaType, Size: size})
}
