package smtpclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
)

// Send delivers msg from the envelope sender from ("" for the null
// reverse-path) to rcpts in one SMTP or LMTP transaction, on a session of
// its own (Open, Session.Send, Session.Close). It returns within
// Options.Timeout; when ctx is done first, the connection is closed and
// the error wraps ctx's cause.
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
	results := newResults(rcpts)
	if err := checkEnvelope(from, results); err != nil {
		return failAll(results, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.Open(ctx)
	if err != nil {
		return failAll(results, err)
	}
	defer s.Close()
	return s.Send(ctx, from, rcpts, msg)
}

// Send runs one transaction on the session: msg from the envelope
// sender from to rcpts, with the Results and error of Client.Send. It
// takes at most Options.Timeout; when that passes or ctx is done during
// the transaction, the session breaks (its connection is closed). With
// ctx done before, Send fails with ctx's cause and sends nothing, and the
// session stays usable (for Close's QUIT). A transaction the relay
// refused leaves the session usable; a lost connection, a deadline or a
// 421 reply (RFC 5321 §3.8: the relay is closing) breaks it, and every
// later Send fails at once with the same temporary error.
func (s *Session) Send(ctx context.Context, from string, rcpts []string, msg []byte) ([]Result, error) {
	results := newResults(rcpts)
	send := s.send
	if s.c.lmtp {
		send = s.sendDistinct
	}
	return failAll(results, send(ctx, from, results, msg))
}

// newResults returns a Result per recipient, refusing the addresses
// that cannot be sent.
func newResults(rcpts []string) []Result {
	results := make([]Result, len(rcpts))
	for i, r := range rcpts {
		results[i] = Result{Rcpt: r, Err: checkAddress("recipient", r, false)}
	}
	return results
}

// failAll gives err to every result without an error of its own, and
// returns results and err.
func failAll(results []Result, err error) ([]Result, error) {
	if err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	return results, err
}

// send runs one transaction on the session. Results whose Err is set
// before the call are not sent; send sets Err on recipients that the
// relay rejects.
func (s *Session) send(ctx context.Context, from string, results []Result, msg []byte) error {
	if err := checkEnvelope(from, results); err != nil {
		return err
	}
	if err := s.Err(); err != nil {
		return err
	}
	if cause := ctxCause(ctx); cause != nil {
		return fmt.Errorf("smtpclient: %w", cause)
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.sc.Close() })
	defer stop()

	err := s.transact(ctx, from, results, msg)
	var re *ReplyError
	switch cause := ctxCause(ctx); {
	case cause != nil:
		// The connection was closed, or is about to be: even a
		// transaction that just succeeded leaves nothing to go on with.
		s.broke(cmp.Or(err, fmt.Errorf("smtpclient: %w", cause)))
	case errors.As(err, &re) && re.Code == 421:
		// RFC 5321 §3.8: 421 means the relay closes the session.
		s.broke(err)
	case err == nil || errors.As(err, &re) || errors.Is(err, ErrInvalidEnvelope):
		// The relay answered: the session works.
	default:
		s.broke(err)
	}
	return err
}

// transact runs RSET if the last transaction is still open, then MAIL,
// RCPT for each unrefused recipient, and DATA. With LMTP, the replies
// after the data go into results.
func (s *Session) transact(ctx context.Context, from string, results []Result, msg []byte) error {
	sc := s.sc
	if s.dirty {
		// RFC 5321 §4.1.1.5: RSET aborts the transaction the last Send
		// left open (every RCPT refused, DATA refused, no data reply).
		if err := sc.Reset(); err != nil {
			return stepError(ctx, CmdRSET, err)
		}
		s.dirty = false
	}
	opts, err := mailOptions(sc, from, results, len(msg))
	if err != nil {
		return err
	}
	if err := sc.Mail(from, opts); err != nil {
		return stepError(ctx, CmdMAIL, err)
	}
	s.dirty = true
	accepted, err := rcptAll(ctx, sc, results)
	if err != nil {
		return err
	}
	if accepted == 0 {
		// RFC 5321 §3.3: with every RCPT rejected there is no transaction
		// to send DATA for.
		return noneAccepted(results)
	}
	var ended bool
	if s.c.lmtp {
		ended, err = lmtpData(ctx, sc, msg, results)
	} else {
		ended, err = data(ctx, sc, msg)
	}
	if ended {
		s.dirty = false
	}
	return err
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

// data sends the message and reads the relay's verdict on it. ended
// says the verdict came, positive or not: the transaction is over.
func data(ctx context.Context, sc *smtp.Client, msg []byte) (ended bool, err error) {
	w, err := sc.Data()
	if err != nil {
		return false, stepError(ctx, CmdDATA, err)
	}
	// RFC 5321 §4.5.2: the writer dot-stuffs lines that start with "."
	// and appends the terminating "<CRLF>.<CRLF>"; the bytes are msg's.
	if _, err := w.Write(msg); err != nil {
		return false, stepError(ctx, CmdDATA, err)
	}
	if err := w.Close(); err != nil {
		err = stepError(ctx, CmdDATA, err)
		var re *ReplyError
		return errors.As(err, &re), err
	}
	return true, nil
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
