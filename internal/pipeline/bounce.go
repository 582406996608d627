package pipeline

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// bounce handles mail to the list's bounce address rcpt, read as t. It
// counts only a permanent failure (classifyBounce: never a delay, an
// auto-reply or ordinary mail) that proves it answers a copy Sealpost
// sent (DESIGN §4.10; see bouncedMember), for the member whose copy it
// answers, whatever address the report names (a member's mail may be
// forwarded). After the list's threshold of bounces within its window
// delivery to the member stops, the owner is told and the audit log
// records it. Anything else is logged and dropped. Bounces are never
// distributed and never answered.
func (p *Pipeline) bounce(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, rcpt string, t mail.Target) error {
	out := store.Outcome{SpoolID: in.ID, ListID: list.ID}
	msg, err := mime.Parse(in.Raw, p.opt.Limits)
	if err != nil {
		log.Info("bounce not readable; dropped", "err", err)
		return p.commit(ctx, out)
	}
	v := classifyBounce(msg, in.EnvelopeFrom)
	if v.Kind != bounceFailed {
		log.Info("mail to the bounce address not counted", "kind", v.Kind.String(), "why", v.Why)
		return p.commit(ctx, out)
	}
	m, why, err := p.bouncedMember(ctx, list, rcpt, t, msg)
	if err != nil {
		return err
	}
	if m == nil {
		log.Info("bounce dropped: it does not prove it answers a copy we sent", "why", why)
		return p.commit(ctx, out)
	}
	status, failed := failureOf(v, m.Email)
	if !failed {
		log.Info("bounce not counted: the report says the member's own copy did not fail", "member", m.Email)
		return p.commit(ctx, out)
	}
	if err := p.countBounce(ctx, log, list, m, status, in.ID, &out); err != nil {
		return err
	}
	return p.commit(ctx, out)
}

// failureOf reads a permanent failure v (classifyBounce) as a bounce of
// member's copy: the report's block about member decides when there is
// one (a copy delivered to the member and failed only at one of the
// addresses it was forwarded to did reach them); otherwise any failed
// recipient is theirs, since their copy went to them alone: the address
// the report names is where their mail was forwarded.
func failureOf(v bounceVerdict, member string) (status string, failed bool) {
	for _, r := range v.DSN {
		if r.Names(member) {
			return dsnStatus(r), r.Failed()
		}
	}
	return v.Status, true
}

// bouncedMember returns the member whose copy a bounce msg to rcpt (read
// as t) answers, or nil and why not. It proves that it answers a copy we
// sent when rcpt carries the member's token (verp), or, for copies sent
// before tokens, when it is the member's old-form address and a copy
// really went out to them from exactly that address within the list's
// bounce window. The bare bounce address names no copy: there the
// returned copy must prove it (returnedMember).
func (p *Pipeline) bouncedMember(ctx context.Context, list *store.List, rcpt string, t mail.Target, msg *mime.Part) (*store.Member, string, error) {
	switch {
	case t.Token != "":
		return p.tokenMember(ctx, list, t)
	case t.Member != "":
		m, err := p.member(ctx, list, t.Member)
		if m == nil || err != nil {
			return nil, "not a member: " + t.Member, err
		}
		_, days := bounceLimits(list.Settings)
		sent, err := p.store.CopySent(ctx, list.ID, rcpt, m.Email, p.opt.Now().AddDate(0, 0, -days))
		if !sent || err != nil {
			return nil, "no copy to " + m.Email + " went out from this address without a token recently", err
		}
		return m, "", nil
	}
	return p.returnedMember(ctx, list, msg)
}

// tokenMember returns the member a VERP address with a token (t) names,
// when the token is theirs.
func (p *Pipeline) tokenMember(ctx context.Context, list *store.List, t mail.Target) (*store.Member, string, error) {
	if t.Member == "" {
		return p.memberByToken(ctx, list, t.Token)
	}
	if !p.tokenMatches(list.Address, t.Member, t.Token) {
		return nil, "wrong token for " + t.Member, nil
	}
	m, err := p.member(ctx, list, t.Member)
	if m == nil || err != nil {
		return nil, "not a member: " + t.Member, err
	}
	return m, "", nil
}

