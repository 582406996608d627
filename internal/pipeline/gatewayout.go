package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	stdmime "mime"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Submission is a message a helpdesk hands to Sealpost to send on: a
// reply from a gateway's address.
type Submission struct {
	Ref          string
	EnvelopeFrom string
	Rcpts        []string // normalised addr-specs
	Raw          []byte
	// Authorized reports whether the submitter may send as gw (SMTP AUTH
	// as the gateway, or a client address the gateway allows).
	Authorized func(gw *store.List) bool
}

// Refusals of a submission; the helpdesk sees their text.
var (
	errNotGateway = &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1},
		Text: "The From address is not a gateway served here"}
	errNotAuthorized = &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1},
		Text: "Not authorised to send as this gateway"}
	errUnreadable = &Rejection{Code: 550, Enhanced: [3]int{5, 6, 0},
		Text: "Message could not be read as MIME"}
	errTooLarge = &Rejection{Reason: policy.TooLarge, Code: 552, Enhanced: [3]int{5, 3, 4},
		Text: "Message too large"}
	errOverLimit = &Rejection{Reason: policy.OverLimit, Code: 550, Enhanced: [3]int{5, 6, 0},
		Text: "Message over a limit on its structure (MIME nesting depth, number of parts or header size)"}
)

// Submit sends a helpdesk's reply on from the gateway its From names:
// signed by the gateway, and encrypted to each recipient whose usable
// key is known. In a conversation that arrived encrypted (and with
// encrypt_replies=always) a recipient without a usable key gets no reply
// in clear: the helpdesk gets a delivery status notification naming the
// recipient and the reason, and the recipient a notice without the
// reply's content. It returns nil once the copies are queued.
func (p *Pipeline) Submit(ctx context.Context, s Submission) error {
	log := p.opt.Logger.With("msgid", s.Ref)
	msg, err := mime.Parse(s.Raw, p.opt.Limits)
	if err != nil {
		var le *mime.LimitError
		if errors.As(err, &le) {
			if le.Limit == mime.LimitSize {
				return errTooLarge
			}
			return errOverLimit
		}
		return errUnreadable
	}
	_, from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return errNotGateway
	}
	gw, err := p.store.ListByAddress(ctx, from)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotGateway
	case err != nil:
		return err
	case !gw.IsGateway():
		return errNotGateway
	case s.Authorized == nil || !s.Authorized(gw):
		log.Warn("submission refused: not authorised for the gateway", "gateway", gw.Address)
		return errNotAuthorized
	}
	log = log.With("gateway", gw.Address)
	// A helpdesk that did not see the 250 sends the reply again: it is
	// answered as before and sent once (DESIGN §5). A submission is not
	// spooled (the helpdesk keeps it until the 250), so only its decision
	// is kept, in the transaction that queues its copies.
	sum := sha256.Sum256(envelopeIdentity("sealpost submission", s.EnvelopeFrom, s.Rcpts, s.Raw))
	decision := &store.Decision{ListID: gw.ID, Digest: hex.EncodeToString(sum[:])}
	decided, err := p.store.Decided(ctx, gw.ID, decision.Digest)
	if err != nil {
		return err
	}
	if decided != nil {
		return p.answerAgain(log, gw, decided)
	}
	h := readHeaders(msg, msg)
	msgID := h.messageID
	if msgID == "" {
		if msgID, err = mail.NewMessageID(p.opt.Rand, domainOf(gw.Address)); err != nil {
			return err
		}
	}
	t, thread, err := p.threadMark(ctx, gw, msgID, h, false)
	if err != nil {
		return err
	}
	mustEncrypt := thread != nil && thread.Encrypted || gw.Gateway.EncryptReplies == store.EncryptAlways
	r, err := p.contacts(ctx, gw, s.Rcpts)
	if err != nil {
		return err
	}
	rep := &reply{gw: gw, msg: msg, h: h, msgID: msgID, ref: s.Ref, from: s.EnvelopeFrom, tag: findTag(ticketTag(gw), h.subject)}
	// The helpdesk's latest tag is the conversation's (RT merges tickets:
	// the reply then carries the tag of the ticket it was merged into).
	t.Tag = rep.tag
	var refused []refusedRcpt
	for _, rcpt := range s.Rcpts {
		if guarded(thread) && !slices.Contains(thread.Answerable, rcpt) {
			// DESIGN §4.3: an encrypted conversation is answered only to
			// the addresses its content bound (binding.go).
			refused = append(refused, refusedRcpt{addr: rcpt, stranger: true})
			continue
		}
		to, err := p.noticeKey(ctx, gw, r, rcpt)
		if err != nil {
			return err
		}
		switch {
		case to != nil:
			rep.encrypted = append(rep.encrypted, rcptKey{rcpt, *to})
		case mustEncrypt:
			refused = append(refused, refusedRcpt{addr: rcpt, status: noKeyStatus(r, rcpt)})
		default:
			rep.clear = append(rep.clear, rcpt)
		}
	}
	if thread == nil || !thread.Encrypted {
		// The helpdesk's correspondents, before the conversation is
		// encrypted, are its own choice.
		t.Answerable = s.Rcpts
	}
	out := store.Outcome{ListID: gw.ID, Thread: t, Decided: decision}
	if out.Deliveries, err = p.replyCopies(rep); err != nil {
		return err
	}
	if len(refused) > 0 {
		ds, err := p.refusedReply(gw, rep, refused)
		if err != nil {
			return err
		}
		out.Deliveries = append(out.Deliveries, ds...)
	}
	if out.Archive, err = p.archive(gw, t.Thread, "out", msgID, s.Ref, s.Raw); err != nil {
		return err
	}
	if err := p.commit(ctx, out); err != nil {
		return err
	}
	logReply(log, rep, refused, mustEncrypt)
	return nil
}

