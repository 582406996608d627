package smime

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"
)

func TestBERToDER(t *testing.T) {
	der, _ := asn1.Marshal(struct {
		A int
		B []byte
	}{7, []byte("hello")})
	tests := []struct {
		name string
		in   []byte
		want []byte
		err  bool
	}{
		{"DER passes unchanged", der, der, false},
		// SEQUENCE, indefinite { INTEGER 7, OCTET STRING constructed indefinite {"hel", "lo"} }
		{"indefinite lengths and constructed OCTET STRING", []byte{
			0x30, 0x80,
			0x02, 0x01, 0x07,
			0x24, 0x80, 0x04, 0x03, 'h', 'e', 'l', 0x04, 0x02, 'l', 'o', 0x00, 0x00,
			0x00, 0x00}, der, false},
		{"trailing zero padding", append(append([]byte{}, der...), 0, 0), der, false},
		{"missing end-of-contents", []byte{0x30, 0x80, 0x02, 0x01, 0x07}, nil, true},
		{"length beyond input", []byte{0x30, 0x05, 0x02, 0x01}, nil, true},
		{"trailing garbage", append(append([]byte{}, der...), 1), nil, true},
	}
	for _, tt := range tests {
		got, err := berToDER(tt.in)
		if tt.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err = %v, want ErrMalformed", tt.name, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: %x, %v; want %x", tt.name, got, err, tt.want)
		}
	}
	deep := bytes.Repeat([]byte{0x30, 0x80}, maxBERDepth+2)
	if _, err := berToDER(deep); !errors.Is(err, ErrMalformed) {
		t.Errorf("deep nesting: %v", err)
	}
}

func FuzzBERToDER(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x02, 0x01, 0x07, 0x00, 0x00})
	f.Add([]byte{0x24, 0x80, 0x04, 0x01, 'a', 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := berToDER(in)
		if err != nil {
			return
		}
		// The output is definite-length: converting it again changes nothing.
		again, err := berToDER(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %x -> %x -> %x (%v)", in, out, again, err)
		}
	})
}
