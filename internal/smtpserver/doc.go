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
//
// The package does not implement AUTH (no mechanism is advertised, and
// go-smtp's insecure AUTH stays disabled), SMTPUTF8, DSN or LMTP, and it
// does not look at message content.
package smtpserver
