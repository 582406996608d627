package pipeline

import (
	"fmt"
	stdmime "mime"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// present sets how the copies show the post, from the list's options:
// From and Reply-To, the subject prefix, a Message-ID and Date of the
// list's own when it keeps neither or hides the sender.
func (p *Pipeline) present(list *store.List, h *headers) error {
	s := list.Settings
	h.anonymous = s.Anonymous
	switch {
	case s.Anonymous:
		h.from = address{name: listName(list), addr: list.Address}
		h.fromField, h.replyTo = mail.FormatAddress(listName(list), list.Address), list.Address
		h.date = ""
	case s.RealFrom:
		h.fromField = mail.FormatAddress(h.from.name, h.from.addr)
	default:
		h.fromField = mail.FormatAddress(viaName(list, h.from), list.Address)
	}
	if h.replyTo = list.Address; s.ReplyToSender && !s.Anonymous && h.from.addr != "" {
		h.replyTo = h.from.addr
	}
	if s.SubjectPrefix != "" && !strings.Contains(h.subject, s.SubjectPrefix) {
		h.subject = strings.TrimSpace(s.SubjectPrefix + " " + h.subject)
	}
	if h.messageID == "" || s.NewMessageID || s.Anonymous {
		id, err := mail.NewMessageID(p.opt.Rand, domainOf(list.Address))
		if err != nil {
			return err
		}
		h.messageID = id
	}
	if h.date == "" {
		h.date = p.opt.Now().UTC().Format(time.RFC1123Z)
	}
	return nil
}

func listName(list *store.List) string {
	if list.Name != "" {
		return list.Name
	}
	return list.Address
}

// metaBlock is Schleuder's block of the post's headers, signature and
// encryption at the top of each copy (headers_to_meta), or "".
func (p *Pipeline) metaBlock(list *store.List, h headers, dec policy.Decision, signer *crypto.Signer) string {
	if !list.Settings.HeadersToMeta {
		return ""
	}
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if !h.anonymous {
		line("From", mail.FormatAddress(h.from.name, h.from.addr))
	}
	line("To", h.to)
	line("Cc", h.cc)
	line("Date", h.date)
	line("Sig", signatureLine(dec, signer, h.anonymous))
	enc := "Unencrypted"
	if h.protection.Encrypted {
		enc = "Encrypted"
		if h.protection.Cipher != "" {
			enc += " (" + h.protection.Cipher + ")"
		}
	}
	line("Enc", enc)
	return b.String()
}

func signatureLine(dec policy.Decision, signer *crypto.Signer, anonymous bool) string {
	switch {
	case dec.Authenticated() && anonymous:
		return "Good signature by a member of the list"
	case dec.Authenticated():
		return "Good signature from " + signer.Fingerprint + " <" + dec.Sender.Email + ">"
	case dec.Reason == policy.Unsigned:
		return "Unsigned"
	}
	return "Not vouched for (" + strings.TrimPrefix(verified(dec, signer, false, true), "no; ") + ")"
}

// decorate puts the meta block before the content and the footer after
// it, in a multipart/mixed; the content keeps its own Content-* fields.
func (p *Pipeline) decorate(mediaType string, params map[string]string, contentFields []field, body []byte, meta, footer string, attach []Attachment) (string, map[string]string, []byte, error) {
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return "", nil, nil, err
	}
	original, err := entity(append([]field{{"Content-Type", stdmime.FormatMediaType(mediaType, params)}}, contentFields...), body)
	if err != nil {
		return "", nil, nil, err
	}
	var b strings.Builder
	text := func(s string) {
		b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(crlf(s) + "\r\n")
	}
	if meta != "" {
		text(meta)
	}
	b.WriteString("--" + boundary + "\r\n")
	b.Write(original)
	b.WriteString("\r\n")
	for _, at := range attach {
		b.WriteString("--" + boundary + "\r\nContent-Type: " + stdmime.FormatMediaType(at.ContentType, map[string]string{"name": at.Name}) +
			"\r\nContent-Disposition: " + stdmime.FormatMediaType("attachment", map[string]string{"filename": at.Name}) + "\r\n\r\n")
		b.WriteString(crlf(string(at.Data)) + "\r\n")
	}
	if footer != "" {
		text(footer)
	}
	b.WriteString("--" + boundary + "--\r\n")
	return "multipart/mixed", map[string]string{"boundary": boundary}, []byte(b.String()), nil
}

// crlf gives text CRLF line endings.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}
