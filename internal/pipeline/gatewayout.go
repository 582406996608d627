package pipeline

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdmime "mime"
	"slices"
	"strings"
	"unicode/utf8"

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
// in clear: the helpdesk gets, in the reply's ticket, a delivery status
// notification naming the recipient and the reason, and the recipient a
// notice without the reply's content. The helpdesk's staff (the staff
// option) are answered in any conversation and never asked for a key;
// without one they get a copy in clear or nothing, as staff_without_key
// says. It returns nil once the copies are queued.
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
	decision := &store.Decision{ListID: gw.ID, Digest: envelopeDigest("sealpost submission", s.EnvelopeFrom, s.Rcpts, s.Raw)}
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
	refused, err := p.sortRecipients(ctx, rep, thread, r, s.Rcpts, mustEncrypt)
	if err != nil {
		return err
	}
	if thread == nil || !thread.Encrypted {
		// The helpdesk's correspondents, before the conversation is
		// encrypted, are its own choice; its staff are not
		// correspondents (a reply to staff only must not make the
		// customer a stranger to their own conversation).
		t.Answerable = slices.DeleteFunc(slices.Clone(s.Rcpts), func(rcpt string) bool { return isStaff(gw, rcpt) })
	}
	out := store.Outcome{ListID: gw.ID, Thread: t, Decided: decision}
	if out.Deliveries, err = p.replyCopies(rep); err != nil {
		return err
	}
	if len(refused) > 0 {
		ds, err := p.refusedReply(log, gw, rep, t, refused)
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

// sortRecipients puts each recipient of a reply where its copy goes:
// encrypted to its key, in clear, or refused (returned).
func (p *Pipeline) sortRecipients(ctx context.Context, rep *reply, thread *store.Thread, r *roster, rcpts []string,
	mustEncrypt bool) ([]refusedRcpt, error) {
	gw := rep.gw
	var refused []refusedRcpt
	for _, rcpt := range rcpts {
		staff := isStaff(gw, rcpt)
		if guarded(thread) && !staff && !slices.Contains(thread.Answerable, rcpt) {
			// DESIGN §4.3: an encrypted conversation is answered only to
			// the addresses its content bound (binding.go), and to the
			// helpdesk's own staff.
			refused = append(refused, refusedRcpt{addr: rcpt, stranger: true})
			continue
		}
		to, err := p.noticeKey(ctx, gw, r, rcpt)
		if err != nil {
			return nil, err
		}
		switch {
		case to != nil:
			rep.encrypted = append(rep.encrypted, rcptKey{rcpt, *to})
		case mustEncrypt && staff && gw.Gateway.StaffWithoutKey == store.StaffClear:
			// The administrator chose copies in clear for staff without
			// a key (staff_without_key=clear): signed like any reply in
			// clear.
			rep.clear = append(rep.clear, rcpt)
		case mustEncrypt:
			refused = append(refused, refusedRcpt{addr: rcpt, status: noKeyStatus(r, rcpt), staff: staff})
		default:
			rep.clear = append(rep.clear, rcpt)
		}
	}
	return refused, nil
}

// isStaff reports whether addr, normalised, is one of gw's staff: named
// in its staff option, or at a domain named there as *@DOMAIN. The
// domain must be the same, not end in it: x@sub.example.org and
// x@example.org.attacker.test are not at *@example.org.
func isStaff(gw *store.List, addr string) bool {
	_, domain := mail.Split(addr)
	for _, s := range gw.Gateway.Staff {
		if s == addr || domain != "" && s == "*@"+domain {
			return true
		}
	}
	return false
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
	// staff: one of the helpdesk's own people, without a key; not asked
	// for one (staff_without_key=refuse).
	staff bool
}

// why is the reason a recipient did not get a reply, for the helpdesk.
func (r refusedRcpt) why() string {
	switch {
	case r.stranger:
		return "not an address of this encrypted conversation (only those its signed or encrypted mail came from or named are answered)"
	case r.staff:
		return "a staff address with no usable key (" + r.status.String() + "); with staff_without_key=refuse staff get " +
			"no copy in clear and no notice: give the gateway their key"
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
// (RFC 3464) in the reply's own ticket, which recipients did not get the
// reply and why, and each of them that is neither a stranger nor staff,
// in a notice with nothing of the reply, that a reply is waiting for a
// key it can be encrypted to. The report joins the conversation t.
func (p *Pipeline) refusedReply(log *slog.Logger, gw *store.List, rep *reply, t *store.ThreadMark, refused []refusedRcpt) ([]store.Delivery, error) {
	var out []store.Delivery
	if why := unreported(p, rep); why != "" {
		log.Info("no report to the helpdesk about the recipients not sent to", "why", why)
	} else {
		d, id, err := p.refusedReport(gw, rep, refused)
		if err != nil {
			return nil, err
		}
		t.MessageIDs = append(t.MessageIDs, id)
		out = append(out, d)
	}
	for _, r := range refused {
		if r.stranger || r.staff {
			continue // not invited to send a key: a stranger will not be answered anyway, staff keys come from the administrator
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

// refusedReport is the delivery status notification about the refused
// recipients of rep, and its Message-ID. It goes to the helpdesk the way
// mail to the gateway does (deliver_to), never out: the helpdesk's
// envelope sender is often an address no agent reads (RT's root@), or
// the gateway's own, which would bring it back as a new ticket. It
// carries the reply's Subject (the helpdesk's ticket tag with it) and
// answers the reply (In-Reply-To, References), so that the helpdesk files
// it in the reply's ticket; it is automatic in every way helpdesks
// recognise (a multipart/report, Auto-Submitted: auto-replied, a null
// envelope sender, From MAILER-DAEMON), so they record it without
// mailing it on to the customer (RT: RedistributeAutoGeneratedMessages).
func (p *Pipeline) refusedReport(gw *store.List, rep *reply, refused []refusedRcpt) (store.Delivery, string, error) {
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
		return store.Delivery{}, "", err
	}
	id, err := p.reportID(gw)
	if err != nil {
		return store.Delivery{}, "", err
	}
	local, domain := mail.Split(gw.Address)
	dsn := mail.DSN{ReportingMTA: domain, Date: p.opt.Now(), MessageID: id, To: gw.Address,
		// Not the gateway's address: a helpdesk drops mail from its own
		// address as a loop (RT's "mail from itself").
		From:    mail.FormatAddress("Sealpost for "+local+"@"+domain, "MAILER-DAEMON@"+domain),
		Subject: reportSubject(rep.h.subject), Explanation: text, Recipients: rcpts, Headers: rep.msg.RawHeader}
	if mail.IsMsgID(rep.msgID) {
		dsn.InReplyTo = rep.msgID
		for _, ref := range strings.Fields(rep.h.references) {
			if mail.IsMsgID(ref) && len(dsn.References) < maxReportReferences {
				dsn.References = append(dsn.References, ref)
			}
		}
	}
	data, err := dsn.Bytes(p.opt.Rand)
	if err != nil {
		return store.Delivery{}, "", err
	}
	// RFC 5321 §4.5.5: a report goes with a null envelope sender, so
	// nothing answers it.
	d := store.Delivery{Ref: rep.ref, ListID: gw.ID, Kind: store.KindHelpdesk, From: "", To: gw.Address, Route: gw.Gateway.DeliverTo}
	return d, id, p.sealDelivery(&d, data)
}

// maxReportReferences bounds the References a report repeats.
const maxReportReferences = 20

// reportSubject is the Subject of a report about a reply with Subject
// subject: "Reply not sent: " and the reply's own Subject without its
// "Re:", so that it reads as the ticket's and keeps the helpdesk's tag
// ("Reply not sent: [example.org #1] Your printer").
func reportSubject(subject string) string {
	if d, err := new(stdmime.WordDecoder).DecodeHeader(subject); err == nil && utf8.ValidString(d) {
		subject = d
	}
	subject = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, subject)), " ")
	for {
		rest, ok := cutPrefixFold(subject, "re:")
		if !ok {
			break
		}
		subject = strings.TrimSpace(rest)
	}
	if subject == "" {
		return "Reply not sent"
	}
	return "Reply not sent: " + subject
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// unreported says why a reply's refused recipients are not reported to
// the helpdesk, or "". A report goes into the ticket, and a helpdesk may
// mail what its tickets get on to its staff, through the gateway: were
// that answered with a report again, the two would write to each other
// forever. So a submission that is itself automatic gets none (RFC 3834
// §2: no automatic response to Auto-Submitted mail other than "no"; RFC
// 5321 §4.5.5: nor to a null envelope sender), nor one that is a report,
// nor one that answers one of the gateway's reports.
func unreported(p *Pipeline, rep *reply) string {
	auto, _, _ := strings.Cut(rep.msg.Header.Get("Auto-Submitted"), ";")
	switch auto = strings.TrimSpace(auto); {
	case rep.from == "":
		return "a null envelope sender"
	case auto != "" && !strings.EqualFold(auto, "no"):
		return "automatic: Auto-Submitted " + auto
	case rep.msg.MediaType == "multipart/report":
		return "a report itself"
	}
	// The message it answers: In-Reply-To, or the last of References
	// (RFC 5322 §3.6.4) for a helpdesk that writes only those.
	parents := strings.Fields(rep.h.inReplyTo)
	if refs := strings.Fields(rep.h.references); len(refs) > 0 {
		parents = append(parents, refs[len(refs)-1])
	}
	for _, id := range parents {
		if p.isReportID(rep.gw, id) {
			return "an answer to a report of the gateway's"
		}
	}
	return ""
}

// reportIDPrefix starts the local part of a report's Message-ID.
const reportIDPrefix = "sealpost-report."

// reportID returns a new Message-ID for a report of gw's,
// "<sealpost-report.NONCE.TAG@DOMAIN>", where TAG authenticates NONCE
// under a key only Sealpost holds: a message that answers one of its
// reports is recognised (isReportID), and no one can make an ID that
// passes for one.
func (p *Pipeline) reportID(gw *store.List) (string, error) {
	var b [12]byte
	if _, err := io.ReadFull(p.opt.Rand, b[:]); err != nil {
		return "", fmt.Errorf("pipeline: report message-id: %w", err)
	}
	nonce := hex.EncodeToString(b[:])
	return "<" + reportIDPrefix + nonce + "." + p.reportTag(gw, nonce) + "@" + domainOf(gw.Address) + ">", nil
}

// isReportID reports whether id is the Message-ID of a report of gw's.
func (p *Pipeline) isReportID(gw *store.List, id string) bool {
	rest, ok := strings.CutPrefix(id, "<"+reportIDPrefix)
	local, _, ok2 := strings.Cut(rest, "@")
	nonce, tag, ok3 := strings.Cut(local, ".")
	return ok && ok2 && ok3 && hmac.Equal([]byte(tag), []byte(p.reportTag(gw, nonce)))
}

// reportTag authenticates a report's nonce: a bounce tag (an HMAC under
// a key derived from the master key) of gw and "report NONCE", which no
// member address can be (it has no @).
func (p *Pipeline) reportTag(gw *store.List, nonce string) string {
	return mail.VERPToken(p.sealer.BounceTag(gw.Address, "report "+nonce))
}

// helpdeskDSN is a delivery status notification from gw to the
// helpdesk's envelope sender dsn.To, sealed in the queue: it carries the
// reply's header. (A reply the customer's side refused comes back this
// way, as any mail server's bounce would; see replyFailed.)
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
