package pipeline

import (
	"encoding/base64"
	"fmt"
	stdmime "mime"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// Inline PGP copies (RT's "Inline" format) for members whose mail
// programs cannot read PGP/MIME: each text/plain part becomes one armored
// message, signed by the list and encrypted to the member, and every other
// part an attachment NAME.pgp. Each part is signed once per post and
// encrypted per member. The protected headers cannot travel in MIME
// headers here, so the first text part starts with them, inside the
// encryption; the outer Subject stays "...".

// inlinePart is one part of an inline copy, signed once.
type inlinePart struct {
	text     bool
	charset  string // of a text part
	filename string // of an attachment, without .pgp
	signed   *pgp.Signed
}

// maxInlineParts bounds the parts of an inline copy (DESIGN §4.8).
const maxInlineParts = 100

// signInline splits the distributed content into leaf parts and signs
// each once with the list key.
func (p *Pipeline) signInline(list *store.List, content *mime.Part, h headers) ([]inlinePart, error) {
	listKey, err := p.listKey(list)
	if err != nil {
		return nil, err
	}
	leaves := mimeLeaves(content, nil)
	if len(leaves) > maxInlineParts {
		return nil, fmt.Errorf("pipeline: %d parts are too many for an inline copy", len(leaves))
	}
	limit := p.opt.Limits.MaxSize
	if limit <= 0 {
		limit = mime.DefaultMaxSize
	}
	var parts []inlinePart
	headerBlock := "Subject: " + h.subject + "\r\nFrom: " + h.fromField + "\r\nTo: " + list.Address + "\r\n\r\n"
	for i, leaf := range leaves {
		data, err := leaf.Decoded(limit)
		if err != nil {
			return nil, err
		}
		part := inlinePart{}
		if leaf.MediaType == "text/plain" && !isAttachment(leaf) {
			part.text, part.charset = true, leaf.Params["charset"]
			if part.charset == "" {
				part.charset = "utf-8"
			}
			if len(parts) == 0 || !parts[0].text {
				data = append([]byte(headerBlock), mime.Canonicalize(data)...)
			}
		} else {
			part.filename = attachmentName(leaf, i)
		}
		sign := pgp.SignBinary // attachments keep every byte
		if part.text {
			sign = pgp.Sign
		}
		if part.signed, err = sign(listKey, data, p.pgpOptions()); err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// mimeLeaves lists the leaf parts of p in order.
func mimeLeaves(p *mime.Part, out []*mime.Part) []*mime.Part {
	if !p.IsMultipart() {
		return append(out, p)
	}
	for _, c := range p.Children {
		out = mimeLeaves(c, out)
	}
	return out
}

func isAttachment(p *mime.Part) bool {
	d, _, _ := stdmime.ParseMediaType(p.Header.Get("Content-Disposition"))
	return d == "attachment"
}

// attachmentName is the part's file name, or one made from its position
// and type; path elements and odd characters are dropped.
func attachmentName(p *mime.Part, i int) string {
	name := p.Params["name"]
	if _, params, err := stdmime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "" {
		ext := ".bin"
		if exts, _ := stdmime.ExtensionsByType(p.MediaType); len(exts) > 0 {
			ext = exts[0]
		}
		name = fmt.Sprintf("part%d%s", i+1, ext)
	}
	return name
}

// inlineCopy encrypts each part to the member and assembles the copy.
func (p *Pipeline) inlineCopy(list *store.List, parts []inlinePart, to recipient, h headers, addr string) ([]byte, error) {
	bodies := make([][]byte, len(parts))
	for i, part := range parts {
		var err error
		if part.text {
			bodies[i], err = part.signed.EncryptTo(to.pgp, false)
		} else {
			bodies[i], err = part.signed.EncryptBinaryTo(to.pgp, false)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(parts) == 1 && parts[0].text {
		return p.outerMessage(list, h, addr, "text/plain; charset="+parts[0].charset, bodies[0],
			field{"Content-Transfer-Encoding", "7bit"})
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, part := range parts {
		b.WriteString("--" + boundary + "\r\n")
		if part.text {
			b.WriteString("Content-Type: text/plain; charset=" + part.charset + "\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
			b.Write(bodies[i])
			continue
		}
		name := part.filename + ".pgp"
		b.WriteString("Content-Type: " + stdmime.FormatMediaType("application/octet-stream", map[string]string{"name": name}) + "\r\n")
		b.WriteString("Content-Disposition: " + stdmime.FormatMediaType("attachment", map[string]string{"filename": name}) + "\r\n")
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(bodies[i])
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	ct := stdmime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary})
	return p.outerMessage(list, h, addr, ct, []byte(b.String()))
}
