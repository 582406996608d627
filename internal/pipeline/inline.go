package pipeline

import (
	"bytes"
	"encoding/base64"
	"fmt"
	stdmime "mime"
	"strings"
	"unicode/utf8"

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
	charset  string // of a text part's decrypted text
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
	headed := false // the protected headers go in front of the first text
	for i, leaf := range leaves {
		data, err := leaf.Decoded(limit)
		if err != nil {
			return nil, err
		}
		part := inlinePart{text: leaf.MediaType == "text/plain" && !isAttachment(leaf)}
		if part.text {
			part.signed, part.charset, err = p.signInlineText(listKey, list, leaf, data, h, !headed)
			headed = true
		} else {
			part.filename = attachmentName(leaf, i)
			part.signed, err = pgp.SignBinary(listKey, data, p.pgpOptions()) // attachments keep every byte
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// signInlineText signs the text of one text/plain part, with the
// protected headers in front when first is set, and returns the charset
// of what it signed.
//
// Text that is, or becomes, UTF-8 is signed as OpenPGP UTF-8 text ('u',
// CRLF): gpg decrypts it to LF text, which mutt and NeoMutt show without
// ^M. Text in a charset Sealpost does not convert keeps its bytes and
// charset and is signed as binary data with LF line ends, as `gpg --sign`
// makes of a text file, so that it too decrypts without CR; mutt and
// NeoMutt with gpgme show its non-ASCII characters wrongly, as they take
// decrypted inline text to be UTF-8.
func (p *Pipeline) signInlineText(key *pgp.Key, list *store.List, leaf *mime.Part, data []byte, h headers, first bool) (*pgp.Signed, string, error) {
	text, charset := inlineUTF8(data, leaf.Params["charset"])
	if first {
		text = append(protectedBlock(h, list.Address, charset == "utf-8"), text...)
	}
	if charset == "utf-8" {
		s, err := pgp.SignText(key, text, p.pgpOptions())
		return s, charset, err
	}
	s, err := pgp.SignBinary(key, bytes.ReplaceAll(mime.Canonicalize(text), []byte("\r\n"), []byte("\n")), p.pgpOptions())
	return s, charset, err
}

// protectedBlock is the header block an inline copy's text starts with:
// the protected headers, as text (the copy's own Subject is "..."). In
// UTF-8 text their encoded words (RFC 2047) are decoded for the reader.
func protectedBlock(h headers, listAddr string, utf8Text bool) []byte {
	var b bytes.Buffer
	for _, f := range []field{{"Subject", h.subject}, {"From", h.fromField}, {"To", listAddr}} {
		v := f[1]
		if utf8Text {
			if d, err := new(stdmime.WordDecoder).DecodeHeader(v); err == nil && utf8.ValidString(d) {
				v = d
			}
		}
		b.WriteString(f[0] + ": " + strings.Map(noControl, v) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// noControl drops control characters, line breaks included, from a
// header value written as a line of text.
func noControl(r rune) rune {
	if r < 0x20 && r != '\t' || r == 0x7f {
		return -1
	}
	return r
}

// inlineUTF8 returns the text of a part in UTF-8 and "utf-8" when it is
// ASCII, UTF-8 (invalid sequences become U+FFFD), undeclared UTF-8, or
// ISO-8859-1, windows-1252, US-ASCII or undeclared with other 8-bit
// bytes, which the WHATWG Encoding Standard decodes as windows-1252. Text
// in any other charset comes back as it is, with its charset.
func inlineUTF8(data []byte, charset string) ([]byte, string) {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch {
	case isASCII(data):
		return data, "utf-8"
	case cs == "utf-8" || cs == "utf8":
		return bytes.ToValidUTF8(data, []byte("\uFFFD")), "utf-8"
	case cs == "" && utf8.Valid(data):
		return data, "utf-8"
	case cs == "" || latin1Labels[cs]:
		return windows1252ToUTF8(data), "utf-8"
	}
	return data, charset
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// latin1Labels are the names under which mail carries ISO-8859-1 and
// its superset windows-1252, which the WHATWG Encoding Standard decodes
// as one (mail programs label windows-1252 text ISO-8859-1), and US-ASCII,
// which it decodes the same way.
var latin1Labels = map[string]bool{
	"us-ascii": true, "ascii": true, "iso-8859-1": true, "iso_8859-1": true, "iso8859-1": true, "latin1": true, "l1": true,
	"cp819": true, "ibm819": true, "windows-1252": true, "cp1252": true, "x-cp1252": true,
}

// cp1252 maps windows-1252 bytes 0x80-0x9F to Unicode; zero entries are
// undefined there and decode as the ISO-8859-1 control characters.
var cp1252 = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}

func windows1252ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		r := rune(c)
		if c >= 0x80 && c < 0xa0 && cp1252[c-0x80] != 0 {
			r = cp1252[c-0x80]
		}
		out = utf8.AppendRune(out, r)
	}
	return out
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
func (p *Pipeline) inlineCopy(header []field, parts []inlinePart, to recipient, addr, from string) ([]byte, error) {
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
		return writeOuter(header, addr, from, armorType(parts[0].charset), bodies[0],
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
			b.WriteString("Content-Type: " + armorType(part.charset) + "\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
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
	return writeOuter(header, addr, from, ct, []byte(b.String()))
}

// armorType is the Content-Type of a part that carries an armored text:
// text/plain with the charset of the text inside the encryption, for
// readers that show decrypted text in the part's charset, and
// x-action=pgp-encrypted, the parameter mutt writes on its own inline PGP
// and by which mutt and NeoMutt decrypt the part as they show it, without
// $pgp_auto_decode (RFC 2045 §5.1: readers ignore parameters they do not
// know). mutt and NeoMutt themselves take decrypted inline text to be
// UTF-8 (with gpgme always, without it unless the armor names another
// charset): that is why the text is UTF-8 wherever it can be converted.
func armorType(charset string) string {
	params := map[string]string{"charset": charset, "x-action": "pgp-encrypted"}
	if ct := stdmime.FormatMediaType("text/plain", params); ct != "" {
		return ct
	}
	params["charset"] = "us-ascii"
	return stdmime.FormatMediaType("text/plain", params)
}
