package mime

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"mime/quotedprintable"
)

// Decoded returns p.Body with its Content-Transfer-Encoding undone (RFC 2045
// §6): 7bit, 8bit and binary as is, base64 ignoring line breaks and other
// whitespace, and quoted-printable. Line endings are not changed. Any other
// encoding yields an error wrapping ErrUnknownEncoding; undecodable data an
// error wrapping ErrMalformed. A result longer than max bytes (a negative max
// counts as 0) yields a *LimitError with Limit LimitDecoded.
func (p *Part) Decoded(max int64) ([]byte, error) {
	max = bounded(max)
	switch cte := transferEncoding(p.Header); cte {
	case "7bit", "8bit", "binary":
		return limitCopy(p.Body, max)
	case "base64":
		return decodeBase64(p.Body, max)
	case "quoted-printable":
		return decodeQP(p.Body, max)
	default:
		return nil, fmt.Errorf("mime: %q: %w", cte, ErrUnknownEncoding)
	}
}

// DecodedShared is Decoded for a caller that only reads the result: a
// body in 7bit, 8bit or binary is returned as p.Body itself, not copied
// (an armored message of tens of megabytes).
func (p *Part) DecodedShared(max int64) ([]byte, error) {
	switch transferEncoding(p.Header) {
	case "7bit", "8bit", "binary":
		if int64(len(p.Body)) > bounded(max) {
			return nil, decodedLimit(bounded(max))
		}
		return p.Body, nil
	}
	return p.Decoded(max)
}

// bounded returns max, or 0 for a negative max.
func bounded(max int64) int64 {
	if max < 0 {
		return 0
	}
	return max
}

// decodedLimit returns the *LimitError for output beyond max bytes.
func decodedLimit(max int64) error {
	return &LimitError{Limit: LimitDecoded, Max: max}
}

// limitCopy returns a copy of b, or a *LimitError when b exceeds max bytes.
func limitCopy(b []byte, max int64) ([]byte, error) {
	if int64(len(b)) > max {
		return nil, decodedLimit(max)
	}
	return bytes.Clone(b), nil
}

// decodeBase64 decodes b, skipping whitespace between the characters.
func decodeBase64(b []byte, max int64) ([]byte, error) {
	// RFC 2045 §6.8: line breaks are inserted every 76 characters and
	// characters outside the alphabet are ignored by decoders; we ignore
	// whitespace only and refuse other stray characters.
	clean := bytes.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n', '\v', '\f':
			return -1
		}
		return r
	}, b)
	n := base64.StdEncoding.DecodedLen(len(clean))
	if int64(n)-2 > max { // at most two padding characters shorten the result
		return nil, decodedLimit(max)
	}
	out := make([]byte, n)
	n, err := base64.StdEncoding.Decode(out, clean)
	if err != nil {
		return nil, malformed("base64: %v", err)
	}
	if int64(n) > max {
		return nil, decodedLimit(max)
	}
	return out[:n], nil
}

// decodeQP decodes quoted-printable b (RFC 2045 §6.7).
func decodeQP(b []byte, max int64) ([]byte, error) {
	r := quotedprintable.NewReader(bytes.NewReader(b))
	n := max
	if n < math.MaxInt64 {
		n++ // one byte more than allowed tells "too long" from "exactly max"
	}
	out, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, malformed("quoted-printable: %v", err)
	}
	if int64(len(out)) > max {
		return nil, decodedLimit(max)
	}
	return out, nil
}
