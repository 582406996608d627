package pgp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"sync"
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
	return armorWriterEOL(w, blockType, "\n")
}

// armorWriterEOL is armorWriter with eol ("\n" or "\r\n") ending each
// line: the armor inside a MIME text body has CRLF line ends (RFC 2046
// §4.1.1).
func armorWriterEOL(w io.Writer, blockType, eol string) (io.WriteCloser, error) {
	if _, err := io.WriteString(w, "-----BEGIN "+blockType+"-----"+eol+eol); err != nil {
		return nil, err
	}
	return &armorEncoder{w: w, blockType: blockType, eol: eol, crc: crc24Init, out: armorBuffers.Get().([]byte)[:0]}, nil
}

// armorBuffers are armorEncoder's out buffers, given back by Close: an
// outbox writes thousands of copies a second, each of which grew its own
// buffer line by line before.
var armorBuffers = sync.Pool{New: func() any { return make([]byte, 0, armorChunk+2*armorLineLength) }}

// armorEncoder is the armor of armorWriter: the data base64-encoded in
// lines of armorLineLength characters, then the checksum line and the
// tail (RFC 9580 §6.2). A line is the encoding of armorLineBytes bytes;
// the bytes of an unfinished line wait in part, and whole lines are
// encoded into out and written armorChunk bytes or so at a time.
type armorEncoder struct {
	w         io.Writer
	blockType string
	eol       string
	crc       uint32
	part      [armorLineBytes]byte
	nPart     int
	lines     int // lines written: each after the first starts with eol
	out       []byte
}

// armorLineBytes is how many bytes one armor line encodes.
const armorLineBytes = armorLineLength / 4 * 3

// armorChunk is about how much armored text armorEncoder writes at once.
const armorChunk = 32 << 10

func (a *armorEncoder) Write(p []byte) (int, error) {
	n := len(p)
	a.crc = crc24(a.crc, p)
	if a.nPart > 0 {
		k := copy(a.part[a.nPart:], p)
		a.nPart += k
		p = p[k:]
		if a.nPart < armorLineBytes {
			return n, nil
		}
		a.line(a.part[:])
		a.nPart = 0
	}
	for len(p) >= armorLineBytes {
		a.line(p[:armorLineBytes])
		p = p[armorLineBytes:]
		if len(a.out) >= armorChunk {
			if err := a.flush(); err != nil {
				return 0, err
			}
		}
	}
	a.nPart = copy(a.part[:], p)
	return n, a.flush()
}

// line adds the encoding of b, at most one line's bytes, to out.
func (a *armorEncoder) line(b []byte) {
	if a.lines > 0 {
		a.out = append(a.out, a.eol...)
	}
	a.lines++
	a.out = base64.StdEncoding.AppendEncode(a.out, b)
}

func (a *armorEncoder) flush() error {
	if len(a.out) == 0 {
		return nil
	}
	_, err := a.w.Write(a.out)
	a.out = a.out[:0]
	return err
}

// Close writes the rest of the base64, the checksum line ("=" and the
// base64 of the three CRC bytes, RFC 9580 §6.1) and the tail line,
// without a line end after it.
func (a *armorEncoder) Close() error {
	if a.nPart > 0 {
		a.line(a.part[:a.nPart])
	}
	sum := [3]byte{byte(a.crc >> 16), byte(a.crc >> 8), byte(a.crc)}
	a.out = append(a.out, a.eol+"="...)
	a.out = base64.StdEncoding.AppendEncode(a.out, sum[:])
	a.out = append(a.out, a.eol+"-----END "+a.blockType+"-----"...)
	err := a.flush()
	if cap(a.out) <= armorChunk+2*armorLineLength {
		armorBuffers.Put(a.out[:0])
	}
	a.out = nil
	return err
}

// armorLineLength is the length of the armor's base64 lines; RFC 9580
// §6.3 allows up to 76. It is a multiple of 4: a line is whole base64
// groups.
const armorLineLength = 64

// RFC 9580 §6.1: the CRC24 generator and initial value.
const (
	crc24Init = 0xb704ce
	crc24Poly = 0x1864cfb
)

// crc24Tables are the tables of a CRC24 computed eight bytes at a time
// ("slicing by 8"), with the 24-bit remainder kept in the top three bytes
// of a uint32: crc24Tables[0][b] is the remainder of the byte b followed
// by three zero bytes, and crc24Tables[k][b] that of b followed by k more
// zero bytes.
var crc24Tables = func() (t [8][256]uint32) {
	for i := range t[0] {
		c := uint32(i) << 16
		for range 8 {
			c <<= 1
			if c&0x1000000 != 0 {
				c ^= crc24Poly
			}
		}
		t[0][i] = c << 8
	}
	for k := 1; k < 8; k++ {
		for i := range t[k] {
			c := t[k-1][i]
			t[k][i] = t[0][c>>24] ^ c<<8
		}
	}
	return t
}()

// crc24 continues the checksum crc over d (RFC 9580 §6.1).
func crc24(crc uint32, d []byte) uint32 {
	c := crc << 8
	t := &crc24Tables
	for len(d) >= 8 {
		c ^= binary.BigEndian.Uint32(d)
		c = t[7][c>>24] ^ t[6][byte(c>>16)] ^ t[5][byte(c>>8)] ^ t[4][byte(c)] ^
			t[3][d[4]] ^ t[2][d[5]] ^ t[1][d[6]] ^ t[0][d[7]]
		d = d[8:]
	}
	for _, b := range d {
		c = t[0][byte(c>>24)^b] ^ c<<8
	}
	return c >> 8
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
