package pipeline

import (
	"bytes"
	"html"
	"mime/quotedprintable"
	"strings"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// The verdict banner (verdict_banner=on, the default) is one line of
// plain ASCII that a gateway writes at the start of the text the
// helpdesk's agent reads first: what the X-Sealpost-* fields say, in
// words, for helpdesks that show those fields only on request. It is the
// first line Sealpost writes, so a line the sender typed to look like one
// comes after it. It holds no content of the message and no key IDs.

// bannerMax bounds the decoded size of a base64 or quoted-printable text
// part the banner is written into (the message is within its own limits
// already; this only bounds the copy).
const bannerMax = 64 << 20

// verdictBanner is the banner line for a: a statement when the message
// was encrypted and its signature is good, else a warning saying what is
// missing or wrong.
func verdictBanner(a *arrival) string {
	enc := "not encrypted"
	switch a.engine {
	case string(spcrypto.OpenPGP):
		enc = "encrypted (OpenPGP)"
	case string(spcrypto.SMIME):
		enc = "encrypted (S/MIME)"
	}
	from := bannerAddress(a.h.from.addr)
	var warning string
	switch a.verdict {
	case "good":
		signed := "signed by " + bannerAddress(signerAddress(a)) + " (" + trustWords(a.trust) + ")"
		if a.engine != "" {
			return "[Sealpost: " + enc + ", " + signed + "]"
		}
		return "[Sealpost: WARNING: not encrypted, sent in clear; " + signed + "]"
	case "none":
		if a.engine == "" {
			return "[Sealpost: WARNING: not encrypted and not signed: the sender is not verified]"
		}
		warning = "not signed: the sender is not verified"
	case "untrusted":
		warning = "signed by a different key than the one on file for " + from + ": this may not be from " + from
	case "mismatch":
		warning = "signed by " + bannerAddress(signerAddress(a)) + ", but not for the From address " + from +
			": the sender is not verified"
		if a.o.signer != nil && a.o.signer.HasAddress(a.h.from.addr) {
			warning = "signed by " + from + ", but the signed message was addressed to someone else: " +
				"it may have been sent on by another"
		}
	case "invalid":
		warning = "signed with an expired, revoked or otherwise invalid key: the sender is not verified"
	case "unknown":
		warning = "signed with a key that is not on file: the sender is not verified"
	default: // bad
		warning = "the signature does not match the message (altered or forged): the sender is not verified"
	}
	return "[Sealpost: WARNING: " + warning + "; " + enc + "]"
}

// signerAddress is the address the signer's key binds that the banner
// names: the From address when the key has it, else its first one.
func signerAddress(a *arrival) string {
	s := a.o.signer
	switch {
	case s == nil:
		return ""
	case s.HasAddress(a.h.from.addr):
		return a.h.from.addr
	case len(s.Addresses) > 0:
		return s.Addresses[0]
	}
	return ""
}

// trustWords says how the gateway came by the signing key.
func trustWords(trust string) string {
	switch trust {
	case trustPinned:
		return "key given by an administrator"
	case trustKnown:
		return "known key"
	case trustCA:
		return "certificate of a trusted authority"
	}
	return "first key seen for this address"
}

// bannerAddress is addr as the banner shows it: printable ASCII only (a
// banner is written into text of any ASCII-compatible charset), else a
// description.
func bannerAddress(addr string) string {
	if addr == "" {
		return "an unnamed sender"
	}
	for _, r := range addr {
		if r <= ' ' || r > '~' {
			return "the sender (an address in non-ASCII characters)"
		}
	}
	return addr
}

// withBanner returns the header and body of the entity e (the whole
// message or the decrypted content) with the banner written in: at the
// start of the first text/plain part a reader is shown (and of its
// text/html alternatives, as a paragraph), or, when there is none that
// can take it (no text part, a charset that is not ASCII-compatible, an
// attachment), as a text/plain part before e in a new multipart/mixed.
// Only Content-* fields of the returned header matter. A multipart/signed
// entity on the way is replaced by its signed part: the banner would break
// its signature, which the banner and the X-Sealpost-Signature field
// report. newBoundary makes a boundary for the multipart/mixed.
func withBanner(e *mime.Part, line string, newBoundary func() (string, error)) (header, body []byte, err error) {
	if h, b, ok := bannered(e, line); ok {
		return h, b, nil
	}
	boundary, err := newBoundary()
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	out.WriteString("--" + boundary + "\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + line + "\r\n" +
		"\r\n--" + boundary + "\r\n")
	writeFields(&out, mime.Fields(e.RawHeader), func(f mime.Field) bool { return f.HasPrefix("Content-") })
	out.WriteString("\r\n")
	out.Write(e.Body)
	out.WriteString("\r\n--" + boundary + "--\r\n")
	return []byte("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n"), out.Bytes(), nil
}

// bannered writes the banner into p's first shown text; ok is false when
// it cannot.
func bannered(p *mime.Part, line string) (header, body []byte, ok bool) {
	switch {
	case attachment(p):
		return nil, nil, false
	case p.MediaType == "multipart/signed" && len(p.Children) > 0:
		return bannered(p.Children[0], line)
	case p.MediaType == "multipart/alternative":
		return banneredAlternative(p, line)
	case p.IsMultipart() && len(p.Children) > 0:
		// RFC 2046 §5.1.3, RFC 2387: the first part of a mixed or related
		// entity is the one shown first.
		h, b, ok := bannered(p.Children[0], line)
		if !ok {
			return nil, nil, false
		}
		children := [][]byte{append(h, b...)}
		for _, c := range p.Children[1:] {
			children = append(children, c.Raw)
		}
		return rebuilt(p, children)
	case p.MediaType == "text/plain", p.MediaType == "text/html":
		b, ok := banneredText(p, line)
		return p.RawHeader, b, ok
	}
	return nil, nil, false
}

// banneredAlternative writes the banner into every text/plain and
// text/html alternative (and the first text of a multipart one), so that
// whichever the helpdesk shows starts with it; other alternatives
// (text/calendar, ...) stay as they are.
func banneredAlternative(p *mime.Part, line string) (header, body []byte, ok bool) {
	children := make([][]byte, len(p.Children))
	shown := 0
	for i, c := range p.Children {
		children[i] = c.Raw
		if c.MediaType != "text/plain" && c.MediaType != "text/html" && !c.IsMultipart() {
			continue
		}
		h, b, ok := bannered(c, line)
		if !ok {
			return nil, nil, false
		}
		children[i] = append(h, b...)
		shown++
	}
	if shown == 0 {
		return nil, nil, false
	}
	return rebuilt(p, children)
}

// rebuilt is multipart p's header and a body of the given parts between
// p's own delimiters (RFC 2046 §5.1.1; the preamble and epilogue, which
// no reader shows, are dropped). A part that would hold a delimiter line
// makes it fail.
func rebuilt(p *mime.Part, children [][]byte) (header, body []byte, ok bool) {
	dash := "--" + p.Params["boundary"]
	var b bytes.Buffer
	for _, c := range children {
		if bytes.HasPrefix(c, []byte(dash)) || bytes.Contains(c, []byte("\n"+dash)) {
			return nil, nil, false
		}
		b.WriteString(dash + "\r\n")
		b.Write(c)
		b.WriteString("\r\n")
	}
	b.WriteString(dash + "--\r\n")
	return p.RawHeader, b.Bytes(), true
}

// attachment reports whether p is marked as an attachment (RFC 2183):
// a file the banner must not change.
func attachment(p *mime.Part) bool {
	d := strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Disposition")))
	return strings.HasPrefix(d, "attachment")
}

// banneredText is the body of the text/plain or text/html part p with the
// banner at its start, in p's own Content-Transfer-Encoding and charset.
func banneredText(p *mime.Part, line string) ([]byte, bool) {
	if !asciiCompatible(p.Params["charset"]) {
		return nil, false
	}
	isHTML := p.MediaType == "text/html"
	switch cte := strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))); cte {
	case "", "7bit", "8bit", "binary":
		return withLine(p.Body, line, isHTML)
	case "quoted-printable", "base64":
		text, err := p.Decoded(bannerMax)
		if err != nil {
			return nil, false
		}
		text, ok := withLine(text, line, isHTML)
		if !ok {
			return nil, false
		}
		var b bytes.Buffer
		if cte == "base64" {
			writeBase64(&b, text)
		} else {
			// RFC 2045 §6.7: lines of at most 76 characters, CRLF breaks.
			w := quotedprintable.NewWriter(&b)
			w.Write(text)
			w.Close()
		}
		return b.Bytes(), true
	}
	return nil, false // an encoding Sealpost does not write
}

