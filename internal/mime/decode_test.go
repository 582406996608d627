package mime

import (
	"errors"
	"testing"
)

func TestDecoded(t *testing.T) {
	tests := []struct {
		name string
		cte  string // Content-Transfer-Encoding, "" for none
		body string
		max  int64
		want string
		err  error // nil, ErrMalformed, ErrUnknownEncoding or *LimitError
	}{
		{"no encoding", "", "a\r\nb\n", 100, "a\r\nb\n", nil},
		{"7bit", "7bit", "abc", 3, "abc", nil},
		{"8bit upper case", " 8BIT ", "\xc3\xa9", 2, "\xc3\xa9", nil},
		{"binary", "binary", "\x00\xff", 2, "\x00\xff", nil},
		{"7bit over max", "7bit", "abcd", 3, "", &LimitError{LimitDecoded, 3}},
		{"base64 CRLF", "base64", "aGVs\r\nbG8=\r\n", 5, "hello", nil},
		{"base64 LF and spaces", "Base64", " aGVs\n\tbG8g\n d29y bGQ=\n", 100, "hello world", nil},
		{"base64 no padding needed", "base64", "YWJj", 3, "abc", nil},
		{"base64 over max", "base64", "aGVsbG8=", 4, "", &LimitError{LimitDecoded, 4}},
		{"base64 invalid", "base64", "aGVs*bG8=", 100, "", ErrMalformed},
		{"base64 truncated", "base64", "aGVsbG8", 100, "", ErrMalformed},
		{"qp soft breaks CRLF", "quoted-printable", "a=3Db=\r\nc\r\nd", 100, "a=bc\r\nd", nil},
		{"qp soft breaks LF", "quoted-printable", "caf=C3=A9 =\nok\n", 100, "caf\xc3\xa9 ok\n", nil},
		{"qp trailing space dropped", "quoted-printable", "a  \r\nb", 100, "a\r\nb", nil},
		{"qp invalid escape kept", "quoted-printable", "a=ZZb", 100, "a=ZZb", nil},
		{"qp control byte", "quoted-printable", "a\x00b", 100, "", ErrMalformed},
		{"qp over max", "quoted-printable", "abc=3D", 3, "", &LimitError{LimitDecoded, 3}},
		{"qp at max", "quoted-printable", "abc=3D", 4, "abc=", nil},
		{"negative max", "7bit", "a", -1, "", &LimitError{LimitDecoded, 0}},
		{"empty body, zero max", "base64", "", 0, "", nil},
		{"unknown", "x-uuencode", "begin 644 x", 100, "", ErrUnknownEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "Subject: t\r\n"
			if tt.cte != "" {
				in += "Content-Transfer-Encoding: " + tt.cte + "\r\n"
			}
			p, err := Parse([]byte(in+"\r\n"+tt.body), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Decoded(tt.max)
			if tt.err != nil {
				checkErr(t, err, tt.err)
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Decoded = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestDecodedCopies checks that the result of Decoded never aliases the
// received bytes.
func TestDecodedCopies(t *testing.T) {
	in := []byte("Subject: t\r\n\r\nabc")
	p, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Decoded(10)
	if err != nil {
		t.Fatal(err)
	}
	out[0] = 'X'
	if string(in) != "Subject: t\r\n\r\nabc" {
		t.Errorf("Decoded output aliases the input: %q", in)
	}
}

// TestDecodedShared: a 7bit body is the received bytes themselves, with
// Decoded's limit; any other encoding is decoded as Decoded does.
func TestDecodedShared(t *testing.T) {
	p, err := Parse([]byte("Subject: t\r\n\r\nabc"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.DecodedShared(10)
	if err != nil || string(out) != "abc" || &out[0] != &p.Body[0] {
		t.Errorf("DecodedShared = %q, %v; want the body itself", out, err)
	}
	var le *LimitError
	if _, err := p.DecodedShared(2); !errors.As(err, &le) {
		t.Errorf("DecodedShared over the limit: %v, want a *LimitError", err)
	}
	b, err := Parse([]byte("Content-Transfer-Encoding: base64\r\n\r\nYWJj\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := b.DecodedShared(10); err != nil || string(out) != "abc" {
		t.Errorf("base64: DecodedShared = %q, %v", out, err)
	}
}
