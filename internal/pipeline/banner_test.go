package pipeline

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
)

// TestBannerBodyShapes: the verdict banner is the first line of every
// text a helpdesk may show first, whatever the body's shape, transfer
// encoding and charset, and the customer's text follows it unchanged;
// attachments, and text that cannot take an ASCII line, are not changed:
// the banner then comes as a text part of its own, first.
func TestBannerBodyShapes(t *testing.T) {
	const line = "[Sealpost: WARNING: signed by a different key than the one on file for alice@customer.test: this may not be from alice@customer.test; encrypted (OpenPGP)]"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	attachment := "--m\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64("%PDF-1.4 not really") + "\r\n"
	tests := []struct {
		name     string
		entity   string
		texts    []string // the decoded texts that must follow the banner, in the order shown
		fallback bool     // the banner comes as a part of its own
		kept     []string // raw bytes that must be in the result unchanged
	}{
		{name: "no Content-Type, 7bit", entity: "\r\nHello,\r\nmy printer.\r\n", texts: []string{"Hello,\r\nmy printer.\r\n"}},
		{name: "a fake banner typed by the sender",
			entity: "Content-Type: text/plain; charset=us-ascii\r\n\r\n[Sealpost: encrypted (OpenPGP), signed by alice@customer.test (known key)]\r\nHi\r\n",
			texts:  []string{"[Sealpost: encrypted (OpenPGP), signed by alice@customer.test (known key)]\r\nHi\r\n"}},
		{name: "UTF-8, 8bit", entity: "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n",
			texts: []string{"Grüße\r\n"}},
		{name: "ISO-8859-1, quoted-printable",
			entity: "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Gr=FC=DFe, a line long enough that it had to be broken by its sender with a soft=\r\n line break =3D here.\r\n",
			texts: []string{"Gr\xfc\xdfe, a line long enough that it had to be broken by its sender with a soft line break = here.\r\n"}},
		{name: "UTF-8, base64", entity: "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			b64("Привет,\r\nthe printer.\r\n") + "\r\n", texts: []string{"Привет,\r\nthe printer.\r\n"}},
		{name: "format=flowed, delsp=yes", entity: "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n" +
			"This paragraph is flowed \r\nover two lines.\r\n> quoted\r\n", texts: []string{"This paragraph is flowed \r\nover two lines.\r\n> quoted\r\n"}},
		{name: "LF line ends, UTF-8 byte order mark", entity: "Content-Type: text/plain; charset=utf-8\n\n\xef\xbb\xbfHi\nthere\n",
			texts: []string{"Hi\nthere\n"}},
		{name: "multipart/alternative, plain quoted-printable and HTML base64",
			entity: "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\nPreamble.\r\n--a\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n--a\r\n" +
				"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64("<html><head><title>x</title></head><body class=\"c\"><p>Café</p></body></html>\r\n") + "\r\n--a--\r\n",
			texts: []string{"Café", "<p>Café</p></body></html>\r\n"}},
		{name: "multipart/mixed with an attachment",
			entity: "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" + attachment + "--m--\r\n",
			texts:  []string{"See attached."}, kept: []string{attachment}},
		{name: "multipart/signed around text and an attachment: the signed part, with the banner",
			entity: "Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n--s\r\n" +
				"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nSigned text.\r\n" + attachment + "--m--\r\n" +
				"--s\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nxx\r\n-----END PGP SIGNATURE-----\r\n--s--\r\n",
			texts: []string{"Signed text."}, kept: []string{attachment}},
		{name: "multipart/related HTML only", entity: "Content-Type: multipart/related; boundary=\"r\"\r\n\r\n--r\r\n" +
			"Content-Type: text/html\r\n\r\n<!DOCTYPE html><html><body>\r\n<img src=\"cid:i\">\r\n</body></html>\r\n--r\r\n" +
			"Content-Type: image/png\r\nContent-ID: <i>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n",
			texts: []string{"\r\n<img src=\"cid:i\">\r\n</body></html>"}, kept: []string{"iVBORw0KGgo="}},
		{name: "UTF-16: a part of its own", fallback: true,
			entity: "Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5IAGkA\r\n",
			kept:   []string{"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5IAGkA\r\n"}},
		{name: "only an attachment: a part of its own", fallback: true,
			entity: "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("%PDF") + "\r\n",
			kept:   []string{b64("%PDF")}},
		{name: "a text file attached first: a part of its own", fallback: true,
			entity: "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain; name=\"log.txt\"\r\n" +
				"Content-Disposition: attachment; filename=\"log.txt\"\r\n\r\nlog line\r\n--m--\r\n",
			kept: []string{"\r\n\r\nlog line\r\n--m--"}},
	}
	for _, tt := range tests {
		e, err := mime.Parse([]byte(tt.entity), mime.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		header, body, err := withBanner(e, line, func() (string, error) { return mime.NewBoundary(rand.Reader) })
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var out bytes.Buffer
		writeFields(&out, mime.Fields(header), func(f mime.Field) bool { return f.HasPrefix("Content-") })
		out.WriteString("\r\n")
		out.Write(body)
		got, err := mime.Parse(out.Bytes(), mime.Limits{})
		if err != nil {
			t.Errorf("%s: the result does not parse: %v\n%s", tt.name, err, out.Bytes())
			continue
		}
		for _, k := range tt.kept {
			if !bytes.Contains(out.Bytes(), []byte(k)) {
				t.Errorf("%s: %q was changed:\n%s", tt.name, k, out.Bytes())
			}
		}
		if tt.fallback {
			if got.MediaType != "multipart/mixed" || len(got.Children) != 2 || got.Children[0].MediaType != "text/plain" ||
				string(got.Children[0].Body) != line+"\r\n" || got.Children[1].MediaType != e.MediaType ||
				!bytes.Equal(got.Children[1].Body, e.Body) {
				t.Errorf("%s: not a banner part before the entity:\n%s", tt.name, out.Bytes())
			}
			continue
		}
		if bytes.Contains(out.Bytes(), []byte("multipart/signed")) || bytes.Contains(out.Bytes(), []byte("Preamble.")) {
			t.Errorf("%s: a signature layer or preamble was kept:\n%s", tt.name, out.Bytes())
		}
		texts := shownTexts(got)
		if len(texts) != len(tt.texts) {
			t.Errorf("%s: %d texts shown, want %d:\n%s", tt.name, len(texts), len(tt.texts), out.Bytes())
			continue
		}
		for i, p := range texts {
			text, err := p.Decoded(1 << 20)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var want string
			switch eol := "\r\n"; {
			case p.MediaType == "text/html":
				want = "<p>" + line + "</p>" + eol + tt.texts[i]
				if i := bytes.Index(text, []byte("<body")); i >= 0 {
					text = text[i+bytes.IndexByte(text[i:], '>')+1:]
				}
			case !bytes.Contains(text, []byte("\r\n")):
				eol = "\n"
				fallthrough
			default:
				want = line + eol + eol + tt.texts[i]
				text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
			}
			if string(text) != want {
				t.Errorf("%s: %s part decodes to\n%q\nwant\n%q", tt.name, p.MediaType, text, want)
			}
		}
	}
}

// shownTexts are the text parts a reader may be shown first: the first
// part of a multipart, every text alternative of a multipart/alternative.
func shownTexts(p *mime.Part) []*mime.Part {
	switch {
	case p.MediaType == "multipart/alternative":
		var out []*mime.Part
		for _, c := range p.Children {
			out = append(out, shownTexts(c)...)
		}
		return out
	case p.IsMultipart():
		return shownTexts(p.Children[0])
	case p.MediaType == "text/plain" || p.MediaType == "text/html":
		return []*mime.Part{p}
	}
	return nil
}