func logReply(log *slog.Logger, rep *reply, refused []refusedRcpt, mustEncrypt bool) {
	log.Info("reply sent on", "encrypted", len(rep.encrypted), "clear", len(rep.clear), "refused", len(refused),
		"encrypted_conversation", mustEncrypt)
}

// reply is a helpdesk's reply on its way out.
type reply struct {
	gw        *store.List
	msg       *mime.Part
	h         headers
	msgID     string
	ref, from string
	tag       string // the helpdesk's ticket tag in the Subject, "" when none
	encrypted []rcptKey
	clear     []string
}

type rcptKey struct {
	addr string
	to   recipient
}

type refusedRcpt struct {
	addr   string
	status keyring.Status
	// stranger: not an address the encrypted conversation may be
	// answered to; it is told nothing.
	stranger bool
}

// why is the reason a recipient did not get a reply, for the helpdesk.
func (r refusedRcpt) why() string {
	if r.stranger {
		return "not an address of this encrypted conversation (only those its signed or encrypted mail came from or named are answered)"
	}
	return "no usable key (" + r.status.String() + ")"
}

// noKeyStatus says why rcpt has no usable key (RT's reasons).
func noKeyStatus(r *roster, rcpt string) keyring.Status {
	if to, ok := r.to[rcpt]; ok && to.status != keyring.Usable {
		return to.status
	}
	return keyring.NotFound
}

// replyFields are the reply's own header fields that travel with it:
// everything but trace fields, Bcc (RFC 5322 §3.6.3: not shown to the
// other recipients), foreign status fields and the MIME ones, which the
// caller writes. A missing Message-ID is added.
func (rep *reply) replyFields(b *bytes.Buffer) {
	writeFields(b, mime.Fields(rep.msg.RawHeader), travels)
	if rep.h.messageID == "" {
		b.WriteString("Message-ID: " + rep.msgID + "\r\n")
	}
}

// travels reports whether a field of the reply goes with it: not trace
// fields, not Bcc, not foreign status fields, not the MIME fields.
func travels(f mime.Field) bool {
	switch strings.ToLower(f.Name) {
	case "bcc", "received", "return-path", "delivered-to", "mime-version":
		return false
	}
	return !f.HasPrefix(ourPrefix) && !f.HasPrefix("Content-")
}

// inner is the entity that is signed and encrypted: the reply's fields
// as protected headers (RFC 9788), its Content-Type marked so, its body.
func (rep *reply) inner() []byte {
	var b bytes.Buffer
	rep.replyFields(&b)
	b.WriteString("Content-Type: " + stdmime.FormatMediaType(rep.msg.MediaType, protectedParams(rep.msg.Params)) + "\r\n")
	writeFields(&b, mime.Fields(rep.msg.RawHeader), func(f mime.Field) bool {
		return f.HasPrefix("Content-") && !f.Is("Content-Type")
	})
	b.WriteString("\r\n")
	b.Write(rep.msg.Body)
	return b.Bytes()
}

