package mime

import (
	"errors"
	"strings"
	"testing"
)

// crlf turns the LF line endings of s into CRLF, for writing CRLF test
// messages readably.
func crlf(s string) string {
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// signedLF is a multipart/signed message with LF line endings.
const signedLF = `From: alice@example.org
Content-Type: multipart/signed; micalg=pgp-sha256;
 protocol="application/pgp-signature"; boundary="sig"

This is an OpenPGP/MIME signed message (RFC 4880 and 3156)
--sig
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello,=20
  world  

--sig
Content-Type: application/pgp-signature; name="signature.asc"

-----BEGIN PGP SIGNATURE-----
AAAA
-----END PGP SIGNATURE-----

--sig--
epilogue
`

// signedFirstLF is the exact signed content of signedLF: the trailing empty
// line of the part belongs to it, the line break before "--sig" does not.
const signedFirstLF = `Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello,=20
  world  
`

// signedMixed has CRLF MIME structure and a bare-LF armor inside the
// signed part, as gpg-made parts in real corpora do.
const signedMixed = "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n" +
	" protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n" +
	"\r\n" +
	"--sig\r\n" +
	"Content-Type: application/pgp-encrypted\r\n" +
	"\r\n" +
	"-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n" +
	"\r\n" +
	"--sig\r\n" +
	"Content-Type: application/pgp-signature\r\n" +
	"\r\n" +
	"SIG\r\n" +
	"--sig--\r\n"

const signedFirstMixed = "Content-Type: application/pgp-encrypted\r\n" +
	"\r\n" +
	"-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n"

func TestSignedFirstPartRawExact(t *testing.T) {
	tests := []struct {
		name, in, want, preamble, epilogue string
	}{
		{"LF", signedLF, signedFirstLF,
			"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)", "epilogue\n"},
		{"CRLF", crlf(signedLF), crlf(signedFirstLF),
			"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)", "epilogue\r\n"},
		{"mixed", signedMixed, signedFirstMixed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			p, err := Parse(in, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.MediaType != "multipart/signed" || len(p.Children) != 2 {
				t.Fatalf("got %s with %d children", p.MediaType, len(p.Children))
			}
			if got := string(p.Children[0].Raw); got != tt.want {
				t.Errorf("first child Raw:\n got %q\nwant %q", got, tt.want)
			}
			if got := string(p.Preamble); got != tt.preamble {
				t.Errorf("Preamble = %q, want %q", got, tt.preamble)
			}
			if got := string(p.Epilogue); got != tt.epilogue {
				t.Errorf("Epilogue = %q, want %q", got, tt.epilogue)
			}
			checkTree(t, in, p)
		})
	}
}

func TestParseParts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // Raw of each child
	}{
		{
			name: "boundary prefix is not a delimiter",
			in: "Content-Type: multipart/mixed; boundary=abc\n\n" +
				"--abc\n\nA\n--abcd\n--abc-x\n--abc--x\n --abc\nx--abc\n--abc\n\nB\n--abc--\n",
			want: []string{"\nA\n--abcd\n--abc-x\n--abc--x\n --abc\nx--abc", "\nB"},
		},
		{
			name: "transport padding after delimiters",
			in:   "Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc \t\r\n\r\nA\r\n--abc--  \r\n",
			want: []string{"\r\nA"},
		},
		{
			name: "empty parts",
			in:   "Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n--abc\r\n\r\n--abc\r\n\r\n\r\n--abc--",
			want: []string{"", "", "\r\n"},
		},
		{
			name: "delimiter at start of body, no trailing line break",
			in:   "Content-Type: multipart/mixed; boundary=abc\n\n--abc\nX-A: 1\n\nA\n--abc--",
			want: []string{"X-A: 1\n\nA"},
		},
		{
			// QUIRK(no-close-delimiter)
			name: "missing close delimiter",
			in:   "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\nA\n--abc\n\nB\n",
			want: []string{"\nA", "\nB\n"},
		},
		{
			// QUIRK(no-close-delimiter)
			name: "open delimiter ends the body",
			in:   "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\nA\n--abc",
			want: []string{"\nA"},
		},
		{
			name: "text after close delimiter is epilogue",
			in:   "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\nA\n--abc--\n--abc\n\nB\n",
			want: []string{"\nA"},
		},
		{
			name: "RFC 2231 boundary continuation",
			in:   "Content-Type: multipart/mixed; boundary*0=ab; boundary*1=c\n\n--abc\n\nA\n--abc--\n",
			want: []string{"\nA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			p, err := Parse(in, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range p.Children {
				got = append(got, string(c.Raw))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("children Raw:\n got %q\nwant %q", got, tt.want)
			}
			checkTree(t, in, p)
		})
	}
}

