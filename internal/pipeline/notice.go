package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Notices are written by Sealpost itself. They carry envelope data and
// the reason, never anything decrypted (DESIGN §4.3). They are sent with
// a null envelope sender and Auto-Submitted (RFC 3834 §3.1.7, §5) so that
// they cannot start mail loops.

// render renders the list's notice template name with data (List and
// Gateway, which tells a template to use a gateway's words, are added):
// the Subject and the body.
func (p *Pipeline) render(list *store.List, name string, data map[string]any) (string, string, error) {
	if data == nil {
		data = map[string]any{}
	}
	data["List"], data["Gateway"] = list.Address, list.IsGateway()
	return notices.Set{Lang: list.Settings.Language, Overrides: list.Settings.Templates}.Render(name, data)
}

// ownerNotice tells the list's owners what happened to a message, with
// the template name (owner-held, owner-rejected); a held message's
// notice goes to its moderators too. A list without an owner gets none.
func (p *Pipeline) ownerNotice(ctx context.Context, list *store.List, in *store.Inbound, name, reason string) ([]store.Delivery, error) {
	to, err := p.owners(ctx, list, name == "owner-held")
	if err != nil || len(to) == 0 {
		return nil, err
	}
	subject, text, err := p.render(list, name, map[string]any{"Reason": reason, "EnvelopeFrom": in.EnvelopeFrom,
		"Received": in.ReceivedAt.UTC().Format(time.RFC1123Z), "Ref": in.ID})
	if err != nil {
		return nil, err
	}
	return p.noticesTo(ctx, list, nil, to, subject, text, in.ID)
}

