package pipeline

import (
	"context"
	"fmt"
	stdmime "mime"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/store"
)

// AccountMail is a message Sealpost writes to the holder of an account of
// the admin UI (a password reset link). Who sends it, and how:
//
//   - The first of Lists for which To has a usable key on file (its member
//     key there, or a keyring key that list may use: noticeKey) sends it,
//     encrypted to that key and signed by the list, From the list's
//     -owner address, in the list's language, like the list's notices.
//   - Else, with a usable OpenPGP key for To in the keyring that no list
//     uses (one the operator imported), it is encrypted to that key and
//     not signed (there is no key to sign for the installation), From
//     Sender.
//   - Else it is plain text From Sender: the template must then hold
//     nothing but what the person needs (the link), as anyone on the way
//     can read it. In the queue it is sealed, like every plaintext copy.
//
// A list's own templates never replace the shipped one: no list owner
// writes what an account's holder is sent.
type AccountMail struct {
	To string // the account's address
	// Lists are the lists (or gateways) the account has a role on, in
	// the order to try them.
	Lists []*store.List
	// Sender is the From field of mail no list sends, e.g.
	// "Sealpost <postmaster@example.org>".
	Sender   string
	Template string         // the notice template
	Data     map[string]any // its data
	Ref      string         // reference ID of the delivery
}

// AccountMailSent says how an AccountMail went: which list signed it
// ("" none) and which key it is encrypted to ("" none: plain text).
type AccountMailSent struct {
	List, Key string
}

// AccountMail writes m; the caller commits the delivery (it has a null
// envelope sender, RFC 3834 §5).
func (p *Pipeline) AccountMail(ctx context.Context, m AccountMail) (store.Delivery, AccountMailSent, error) {
	for _, l := range m.Lists {
		rc, err := p.noticeKey(ctx, l, nil, m.To)
		if err != nil {
			return store.Delivery{}, AccountMailSent{}, err
		}
		if rc != nil {
			d, err := p.listAccountMail(ctx, l, *rc, m)
			return d, AccountMailSent{List: l.Address, Key: rc.fingerprint}, err
		}
	}
	subject, text, err := notices.Set{}.Render(m.Template, withList(m.Data, ""))
	if err != nil {
		return store.Delivery{}, AccountMailSent{}, err
	}
	// Only a key no list uses (one the operator imported): a key only
	// lists' members hold was vouched for by their owners, and no list
	// owner may choose the key the installation's own mail is encrypted to.
	key, err := p.keyringKey(ctx, nil, m.To)
	if err != nil {
		return store.Delivery{}, AccountMailSent{}, err
	}
	if key == nil {
		d, err := p.accountMessage(m, subject, "text/plain; charset=utf-8", crlf(text))
		if err == nil {
			// Plain text, with a secret in it: sealed in the queue
			// (DESIGN §4.6).
			err = p.sealDelivery(&d, d.Data)
		}
		return d, AccountMailSent{}, err
	}
	d, err := p.encryptedAccountMail(m, key, subject, text)
	return d, AccountMailSent{Key: key.Fingerprint()}, err
}

// listAccountMail is m sent by list l, encrypted to rc.
func (p *Pipeline) listAccountMail(ctx context.Context, l *store.List, rc recipient, m AccountMail) (store.Delivery, error) {
	data := withList(m.Data, l.Address)
	data["Gateway"] = l.IsGateway()
	subject, text, err := notices.Set{Lang: l.Settings.Language}.Render(m.Template, data)
	if err != nil {
		return store.Delivery{}, err
	}
	ds, _, err := p.Announce(ctx, l, Announcement{direct: &directRecipient{email: m.To, to: rc}, fromOwner: true,
		Ref: m.Ref, Subject: subject, Text: text})
	if err != nil || len(ds) != 1 {
		return store.Delivery{}, fmt.Errorf("pipeline: mail to account %s: %w", m.To, err)
	}
	ds[0].From = "" // a null envelope sender, as for every notice
	return ds[0], nil
}

// withList copies data with List set to list.
func withList(data map[string]any, list string) map[string]any {
	out := map[string]any{"List": list, "Gateway": false}
	for k, v := range data {
		out[k] = v
	}
	return out
}

// encryptedAccountMail is m encrypted to key, unsigned, PGP/MIME (RFC
// 3156 §4), with the Subject only inside (RFC 9788 §4).
func (p *Pipeline) encryptedAccountMail(m AccountMail, key *pgp.Key, subject, text string) (store.Delivery, error) {
	inner, err := entity([]field{
		{"From", m.Sender},
		{"To", "<" + m.To + ">"},
		{"Subject", subject},
		{"Content-Type", stdmime.FormatMediaType("text/plain", protectedParams(map[string]string{"charset": "utf-8"}))},
		{"Content-Transfer-Encoding", "8bit"},
	}, []byte(crlf(text)))
	if err != nil {
		return store.Delivery{}, err
	}
	u, err := pgp.Unsigned(inner, p.pgpOptions())
	if err != nil {
		return store.Delivery{}, err
	}
	armored, err := u.EncryptTo(key, false)
	if err != nil {
		return store.Delivery{}, err
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return store.Delivery{}, err
	}
	ct, body := pgp.EncryptedBody(armored, boundary)
	return p.accountMessage(AccountMail{To: m.To, Sender: m.Sender, Ref: m.Ref}, "...", ct, string(body))
}

// accountMessage is a message From m.Sender with any body.
func (p *Pipeline) accountMessage(m AccountMail, subject, contentType, body string) (store.Delivery, error) {
	_, sender, err := mail.ParseAddress(m.Sender)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("pipeline: sender %q: %w", m.Sender, err)
	}
	id, err := mail.NewMessageID(p.opt.Rand, domainOf(sender))
	if err != nil {
		return store.Delivery{}, err
	}
	var b strings.Builder
	err = mime.WriteFields(&b, []field{
		{"From", m.Sender},
		{"To", "<" + m.To + ">"},
		{"Subject", subject},
		{"Date", p.opt.Now().Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
		{"Content-Type", contentType},
		{"Content-Transfer-Encoding", "8bit"},
	})
	if err != nil {
		return store.Delivery{}, err
	}
	b.WriteString(body)
	return store.Delivery{Ref: m.Ref, Kind: store.KindNotice, To: m.To, Data: []byte(b.String())}, nil
}
