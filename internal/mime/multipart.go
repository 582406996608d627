package mime

import "bytes"

// multipart splits the body of p into its children. depth is the number of
// multiparts enclosing p.
func (ps *parser) multipart(p *Part, depth int) error {
	if depth >= ps.lim.MaxDepth {
		return &LimitError{Limit: LimitDepth, Max: int64(ps.lim.MaxDepth)}
	}
	// RFC 2045 §6.4: a multipart entity is never transfer-encoded.
	switch cte := transferEncoding(p.Header); cte {
	case "7bit", "8bit", "binary":
	default:
		return malformed("%s with content-transfer-encoding %q", p.MediaType, cte)
	}
	boundary := p.Params["boundary"]
	if boundary == "" {
		// RFC 2046 §5.1.1: the boundary parameter is required.
		return malformed("%s without boundary parameter", p.MediaType)
	}
	return ps.children(p, []byte("--"+boundary), depth)
}

// children parses the body parts of multipart p, delimited by dash. They
// are parsed as they are found, so that MaxParts stops a body of many tiny
// parts before they are all collected.
func (ps *parser) children(p *Part, dash []byte, depth int) error {
	// RFC 2046 §5.1.5: in a digest, body parts default to message/rfc822.
	defType := "text/plain"
	if p.MediaType == "multipart/digest" {
		defType = "message/rfc822"
	}
	p.Children = []*Part{}
	pre, epi, err := splitMultipart(p.Body, dash, func(raw []byte) error {
		c, err := ps.part(raw, depth+1, defType)
		if err == nil {
			p.Children = append(p.Children, c)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(p.Children) == 0 {
		// RFC 2046 §5.1.1: a multipart body has at least one body part.
		return malformed("%s without body parts", p.MediaType)
	}
	p.Preamble, p.Epilogue = pre, epi
	return nil
}

// splitMultipart cuts body at the delimiter lines for dash ("--" plus the
// boundary), calls fn for each body part in order and returns the preamble
// and epilogue. It stops at the first error from fn. All slices alias body.
func splitMultipart(body, dash []byte, fn func([]byte) error) (preamble, epilogue []byte, err error) {
	d, ok := nextDelimiter(body, dash, 0)
	if !ok {
		return nil, nil, nil
	}
	preamble = sub(body, 0, d.breakAt)
	pos := d.end
	for !d.close {
		if d, ok = nextDelimiter(body, dash, pos); !ok {
			// QUIRK(no-close-delimiter): some generators end with an
			// open delimiter, or the message was truncated. The last body
			// part runs to the end of the enclosing body; a delimiter
			// line that ends the body opens no part.
			if pos < len(body) {
				err = fn(sub(body, pos, len(body)))
			}
			return preamble, nil, err
		}
		// An empty body part ("--b CRLF --b") shares one line break
		// between both delimiters.
		if err := fn(sub(body, pos, max(d.breakAt, pos))); err != nil {
			return nil, nil, err
		}
		pos = d.end
	}
	// RFC 2046 §5.1.1: the epilogue follows the line break that ends the
	// close-delimiter line.
	return preamble, sub(body, pos, len(body)), nil
}

// sub returns b[i:j] with its capacity capped at its length.
func sub(b []byte, i, j int) []byte {
	return b[i:j:j]
}

// delimiter locates one delimiter line in a multipart body.
type delimiter struct {
	breakAt int  // start of the line break preceding the line (the line's start if none)
	end     int  // just past the line break ending the line (or end of body)
	close   bool // a close delimiter ("--" boundary "--")
}

// nextDelimiter finds the first delimiter line for dash that starts at or
// after from.
func nextDelimiter(body, dash []byte, from int) (delimiter, bool) {
	for i := from; i < len(body); {
		j := bytes.Index(body[i:], dash)
		if j < 0 {
			break
		}
		start := i + j
		if d, ok := delimiterAt(body, dash, start); ok {
			return d, true
		}
		i = start + 1
	}
	return delimiter{}, false
}

// delimiterAt reports whether a delimiter line for dash starts at start,
// where body[start:] begins with dash.
func delimiterAt(body, dash []byte, start int) (delimiter, bool) {
	// RFC 2046 §5.1.1: the delimiter must occur at the beginning of a line.
	// QUIRK(lf-only): a bare LF counts as a line break.
	if start > 0 && body[start-1] != '\n' {
		return delimiter{}, false
	}
	d := delimiter{breakAt: lineBreakStart(body, start)}
	t := start + len(dash)
	// RFC 2046 §5.1.1: close-delimiter := delimiter "--".
	if bytes.HasPrefix(body[t:], []byte("--")) {
		d.close = true
		t += 2
	}
	// RFC 2046 §5.1.1: transport-padding (linear whitespace) may follow;
	// anything else means the line only starts with the boundary.
	for t < len(body) && (body[t] == ' ' || body[t] == '\t') {
		t++
	}
	switch {
	case t == len(body):
		d.end = t
	case body[t] == '\n':
		d.end = t + 1
	case body[t] == '\r' && t+1 < len(body) && body[t+1] == '\n':
		d.end = t + 2
	default:
		return delimiter{}, false
	}
	return d, true
}

// lineBreakStart returns where the line break that ends just before start
// begins. RFC 2046 §5.1.1: the CRLF preceding the boundary delimiter line
// is conceptually attached to the boundary, not to the preceding part.
func lineBreakStart(body []byte, start int) int {
	switch {
	case start == 0:
		return 0
	case start >= 2 && body[start-2] == '\r':
		return start - 2
	default:
		return start - 1
	}
}