// outer is one copy's header in clear: the routing fields, the Subject
// as the gateway's reply_subject says when the copy is encrypted (RFC
// 9788 §4: "..." outside by default), the gateway's key announced, then
// the body with its MIME fields.
func (p *Pipeline) replyOuter(rep *reply, encrypted bool, contentType string, body []byte, mimeFields ...field) ([]byte, error) {
	var b bytes.Buffer
	gw := rep.gw
	// reply_subject=clear: the Subject goes outside as the helpdesk wrote
	// it (and stays inside, protected, too).
	clearSubject := gw.Gateway.ReplySubject == store.ReplySubjectClear
	keep := map[string]bool{"from": true, "to": true, "cc": true, "date": true, "message-id": true,
		"in-reply-to": true, "references": true, "auto-submitted": true, "reply-to": !encrypted, "subject": clearSubject}
	writeFields(&b, mime.Fields(rep.msg.RawHeader), func(f mime.Field) bool {
		if encrypted {
			return keep[strings.ToLower(f.Name)]
		}
		return travels(f)
	})
	fields := []field{}
	if rep.h.messageID == "" {
		fields = append(fields, field{"Message-ID", rep.msgID})
	}
	switch {
	case !encrypted || clearSubject:
		// The reply's own Subject is among the fields written above.
	case gw.Gateway.ReplySubject == store.ReplySubjectTag:
		// Only the ticket tag outside, so that a customer whose mail
		// program does not show protected headers answers into the
		// ticket: helpdesks thread by the tag (tickettag.go).
		fields = append(fields, field{"Subject", taggedDots(rep.tag)})
	default:
		fields = append(fields, field{"Subject", "..."})
	}
	if !gw.Settings.NoOpenPGPHeader {
		fields = append(fields, field{"OpenPGP", mail.OpenPGPHeader(gw.KeyFingerprint)})
	}
	if !gw.Settings.NoAutocrypt {
		fields = append(fields, field{"Autocrypt", mail.Autocrypt(gw.Address, gw.PublicKey)})
	}
	fields = append(fields, field{"MIME-Version", "1.0"}, field{"Content-Type", contentType})
	fields = append(fields, mimeFields...)
	if err := mime.WriteFields(&b, fields); err != nil {
		return nil, err
	}
	b.Write(body)
	return b.Bytes(), nil
}