// returnedMember finds the member whose copy a bounce to the bare bounce
// address returns. Every copy carries its envelope sender, the member's
// VERP address with its token, in its header (BounceHeader), and
// reports return the copy's header (RFC 3464 §2: message/rfc822 or
// text/rfc822-headers; plain-text bounces quote it). The token is the
// proof, checked in constant time as at the VERP address itself: it is
// an HMAC under a key derived from the master key, so nobody who never
// saw a copy to that member can make it. (A record of sent copies
// matched by the returned Message-ID would not do: every member sees
// every post's Message-ID, and could make any other member's copies
// bounce.) A bounce that returns no such header, or the headers of
// copies to different members, counts for nobody.
func (p *Pipeline) returnedMember(ctx context.Context, list *store.List, msg *mime.Part) (*store.Member, string, error) {
	var found *store.Member
	for _, addr := range returnedBounceAddresses(msg) {
		for _, t := range mail.ListRoles(addr) {
			if t.Role != mail.RoleBounce || t.List != list.Address || t.Token == "" {
				continue
			}
			m, why, err := p.tokenMember(ctx, list, t)
			if err != nil || m == nil {
				return nil, "the returned copy's " + BounceHeader + ": " + why, err
			}
			if found != nil && found.Email != m.Email {
				return nil, "the returned copies are of different members", nil
			}
			found = m
		}
	}
	if found == nil {
		return nil, "the bare bounce address, and no copy of ours returned", nil
	}
	return found, "", nil
}

// BounceHeader carries, in the header of every copy of a post, the
// copy's envelope sender: its member's VERP address with the token. A
// bounce to the bare bounce address that returns it proves whose copy
// bounced (returnedMember).
const BounceHeader = "X-Sealpost-Bounce"

// returnedMax bounds what is read of each part of a bounce in search of
// a returned copy's header.
const returnedMax = 256 << 10

// returnedBounceAddresses returns the BounceHeader values found in msg's
// body: in a returned message (message/rfc822), returned headers
// (text/rfc822-headers) or text that quotes them, at line starts, maybe
// indented or quoted with '>'.
func returnedBounceAddresses(msg *mime.Part) []string {
	var out []string
	prefix := strings.ToLower(BounceHeader) + ":"
	var walk func(p *mime.Part, depth int)
	walk = func(p *mime.Part, depth int) {
		switch {
		case depth > 4:
		case p.IsMultipart():
			for _, c := range p.Children {
				walk(c, depth+1)
			}
		case p.MediaType == "message/rfc822", p.MediaType == "message/global", p.MediaType == "text/rfc822-headers",
			p.MediaType == "message/global-headers", p.MediaType == "text/plain":
			body, err := p.Decoded(returnedMax)
			if err != nil {
				return
			}
			for line := range strings.Lines(string(body)) {
				line = strings.TrimLeft(line, " \t>")
				if len(line) > len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
					if f := strings.Fields(line[len(prefix):]); len(f) > 0 {
						out = append(out, strings.Trim(f[0], "<>"))
					}
				}
			}
		}
	}
	walk(msg, 0)
	return out
}

// memberByToken finds the member whose token a short VERP address (one
// without the member's address) carries.
func (p *Pipeline) memberByToken(ctx context.Context, list *store.List, token string) (*store.Member, string, error) {
	ms, err := p.store.Members(ctx, list.ID)
	if err != nil {
		return nil, "", err
	}
	for i := range ms {
		if p.tokenMatches(list.Address, ms[i].Email, token) {
			return &ms[i], "", nil
		}
	}
	return nil, "a token of no member", nil
}

// verp returns the envelope sender of member's copies of list's mail:
// the VERP address with the member's token (mail.VERP).
func (p *Pipeline) verp(list, member string) string {
	return mail.VERP(list, member, mail.VERPToken(p.sealer.BounceTag(list, member)))
}

