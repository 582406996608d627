package mime

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
