// Package smtpserver is Sealpost's inbound SMTP listener. It owns the SMTP
// dialogue (RFC 5321) on top of github.com/emersion/go-smtp and the mapping
// of every outcome onto a reply code with an enhanced status code
// (RFC 3463, RFC 2034). What to accept and where to store it is decided by
// the caller through the Backend interface.
//
// The rules implemented here:
//
//   - RFC 5321 §4.1.1.2, §4.5.3.1: MAIL FROM is checked lightly (length
//     limits, a local part and a domain, no control characters); the null
//     reverse-path "<>" is allowed.
//   - RFC 5321 §4.1.1.3: every RCPT TO is put to Backend.Recipient before it
//     is accepted, so that nothing Sealpost does not serve is accepted
//     (Sealpost is not an open relay). Too many recipients get
//     452 4.5.3 (§4.5.3.1.10).
//   - RFC 5321 §4.1.1.4: DATA is read into a buffer bounded by
//     Options.MaxMessageBytes; an oversize message gets 552 5.3.4. The
//     dot-stuffing is undone (§4.5.2) and line endings are kept as received.
//     Backend.Deliver is called once, with exactly those bytes, and the
//     client sees "250 2.0.0 Ok: queued as <ID>" only after it returned nil.
//   - RFC 5321 §4.5.3.2: Options.ReadTimeout bounds each command and each
//     block of data, not the whole message.
//   - RFC 3030 (CHUNKING, BDAT) is handled by go-smtp, which enforces the
//     same size limit before a chunk reaches this package.
//   - RFC 4954 (AUTH), for a submission listener, only when
//     Options.Authenticate is set: PLAIN (RFC 4616) and LOGIN. AUTH is
//     advertised and accepted only under TLS, from a loopback address, or
//     with Options.AllowInsecureAuth (§4); elsewhere it gets 538 5.7.11.
//     Wrong credentials get 535 5.7.8 after Options.AuthFailureDelay, and
//     the third failure closes the connection with 421 4.7.0; any other
//     error of Authenticate gets 454 4.7.0 with a reference. AUTH inside a
//     transaction or after a successful AUTH gets 503 5.5.1. The identity
//     is in Envelope.Auth until STARTTLS, which forgets it (RFC 3207
//     §4.2). Options.RequireAuth answers MAIL before AUTH with 530 5.7.0.
//     The log may name the username, never the password.
//
// Error policy: a Backend error that is, or wraps, *Error is replied with its
// code, enhanced code and client-safe message. Every other error, and a
// panic in the Backend, becomes "451 4.3.0 Temporary failure, reference
// <ID>"; the cause is logged with the same ID (attribute "msgid") and never
// sent to the client.
//
// Shutdown stops accepting connections and answers 421 4.3.2 to sessions and
// transactions that start afterwards; it waits for Backend calls that are
// in flight, including the reply to a DATA that was being delivered.
//
// Known divergences, caused by go-smtp and not changeable from here:
//
//   - DATA (or BDAT) without an accepted recipient is answered with
//     "502 5.5.1 Missing RCPT TO command." RFC 5321 §3.3 suggests 503 or
//     554. The reply is permanent, carries no internal detail and the
//     Backend is not called; clients abandon the transaction either way.
//   - CHUNKING is always advertised.
//   - A message of exactly MaxMessageBytes is rejected; the limit is
//     effectively MaxMessageBytes-1 octets of content.
//   - AUTH with a response that is not base64 gets "454 4.7.0 Invalid
//     base64 data"; RFC 4954 §4 asks for 501. AUTH without a mechanism
//     gets 502 5.5.4, where 501 would fit.
//
// The package does not implement SMTPUTF8, DSN or LMTP, nor AUTH
// mechanisms other than PLAIN and LOGIN; it ignores the AUTH parameter of
// MAIL FROM (RFC 4954 §5), and it does not look at message content.
package smtpserver
