package pgp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAll: whatever the hint, readAll returns the input byte for
// byte, in one allocation of its size when it went past the hint, stops
// one byte past max, and passes on a read error.
func TestReadAll(t *testing.T) {
	data := make([]byte, 3*readChunk+777)
	rand.Read(data)
	const max = 1 << 30
	for _, tc := range []struct {
		name       string
		size, hint int
	}{
		{"empty", 0, 100},
		{"under the hint", 1000, 4000},
		{"exactly the hint", 4000, 4000},
		{"one past the hint", 4001, 4000},
		{"chunk boundary", 100 + readChunk, 100},
		{"several chunks", len(data), 160 << 10},
		{"no hint", len(data), 0},
	} {
		in := data[:tc.size]
		got, err := readAll(iotest.HalfReader(bytes.NewReader(in)), max, int64(tc.hint))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, in) {
			t.Errorf("%s: read %d bytes, want %d, or they differ", tc.name, len(got), len(in))
		}
		if tc.size > tc.hint+1 && cap(got) != len(got) {
			t.Errorf("%s: capacity %d for %d bytes", tc.name, cap(got), len(got))
		}
	}
	got, err := readAll(bytes.NewReader(data), 5000, 100)
	if err != nil || len(got) != 5001 {
		t.Errorf("limit: %d bytes, %v; want max+1 = 5001 bytes", len(got), err)
	}
	boom := errors.New("boom")
	if _, err := readAll(io.MultiReader(bytes.NewReader(data[:2*readChunk]), iotest.ErrReader(boom)), max, 10); !errors.Is(err, boom) {
		t.Errorf("read error: %v, want %v", err, boom)
	}
}