// noticesTo writes one notice to each of to (a list's owners), each
// encrypted to their key where the list knows one (secureNotice). r is
// the list's roster when the caller has it, nil to load it.
func (p *Pipeline) noticesTo(ctx context.Context, list *store.List, r *roster, to []string, subject, text, ref string) ([]store.Delivery, error) {
	var out []store.Delivery
	for _, addr := range to {
		d, err := p.secureNotice(ctx, list, r, addr, subject, text, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// noKeyNotice tells a member that they missed a post because their key
// cannot be used, or because the list has no certificate to sign S/MIME
// copies with (DESIGN §4.5: a notice, never plaintext).
func (p *Pipeline) noKeyNotice(list *store.List, to string, rc recipient, ref string) (store.Delivery, error) {
	subject, text, err := p.render(list, "member-missed", map[string]any{"Fingerprint": rc.fingerprint, "Ref": ref,
		"NoListCertificate": rc.noListCert})
	if err != nil {
		return store.Delivery{}, err
	}
	return p.signedNotice(list, to, subject, text, ref)
}

// unservedNotice tells the owners, once per post, which members got no
// copy for want of a usable key, and why (RT's reasons).
func (p *Pipeline) unservedNotice(ctx context.Context, list *store.List, r *roster, unserved []policy.Member, ref string) ([]store.Delivery, error) {
	var members []map[string]any
	noListCert := false
	for _, m := range unserved {
		to := r.to[m.Email]
		key := to.fingerprint
		if key == "" {
			key = "no key"
		}
		status := to.status.String()
		if to.noListCert {
			status, noListCert = noListCertStatus, true
		}
		members = append(members, map[string]any{"Email": m.Email, "Status": status, "Key": key})
	}
	subject, text, err := p.render(list, "owner-unserved", map[string]any{"Members": members, "Ref": ref,
		"NoListCertificate": noListCert})
	if err != nil {
		return nil, err
	}
	owners, err := p.owners(ctx, list, false)
	if err != nil {
		return nil, err
	}
	return p.noticesTo(ctx, list, r, owners, subject, text, ref)
}

// noListCertStatus is the status, in the owner's notice, of a member
// whose certificate is usable but who got no copy because the list has
// no S/MIME certificate to sign it with.
const noListCertStatus = "The list has no S/MIME certificate to sign copies with"

func (p *Pipeline) Notice(ctx context.Context, list *store.List, to, subject, text, ref string) (store.Delivery, error) {
	return p.secureNotice(ctx, list, nil, to, subject, text, ref)
}

// secureNotice is a notice encrypted to to's usable key (a member's, or
// one in the keyring for the address) and signed by the list; without
// such a key it is signed only. r is the list's roster when the caller
// has it, nil to load it.
func (p *Pipeline) secureNotice(ctx context.Context, list *store.List, r *roster, to, subject, text, ref string) (store.Delivery, error) {
	rcpt, err := p.noticeKey(ctx, list, r, to)
	if err != nil {
		return store.Delivery{}, err
	}
	if rcpt == nil {
		return p.signedNotice(list, to, subject, text, ref)
	}
	ds, _, err := p.Announce(ctx, list, Announcement{direct: &directRecipient{email: to, to: *rcpt}, Ref: ref, Subject: subject, Text: text})
	if err != nil || len(ds) != 1 {
		return store.Delivery{}, fmt.Errorf("pipeline: notice to %s: %w", to, err)
	}
	d := ds[0]
	d.From = "" // notices have a null envelope sender (RFC 3834 §5)
	return d, nil
}

// noticeKey finds a usable key for to: theirs as a member, else an
// OpenPGP key in the keyring that names the address and that no other
// list vouches for alone. r is the list's roster, or nil to load it.
func (p *Pipeline) noticeKey(ctx context.Context, list *store.List, r *roster, to string) (*recipient, error) {
	if r == nil {
		var err error
		if list.IsGateway() {
			// A gateway may have many correspondents: load only to's keys.
			r, err = p.contacts(ctx, list, []string{to})
		} else {
			r, err = p.roster(ctx, list)
		}
		if err != nil {
			return nil, err
		}
	}
	if rc, ok := r.to[to]; ok && (rc.pgp != nil || rc.cert != nil) {
		return &rc, nil
	}
	pk, err := p.keyringKey(ctx, list, to)
	if err != nil || pk == nil {
		return nil, err
	}
	return &recipient{pgp: pk, fingerprint: pk.Fingerprint()}, nil
}

// keyringKey is a usable OpenPGP key in the keyring that names addr and
// that list may use (keyringKeyFor), or nil.
func (p *Pipeline) keyringKey(ctx context.Context, list *store.List, addr string) (*pgp.Key, error) {
	keys, err := p.store.FindKeys(ctx, store.IndexEmail, addr)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Engine != store.EngineOpenPGP {
			continue
		}
		if mine, err := p.keyringKeyFor(ctx, list, k.Fingerprint); err != nil {
			return nil, err
		} else if !mine {
			continue
		}
		pk, err := p.publicKey(k.Fingerprint, k.Data)
		if err == nil && keyring.CheckMemberKey(pk.Info(p.opt.Now()), addr, p.opt.Now()) == nil {
			return pk, nil
		}
	}
	return nil, nil
}

// signedNotice is a notice in clear, PGP/MIME multipart/signed by the
// list, for a recipient without a usable key.
func (p *Pipeline) signedNotice(list *store.List, to, subject, text, ref string) (store.Delivery, error) {
	inner := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlf(text)
	ct, body, err := p.signedBody(list, []byte(inner))
	if err != nil {
		return store.Delivery{}, err
	}
	return p.noticeMessage(list, to, subject, ct, string(body), ref)
}

// noticeMessage is a message from the list's Sealpost with any body.
func (p *Pipeline) noticeMessage(list *store.List, to, subject, contentType, body, ref string) (store.Delivery, error) {
	id, err := mail.NewMessageID(p.opt.Rand, domainOf(list.Address))
	if err != nil {
		return store.Delivery{}, err
	}
	from, listID := mail.FormatAddress("Sealpost for "+list.Address, mail.RoleAddress(list.Address, mail.RoleOwner)), mail.ListID(list.Address, list.Name)
	if list.IsGateway() {
		// A gateway has no -owner address; an answer goes to the helpdesk.
		name := list.Name
		if name == "" {
			name = list.Address
		}
		from, listID = mail.FormatAddress(name, list.Address), ""
	}
	fields := []field{
		{"From", from},
		{"To", "<" + to + ">"},
		{"Subject", subject},
		{"Date", p.opt.Now().Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"Auto-Submitted", "auto-generated"},
		{"List-Id", listID},
		{"MIME-Version", "1.0"},
		{"Content-Type", contentType},
		{"Content-Transfer-Encoding", "8bit"},
	}
	var b strings.Builder
	if err := mime.WriteFields(&b, fields); err != nil {
		return store.Delivery{}, err
	}
	b.WriteString(body)
	return store.Delivery{Ref: ref, ListID: list.ID, Kind: store.KindNotice, From: "", To: to, Data: []byte(b.String())}, nil
}

// sendKey answers mail to LIST-sendkey with the list's public key, in
// clear (the sender may have no key yet), to the envelope sender. Mail
// without one, or from a machine, is dropped before it gets here; so is
// a request past the answers' limits (Options.SendKey).
func (p *Pipeline) sendKey(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound) error {
	out := store.Outcome{SpoolID: in.ID, ListID: list.ID}
	to, err := mail.Normalize(in.EnvelopeFrom)
	if err != nil {
		log.Info("sendkey request without a usable envelope sender; dropped")
		return p.commit(ctx, out)
	}
	if limit, err := p.sendKeyLimit(ctx, list, to); err != nil {
		return err
	} else if limit != "" {
		log.Warn("sendkey request past the answers' limit; dropped without an answer", "to", to, "limit", limit)
		return p.commit(ctx, out)
	}
	key, err := p.listKey(list)
	if err != nil {
		return err
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return err
	}
	subject, text, err := p.render(list, "sendkey", map[string]any{"Fingerprint": crypto.FormatFingerprint(list.KeyFingerprint)})
	if err != nil {
		return err
	}
	body := "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
		"--" + boundary + "\r\nContent-Type: application/pgp-keys; name=\"list-key.asc\"\r\n" +
		"Content-Disposition: attachment; filename=\"list-key.asc\"\r\n\r\n" + crlf(string(key.Armored())) +
		"--" + boundary + "--\r\n"
	d, err := p.noticeMessage(list, to, subject, "multipart/mixed; boundary=\""+boundary+"\"", body, in.ID)
	if err != nil {
		return err
	}
	d.Kind = store.KindSendKey // what the limits count
	out.Deliveries = []store.Delivery{d}
	log.Info("list key sent", "to", to)
	return p.commit(ctx, out)
}

// keyringKeyFor reports whether a keyring key may be used by list for
// someone who is not its member: a key the operator imported (no list
// uses it) or one this list uses too. A key that only other lists'
// members hold was vouched for by those lists' owners alone, and an
// owner must not be able to choose the key another list encrypts to.
// With a nil list (mail in no list's name), only a key no list uses.
func (p *Pipeline) keyringKeyFor(ctx context.Context, list *store.List, fpr string) (bool, error) {
	users, err := p.store.KeyUsers(ctx, fpr)
	if err != nil {
		return false, err
	}
	for _, u := range users {
		if list != nil && u.List == list.Address {
			return true, nil
		}
	}
	return len(users) == 0, nil
}