// tokenMatches reports, in constant time, whether token is member's
// token on list.
func (p *Pipeline) tokenMatches(list, member, token string) bool {
	want := mail.VERPToken(p.sealer.BounceTag(list, member))
	return subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

// BounceActor names bounce processing in the audit log, as the actor of
// the delivery it turns off.
const BounceActor = "bounce processing"

// countBounce adds a bounce of member m's copy to out and, at the list's
// threshold, stops delivery to them and tells the owner.
func (p *Pipeline) countBounce(ctx context.Context, log *slog.Logger, list *store.List, m *store.Member, status, ref string, out *store.Outcome) error {
	now := p.opt.Now()
	email := m.Email
	out.Bounce = &store.Bounce{ListID: list.ID, Email: email, Status: status, At: now}
	threshold, days := bounceLimits(list.Settings)
	n, err := p.store.Bounces(ctx, list.ID, email, now.AddDate(0, 0, -days))
	if err != nil {
		return err
	}
	log.Info("bounce recorded", "member", email, "status", status, "recent", n+1)
	if n+1 < threshold || !m.DisabledAt.IsZero() {
		return nil
	}
	reason := fmt.Sprintf("%d bounces within %d days (last status %s)", n+1, days, orUnknown(status))
	out.Disable = &store.Disable{ListID: list.ID, Email: email, Reason: reason, At: now}
	// Every automatic change is in the audit log, in the same
	// transaction as the change, as an admin's "delivery=off" is.
	out.Audit = append(out.Audit, store.AuditEntry{At: now, Actor: BounceActor, Via: "mail", Action: "member.set",
		List: list.Address, Target: email, Detail: "delivery=off: " + reason})
	log.Warn("member's delivery disabled after bounces", "member", email, "bounces", n+1)
	if list.Owner == "" {
		return nil
	}
	subject, text, err := p.render(list, "owner-bounce-disabled", map[string]any{"Member": email, "Reason": reason})
	if err != nil {
		return err
	}
	d, err := p.secureNotice(ctx, list, nil, list.Owner, subject, text, ref)
	if err != nil {
		return err
	}
	out.Deliveries = append(out.Deliveries, d)
	return nil
}

// CopyFailed counts a member's copy that the queue could not deliver
// (a permanent refusal, or retries given up) as a bounce. d is the
// failed delivery: a copy sent from its member's VERP address.
func (p *Pipeline) CopyFailed(ctx context.Context, d store.Delivery, reason string) error {
	switch d.Kind {
	case store.KindHelpdesk:
		return p.helpdeskFailed(ctx, d, reason)
	case store.KindReply:
		return p.replyFailed(ctx, d, reason)
	}
	if d.Kind != store.KindPost || !isVERP(d.From) {
		return nil
	}
	list, err := p.store.ListByID(ctx, d.ListID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the list was deleted
	}
	if err != nil {
		return err
	}
	m, err := p.member(ctx, list, d.To)
	if err != nil || m == nil {
		return err
	}
	if d.BodyID != 0 && reason == KeyGoneReason {
		return p.keyGone(ctx, list, d)
	}
	out := store.Outcome{ListID: list.ID}
	log := p.opt.Logger.With("msgid", d.Ref, "list", list.Address)
	if err := p.countBounce(ctx, log, list, m, statusOf(reason), d.Ref, &out); err != nil {
		return err
	}
	return p.commit(ctx, out)
}

// keyGone tells a member whose copy could not be rendered because their
// key went between the 250 and the delivery what a member without a
// usable key is told at the 250 (member-missed); it is not a bounce.
func (p *Pipeline) keyGone(ctx context.Context, list *store.List, d store.Delivery) error {
	c, err := parseChoice(d.Recipient)
	if err != nil {
		return err
	}
	n, err := p.noKeyNotice(list, d.To, recipient{fingerprint: c.fingerprint}, d.Ref)
	if err != nil {
		return err
	}
	return p.commit(ctx, store.Outcome{ListID: list.ID, Deliveries: []store.Delivery{n}})
}

// isVERP reports whether addr is a VERP bounce address of some list, in
// any form (not the bare bounce address).
func isVERP(addr string) bool {
	for _, t := range mail.ListRoles(addr) {
		if t.Member != "" || t.Token != "" {
			return true
		}
	}
	return false
}

// statusOf finds an RFC 3463 status code ("5.1.1") in an SMTP error text.
func statusOf(reason string) string {
	for _, f := range strings.Fields(reason) {
		if len(f) >= 5 && (f[0] == '4' || f[0] == '5') && f[1] == '.' && strings.Count(f, ".") == 2 {
			return strings.TrimRight(f, ",;:")
		}
	}
	return ""
}

func isDaemon(addr string) bool {
	local, _ := mail.Split(strings.ToLower(addr))
	return local == "mailer-daemon" || local == "postmaster"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func bounceLimits(s store.ListSettings) (threshold, days int) {
	threshold, days = s.BounceThreshold, s.BounceDays
	if threshold <= 0 {
		threshold = store.DefaultBounceThreshold
	}
	if days <= 0 {
		days = store.DefaultBounceDays
	}
	return threshold, days
}

// member returns the list's member with address email, or nil.
func (p *Pipeline) member(ctx context.Context, list *store.List, email string) (*store.Member, error) {
	if email == "" {
		return nil, nil
	}
	ms, err := p.store.Members(ctx, list.ID)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].Email == email {
			return &ms[i], nil
		}
	}
	return nil, nil
}

