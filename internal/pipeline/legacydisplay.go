package pipeline

import (
	"bytes"
	"encoding/base64"
	stdmime "mime"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"sync"

	"github.com/sealpost/sealpost/internal/mime"
)

// A sender's client may show the protected headers to readers that do not
// know them with a "legacy display" in the content: RFC 9788 puts a legacy
// display element at the start of each main body part (lines of header
// fields and a blank line in text/plain, a div in text/html) and marks the
// part hp-legacy-display="1", which tells a reader that knows protected
// headers to hide it (§4.5); the older drafts, and Sealpost's own copies, give
// it a text/plain part of its own; Enigmail wrote a text/rfc822-headers
// part with protected-headers="v1". Copies carry the list's own protected
// headers (From rewritten, To the list) and, with legacy_display, the
// list's own display of them: the sender's display is taken out, so that
// a copy shows one display, never two, and none that contradicts its
// headers.

// hpLegacyDisplay is the Content-Type parameter that marks a part holding a
// legacy display element (RFC 9788 §4.5).
const hpLegacyDisplay = "hp-legacy-display"

// withoutLegacyDisplay returns the Content-Type parameters and the body of
// content without the legacy display its sender's client wrote. Parts
// without one keep their exact bytes.
func withoutLegacyDisplay(content *mime.Part) (map[string]string, []byte, error) {
	s, err := stripDisplay(content)
	if err != nil || !s.changed {
		return content.Params, content.Body, err
	}
	return s.params, s.body, nil
}

// stripped is a part with its legacy display taken out: its Content-Type
// parameters and body (still transfer-encoded as the part says), whether
// anything changed, and whether nothing but the display was in it.
type stripped struct {
	params  map[string]string
	body    []byte
	changed bool
	empty   bool
}

// stripDisplay takes the legacy display out of p's main body parts (in
// RFC 9788's sense: the first part of a multipart/mixed or related, each
// part of a multipart/alternative); other parts, attachments among them,
// are left alone.
func stripDisplay(p *mime.Part) (stripped, error) {
	unchanged := stripped{params: p.Params, body: p.Body}
	switch {
	case p.Params[hpLegacyDisplay] == "1" && (p.MediaType == "text/plain" || p.MediaType == "text/html"):
		return stripElement(p)
	case p.MediaType == "multipart/alternative" && len(p.Children) > 0:
		return stripChildren(p, len(p.Children))
	case (p.MediaType == "multipart/mixed" || p.MediaType == "multipart/related") && len(p.Children) > 0:
		return stripChildren(p, 1)
	}
	return unchanged, nil
}