// withLine returns text with the banner at its start: the line and an
// empty one for plain text (RFC 3676 §4.2: neither ends in a space, so
// format=flowed text stays as it was), a paragraph after the <body> tag
// for HTML. Line breaks follow the text's own; a byte order mark stays
// first. Text that starts with a UTF-16 or UTF-32 byte order mark cannot
// take an ASCII line.
func withLine(text []byte, line string, isHTML bool) ([]byte, bool) {
	if bytes.HasPrefix(text, []byte{0xfe, 0xff}) || bytes.HasPrefix(text, []byte{0xff, 0xfe}) ||
		bytes.HasPrefix(text, []byte{0, 0, 0xfe, 0xff}) {
		return nil, false
	}
	at := 0
	if bytes.HasPrefix(text, []byte("\xef\xbb\xbf")) {
		at = 3
	}
	eol := "\r\n"
	if i := bytes.IndexByte(text, '\n'); i == 0 || i > 0 && text[i-1] != '\r' {
		eol = "\n"
	}
	insert := line + eol + eol
	if isHTML {
		at = htmlStart(text, at)
		insert = "<p>" + html.EscapeString(line) + "</p>" + eol
	}
	out := make([]byte, 0, len(text)+len(insert))
	out = append(out, text[:at]...)
	out = append(out, insert...)
	return append(out, text[at:]...), true
}

// htmlStart is where the banner paragraph goes in an HTML document: just
// after the <body> start tag, else after </head>, else at from.
func htmlStart(doc []byte, from int) int {
	lower := bytes.ToLower(doc)
	for _, tag := range []string{"<body", "</head"} {
		i := bytes.Index(lower, []byte(tag))
		if i < 0 || i+len(tag) < len(lower) && !strings.ContainsRune(" \t\r\n/>", rune(lower[i+len(tag)])) {
			continue
		}
		if j := bytes.IndexByte(lower[i:], '>'); j >= 0 {
			return i + j + 1
		}
	}
	return from
}

// asciiCompatible reports whether text in charset shows ASCII bytes as
// ASCII characters, so that an ASCII line can be put before it unchanged.
// A missing charset is US-ASCII (RFC 2046 §4.1.2).
func asciiCompatible(charset string) bool {
	cs := strings.ToLower(strings.TrimSpace(charset))
	for _, wide := range []string{"utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2", "ucs-4", "ucs4", "utf-7", "utf7",
		"iso-10646-ucs", "csunicode", "unicode"} {
		if strings.HasPrefix(cs, wide) {
			return false
		}
	}
	return true
}