// automated says why a message to a post or -request address was sent
// by a machine or has looped, or "": it is then dropped, never
// distributed and never answered (RFC 3834 §2; RFC 2919 for List-Id).
func automated(list *store.List, msg *mime.Part, envelopeFrom string) string {
	h := msg.Header
	switch {
	case strings.EqualFold(strings.TrimSpace(h.Get("X-Loop")), list.Address):
		return "loop: X-Loop names this list"
	case strings.Contains(strings.ToLower(h.Get("List-Id")), "<"+strings.ReplaceAll(list.Address, "@", ".")+">"):
		return "loop: a copy of this list's own mail"
	case autoReplyField(h) != "":
		return "automated: " + autoReplyField(h)
	case msg.MediaType == "multipart/report":
		return "automated: a delivery or disposition report"
	case envelopeFrom != "" && isDaemon(envelopeFrom):
		return "automated: sent by " + envelopeFrom
	}
	if _, from, err := mail.ParseAddress(h.Get("From")); err == nil && isDaemon(from) {
		return "automated: From " + from
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list":
		return "automated: Precedence " + h.Get("Precedence")
	}
	return ""
}

// helpdeskFailed tells a gateway's owner that its helpdesk did not take
// a message; the message stays in the queue, sealed, as failed.
func (p *Pipeline) helpdeskFailed(ctx context.Context, d store.Delivery, reason string) error {
	gw, err := p.store.ListByAddress(ctx, d.To)
	if err != nil || gw.Owner == "" {
		return err
	}
	subject, text, err := p.render(gw, "owner-helpdesk-failed", map[string]any{"DeliverTo": d.Route, "Reason": reason, "Ref": d.Ref})
	if err != nil {
		return err
	}
	n, err := p.secureNotice(ctx, gw, nil, gw.Owner, subject, text, d.Ref)
	if err != nil {
		return err
	}
	return p.commit(ctx, store.Outcome{ListID: gw.ID, Deliveries: []store.Delivery{n}})
}

// replyFailed sends the helpdesk an RFC 3464 delivery status
// notification for a reply that could not be delivered, as the
// customer's mail server would have (the reply's envelope sender is the
// helpdesk's).
func (p *Pipeline) replyFailed(ctx context.Context, d store.Delivery, reason string) error {
	if d.From == "" {
		return nil
	}
	gw, err := p.store.ListByID(ctx, d.ListID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the gateway was deleted
	}
	if err != nil {
		return err
	}
	data := d.Data
	if d.Sealed {
		if data, err = p.OpenDelivery(&d); err != nil {
			return err
		}
	}
	var header []byte
	if h, err := mime.ParseHeader(data, p.opt.Limits); err == nil {
		header = h.RawHeader
	}
	status := statusOf(reason)
	if status == "" || status[0] != '5' {
		status = "5.0.0"
	}
	n, err := p.helpdeskDSN(gw, d.Ref, mail.DSN{To: d.From, Subject: "Undelivered reply",
		Explanation: "A reply from " + gw.Address + " could not be delivered to " + d.To + ":\n\n  " + reason + "\n\nReference: " + d.Ref + "\n",
		Recipients:  []mail.DSNRecipient{{Recipient: d.To, Action: "failed", Status: status, Diagnostic: "x-sealpost; " + oneLine(reason)}},
		Headers:     header})
	if err != nil {
		return err
	}
	return p.commit(ctx, store.Outcome{ListID: gw.ID, Deliveries: []store.Delivery{n}})
}

// oneLine makes s fit a single header line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
