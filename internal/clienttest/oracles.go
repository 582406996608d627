package clienttest

import (
	"fmt"
	stdmime "mime"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// The command-line tools read a message the way the mail programs built
// on them do: they find the encrypted or signed parts by the MIME
// structure (RFC 3156, RFC 8551), run the tool on each, and look at the
// entity inside. Each returns a Reading like the mail programs'.

// maxDecoded bounds what the readers decode of a test message.
const maxDecoded = 64 << 20

// GPGRead opens msg with gpg in the home g: a PGP/MIME encrypted message
// with `gpg --decrypt` (and the multipart/signed inside it, if any, with
// `gpg --verify`), a PGP/MIME signed one with `gpg --verify` of the
// signature over the exact signed part, inline PGP parts (armored text,
// NAME.pgp attachments) each with `gpg --decrypt`, and key attachments
// with `gpg --show-keys`. Every run must exit 0 and print no NODATA,
// ERRSIG, BADSIG or failure status.
func GPGRead(t testing.TB, g *gpgtest.GPG, msg []byte) Reading {
	t.Helper()
	return readWith(t, g, "gpg", gpgWalk, msg)
}

// A walker reads p and its children with one program in the home g
// into r and text; depth is how deep p is in the message.
type walker func(t testing.TB, g *gpgtest.GPG, p *mime.Part, r *Reading, text *strings.Builder, depth int)

// readWith reads msg with program in the home g: its Subject, then its
// MIME tree with walk.
func readWith(t testing.TB, g *gpgtest.GPG, program string, walk walker, msg []byte) Reading {
	t.Helper()
	top := parse(t, msg)
	r := Reading{Program: program, Subject: subjectOf(top)}
	var text strings.Builder
	walk(t, g, top, &r, &text, 0)
	r.Text = text.String()
	return r
}

// gpgWalk reads p and its children with gpg into r and text.
func gpgWalk(t testing.TB, g *gpgtest.GPG, p *mime.Part, r *Reading, text *strings.Builder, depth int) {
	t.Helper()
	switch {
	case depth > 8:
		r.Trouble = append(r.Trouble, "MIME nested too deep")
	case p.MediaType == "multipart/encrypted" && len(p.Children) == 2:
		res := g.Run(p.Children[1].Body, "--decrypt")
		gpgTrouble(res, "gpg --decrypt", r)
		r.Decrypted = res.Err == nil && res.HasStatus("DECRYPTION_OKAY") && res.HasStatus("GOODMDC")
		gpgSigner(res, r)
		inner := parse(t, res.Stdout)
		protectedSubject(inner, r)
		gpgWalk(t, g, inner, r, text, depth+1)
	case p.MediaType == "multipart/signed" && len(p.Children) == 2 && p.Params["protocol"] == "application/pgp-signature":
		dir := tempDir(t, "gpgv")
		data, sig := filepath.Join(dir, "data"), filepath.Join(dir, "sig.asc")
		write(t, data, p.Children[0].Raw)
		write(t, sig, p.Children[1].Body)
		res := g.Run(nil, "--verify", sig, data)
		gpgTrouble(res, "gpg --verify", r)
		gpgSigner(res, r)
		protectedSubject(p.Children[0], r)
		gpgWalk(t, g, p.Children[0], r, text, depth+1)
	case p.IsMultipart():
		for _, c := range p.Children {
			gpgWalk(t, g, c, r, text, depth+1)
		}
	case p.MediaType == "application/pgp-keys":
		res := g.Run(decoded(t, p), "--show-keys", "--with-colons")
		gpgTrouble(res, "gpg --show-keys", r)
		text.Write(res.Stdout)
	case isInlinePGP(t, p):
		res := g.Run(decoded(t, p), "--decrypt")
		gpgTrouble(res, "gpg --decrypt", r)
		r.Decrypted = res.Err == nil && res.HasStatus("DECRYPTION_OKAY") && res.HasStatus("GOODMDC")
		gpgSigner(res, r)
		if p.MediaType == "text/plain" {
			text.Write(res.Stdout)
		}
	case strings.HasPrefix(p.MediaType, "text/"):
		text.Write(decoded(t, p))
	}
}

// isInlinePGP reports whether p is an inline PGP message: armored text,
// or an attachment NAME.pgp.
func isInlinePGP(t testing.TB, p *mime.Part) bool {
	if strings.HasSuffix(filename(p), ".pgp") {
		return true
	}
	return p.MediaType == "text/plain" && strings.HasPrefix(strings.TrimSpace(string(decoded(t, p))), "-----BEGIN PGP MESSAGE-----")
}

// gpgTrouble adds to r what went wrong in one gpg run.
func gpgTrouble(res gpgtest.Result, what string, r *Reading) {
	if res.Err != nil {
		r.Trouble = append(r.Trouble, fmt.Sprintf("%s: %v: %s", what, res.Err, strings.TrimSpace(string(res.Stderr))))
	}
	for _, bad := range []string{"NODATA", "ERRSIG", "BADSIG", "EXPSIG", "REVKEYSIG", "DECRYPTION_FAILED", "BADMDC", "FAILURE", "ERROR"} {
		if res.HasStatus(bad) {
			r.Trouble = append(r.Trouble, what+": "+bad)
		}
	}
	r.Raw += "$ " + what + "\n" + res.Status + string(res.Stderr)
}

// gpgSigner notes a good signature of res in r: GOODSIG and VALIDSIG,
// whose first argument is the signing key's fingerprint.
func gpgSigner(res gpgtest.Result, r *Reading) {
	if !res.HasStatus("GOODSIG") {
		return
	}
	for _, line := range strings.Split(res.Status, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "VALIDSIG" {
			r.GoodSignature, r.Signer = true, f[2]
			// VALIDSIG names the primary key last.
			if len(f) > 11 {
				r.Signer = f[11]
			}
		}
	}
}

// GpgsmRead opens msg with gpgsm in the home g (prepared with its
// TrustRoot and ImportPKCS12): an enveloped message with `gpgsm
// --decrypt`, then the signature inside it, or a signed message, with
// `gpgsm --verify` over the exact signed part. Every run must exit 0 and
// print no error status.
func GpgsmRead(t testing.TB, g *gpgtest.GPG, msg []byte) Reading {
	t.Helper()
	Require(t, "gpgsm")
	return readWith(t, g, "gpgsm", gpgsmWalk, msg)
}

// gpgsmWalk reads p and its children with gpgsm into r and text.
func gpgsmWalk(t testing.TB, g *gpgtest.GPG, p *mime.Part, r *Reading, text *strings.Builder, depth int) {
	t.Helper()
	smimeType := strings.ToLower(p.Params["smime-type"])
	switch {
	case depth > 8:
		r.Trouble = append(r.Trouble, "MIME nested too deep")
	case isPKCS7Mime(p) && smimeType == "signed-data":
		res := g.Gpgsm(decoded(t, p), "--verify", "--output", "-")
		gpgsmResult(res, "gpgsm --verify", r)
		inner := parse(t, res.Stdout)
		protectedSubject(inner, r)
		gpgsmWalk(t, g, inner, r, text, depth+1)
	case isPKCS7Mime(p):
		res := g.Gpgsm(decoded(t, p), "--decrypt")
		gpgsmResult(res, "gpgsm --decrypt", r)
		r.Decrypted = res.Err == nil && res.HasStatus("DECRYPTION_OKAY")
		inner := parse(t, res.Stdout)
		protectedSubject(inner, r)
		gpgsmWalk(t, g, inner, r, text, depth+1)
	case p.MediaType == "multipart/signed" && len(p.Children) == 2 && isPKCS7Signature(p.Children[1].MediaType):
		dir := tempDir(t, "gpgsmv")
		data, sig := filepath.Join(dir, "data"), filepath.Join(dir, "sig.p7s")
		write(t, data, p.Children[0].Raw)
		write(t, sig, decoded(t, p.Children[1]))
		res := g.Gpgsm(nil, "--verify", sig, data)
		gpgsmResult(res, "gpgsm --verify", r)
		protectedSubject(p.Children[0], r)
		gpgsmWalk(t, g, p.Children[0], r, text, depth+1)
	case p.IsMultipart():
		for _, c := range p.Children {
			gpgsmWalk(t, g, c, r, text, depth+1)
		}
	case strings.HasPrefix(p.MediaType, "text/"):
		text.Write(decoded(t, p))
	}
}

// gpgsmResult adds one gpgsm run to r: its trouble, and a good signature
// (GOODSIG, VALIDSIG with the certificate's fingerprint, and a chain to a
// trusted root: TRUST_FULLY or TRUST_ULTIMATE).
func gpgsmResult(res gpgtest.Result, what string, r *Reading) {
	gpgTrouble(res, what, r)
	if res.HasStatus("GOODSIG") && res.HasStatus("VALIDSIG") && (res.HasStatus("TRUST_FULLY") || res.HasStatus("TRUST_ULTIMATE")) {
		r.GoodSignature = true
		for _, line := range strings.Split(res.Status, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[1] == "VALIDSIG" {
				r.Signer = f[2]
			}
		}
	}
}

// OpenSSLRead opens msg with `openssl cms -decrypt` as the holder of
// cert and key (files in o's directory) when it is enveloped, then
// `openssl cms -verify` against the trust anchors in caFile.
func OpenSSLRead(t testing.TB, o *openssltest.OpenSSL, cert, key, caFile string, msg []byte) Reading {
	t.Helper()
	r := Reading{Program: "openssl", Subject: subjectOf(parse(t, msg))}
	o.Write("in.eml", msg)
	signed := "in.eml"
	if top := parse(t, msg); isPKCS7Mime(top) && strings.ToLower(top.Params["smime-type"]) != "signed-data" {
		dec := o.Run(nil, "cms", "-decrypt", "-in", "in.eml", "-recip", cert, "-inkey", key, "-out", "dec.eml")
		r.Raw += "$ openssl cms -decrypt\n" + string(dec.Stderr)
		if dec.Err != nil {
			r.Trouble = append(r.Trouble, fmt.Sprintf("openssl cms -decrypt: %v: %s", dec.Err, strings.TrimSpace(string(dec.Stderr))))
			return r
		}
		r.Decrypted, signed = true, "dec.eml"
		protectedSubject(parse(t, o.Read("dec.eml")), &r)
	}
	ver := o.Run(nil, "cms", "-verify", "-in", signed, "-CAfile", caFile, "-out", "verified.eml")
	r.Raw += "$ openssl cms -verify\n" + string(ver.Stderr)
	if ver.Err != nil {
		r.Trouble = append(r.Trouble, fmt.Sprintf("openssl cms -verify: %v: %s", ver.Err, strings.TrimSpace(string(ver.Stderr))))
		return r
	}
	r.GoodSignature = true
	inner := parse(t, o.Read("verified.eml"))
	protectedSubject(inner, &r)
	var text strings.Builder
	textOf(t, inner, &text)
	r.Text = text.String()
	return r
}

// textOf collects the decoded text parts of p.
func textOf(t testing.TB, p *mime.Part, text *strings.Builder) {
	for _, c := range p.Children {
		textOf(t, c, text)
	}
	if !p.IsMultipart() && strings.HasPrefix(p.MediaType, "text/") {
		text.Write(decoded(t, p))
	}
}

func isPKCS7Mime(p *mime.Part) bool {
	return p.MediaType == "application/pkcs7-mime" || p.MediaType == "application/x-pkcs7-mime"
}

func isPKCS7Signature(mediaType string) bool {
	return mediaType == "application/pkcs7-signature" || mediaType == "application/x-pkcs7-signature"
}

func parse(t testing.TB, raw []byte) *mime.Part {
	t.Helper()
	p, err := mime.Parse(raw, mime.Limits{MaxSize: maxDecoded})
	if err != nil {
		t.Fatalf("not a MIME entity: %v\n%.2000s", err, raw)
	}
	return p
}

func decoded(t testing.TB, p *mime.Part) []byte {
	t.Helper()
	b, err := p.Decoded(maxDecoded)
	if err != nil {
		t.Fatalf("cannot decode a %s part: %v", p.MediaType, err)
	}
	return b
}

// protectedSubject takes the Subject of p, an entity that was encrypted
// or signed, as the one shown (RFC 9788 protected headers, or the
// legacy form: the innermost protected entity that has one).
func protectedSubject(p *mime.Part, r *Reading) {
	if s := subjectOf(p); s != "" {
		r.Subject = s
	}
}

// subjectOf is p's Subject with RFC 2047 encoded words decoded.
func subjectOf(p *mime.Part) string {
	s := p.Header.Get("Subject")
	if d, err := new(stdmime.WordDecoder).DecodeHeader(s); err == nil {
		s = d
	}
	return s
}

// filename is p's file name, from Content-Disposition or the name
// parameter.
func filename(p *mime.Part) string {
	if _, params, err := stdmime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	return p.Params["name"]
}

func write(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
