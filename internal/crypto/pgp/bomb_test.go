package pgp

import (
	"bytes"
	"compress/flate"
	"errors"
	"runtime"
	"testing"
)

// bombStream returns the packets of a compressed OpenPGP message (RFC 9580
// §5.6, ZIP) that inflates to a literal data packet of size bytes of
// zeros. The deflate stream repeats one flushed block, so it is built in
// milliseconds: 10 GiB inflate from about 10 MB.
func bombStream(t testing.TB, size int64) []byte {
	t.Helper()
	const chunk = 1 << 20
	var block bytes.Buffer
	w, _ := flate.NewWriter(&block, flate.BestCompression)
	w.Write(make([]byte, chunk))
	w.Flush() // byte-aligned, not final: blocks can be repeated
	var out bytes.Buffer
	// Old-format compressed packet, indeterminate length (0xA3), ZIP.
	out.Write([]byte{0xA3, 0x01})
	head, _ := flate.NewWriter(&out, flate.BestCompression)
	// Old-format literal data packet, indeterminate length, binary, no name, no date.
	head.Write([]byte{0xAF, 'b', 0, 0, 0, 0, 0})
	head.Flush()
	for n := int64(0); n < size; n += chunk {
		out.Write(block.Bytes())
	}
	// A final empty block ends the stream.
	out.Write([]byte{0x03, 0x00})
	return out.Bytes()
}

// TestDecompressionBombs: DESIGN §4.8. The classic bytes a3 01 5b ff and
// a 10 GiB stream of zeros, each inside a well-formed encrypted message,
// fail fast with bounded memory instead of being inflated.
func TestDecompressionBombs(t *testing.T) {
	list := newListKey(t)
	// The same construction, small, inflates fine: it is the size limit
	// that stops the large one.
	ct, err := (&Signed{packets: bombStream(t, 1<<20)}).EncryptTo(list, false)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := Unwrap(pgpMIME(t, ct), list, nil, Options{MaxPlaintext: 32 << 20}); err != nil || len(u.Content) != 1<<20 {
		t.Fatalf("1 MiB control: %v", err)
	}
	for _, tc := range []struct {
		name    string
		packets []byte
	}{
		{"a3 01 5b ff", []byte{0xa3, 0x01, 0x5b, 0xff}},
		{"10 GiB of zeros", bombStream(t, 10<<30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := (&Signed{packets: tc.packets}).EncryptTo(list, false)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			u, err := Unwrap(pgpMIME(t, ct), list, nil, Options{MaxPlaintext: 32 << 20})
			runtime.ReadMemStats(&after)
			if err == nil || u != nil {
				t.Fatalf("Unwrap = %+v, %v; want a refusal", u, err)
			}
			// go-crypto reports failures in decrypted data as one generic
			// "parsing error" (no oracle), so an oversized inflation may
			// surface as an integrity failure; either way nothing is used.
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrIntegrity) {
				t.Errorf("err = %v, want a size or integrity refusal", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
				t.Errorf("refusing the bomb allocated %d MiB", alloc>>20)
			}
		})
	}
}