// replyCopies makes the copies of a reply: encrypted to each recipient
// with a usable key in their format, signed once per format; in clear,
// signed by the gateway, for the others.
func (p *Pipeline) replyCopies(rep *reply) ([]store.Delivery, error) {
	gw := rep.gw
	var out []store.Delivery
	if len(rep.encrypted) > 0 {
		tos := make([]recipient, len(rep.encrypted))
		for i, rk := range rep.encrypted {
			tos[i] = rk.to
		}
		s, err := p.signFormats(gw, rep.inner(), tos)
		if err != nil {
			return nil, err
		}
		for _, rk := range rep.encrypted {
			data, err := p.encryptFor(gw, s, rk.to, func(ct string, body []byte, mimeFields ...field) ([]byte, error) {
				return p.replyOuter(rep, true, ct, body, mimeFields...)
			})
			if err != nil {
				return nil, err
			}
			out = append(out, store.Delivery{Ref: rep.ref, ListID: gw.ID, Kind: store.KindReply, From: rep.from, To: rk.addr, Data: data})
		}
	}
	if len(rep.clear) == 0 {
		return out, nil
	}
	data, err := p.clearReply(rep)
	if err != nil {
		return nil, err
	}
	for _, rcpt := range rep.clear {
		d := store.Delivery{Ref: rep.ref, ListID: gw.ID, Kind: store.KindReply, From: rep.from, To: rcpt}
		if err := p.sealDelivery(&d, data); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// clearReply is the reply for recipients without a usable key outside an
// encrypted conversation: signed by the gateway (S/MIME when it has a
// certificate, which more of the people a helpdesk writes to can read,
// else PGP/MIME), or as it is with sign_replies=false.
func (p *Pipeline) clearReply(rep *reply) ([]byte, error) {
	var entity bytes.Buffer
	writeFields(&entity, mime.Fields(rep.msg.RawHeader), func(f mime.Field) bool { return f.HasPrefix("Content-") })
	entity.WriteString("\r\n")
	entity.Write(rep.msg.Body)
	gw := rep.gw
	switch {
	case gw.Gateway.UnsignedReplies:
		ct := rep.msg.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/plain; charset=us-ascii"
		}
		var mimeFields []field
		if cte := rep.msg.Header.Get("Content-Transfer-Encoding"); cte != "" {
			mimeFields = append(mimeFields, field{"Content-Transfer-Encoding", cte})
		}
		return p.replyOuter(rep, false, ct, rep.msg.Body, mimeFields...)
	case len(gw.SMIMESealed) > 0:
		id, err := p.listIdentity(gw)
		if err != nil {
			return nil, err
		}
		signedEntity, err := smime.SignEntity(entity.Bytes(), id, smime.Options{Now: p.opt.Now, Rand: p.opt.Rand})
		if err != nil {
			return nil, err
		}
		part, err := mime.ParseHeader(signedEntity, p.opt.Limits)
		if err != nil {
			return nil, err
		}
		return p.replyOuter(rep, false, part.Header.Get("Content-Type"), part.Body)
	}
	ct, body, err := p.signedBody(gw, entity.Bytes())
	if err != nil {
		return nil, err
	}
	return p.replyOuter(rep, false, ct, body)
}

// refusedReply tells the helpdesk, with a delivery status notification
// (RFC 3464), which recipients did not get the reply and why, and each
// of them, in a notice with nothing of the reply, that a reply is waiting
// for a key it can be encrypted to.
func (p *Pipeline) refusedReply(gw *store.List, rep *reply, refused []refusedRcpt) ([]store.Delivery, error) {
	var out []store.Delivery
	if rep.from != "" {
		var rcpts []mail.DSNRecipient
		var lines []string
		for _, r := range refused {
			// RFC 3463 §3.8: X.7.4 security features not supported (no
			// key), X.7.1 delivery not authorized (a stranger).
			status, diag := "5.7.4", "x-sealpost; "+r.why()+": the conversation is encrypted, so the reply is not sent in clear"
			if r.stranger {
				status, diag = "5.7.1", "x-sealpost; "+r.why()
			}
			rcpts = append(rcpts, mail.DSNRecipient{Recipient: r.addr, Action: "failed", Status: status, Diagnostic: diag})
			lines = append(lines, "  "+r.addr+": "+r.why())
		}
		_, text, err := p.render(gw, "gateway-refused", map[string]any{"Recipients": strings.Join(lines, "\n"), "Ref": rep.ref})
		if err != nil {
			return nil, err
		}
		d, err := p.helpdeskDSN(gw, rep.ref, mail.DSN{To: rep.from, Subject: "Reply not sent to some recipients",
			Explanation: text, Recipients: rcpts, Headers: rep.msg.RawHeader, InReplyTo: rep.h.messageID})
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	for _, r := range refused {
		if r.stranger {
			continue // not invited to send a key: it will not be answered anyway
		}
		subject, text, err := p.render(gw, "gateway-no-key", map[string]any{"Status": r.status.String(),
			"Fingerprint": gw.KeyFingerprint, "Ref": rep.ref})
		if err != nil {
			return nil, err
		}
		n, err := p.signedNotice(gw, r.addr, subject, text, rep.ref)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// helpdeskDSN is a delivery status notification from gw to its helpdesk,
// sealed in the queue: it carries the reply's header.
func (p *Pipeline) helpdeskDSN(gw *store.List, ref string, dsn mail.DSN) (store.Delivery, error) {
	_, dsn.ReportingMTA = mail.Split(gw.Address)
	dsn.Date = p.opt.Now()
	data, err := dsn.Bytes(p.opt.Rand)
	if err != nil {
		return store.Delivery{}, err
	}
	d := store.Delivery{Ref: ref, ListID: gw.ID, Kind: store.KindNotice, From: "", To: dsn.To}
	return d, p.sealDelivery(&d, data)
}
