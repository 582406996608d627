package smtpclient

import (
	"context"
	"errors"

	"github.com/emersion/go-smtp"
)

// errNoLMTPReply is a recipient's error when the LMTP server ended its
// replies without one for that recipient, which RFC 2033 §4.2 does not
// allow. Being of unknown kind, it is temporary.
var errNoLMTPReply = errors.New("smtpclient: DATA: no LMTP reply for the recipient")

// sendDistinct is send for LMTP. RFC 2033 §4.2 gives one reply per RCPT,
// but go-smtp returns them keyed by address, so the replies to an address
// given twice could not be told apart: each address is sent once, and its
// repeats get the same Result.
func (s *Session) sendDistinct(ctx context.Context, from string, results []Result, msg []byte) error {
	uniq, index := distinct(results)
	err := s.send(ctx, from, uniq, msg)
	for i, j := range index {
		results[i] = uniq[j]
	}
	return err
}

// distinct returns results with each Rcpt once, in the order of first
// appearance, and for each result the index of its Rcpt in uniq.
func distinct(results []Result) (uniq []Result, index []int) {
	first := make(map[string]int, len(results))
	index = make([]int, len(results))
	for i, r := range results {
		j, ok := first[r.Rcpt]
		if !ok {
			j = len(uniq)
			first[r.Rcpt] = j
			uniq = append(uniq, r)
		}
		index[i] = j
	}
	return uniq, index
}

// lmtpData sends the message and records in results each recipient's own
// reply to it. It returns nil when the message was delivered to at least
// one recipient, and otherwise an error for the whole transaction; ended
// says the replies were read, so the transaction is over. A
// session lost while the replies are read fails only the recipients whose
// reply had not come; the connection is then closed, so that the QUIT
// after it fails at once instead of waiting for a reply.
func lmtpData(ctx context.Context, sc *smtp.Client, msg []byte, results []Result) (ended bool, err error) {
	w, err := sc.Data()
	if err != nil {
		return false, stepError(ctx, CmdDATA, err)
	}
	// RFC 5321 §4.5.2 as in data: dot-stuffing and the final dot.
	if _, err := w.Write(msg); err != nil {
		return false, stepError(ctx, CmdDATA, err)
	}
	// RFC 2033 §4.2: after the final dot, one reply for each accepted
	// RCPT, in order; each is that recipient's verdict.
	delivered, err := w.CloseWithLMTPResponse()
	if delivered == nil {
		// The final dot did not go out: no recipient has a reply.
		return false, stepError(ctx, CmdDATA, err)
	}
	refused, lost := splitLMTPError(err)
	missing := errNoLMTPReply
	if lost != nil {
		missing = stepError(ctx, CmdDATA, lost)
		sc.Close()
	}
	accepted := 0
	for i := range results {
		r := &results[i]
		if r.Err != nil {
			continue // refused before DATA; no reply comes for it
		}
		if _, ok := delivered[r.Rcpt]; ok {
			accepted++
		} else if se, ok := refused[r.Rcpt]; ok {
			r.Err = newReplyError(CmdDATA, se)
		} else {
			r.Err = missing
		}
	}
	if accepted == 0 {
		return true, noneAccepted(results)
	}
	return true, nil
}

// splitLMTPError separates the error of go-smtp's CloseWithLMTPResponse
// into the recipients' negative replies and the error that ended the
// session before every reply was read, if any.
func splitLMTPError(err error) (refused smtp.LMTPDataError, lost error) {
	switch e := err.(type) {
	case nil:
		return nil, nil
	case smtp.LMTPDataError:
		return e, nil
	case interface{ Unwrap() []error }:
		// go-smtp v0.25 joins the session's error with the negative
		// replies read before it.
		var other []error
		for _, x := range e.Unwrap() {
			if r, ok := x.(smtp.LMTPDataError); ok {
				refused = r
			} else {
				other = append(other, x)
			}
		}
		return refused, errors.Join(other...)
	default:
		return nil, err
	}
}
