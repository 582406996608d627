package mime

import (
	"encoding/hex"
	"fmt"
	"io"
	nettextproto "net/textproto"
	"strings"

	"github.com/emersion/go-message/textproto"
)

const (
	// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters, excluding
	// the CRLF ...
	foldLen = 78
	// ... and MUST be at most 998.
	maxLineLen = 998
)

// WriteHeader writes h to w in field order, followed by the empty line that
// ends a header block, with CRLF line endings. A field longer than 78
// characters is folded before whitespace where a fold point exists (RFC
// 5322 §2.2.3); field values are written as given, never re-encoded.
//
// Field names must be printable US-ASCII without ':' and values must not
// contain CR, LF or NUL (which would inject fields); a line that cannot be
// folded to at most 998 characters is also an error. Nothing is written
// when h is invalid.
func WriteHeader(w io.Writer, h textproto.Header) error {
	return writeHeader(w, h)
}

// HeaderField is a header field to write: its name and its unfolded
// value, {"Subject", "hello"}.
type HeaderField [2]string

// WriteFields writes a header of fs in the order given, leaving out the
// fields whose value is empty, as WriteHeader does (and with its checks).
// Every copy of a post has its header written this way: the fields go
// straight into one buffer, with no header map in between.
func WriteFields(w io.Writer, fs []HeaderField) error {
	var b strings.Builder
	n := 2
	for _, f := range fs {
		n += len(f[0]) + len(f[1]) + 4
	}
	b.Grow(n + n/16)
	for _, f := range fs {
		if f[1] == "" {
			continue
		}
		// Names as WriteHeader writes them (textproto.Header keeps
		// them canonical: "Mime-Version").
		if err := writeField(&b, nettextproto.CanonicalMIMEHeaderKey(f[0]), f[1]); err != nil {
			return err
		}
	}
	return endHeader(w, &b)
}

func writeHeader(w io.Writer, h textproto.Header) error {
	var b strings.Builder
	for fs := h.Fields(); fs.Next(); {
		if err := writeField(&b, fs.Key(), fs.Value()); err != nil {
			return err
		}
	}
	return endHeader(w, &b)
}

// endHeader writes the header in b to w, with the empty line that ends
// it.
func endHeader(w io.Writer, b *strings.Builder) error {
	b.WriteString("\r\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("mime: write header: %w", err)
	}
	return nil
}

// writeField appends the folded field k: v and its CRLF to b.
func writeField(b *strings.Builder, k, v string) error {
	if err := checkField(k, v); err != nil {
		return err
	}
	if len(k)+2+len(v) <= foldLen { // one line, nothing to fold
		b.WriteString(k)
		b.WriteString(":")
		if v != "" {
			b.WriteString(" ")
			b.WriteString(v)
		}
		b.WriteString("\r\n")
		return nil
	}
	line := k + ":"
	if v != "" {
		line += " " + v
	}
	// Folding right after "Key:" would not shorten anything.
	for _, l := range fold(line, len(k)+1) {
		if len(l) > maxLineLen {
			return fmt.Errorf("mime: header field %s: line of %d characters cannot be folded", k, len(l))
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return nil
}

// checkField validates a field name (RFC 5322 §2.2: printable US-ASCII
// except colon) and a field value (no line breaks or NUL).
func checkField(k, v string) error {
	if k == "" {
		return fmt.Errorf("mime: empty header field name")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < '!' || c > '~' || c == ':' {
			return fmt.Errorf("mime: header field name %q: invalid character", k)
		}
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("mime: header field %s: value contains CR, LF or NUL", k)
	}
	return nil
}

// fold splits line into lines of at most foldLen characters where possible,
// never folding the first line at or before index after.
// RFC 5322 §2.2.3: folding inserts CRLF before a whitespace character; every
// resulting line must contain something other than whitespace.
func fold(line string, after int) []string {
	var out []string
	for len(line) > foldLen {
		i := foldPoint(line, after)
		if i < 0 {
			break
		}
		out = append(out, line[:i])
		line, after = line[i:], 0
	}
	return append(out, line)
}

// foldPoint returns the index of the whitespace character before which line
// is best folded: the last one that keeps the first line within foldLen,
// else the first one after that, always beyond index after. It returns -1
// when line cannot be folded.
func foldPoint(line string, after int) int {
	// Folding before i leaves no whitespace-only line when some
	// non-whitespace lies before i (first < i) and at or after i (i <= last).
	first := strings.IndexFunc(line, notWSP)
	last := strings.LastIndexFunc(line, notWSP)
	ok := func(i int) bool { return isWSP(line[i]) && first < i && i <= last }
	for i := min(foldLen, len(line)-1); i > after; i-- {
		if ok(i) {
			return i
		}
	}
	for i := max(foldLen+1, after+1); i < len(line); i++ {
		if ok(i) {
			return i
		}
	}
	return -1
}

// isWSP reports whether c is RFC 5234 WSP (space or horizontal tab).
func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// notWSP reports whether r is not WSP.
func notWSP(r rune) bool { return r != ' ' && r != '\t' }

// boundaryBytes is the number of random bytes in a boundary.
const boundaryBytes = 24

// NewBoundary returns a fresh multipart boundary made from 24 bytes read
// from rand (normally crypto/rand.Reader). The boundary starts with "=_",
// which can never occur in base64 or quoted-printable output, so it cannot
// collide with encoded content (RFC 2046 §5.1.1, RFC 2045 §6.7); it is 50
// characters long, within the limit of 70. Because of the "=", it must be
// quoted in Content-Type, as mime.FormatMediaType does.
func NewBoundary(rand io.Reader) (string, error) {
	var b [boundaryBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("mime: new boundary: %w", err)
	}
	return "=_" + hex.EncodeToString(b[:]), nil
}
