package smime

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// RFC 3394 §2.2.3.1: the default initial value.
var keyWrapDefaultIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// errKeyWrap is internal: callers turn it into ErrIntegrity.
var errKeyWrap = errors.New("smime: AES key unwrap failed")

// keyWrap is the RFC 3394 §2.2.1 AES key wrap (index-based form) of
// plaintext, a multiple of 8 bytes and at least 16, under kek.
func keyWrap(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(plaintext) / 8
	if len(plaintext)%8 != 0 || n < 2 {
		return nil, errors.New("smime: key wrap input must be 8n bytes, n >= 2")
	}
	out := make([]byte, 8+len(plaintext))
	a := keyWrapDefaultIV
	copy(out[8:], plaintext)
	var buf [16]byte
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			r := out[8*i : 8*i+8]
			copy(buf[:8], a[:])
			copy(buf[8:], r)
			block.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(buf[:8])^t)
			copy(r, buf[8:])
		}
	}
	copy(out[:8], a[:])
	return out, nil
}

// keyUnwrap is the RFC 3394 §2.2.2 key unwrap with the §2.2.3 integrity
// check against the default IV. Any failure is errKeyWrap.
func keyUnwrap(kek, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errKeyWrap
	}
	n := len(wrapped)/8 - 1
	if len(wrapped)%8 != 0 || n < 2 {
		return nil, errKeyWrap
	}
	var a [8]byte
	copy(a[:], wrapped[:8])
	out := make([]byte, 8*n)
	copy(out, wrapped[8:])
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := out[8*(i-1) : 8*i]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(buf[8:], r)
			block.Decrypt(buf[:], buf[:])
			copy(a[:], buf[:8])
			copy(r, buf[8:])
		}
	}
	if subtle.ConstantTimeCompare(a[:], keyWrapDefaultIV[:]) != 1 {
		clear(out)
		return nil, errKeyWrap
	}
	return out, nil
}