// stripChildren takes the legacy display out of the first n children of
// the multipart p and drops a child that held nothing else (Enigmail's
// header part, the drafts' display part), as long as another remains.
func stripChildren(p *mime.Part, n int) (stripped, error) {
	out := stripped{params: p.Params}
	var kept [][]byte
	for i, c := range p.Children {
		if i >= n {
			kept = append(kept, c.Raw)
			continue
		}
		if i == 0 && enigmailDisplay(p, c) {
			out.changed = true
			continue
		}
		s, err := stripDisplay(c)
		if err != nil {
			return stripped{}, err
		}
		switch {
		case s.empty && len(p.Children) > 1:
			out.changed = true
		case s.changed:
			out.changed = true
			kept = append(kept, rewritten(c, s))
		default:
			kept = append(kept, c.Raw)
		}
	}
	if !out.changed {
		return stripped{params: p.Params, body: p.Body}, nil
	}
	boundary := p.Params["boundary"]
	var b bytes.Buffer
	for _, raw := range kept {
		b.WriteString("--" + boundary + "\r\n")
		b.Write(raw)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	out.body, out.empty = b.Bytes(), len(kept) == 0
	return out, nil
}

// enigmailDisplay reports whether c, the first child of p, is Enigmail's
// legacy display: a text/rfc822-headers part with protected-headers="v1"
// first in a multipart/mixed, before the content.
func enigmailDisplay(p, c *mime.Part) bool {
	return p.MediaType == "multipart/mixed" && len(p.Children) > 1 &&
		c.MediaType == "text/rfc822-headers" && strings.EqualFold(c.Params["protected-headers"], "v1")
}

// rewritten is the child c as an entity again with the body s: its header
// as received, but for a Content-Type without hp-legacy-display.
func rewritten(c *mime.Part, s stripped) []byte {
	var b bytes.Buffer
	for _, f := range mime.Fields(c.RawHeader) {
		if f.Is("Content-Type") {
			if _, had := c.Params[hpLegacyDisplay]; had {
				// The value is a media type and parameters that parsed:
				// formatting them again cannot inject a field.
				b.WriteString("Content-Type: " + stdmime.FormatMediaType(c.MediaType, s.params) + "\r\n")
				continue
			}
		}
		b.Write(f.Raw)
	}
	b.WriteString("\r\n")
	b.Write(s.body)
	return b.Bytes()
}

// stripElement takes the legacy display element out of a text/plain or
// text/html main body part marked hp-legacy-display="1", as a reader that
// knows protected headers hides it (RFC 9788 §4.5), decoding and encoding
// again its transfer encoding; the
// marker goes with it. A part whose text does not begin with an element
// is left alone.
func stripElement(p *mime.Part) (stripped, error) {
	unchanged := stripped{params: p.Params, body: p.Body}
	text, err := p.Decoded(int64(len(p.Body))) // decoding never makes a body longer
	if err != nil {
		return unchanged, nil // not ours to judge: distributed as it came
	}
	var rest []byte
	if p.MediaType == "text/html" {
		rest = withoutHTMLDisplay(text)
	} else {
		rest = withoutTextDisplay(text)
	}
	if rest == nil {
		return unchanged, nil
	}
	params := make(map[string]string, len(p.Params))
	for k, v := range p.Params {
		if k != hpLegacyDisplay {
			params[k] = v
		}
	}
	return stripped{params: params, body: encodeAs(p, rest), changed: true,
		empty: len(bytes.TrimSpace(rest)) == 0}, nil
}

// displayLine is a line of a text legacy display: a header field (RFC
// 5322 §2.2) or the continuation of one.
var displayLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:[!-9;-~]+:|[ \t])`) })

// withoutTextDisplay returns text without the legacy display element it
// begins with: its header field lines up to and including the blank line
// that ends them (RFC 9788 §4.5), or all of text when it holds only
// such lines. It returns nil when text does not begin with an element.
func withoutTextDisplay(text []byte) []byte {
	pos := 0
	for pos < len(text) {
		end := bytes.IndexByte(text[pos:], '\n')
		next := pos + end + 1
		if end < 0 {
			next = len(text)
		}
		line := bytes.TrimRight(text[pos:next], "\r\n")
		switch {
		case len(line) == 0 && pos > 0:
			return text[next:]
		case !displayLine().Match(line) || (pos == 0 && (line[0] == ' ' || line[0] == '\t')):
			return nil
		}
		pos = next
	}
	if pos == 0 {
		return nil
	}
	return text[len(text):]
}

// htmlDisplayClass is the class of the div that holds a legacy display
// element in text/html (RFC 9788 §4.5).
const htmlDisplayClass = "header-protection-legacy-display"

// withoutHTMLDisplay returns html without its first div of class
// header-protection-legacy-display and what the div holds, or nil when
// there is none.
func withoutHTMLDisplay(html []byte) []byte {
	lower := bytes.ToLower(html)
	at := bytes.Index(lower, []byte(htmlDisplayClass))
	if at < 0 {
		return nil
	}
	start := bytes.LastIndex(lower[:at], []byte("<div"))
	if start < 0 || bytes.IndexByte(lower[start:at], '>') >= 0 {
		return nil // the class is not in a div's start tag
	}
	depth := 0
	for pos := start; pos < len(lower); {
		open, shut := bytes.Index(lower[pos:], []byte("<div")), bytes.Index(lower[pos:], []byte("</div"))
		switch {
		case shut < 0:
			return nil
		case open >= 0 && open < shut:
			depth++
			pos += open + len("<div")
			continue
		}
		depth--
		pos += shut + len("</div")
		if depth == 0 {
			end := bytes.IndexByte(lower[pos:], '>')
			if end < 0 {
				return nil
			}
			return append(append([]byte{}, html[:start]...), html[pos+end+1:]...)
		}
	}
	return nil
}

// encodeAs encodes data in p's Content-Transfer-Encoding, which the
// entity keeps (RFC 2045 §6): base64 in lines of 76 characters,
// quoted-printable, or as it is.
func encodeAs(p *mime.Part, data []byte) []byte {
	var b bytes.Buffer
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 { // RFC 2045 §6.8: at most 76 characters a line
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(&b)
		w.Write(data)
		w.Close()
	default:
		b.Write(data)
	}
	return b.Bytes()
}
