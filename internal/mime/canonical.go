package mime

import "bytes"

// Canonicalize returns a copy of b with every line ending converted to CRLF:
// a bare LF or a bare CR becomes CRLF and an existing CRLF is kept. This is
// the canonical form in which multipart/signed content is signed and
// verified (RFC 3156 §5, RFC 1847 §2.1, RFC 5322 §2.3). b is not modified.
func Canonicalize(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/32+2)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

// IsCanonical reports whether every line ending in b is already CRLF:
// whether Canonicalize(b) equals b.
func IsCanonical(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			return true
		}
		if b[i] == '\n' || i+1 == len(b) || b[i+1] != '\n' {
			return false
		}
		b = b[i+2:]
	}
	return true
}

// AsCanonical returns b itself when its line endings are CRLF already,
// else Canonicalize(b): for text that is only read, never changed, so
// that a large entity already canonical is not copied.
func AsCanonical(b []byte) []byte {
	if IsCanonical(b) {
		return b
	}
	return Canonicalize(b)
}