func TestParseSinglePart(t *testing.T) {
	tests := []struct {
		name, in               string
		rawHeader, body, media string
		params                 map[string]string
	}{
		{"header only, no line break", "Subject: x", "Subject: x", "", "text/plain", nil},
		{"header only, LF", "Subject: x\n", "Subject: x\n", "", "text/plain", nil},
		{"empty input", "", "", "", "text/plain", nil},
		{"empty header", "\r\nbody", "\r\n", "body", "text/plain", nil},
		{"folded header, LF", "Subject: a\n b\nContent-Type: Text/HTML;\n\tcharset=UTF-8\n\nbody\n",
			"Subject: a\n b\nContent-Type: Text/HTML;\n\tcharset=UTF-8\n\n", "body\n", "text/html",
			map[string]string{"charset": "UTF-8"}},
		{"invalid content type is text/plain", "Content-Type: text\r\n\r\nx", "Content-Type: text\r\n\r\n", "x",
			"text/plain", nil},
		{"message/rfc822 is not descended", "Content-Type: message/rfc822\n\nContent-Type: multipart/mixed\n\n",
			"Content-Type: message/rfc822\n\n", "Content-Type: multipart/mixed\n\n", "message/rfc822", nil},
		{"mbox From line", "From - Thu, 06 Apr 2023 05:20:15 GMT\nSubject: x\n\nb",
			"From - Thu, 06 Apr 2023 05:20:15 GMT\nSubject: x\n\n", "b", "text/plain", nil},
		{"bare CR is not a line break", "Subject: x\r\rContent-Type: text/html\r\n\r\nb",
			"Subject: x\r\rContent-Type: text/html\r\n\r\n", "b", "text/plain", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			p, err := Parse(in, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if string(p.RawHeader) != tt.rawHeader || string(p.Body) != tt.body {
				t.Errorf("RawHeader, Body = %q, %q; want %q, %q", p.RawHeader, p.Body, tt.rawHeader, tt.body)
			}
			if p.MediaType != tt.media {
				t.Errorf("MediaType = %q, want %q", p.MediaType, tt.media)
			}
			for k, v := range tt.params {
				if p.Params[k] != v {
					t.Errorf("Params[%q] = %q, want %q", k, p.Params[k], v)
				}
			}
			if p.Params == nil || p.Children != nil || p.IsMultipart() {
				t.Errorf("Params %v, Children %v, IsMultipart %v", p.Params, p.Children, p.IsMultipart())
			}
			checkTree(t, in, p)
		})
	}
}

func TestDigestDefault(t *testing.T) {
	in := "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: m1\n\n--d\nContent-Type: text/plain\n\nx\n--d--\n"
	p, err := Parse([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Tree(p); got != "multipart/digest cte=7bit len=56\n  message/rfc822 cte=7bit len=12\n  text/plain cte=7bit len=1\n" {
		t.Errorf("Tree:\n%s", got)
	}
}

func TestParseErrors(t *testing.T) {
	mp := func(params, body string) string {
		return "Content-Type: multipart/mixed" + params + "\r\n\r\n" + body
	}
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error // ErrMalformed, or a *LimitError to compare
	}{
		{"missing boundary", mp("", "--\r\n\r\nA\r\n----\r\n"), Limits{}, ErrMalformed},
		{"bad parameter drops boundary", mp("; boundary=b; x", "--b\r\n\r\nA\r\n--b--\r\n"), Limits{}, ErrMalformed},
		{"no delimiter", mp("; boundary=b", "--bc\r\n\r\nA\r\n"), Limits{}, ErrMalformed},
		{"only close delimiter", mp("; boundary=b", "--b--\r\n"), Limits{}, ErrMalformed},
		{"only open delimiter at end", mp("; boundary=b", "--b"), Limits{}, ErrMalformed},
		{"duplicate content-type", "Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b\n\n", Limits{}, ErrMalformed},
		{"duplicate transfer encoding", "Content-Transfer-Encoding: base64\nContent-Transfer-Encoding: 7bit\n\n", Limits{}, ErrMalformed},
		{"encoded multipart", "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\n\nA\n--b--\n", Limits{}, ErrMalformed},
		{"header line without colon", "Subject: x\nnot a header\n\nbody", Limits{}, ErrMalformed},
		{"child header without colon", mp("; boundary=b", "--b\r\nnot a header\r\n--b--\r\n"), Limits{}, ErrMalformed},
		{"size", "Subject: x\r\n\r\n12345", Limits{MaxSize: 16}, &LimitError{LimitSize, 16}},
		{"header", "Subject: 0123456789\r\n\r\n", Limits{MaxHeaderBytes: 21}, &LimitError{LimitHeader, 21}},
		{"header without body", "Subject: 0123456789\r\nX: y", Limits{MaxHeaderBytes: 21}, &LimitError{LimitHeader, 21}},
		{"child header", mp("; boundary=b", "--b\r\nSubject: 0123456789012345678901234567890123456789\r\n\r\n--b--"), Limits{MaxHeaderBytes: 50}, &LimitError{LimitHeader, 50}},
		{"parts", mp("; boundary=b", "--b\r\n\r\n--b\r\n\r\n--b--"), Limits{MaxParts: 2}, &LimitError{LimitParts, 2}},
		{"depth", nested(3), Limits{MaxDepth: 2}, &LimitError{LimitDepth, 2}},
		{"many tiny parts", mp("; boundary=b", strings.Repeat("--b\n", 100000)), Limits{}, &LimitError{LimitParts, DefaultMaxParts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatalf("no error; tree:\n%s", Tree(p))
			}
			checkErr(t, err, tt.want)
		})
	}
}

