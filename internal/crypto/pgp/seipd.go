package pgp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// writeSEIPDv1 writes plaintext encrypted under key (AES-128, -192 or
// -256) as a Symmetrically Encrypted and Integrity Protected Data packet
// of version 1 with its Modification Detection Code (RFC 9580 §5.13.1):
// the packet the library writes for SEIPD v1, made here because its
// writer encrypts a byte at a time and allocates a copy of every write,
// which made most of the cost of a large post's copies. The plaintext is
// in memory (a signed post), so the packet has a definite length and no
// partial lengths. rand gives the random prefix.
func writeSEIPDv1(w io.Writer, key, plaintext []byte, rand io.Reader) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	bs := block.BlockSize()
	// The prefix: a block of random octets, its last two repeated.
	prefix := make([]byte, bs+2)
	if _, err := io.ReadFull(rand, prefix[:bs]); err != nil {
		return err
	}
	copy(prefix[bs:], prefix[bs-2:bs])
	// The MDC packet: tag 19, length 20, the SHA-1 of the prefix, the
	// plaintext and these two octets.
	mdcHeader := []byte{0xd3, 0x14}

	body := 1 + len(prefix) + len(plaintext) + len(mdcHeader) + sha1.Size
	if body > math.MaxUint32 {
		return errors.New("message too large for one packet")
	}
	hdr := []byte{0xc0 | 18} // OpenPGP packet framing, tag 18 (§4.2.1)
	hdr = appendLength(hdr, body)
	hdr = append(hdr, 1) // version 1
	if _, err := w.Write(hdr); err != nil {
		return err
	}

	// OpenPGP's CFB for this packet is plain CFB with an IV of zeros and
	// no resynchronisation (§5.13.1), which is what crypto/cipher's CFB
	// is; its deprecation is about CFB's lack of authentication, which
	// the MDC is here for.
	stream := cipher.NewCFBEncrypter(block, make([]byte, bs)) //nolint:staticcheck // SA1019: OpenPGP requires CFB
	h := sha1.New()
	buf := make([]byte, min(copyChunk, len(prefix)+len(plaintext)))
	write := func(p []byte) error {
		for len(p) > 0 {
			n := min(len(p), len(buf))
			h.Write(p[:n])
			stream.XORKeyStream(buf[:n], p[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}
	if err := write(prefix); err != nil {
		return err
	}
	if err := write(plaintext); err != nil {
		return err
	}
	if err := write(mdcHeader); err != nil {
		return err
	}
	sum := h.Sum(nil)
	stream.XORKeyStream(sum, sum)
	_, err = w.Write(sum)
	return err
}

// appendLength appends a packet body length in OpenPGP's one-, two- or
// five-octet form (RFC 9580 §4.2.1.1 to §4.2.1.3).
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 192:
		return append(b, byte(n))
	case n < 8384:
		n -= 192
		return append(b, byte(n>>8)+192, byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xff), uint32(n))
}
