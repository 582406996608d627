package pipeline

import (
	"context"
	stdmime "mime"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Announcement is a message from a list to its members (a new list key,
// a key about to expire, a challenge): signed by the list, encrypted to
// each member like a post, never sent in clear.
type Announcement struct {
	Subject string
	Text    string // plain text, CRLF or LF line endings
	// Attachments go after the text, e.g. the list's new public key.
	Attachments []Attachment
	// ExtraSigners sign the OpenPGP copies beside the list's key (the new
	// key, when the list's key changes).
	ExtraSigners []*pgp.Key
	// To limits the announcement to these member addresses; nil sends it
	// to every member.
	To []string
	// Key, when set, is the key the addressed members' copies are
	// encrypted to, instead of the key the list holds for them (the
	// challenge for a new key goes to that key).
	Key *pgp.Key
	Ref string // reference ID of the deliveries
	// direct sends it to one address with the given recipient key,
	// member or not (the reply to a member who just left).
	direct *directRecipient
	// fromOwner sends it From the list's -owner address, so that an
	// answer reaches the owners, never the members (a password reset).
	fromOwner bool
}

type directRecipient struct {
	email string
	to    recipient
}

// Attachment is one attached file of an Announcement.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte // written as 7bit text: armored keys and the like
}

// Announce writes the announcement for each addressed member with a
// usable key. It returns the deliveries to enqueue and the members who
// could not be reached (no usable key).
func (p *Pipeline) Announce(ctx context.Context, list *store.List, a Announcement) ([]store.Delivery, []string, error) {
	var r *roster
	if a.direct != nil {
		// One given recipient: the members need not be loaded.
		r = &roster{members: []policy.Member{{Email: a.direct.email, Usable: a.direct.to.pgp != nil || a.direct.to.cert != nil}},
			to: map[string]recipient{a.direct.email: a.direct.to}}
	} else {
		var err error
		if r, err = p.roster(ctx, list); err != nil {
			return nil, nil, err
		}
	}
	var send []policy.Member
	var unreachable []string
	for _, m := range r.members {
		if a.To != nil && !containsFold(a.To, m.Email) {
			continue
		}
		to := r.to[m.Email]
		if a.Key != nil {
			to, m.Usable = recipient{pgp: a.Key, fingerprint: a.Key.Fingerprint()}, true
		}
		if !m.Usable {
			unreachable = append(unreachable, m.Email)
			continue
		}
		to.inline = false // announcements are always PGP/MIME
		r.to[m.Email] = to
		send = append(send, m)
	}
	if len(send) == 0 {
		return nil, unreachable, nil
	}
	id, err := mail.NewMessageID(p.opt.Rand, domainOf(list.Address))
	if err != nil {
		return nil, nil, err
	}
	h := headers{from: address{name: "Sealpost", addr: list.Address}, subject: a.Subject,
		date: p.opt.Now().Format(time.RFC1123Z), messageID: id, replyTo: list.Address}
	h.fromField = mail.FormatAddress(viaName(list, h.from), list.Address)
	if a.fromOwner && !list.IsGateway() {
		owner := mail.RoleAddress(list.Address, mail.RoleOwner)
		h.from, h.replyTo = address{name: "Sealpost for " + list.Address, addr: owner}, owner
		h.fromField = mail.FormatAddress(h.from.name, owner)
	}
	inner, err := p.announcementEntity(list, h, a)
	if err != nil {
		return nil, nil, err
	}
	s, err := p.signOnce(list, r, inner, send)
	if err != nil {
		return nil, nil, err
	}
	if s.pgp != nil && len(a.ExtraSigners) > 0 {
		listKey, err := p.listKey(list)
		if err != nil {
			return nil, nil, err
		}
		if s.pgp, err = pgp.SignBy(append([]*pgp.Key{listKey}, a.ExtraSigners...), inner, p.pgpOptions()); err != nil {
			return nil, nil, err
		}
	}
	copies, err := p.encryptCopies(list, s, r, h, send)
	if err != nil {
		return nil, nil, err
	}
	out := make([]store.Delivery, len(send))
	for i, m := range send {
		out[i] = store.Delivery{Ref: a.Ref, ListID: list.ID, Kind: store.KindNotice,
			From: p.verp(list.Address, m.Email), To: m.Email, Data: copies[i]}
	}
	return out, unreachable, nil
}

// announcementEntity is the signed content: protected headers over the
// text and its attachments.
func (p *Pipeline) announcementEntity(list *store.List, h headers, a Announcement) ([]byte, error) {
	protected := []field{
		{"From", h.fromField},
		{"To", list.Address},
		{"Subject", h.subject},
		{"Date", h.date},
		{"Message-ID", h.messageID},
		{"Auto-Submitted", "auto-generated"},
	}
	text := crlf(a.Text)
	if len(a.Attachments) == 0 {
		ct := field{"Content-Type", stdmime.FormatMediaType("text/plain", protectedParams(map[string]string{"charset": "utf-8"}))}
		return entity(append(protected, ct), []byte(text))
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	for _, at := range a.Attachments {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: " + stdmime.FormatMediaType(at.ContentType, map[string]string{"name": at.Name}) + "\r\n")
		b.WriteString("Content-Disposition: " + stdmime.FormatMediaType("attachment", map[string]string{"filename": at.Name}) + "\r\n\r\n")
		b.WriteString(crlf(string(at.Data)))
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	ct := field{"Content-Type", stdmime.FormatMediaType("multipart/mixed", protectedParams(map[string]string{"boundary": boundary}))}
	return entity(append(protected, ct), []byte(b.String()))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
