package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
)

// Send delivers msg from the envelope sender from ("" for the null
// reverse-path) to rcpts in one SMTP or LMTP transaction. Over TCP with
// SMTP, it uses STARTTLS whenever the relay offers it (RFC 3207). It
// returns within Options.Timeout; when ctx is done first, the connection
// is closed and the error wraps ctx's cause.
//
// There is always one Result per recipient, in the order of rcpts, also
// when Send returns an error. The error is nil when the relay accepted the
// message for at least one recipient; the others carry their own error
// (the reply to RCPT, with LMTP the recipient's reply after the data, or
// ErrInvalidEnvelope). The error is non-nil when nothing was delivered;
// every Result then carries an error, and Temporary(err) tells whether
// retrying may help any of them.
//
// A connection lost after the message data was sent but before the reply
// counts as a temporary failure (RFC 5321 §3.8: as if 451 had been
// received), so a retry can duplicate the message (RFC 1047); Sealpost
// delivers at least once. With LMTP this holds for each recipient whose
// reply had not come; the replies that had come stand.
func (c *Client) Send(ctx context.Context, from string, rcpts []string, msg []byte) ([]Result, error) {
	results := make([]Result, len(rcpts))
	for i, r := range rcpts {
		results[i] = Result{Rcpt: r, Err: checkAddress("recipient", r, false)}
	}
	send := c.send
	if c.lmtp {
		send = c.sendDistinct
	}
	err := send(ctx, from, results, msg)
	if err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	return results, err
}

// send runs one session. Results whose Err is set before the call are not
// sent; send sets Err on recipients that the relay rejects.
func (c *Client) send(ctx context.Context, from string, results []Result, msg []byte) error {
	if err := checkEnvelope(from, results); err != nil {
		return err
	}
	if c.optErr != nil {
		return c.optErr
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	sc, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	err = transact(ctx, sc, from, results, msg, c.lmtp)
	var re *ReplyError
	if ctxCause(ctx) == nil && (err == nil || errors.As(err, &re) || errors.Is(err, ErrInvalidEnvelope)) {
		// RFC 5321 §4.1.1.10: end a working session with QUIT. Its reply
		// changes nothing: the outcome was decided by then.
		sc.Quit()
	}
	return err
}

// transact runs MAIL, RCPT for each unrefused recipient, and DATA. With
// lmtp, the replies after the data go into results.
func transact(ctx context.Context, sc *smtp.Client, from string, results []Result, msg []byte, lmtp bool) error {
	opts, err := mailOptions(sc, from, results, len(msg))
	if err != nil {
		return err
	}
	if err := sc.Mail(from, opts); err != nil {
		return stepError(ctx, CmdMAIL, err)
	}
	accepted, err := rcptAll(ctx, sc, results)
	if err != nil {
		return err
	}
	if accepted == 0 {
		// RFC 5321 §3.3: with every RCPT rejected there is no transaction
		// to send DATA for.
		return noneAccepted(results)
	}
	if lmtp {
		return lmtpData(ctx, sc, msg, results)
	}
	return data(ctx, sc, msg)
}

// mailOptions returns the MAIL parameters for the message. It refuses
// non-ASCII addresses when the relay lacks SMTPUTF8: the sender fails the
// whole message, a recipient only its own Result.
func mailOptions(sc *smtp.Client, from string, results []Result, size int) (*smtp.MailOptions, error) {
	// RFC 1870 §6: announce the size so the relay can refuse early.
	opts := &smtp.MailOptions{Size: int64(size)}
	utf8 := !isASCII(from)
	for i := range results {
		if results[i].Err == nil && !isASCII(results[i].Rcpt) {
			utf8 = true
		}
	}
	if !utf8 {
		return opts, nil
	}
	if ok, _ := sc.Extension("SMTPUTF8"); ok {
		// RFC 6531 §3.4: non-ASCII addresses need the SMTPUTF8 parameter.
		opts.UTF8 = true
		return opts, nil
	}
	// RFC 6531 §3.2: without SMTPUTF8 the relay cannot take such
	// addresses at all.
	if !isASCII(from) {
		return nil, fmt.Errorf("%w: non-ASCII sender and the relay lacks SMTPUTF8", ErrInvalidEnvelope)
	}
	left := 0
	for i := range results {
		if results[i].Err == nil && !isASCII(results[i].Rcpt) {
			results[i].Err = fmt.Errorf("%w: non-ASCII recipient and the relay lacks SMTPUTF8", ErrInvalidEnvelope)
		}
		if results[i].Err == nil {
			left++
		}
	}
	if left == 0 {
		return nil, fmt.Errorf("%w: no recipient the relay can take", ErrInvalidEnvelope)
	}
	return opts, nil
}

// rcptAll sends RCPT for every recipient not refused yet and records the
// relay's rejections in results. The error is for a failure of the whole
// session, such as a lost connection.
func rcptAll(ctx context.Context, sc *smtp.Client, results []Result) (accepted int, err error) {
	for i := range results {
		if results[i].Err != nil {
			continue
		}
		err := sc.Rcpt(results[i].Rcpt, nil)
		if err == nil {
			accepted++
			continue
		}
		err = stepError(ctx, CmdRCPT, err)
		var re *ReplyError
		if !errors.As(err, &re) {
			return accepted, err
		}
		// RFC 5321 §3.3: a rejected RCPT does not end the transaction;
		// the others may still be accepted.
		results[i].Err = err
	}
	return accepted, nil
}

// noneAccepted is the error for a transaction in which the relay rejected
// every recipient. It wraps a temporary rejection if there is one, since
// then a retry may deliver to someone.
func noneAccepted(results []Result) error {
	var first error
	for _, r := range results {
		if Temporary(r.Err) {
			first = r.Err
			break
		}
		if first == nil {
			first = r.Err
		}
	}
	return fmt.Errorf("smtpclient: no recipient accepted: %w", first)
}

// data sends the message and reads the relay's verdict on it.
func data(ctx context.Context, sc *smtp.Client, msg []byte) error {
	w, err := sc.Data()
	if err != nil {
		return stepError(ctx, CmdDATA, err)
	}
	// RFC 5321 §4.5.2: the writer dot-stuffs lines that start with "."
	// and appends the terminating "<CRLF>.<CRLF>"; the bytes are msg's.
	if _, err := w.Write(msg); err != nil {
		return stepError(ctx, CmdDATA, err)
	}
	if err := w.Close(); err != nil {
		return stepError(ctx, CmdDATA, err)
	}
	return nil
}

// checkEnvelope refuses a bad sender, and an envelope left without any
// recipient to try, before anything is sent.
func checkEnvelope(from string, results []Result) error {
	if err := checkAddress("sender", from, true); err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("%w: no recipients", ErrInvalidEnvelope)
	}
	for _, r := range results {
		if r.Err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: no valid recipient", ErrInvalidEnvelope)
}

// checkAddress refuses an address that would break out of the SMTP
// command it is put in.
func checkAddress(role, addr string, mayBeEmpty bool) error {
	if addr == "" && !mayBeEmpty {
		return fmt.Errorf("%w: empty %s", ErrInvalidEnvelope, role)
	}
	// RFC 5321 §4.1.2: a Mailbox contains no control characters, and the
	// path is delimited by '<' and '>'; anything else would let an
	// address inject a command or a parameter.
	if i := strings.IndexFunc(addr, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '<' || r == '>'
	}); i >= 0 {
		return fmt.Errorf("%w: %s contains %q", ErrInvalidEnvelope, role, addr[i])
	}
	return nil
}

// isASCII reports whether s is plain ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