// checkErr fails unless err matches want: errors.Is for a sentinel, equal
// fields for a *LimitError.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	var wantLim, gotLim *LimitError
	if errors.As(want, &wantLim) {
		if !errors.As(err, &gotLim) || *gotLim != *wantLim {
			t.Errorf("error %v, want %v", err, want)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
}

// nested returns a message of n multiparts nested in each other, with one
// text/plain leaf.
func nested(n int) string {
	s := "Content-Type: text/plain\n\nleaf\n"
	for i := range n {
		b := "b" + strings.Repeat("x", i)
		s = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" + s + "\n--" + b + "--\n"
	}
	return s
}

func TestLimitsBoundaries(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		ok   bool
	}{
		{"depth at limit", nested(3), Limits{MaxDepth: 3}, true},
		{"depth over limit", nested(4), Limits{MaxDepth: 3}, false},
		{"default depth", nested(DefaultMaxDepth), Limits{}, true},
		{"default depth exceeded", nested(DefaultMaxDepth + 1), Limits{}, false},
		{"parts at limit", nested(3), Limits{MaxParts: 4}, true},
		{"parts over limit", nested(3), Limits{MaxParts: 3}, false},
		{"size at limit", "Subject: x", Limits{MaxSize: 10}, true},
		{"size over limit", "Subject: x", Limits{MaxSize: 9}, false},
		{"header at limit", "Subject: x\r\n\r\nbody", Limits{MaxHeaderBytes: 14}, true},
		{"header over limit", "Subject: x\r\n\r\nbody", Limits{MaxHeaderBytes: 13}, false},
		{"negative means default", nested(3), Limits{MaxDepth: -1, MaxParts: -1, MaxSize: -1, MaxHeaderBytes: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), tt.lim)
			var le *LimitError
			switch {
			case tt.ok && err != nil:
				t.Errorf("unexpected error %v", err)
			case !tt.ok && !errors.As(err, &le):
				t.Errorf("error %v, want a *LimitError", err)
			}
		})
	}
}

func TestLimitErrorMessage(t *testing.T) {
	err := error(&LimitError{Limit: LimitDepth, Max: 16})
	if got, want := err.Error(), "mime: depth limit exceeded (max 16)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestCorpusInvariants checks the structural invariants of checkTree on
// every message of the shared corpus.
func TestCorpusInvariants(t *testing.T) {
	for _, rel := range corpusFiles(t) {
		raw := readCorpus(t, rel)
		p, err := Parse(raw, Limits{})
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		checkTree(t, raw, p)
	}
}

// TestErrorsOmitContent checks that a parse error does not quote message
// content, which may be decrypted plaintext.
func TestErrorsOmitContent(t *testing.T) {
	_, err := Parse([]byte("Subject: ok\nsecret plaintext line\n\nbody"), Limits{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	raw := []byte("From: a@example.org\r\nContent-Type: multipart/report; boundary=b\r\nAuto-Submitted: auto-replied\r\n\r\n--b\r\nnot parsed\r\n")
	p, err := ParseHeader(raw, Limits{})
	if err != nil || p.MediaType != "multipart/report" || p.Header.Get("Auto-Submitted") != "auto-replied" || p.Children != nil ||
		string(p.Body) != "--b\r\nnot parsed\r\n" {
		t.Fatalf("ParseHeader = %+v, %v", p, err)
	}
}
