package mime

import (
	"bufio"
	"bytes"
	"errors"
	"mime"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// header builds a textproto.Header with fields in the given order.
func header(kv ...string) textproto.Header {
	var h textproto.Header
	// Add prepends, so add in reverse to keep kv's order.
	for i := len(kv) - 2; i >= 0; i -= 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestWriteHeader(t *testing.T) {
	long := strings.Repeat("word ", 30) + "end"
	token := strings.Repeat("x", 100)
	tests := []struct {
		name string
		h    textproto.Header
		want string
	}{
		{"empty", header(), "\r\n"},
		{"order kept", header("From", "a@example.org", "To", "b@example.org"),
			"From: a@example.org\r\nTo: b@example.org\r\n\r\n"},
		{"empty value", header("X-Empty", ""), "X-Empty:\r\n\r\n"},
		{"exactly 78", header("Subject", strings.Repeat("a", 69)),
			"Subject: " + strings.Repeat("a", 69) + "\r\n\r\n"},
		{"folded at last space before 78", header("Subject", long),
			"Subject: word word word word word word word word word word word word word word\r\n" +
				" word word word word word word word word word word word word word word word\r\n" +
				" word end\r\n\r\n"},
		{"fold after 78 when needed", header("X-Token", token+" tail"),
			"X-Token: " + token + "\r\n tail\r\n\r\n"},
		{"no fold point", header("X-Token", token),
			"X-Token: " + token + "\r\n\r\n"},
		{"998 characters unfolded", header("X-Long", strings.Repeat("y", 990)),
			"X-Long: " + strings.Repeat("y", 990) + "\r\n\r\n"},
		{"no whitespace-only line", header("X-Pad", token+"      "),
			"X-Pad: " + token + "      \r\n\r\n"},
		{"tab is a fold point", header("X-Tab", strings.Repeat("b", 75)+"\tc"),
			"X-Tab: " + strings.Repeat("b", 75) + "\r\n\tc\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteHeader(&b, tt.h); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
			checkRoundTrip(t, tt.h, b.Bytes())
		})
	}
}

// checkRoundTrip parses written header bytes back and compares the field
// values, whitespace runs at fold points aside.
func checkRoundTrip(t *testing.T, h textproto.Header, written []byte) {
	t.Helper()
	back, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(written)))
	if err != nil {
		t.Fatal(err)
	}
	for fs := h.Fields(); fs.Next(); {
		want := strings.Join(strings.Fields(fs.Value()), " ")
		if got := strings.Join(strings.Fields(back.Get(fs.Key())), " "); got != want {
			t.Errorf("%s round trip: got %q, want %q", fs.Key(), got, want)
		}
	}
}

func TestWriteHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		h    textproto.Header
	}{
		{"CRLF injection", header("Subject", "hi\r\nBcc: victim@example.org")},
		{"LF injection", header("Subject", "hi\nBcc: x")},
		{"NUL", header("Subject", "a\x00b")},
		{"space in name", header("Bad Name", "x")},
		{"colon in name", header("Bad:Name", "x")},
		{"non-ASCII name", header("Sübject", "x")},
		{"unfoldable line over 998", header("X-Long", strings.Repeat("y", 991))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteHeader(&b, tt.h); err == nil {
				t.Errorf("no error; wrote %q", b.String())
			}
			if b.Len() != 0 {
				t.Errorf("wrote %q despite the error", b.String())
			}
		})
	}
}

func TestWriteHeaderWriterError(t *testing.T) {
	if err := WriteHeader(errWriter{}, header("A", "b")); err == nil {
		t.Error("no error from failing writer")
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("boom") }

func TestNewBoundary(t *testing.T) {
	rand := bytes.NewReader(bytes.Repeat([]byte{0xab}, 2*boundaryBytes))
	b1, err := NewBoundary(rand)
	if err != nil {
		t.Fatal(err)
	}
	want := "=_" + strings.Repeat("ab", boundaryBytes)
	if b1 != want {
		t.Errorf("NewBoundary = %q, want %q", b1, want)
	}
	// RFC 2046 §5.1.1: 1 to 70 characters.
	if len(b1) > 70 {
		t.Errorf("boundary of %d characters", len(b1))
	}
	ct := mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": b1})
	if _, params, err := mime.ParseMediaType(ct); err != nil || params["boundary"] != b1 {
		t.Errorf("Content-Type %q does not round-trip: %v %v", ct, params, err)
	}
	if _, err := NewBoundary(rand); err != nil {
		t.Errorf("second boundary: %v", err)
	}
	if _, err := NewBoundary(rand); err == nil {
		t.Error("no error from exhausted rand")
	}
}

// TestBuildAndParse writes a multipart/signed skeleton with WriteHeader and
// NewBoundary and parses it back.
func TestBuildAndParse(t *testing.T) {
	boundary, err := NewBoundary(strings.NewReader(strings.Repeat("k", boundaryBytes)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	ct := mime.FormatMediaType("multipart/signed", map[string]string{
		"boundary": boundary, "protocol": "application/pgp-signature", "micalg": "pgp-sha256",
	})
	if err := WriteHeader(&b, header("Subject", "test", "Content-Type", ct)); err != nil {
		t.Fatal(err)
	}
	signed := "Content-Type: text/plain\r\n\r\nhello\r\n"
	b.WriteString("--" + boundary + "\r\n" + signed + "\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pgp-signature\r\n\r\nSIG\r\n--" + boundary + "--\r\n")
	p, err := Parse(b.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Children) != 2 || string(p.Children[0].Raw) != signed {
		t.Errorf("parsed back:\n%s", Tree(p))
	}
}

// TestWriteFieldsAsHeader: WriteFields writes what WriteHeader writes for
// the same fields (names made canonical, folding, checks), leaving out
// the empty ones, without going through a textproto.Header.
func TestWriteFieldsAsHeader(t *testing.T) {
	long := strings.Repeat("word ", 30) + "end"
	token := strings.Repeat("x", 100)
	sets := [][]HeaderField{
		{},
		{{"From", "a@example.org"}, {"To", "b@example.org"}, {"MIME-Version", "1.0"}, {"message-id", "<m@example.org>"}},
		{{"Subject", strings.Repeat("a", 69)}, {"Subject", strings.Repeat("a", 70)}, {"X-Empty", ""}},
		{{"Subject", long}, {"X-Token", token + " tail"}, {"X-Token", token}, {"X-Long", strings.Repeat("y", 990)}},
		{{"X-Pad", token + "      "}, {"X-Tab", strings.Repeat("b", 75) + "\tc"}, {"Content-Type", `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="` + token + `"`}},
		{{"Subject", "hi\r\nBcc: victim@example.org"}},
		{{"Bad Name", "x"}},
		{{"X-Long", strings.Repeat("y", 991)}},
	}
	for i, fs := range sets {
		var kv []string
		for _, f := range fs {
			if f[1] != "" {
				kv = append(kv, f[0], f[1])
			}
		}
		var want, got bytes.Buffer
		wantErr := WriteHeader(&want, header(kv...))
		gotErr := WriteFields(&got, fs)
		if (wantErr == nil) != (gotErr == nil) || got.String() != want.String() {
			t.Errorf("set %d: WriteFields wrote %q (error %v), WriteHeader %q (error %v)", i, got.String(), gotErr, want.String(), wantErr)
		}
	}
}
