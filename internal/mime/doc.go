// Package mime parses MIME messages without changing a single byte, so that
// multipart/signed content can be verified against exactly what was received.
//
// It owns the structural view of a message: header blocks, media types,
// multipart bodies and their delimiters, and the transfer encodings of
// leaf bodies. The rules implemented come from:
//
//   - RFC 5322 (Internet Message Format): header fields, folding (§2.2.3),
//     line endings (§2.3).
//   - RFC 2045 (MIME part one): Content-Type defaults (§5.2),
//     Content-Transfer-Encoding (§6), base64 (§6.8), quoted-printable (§6.7).
//   - RFC 2046 (MIME part two): multipart syntax and delimiters (§5.1.1),
//     multipart/digest defaults (§5.1.5).
//   - RFC 2231: parameter continuations (through the standard library's
//     mime.ParseMediaType).
//   - RFC 1847 and RFC 3156 (multipart/signed and OpenPGP/MIME): the first
//     child of multipart/signed is signed as received, after conversion of
//     line endings to CRLF (§5 of RFC 3156), which Canonicalize does.
//
// Every Part's Raw, RawHeader and Body alias the input given to Parse; they
// are never normalised or re-serialised. Callers must not modify them. The
// slices are capped (three-index slices) so that appending to one of them
// cannot overwrite the input.
//
// Parsing is bounded by Limits; a violated bound is reported as a
// *LimitError. Structural errors wrap ErrMalformed.
//
// Deliberate leniencies, each marked with its QUIRK tag in the code:
//
//   - QUIRK(lf-only): a bare LF ends a line as well as CRLF, in header
//     blocks and around delimiters, so CRLF, LF-only and mixed input parse
//     alike. A bare CR does not end a line.
//   - QUIRK(no-close-delimiter): a multipart body without a close delimiter
//     ends at the end of the enclosing body; a final open delimiter with
//     nothing after it opens no part.
//   - QUIRK(mbox): a leading mbox "From " line before the top-level header
//     is kept in RawHeader but not parsed as a header field.
//
// Parameters that mime.ParseMediaType rejects drop all parameters (so a
// multipart type loses its boundary and is malformed); a Content-Type whose
// type itself is invalid is taken as text/plain (RFC 2045 §5.2).
//
// Deliberate strictness, to avoid parser differentials on signed mail:
//
//   - A part carrying more than one Content-Type or Content-Transfer-Encoding
//     field is malformed.
//   - A multipart entity whose Content-Transfer-Encoding is not 7bit, 8bit or
//     binary is malformed (RFC 2045 §6.4).
//   - A multipart entity without a boundary parameter, or without a single
//     body part, is malformed.
//
// The package does not descend into message/rfc822 bodies, does not decode
// RFC 2047 encoded words, does not convert charsets, and performs no I/O
// beyond the in-memory writers given to WriteHeader.
package mime
