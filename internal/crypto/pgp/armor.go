package pgp

import (
	"bytes"
	"encoding/base64"
	"io"
)

// armorWriter is the one ASCII-armor writer (RFC 9580 §6.2) of everything
// Sealpost writes: messages, detached and cleartext signatures, keys.
// armor_test.go checks that nothing else in the package writes armor.
// It writes the bytes of the library's armor.EncodeWithChecksumOption
// (no headers, 64-character lines, LF line ends, checksum on), which
// armor_test.go checks too, but computes the CRC24 with a table: the
// library's bit-by-bit loop took most of the time of encrypting a large
// copy.
//
// RFC 9580 §6.1: the CRC24 footer "SHOULD NOT be generated, unless
// interoperability with implementations that require the CRC24 footer to
// be present is a concern". It is: without it GnuPG 2.2 (Debian 12's gpg,
// and so mutt, NeoMutt and notmuch, which verify through it) reads the
// armor tail as data, reports GOODSIG then NODATA and exits 2, which those
// clients show as "verification failed". Readers that do not need the
// footer must ignore it (same section), so it is always written.
func armorWriter(w io.Writer, blockType string) (io.WriteCloser, error) {
	if _, err := io.WriteString(w, "-----BEGIN "+blockType+"-----\n\n"); err != nil {
		return nil, err
	}
	a := &armorEncoder{w: w, blockType: blockType, crc: crc24Init, lines: armorLines{w: w}}
	a.b64 = base64.NewEncoder(base64.StdEncoding, &a.lines)
	return a, nil
}

// armorEncoder is the armor of armorWriter: the data base64-encoded in
// lines of armorLineLength characters, then the checksum line and the
// tail (RFC 9580 §6.2).
type armorEncoder struct {
	w         io.Writer
	blockType string
	crc       uint32
	b64       io.WriteCloser
	lines     armorLines
}

func (a *armorEncoder) Write(p []byte) (int, error) {
	a.crc = crc24(a.crc, p)
	return a.b64.Write(p)
}

// Close writes the rest of the base64, the checksum line ("=" and the
// base64 of the three CRC bytes, RFC 9580 §6.1) and the tail line,
// without a line end after it.
func (a *armorEncoder) Close() error {
	if err := a.b64.Close(); err != nil {
		return err
	}
	sum := [3]byte{byte(a.crc >> 16), byte(a.crc >> 8), byte(a.crc)}
	var tail [64]byte
	t := append(tail[:0], "\n="...)
	t = base64.StdEncoding.AppendEncode(t, sum[:])
	t = append(t, "\n-----END "...)
	t = append(t, a.blockType...)
	t = append(t, "-----"...)
	_, err := a.w.Write(t)
	return err
}

// armorLineLength is the length of the armor's base64 lines; RFC 9580
// §6.3 allows up to 76.
const armorLineLength = 64

// armorLines breaks base64 text into lines of armorLineLength, an LF
// written before each line after the first, none after the last.
type armorLines struct {
	w    io.Writer
	col  int  // characters on the current line
	full bool // a line was completed: the next character starts a new one
	nl   [1]byte
}

func (l *armorLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if l.full {
			l.nl[0] = '\n'
			if _, err := l.w.Write(l.nl[:]); err != nil {
				return 0, err
			}
			l.full = false
		}
		k := min(armorLineLength-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
		if l.col += k; l.col == armorLineLength {
			l.col, l.full = 0, true
		}
	}
	return n, nil
}

// RFC 9580 §6.1: the CRC24 generator and initial value.
const (
	crc24Init = 0xb704ce
	crc24Poly = 0x1864cfb
)

// crc24Table[b] is the CRC24 remainder of the byte b in the top byte.
var crc24Table = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 16
		for range 8 {
			c <<= 1
			if c&0x1000000 != 0 {
				c ^= crc24Poly
			}
		}
		t[i] = c
	}
	return t
}()

// crc24 continues the checksum crc over d (RFC 9580 §6.1), a byte at a
// time through crc24Table.
func crc24(crc uint32, d []byte) uint32 {
	for _, b := range d {
		crc = crc24Table[byte(crc>>16)^b] ^ (crc&0xffff)<<8
	}
	return crc
}

// armorBlock wraps data in an ASCII armor block of the given type,
// ending in a newline.
func armorBlock(blockType string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := armorWriter(&b, blockType)
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
