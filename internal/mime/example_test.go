package mime_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/sealpost/sealpost/internal/mime"
)

func ExampleParse() {
	msg := "From: alice@example.org\n" +
		"Content-Type: multipart/signed; micalg=pgp-sha256;\n" +
		" protocol=\"application/pgp-signature\"; boundary=\"b1\"\n" +
		"\n" +
		"--b1\n" +
		"Content-Type: text/plain\n" +
		"\n" +
		"Hello\n" +
		"--b1\n" +
		"Content-Type: application/pgp-signature\n" +
		"\n" +
		"-----BEGIN PGP SIGNATURE-----\n" +
		"-----END PGP SIGNATURE-----\n" +
		"--b1--\n"

	root, err := mime.Parse([]byte(msg), mime.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(mime.Tree(root))

	// RFC 3156 §5: the signature covers the first part exactly as
	// received, with line endings converted to CRLF.
	signed := mime.Canonicalize(root.Children[0].Raw)
	fmt.Printf("%q\n", signed)
	// Output:
	// multipart/signed micalg="pgp-sha256" protocol="application/pgp-signature" cte=7bit len=148
	//   text/plain cte=7bit len=5
	//   application/pgp-signature cte=7bit len=57
	// "Content-Type: text/plain\r\n\r\nHello"
}

func ExamplePart_Decoded() {
	root, err := mime.Parse([]byte("Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n"), mime.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, err := root.Decoded(1 << 20)
	fmt.Printf("%q %v\n", body, err)
	// Output: "hello" <nil>
}

func ExampleWriteHeader() {
	boundary, err := mime.NewBoundary(strings.NewReader(strings.Repeat("\x00", 24)))
	if err != nil {
		fmt.Println(err)
		return
	}
	var h textproto.Header
	h.Add("Content-Type", "multipart/mixed; boundary=\""+boundary+"\"")
	h.Add("Subject", "Quarterly report for the list members, re-encrypted individually for each recipient")
	var b bytes.Buffer
	if err := mime.WriteHeader(&b, h); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(b.String(), "\r\n", "⏎\n"))
	// Output:
	// Subject: Quarterly report for the list members, re-encrypted individually for⏎
	//  each recipient⏎
	// Content-Type: multipart/mixed;⏎
	//  boundary="=_000000000000000000000000000000000000000000000000"⏎
	// ⏎
}
