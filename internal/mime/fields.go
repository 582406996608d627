package mime

import (
	"bytes"
	"strings"
)

// Field is one header field as it appeared: its name and its exact bytes,
// continuation lines and line break included.
type Field struct {
	Name string
	Raw  []byte
}

// Is reports whether the field's name is name, ignoring case (RFC 5322
// §1.2.2).
func (f Field) Is(name string) bool { return strings.EqualFold(f.Name, name) }

// HasPrefix reports whether the field's name begins with prefix,
// ignoring case.
func (f Field) HasPrefix(prefix string) bool {
	return len(f.Name) >= len(prefix) && strings.EqualFold(f.Name[:len(prefix)], prefix)
}

// Fields splits a raw header block (a Part's RawHeader) into its fields,
// in order. A line that begins with white space continues the field
// before it (RFC 5322 §2.2.3); the empty line that ends the block is not
// a field, and a line without a colon is kept with an empty name so that
// nothing is lost when the fields are written again.
func Fields(rawHeader []byte) []Field {
	var out []Field
	start := -1 // where the field being read begins
	name := ""
	flush := func(end int) {
		if start >= 0 {
			out = append(out, Field{Name: name, Raw: rawHeader[start:end:end]})
		}
	}
	pos := 0
	for pos < len(rawHeader) {
		end := pos + bytes.IndexByte(rawHeader[pos:], '\n') + 1
		if end == pos {
			end = len(rawHeader)
		}
		line := rawHeader[pos:end]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // the empty line that ends the header
		}
		if (line[0] != ' ' && line[0] != '\t') || start < 0 {
			flush(pos)
			start, name = pos, ""
			if i := bytes.IndexByte(line, ':'); i > 0 {
				name = strings.TrimRight(string(line[:i]), " \t")
			}
		}
		pos = end
	}
	flush(pos)
	return out
}
