package mime

import (
	"bufio"
	"bytes"
	"errors"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Part is one entity of a MIME tree. All byte slices alias the input given
// to Parse and must not be modified.
type Part struct {
	// Header holds the parsed header fields.
	Header textproto.Header
	// RawHeader is the exact header block as received, including the
	// terminating empty line when there is one.
	RawHeader []byte
	// Body is the exact body as received, still transfer-encoded.
	Body []byte
	// Raw is RawHeader followed by Body. For a child of a multipart it is
	// exactly the bytes between the line break that ends its delimiter line
	// and the line break that precedes the next delimiter.
	Raw []byte
	// MediaType is the lower-case "type/subtype" from Content-Type, or the
	// default: text/plain, or message/rfc822 inside multipart/digest.
	MediaType string
	// Params holds the Content-Type parameters with lower-case keys. It is
	// never nil.
	Params map[string]string
	// Children holds the body parts of a multipart entity; nil otherwise.
	// message/rfc822 bodies are not parsed.
	Children []*Part
	// Preamble and Epilogue are the bytes before the first delimiter and
	// after the close delimiter of a multipart entity.
	Preamble, Epilogue []byte
}

// IsMultipart reports whether p is of a multipart/* media type.
func (p *Part) IsMultipart() bool {
	return strings.HasPrefix(p.MediaType, "multipart/")
}

// Parse parses raw as a MIME entity (usually a whole message) within lim.
// The returned tree aliases raw; raw must not be modified while the tree is
// in use.
func Parse(raw []byte, lim Limits) (*Part, error) {
	lim = lim.withDefaults()
	if int64(len(raw)) > lim.MaxSize {
		return nil, &LimitError{Limit: LimitSize, Max: lim.MaxSize}
	}
	ps := &parser{lim: lim}
	return ps.part(raw, 0, "text/plain")
}

// ParseHeader parses only the header block of raw: Header, RawHeader,
// MediaType and Params are set, Body is the rest unparsed, and a
// multipart's Children are not read. It is for looking at a message's
// header (is it automated?) without walking its body.
func ParseHeader(raw []byte, lim Limits) (*Part, error) {
	lim = lim.withDefaults()
	n, err := headerEnd(raw, lim.MaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	p := &Part{Raw: raw[:len(raw):len(raw)], RawHeader: raw[:n:n], Body: raw[n:len(raw):len(raw)]}
	if p.Header, err = readHeader(p.RawHeader, true); err != nil {
		return nil, err
	}
	if p.MediaType, p.Params, err = contentType(p.Header, "text/plain"); err != nil {
		return nil, err
	}
	return p, nil
}

// parser carries the state of one Parse call.
type parser struct {
	lim   Limits
	parts int
}

// part parses raw as an entity nested in depth multiparts, with defType as
// the media type to assume when Content-Type is absent.
func (ps *parser) part(raw []byte, depth int, defType string) (*Part, error) {
	ps.parts++
	if ps.parts > ps.lim.MaxParts {
		return nil, &LimitError{Limit: LimitParts, Max: int64(ps.lim.MaxParts)}
	}
	n, err := headerEnd(raw, ps.lim.MaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	p := &Part{
		Raw:       raw[:len(raw):len(raw)],
		RawHeader: raw[:n:n],
		Body:      raw[n:len(raw):len(raw)],
	}
	if p.Header, err = readHeader(p.RawHeader, depth == 0); err != nil {
		return nil, err
	}
	if p.MediaType, p.Params, err = contentType(p.Header, defType); err != nil {
		return nil, err
	}
	if p.IsMultipart() {
		if err := ps.multipart(p, depth); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// headerEnd returns the length of the header block at the start of b: up to
// and including the first empty line, or all of b when there is none.
func headerEnd(b []byte, limit int) (int, error) {
	for i := 0; i < len(b); {
		if i > limit {
			break
		}
		// RFC 5322 §2.1: the header is separated from the body by an empty
		// line. QUIRK(lf-only): a bare LF ends a line as well as CRLF.
		switch {
		case b[i] == '\n':
			return checkHeaderSize(i+1, limit)
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			return checkHeaderSize(i+2, limit)
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	// RFC 5322 §3.5: the body is optional; without an empty line the whole
	// entity is header.
	return checkHeaderSize(len(b), limit)
}

// checkHeaderSize returns n, or a *LimitError when n exceeds limit.
func checkHeaderSize(n, limit int) (int, error) {
	if n > limit {
		return 0, &LimitError{Limit: LimitHeader, Max: int64(limit)}
	}
	return n, nil
}

// readHeader parses a raw header block. At the top level a leading mbox
// "From " line is skipped.
func readHeader(raw []byte, top bool) (textproto.Header, error) {
	if top && bytes.HasPrefix(raw, []byte("From ")) {
		// QUIRK(mbox): messages saved from mailboxes (Thunderbird's test
		// corpus among them) start with an mbox "From " separator line.
		// It stays in RawHeader but is not a header field.
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		} else {
			raw = nil
		}
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		// The underlying error quotes the offending line, which may be a
		// decrypted protected header; keep message content out of errors
		// (and so out of logs).
		return textproto.Header{}, malformed("header: malformed field line")
	}
	return h, nil
}

// contentType returns the media type and parameters of h, defaulting to
// defType when Content-Type is absent.
func contentType(h textproto.Header, defType string) (string, map[string]string, error) {
	if err := singleField(h, "Content-Type"); err != nil {
		return "", nil, err
	}
	if err := singleField(h, "Content-Transfer-Encoding"); err != nil {
		return "", nil, err
	}
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		// RFC 2045 §5.2 and RFC 2046 §5.1.5: default media types.
		return defType, map[string]string{}, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	switch {
	case err == nil:
	case errors.Is(err, mime.ErrInvalidMediaParameter):
		// The type is known, the parameters are not: keep the type, so
		// that a multipart without a usable boundary is malformed rather
		// than silently text.
		params = map[string]string{}
	default:
		mt = ""
	}
	if !strings.Contains(mt, "/") {
		// RFC 2045 §5.2: a syntactically invalid Content-Type is taken as
		// text/plain.
		return "text/plain", map[string]string{}, nil
	}
	return mt, params, nil
}

// singleField returns an error when h holds more than one field named key.
// Two Content-Type fields let two parsers see two different structures of
// the same signed message; refuse rather than pick one.
func singleField(h textproto.Header, key string) error {
	if len(h.Values(key)) > 1 {
		return malformed("duplicate %s field", key)
	}
	return nil
}

// transferEncoding returns the lower-case Content-Transfer-Encoding of h,
// "7bit" when absent (RFC 2045 §6.1).
func transferEncoding(h textproto.Header) string {
	v := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if v == "" {
		return "7bit"
	}
	return v
}
