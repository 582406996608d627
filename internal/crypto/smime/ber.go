package smime

import (
	"bytes"
	"fmt"
)

// Limits on untrusted BER input (DESIGN §4.8).
const (
	maxBERDepth = 64
)

// berToDER re-encodes BER as DER-shaped TLVs that encoding/asn1 can read:
// indefinite lengths (X.690 §8.1.3.6) become definite, and constructed
// OCTET STRINGs (§8.7.3), which OpenSSL writes when streaming, become
// primitive ones. It does not sort SET OF members: signatures over
// signed attributes are checked on the bytes as received, never on
// this re-encoding.
func berToDER(ber []byte) ([]byte, error) {
	var out bytes.Buffer
	rest, err := convertTLV(&out, ber, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		// Trailing zero padding after the outer element is common in
		// S/MIME bodies decoded from base64; anything else is an error.
		if len(bytes.Trim(rest, "\x00")) != 0 {
			return nil, fmt.Errorf("%w: %d bytes after the outer element", ErrMalformed, len(rest))
		}
	}
	return out.Bytes(), nil
}

// convertTLV converts the element at the start of in and returns what
// follows it.
func convertTLV(out *bytes.Buffer, in []byte, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, fmt.Errorf("%w: BER nested deeper than %d", ErrMalformed, maxBERDepth)
	}
	_, constructed, tagLen, err := readTag(in)
	if err != nil {
		return nil, err
	}
	length, lenLen, indefinite, err := readLength(in[tagLen:])
	if err != nil {
		return nil, err
	}
	body := in[tagLen+lenLen:]
	if !constructed {
		if indefinite || length > len(body) {
			return nil, fmt.Errorf("%w: primitive element length", ErrMalformed)
		}
		writeTLV(out, in[:tagLen], body[:length])
		return body[length:], nil
	}
	var content bytes.Buffer
	var rest []byte
	if indefinite {
		rest = body
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			if len(rest) == 0 {
				return nil, fmt.Errorf("%w: missing end-of-contents", ErrMalformed)
			}
			if rest, err = convertTLV(&content, rest, depth+1); err != nil {
				return nil, err
			}
		}
	} else {
		if length > len(body) {
			return nil, fmt.Errorf("%w: element longer than its input", ErrMalformed)
		}
		inner := body[:length]
		for len(inner) > 0 {
			if inner, err = convertTLV(&content, inner, depth+1); err != nil {
				return nil, err
			}
		}
		rest = body[length:]
	}
	// A constructed universal OCTET STRING (tag 4) is the concatenation of
	// its primitive segments (X.690 §8.7.3.2).
	if in[0] == 0x24 {
		joined, err := joinSegments(content.Bytes())
		if err != nil {
			return nil, err
		}
		writeTLV(out, []byte{0x04}, joined)
		return rest, nil
	}
	writeTLV(out, in[:tagLen], content.Bytes())
	return rest, nil
}

// joinSegments concatenates the contents of the (already converted)
// OCTET STRING segments in b.
func joinSegments(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		if b[0] != 0x04 {
			return nil, fmt.Errorf("%w: constructed OCTET STRING holds tag %#x", ErrMalformed, b[0])
		}
		n, l, _, err := readLength(b[1:])
		if err != nil || 1+l+n > len(b) {
			return nil, fmt.Errorf("%w: OCTET STRING segment", ErrMalformed)
		}
		out = append(out, b[1+l:1+l+n]...)
		b = b[1+l+n:]
	}
	return out, nil
}

func readTag(in []byte) (tag int, constructed bool, n int, err error) {
	if len(in) == 0 {
		return 0, false, 0, fmt.Errorf("%w: truncated tag", ErrMalformed)
	}
	constructed = in[0]&0x20 != 0
	if in[0]&0x1f != 0x1f {
		return int(in[0] & 0x1f), constructed, 1, nil
	}
	for i := 1; i < len(in) && i < 5; i++ {
		tag = tag<<7 | int(in[i]&0x7f)
		if in[i]&0x80 == 0 {
			return tag, constructed, i + 1, nil
		}
	}
	return 0, false, 0, fmt.Errorf("%w: bad high tag number", ErrMalformed)
}

func readLength(in []byte) (length, n int, indefinite bool, err error) {
	if len(in) == 0 {
		return 0, 0, false, fmt.Errorf("%w: truncated length", ErrMalformed)
	}
	b := in[0]
	switch {
	case b < 0x80:
		return int(b), 1, false, nil
	case b == 0x80:
		return 0, 1, true, nil
	}
	k := int(b & 0x7f)
	if k > 4 || len(in) < 1+k {
		return 0, 0, false, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	for i := 1; i <= k; i++ {
		length = length<<8 | int(in[i])
	}
	if length < 0 {
		return 0, 0, false, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	return length, 1 + k, false, nil
}

// writeTLV writes an element with a definite, minimal length.
func writeTLV(out *bytes.Buffer, tag, content []byte) {
	out.Write(tag)
	n := len(content)
	switch {
	case n < 0x80:
		out.WriteByte(byte(n))
	default:
		var l []byte
		for v := n; v > 0; v >>= 8 {
			l = append([]byte{byte(v)}, l...)
		}
		out.WriteByte(0x80 | byte(len(l)))
		out.Write(l)
	}
	out.Write(content)
}
