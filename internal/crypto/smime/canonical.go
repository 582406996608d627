package smime

import (
	"bytes"
	"slices"

	"github.com/sealpost/sealpost/internal/mime"
)

// RFC 8551 §3.1.1: a signed entity is signed in canonical form, its line
// endings converted to CRLF; what a line ending is was left to the local
// convention. Two conventions are in use, and a signature made under
// either verifies:
//
//   - OpenSSL's (SMIME_crlf_copy and multi_split, crypto/asn1/asn_mime.c),
//     used by openssl cms and everything built on it: a line ends at LF
//     only; every CR and LF at the end of a line is dropped and one CRLF
//     written instead; a CR inside a line is content and stays.
//   - The literal one (mime.Canonicalize): a bare CR and a bare LF are
//     each a line ending.
//
// For mail that already has CRLF line endings, which is nearly all of it,
// both give the same bytes.

// opensslLineMax is how much of a line OpenSSL reads at a time (BIO_gets
// with MAX_SMLEN 1024): a longer line is handled as several pieces, each
// losing its trailing CRs.
const opensslLineMax = 1023

// signedForms returns the canonical forms of raw, the first body part of
// a multipart/signed (RFC 8551 §3.5.3) as mime.Part.Raw gives it (without
// the line break that belongs to the boundary), to check a detached
// signature against: OpenSSL's first, then the literal one when it
// differs. QUIRK(openssl-crlf): openssl cms keeps a CR inside a line
// and drops CRs at the end of one, where the literal reading makes each
// bare CR a line break.
func signedForms(raw []byte) [][]byte {
	forms := [][]byte{opensslCanonical(raw)}
	if lit := mime.Canonicalize(raw); !bytes.Equal(lit, forms[0]) {
		forms = append(forms, lit)
	}
	return forms
}

// opensslCanonical returns what openssl cms -verify digests for a
// multipart/signed whose first part is raw: multi_split cuts the part
// into lines and joins them with CRLF, with no line ending after the
// last; CMS_verify then copies it through SMIME_crlf_copy.
func opensslCanonical(raw []byte) []byte {
	// The line break before the boundary is the part's last line ending,
	// which multi_split reads and drops.
	part := opensslCRLFCopy(append(slices.Clip(raw), '\n'))
	part = bytes.TrimSuffix(part, []byte("\r\n"))
	return opensslCRLFCopy(part)
}

// opensslCRLFCopy is SMIME_crlf_copy without SMIME_BINARY, SMIME_TEXT or
// SMIME_ASCIICRLF (what openssl cms does by default): each piece of a
// line (see opensslLineMax) loses its trailing CRs and LF, and gets CRLF
// when it ended in LF.
func opensslCRLFCopy(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/32+2)
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 || n > opensslLineMax {
			n = min(len(b), opensslLineMax)
		}
		piece := b[:n]
		b = b[n:]
		// strip_eol: drop the trailing run of CR and LF; an LF can only
		// be the last byte of a piece.
		eol := piece[len(piece)-1] == '\n'
		piece = bytes.TrimRight(piece, "\r\n")
		out = append(out, piece...)
		if eol {
			out = append(out, '\r', '\n')
		}
	}
	return out
}
