package pipeline

import (
	"slices"

	netmail "net/mail"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// A gateway must not be a decryption oracle (DESIGN §4.3): whoever resends
// a captured ciphertext, under their own From or Reply-To, wrapped into a
// reply of theirs or mixed with a ciphertext of their own, must not get
// its plaintext back in the helpdesk's answer. So decrypted content
// reaches the helpdesk only under a sender its content binds, and a
// conversation that arrived encrypted is answered only to the addresses
// its content bound:
//
//   - the sender the helpdesk sees (From, and the envelope sender an
//     automatic answer goes to, RFC 3834 §4) is the verified signer's
//     address (the From address when the signer's key has it); else, for
//     encrypted mail, the From inside the encryption; else nobody, shown
//     as unverifiedSender, an address no mail can reach;
//   - every other field that says where answers go (Reply-To, Sender,
//     Mail-Followup-To, Disposition-Notification-To, ...) is taken from
//     inside the encryption only;
//   - the addresses a message binds (its bound sender, and the Reply-To,
//     To and Cc inside) become the conversation's answerable addresses:
//     all of them when the conversation has none yet, else only when the
//     message's bound sender is already one (a stranger who refers to the
//     conversation does not join it);
//   - a reply in an encrypted conversation to any other address is
//     refused (the helpdesk gets a delivery status notification; the
//     address gets nothing).

// unverifiedSender is the From the helpdesk sees for decrypted mail whose
// content binds no sender (RFC 2606 §2: .invalid can never be delivered
// to).
const unverifiedSender = "unverified-sender@sender.invalid"

// unverifiedName is unverifiedSender's display name.
const unverifiedName = "Unverified sender"

// answerTargets are the header fields that say where answers go, and so
// are taken from inside the encryption only (DESIGN §4.7); From is
// written by Sealpost, and Return-Path is a trace of the envelope.
var answerTargets = []string{"From", "Sender", "Reply-To", "Mail-Reply-To", "Mail-Followup-To",
	"Disposition-Notification-To", "Return-Receipt-To", "Errors-To", "Return-Path"}

// answerTarget reports whether f says where answers go.
func answerTarget(f mime.Field) bool {
	return slices.ContainsFunc(answerTargets, f.Is)
}

// bindSender decides whom a message to a gateway speaks for: sets
// a.sender, a.bound and a.binds.
func bindSender(gw *store.List, a *arrival) {
	o, h := a.o, a.h
	// What the content says about itself counts when it was inside the
	// encryption or under a verified signature.
	protected := a.engine != "" || o.status == spcrypto.StatusGood
	switch {
	case o.status == spcrypto.StatusGood && o.signer != nil && len(o.signer.Addresses) > 0:
		addr := h.from.addr
		if !o.signer.HasAddress(addr) {
			addr = o.signer.Addresses[0]
		}
		a.sender, a.bound = address{mail.DisplayName(o.signer.Name(addr), addr), addr}, true
	case a.engine != "" && len(a.content.Header.Values("From")) == 1:
		name, addr, err := mail.ParseAddress(a.content.Header.Get("From"))
		if err == nil {
			a.sender, a.bound = address{mail.DisplayName(name, addr), addr}, true
		}
	case a.engine == "" && len(a.outer.Header.Values("From")) == 1:
		// Mail in clear: nothing to decrypt, so nothing an answer could
		// leak; its From stands as written, but nothing binds it.
		if name, addr, err := mail.ParseAddress(a.outer.Header.Get("From")); err == nil {
			a.sender = address{mail.DisplayName(name, addr), addr}
		}
	}
	if a.sender.addr == "" {
		a.sender = address{unverifiedName, unverifiedSender}
	}
	if !a.bound {
		return
	}
	a.binds = []string{a.sender.addr}
	if !protected {
		return
	}
	for _, k := range []string{"Reply-To", "To", "Cc"} {
		list, err := netmail.ParseAddressList(a.content.Header.Get(k))
		if err != nil {
			continue
		}
		for _, ad := range list {
			if n, err := mail.Normalize(ad.Address); err == nil && n != gw.Address && !slices.Contains(a.binds, n) {
				a.binds = append(a.binds, n)
			}
		}
	}
}

// joins returns the addresses an inbound message adds to its
// conversation t (nil when it founds a new one): all it binds when t has
// no answerable address yet, else only when its bound sender already is
// one. A message that binds nobody adds nobody.
func joins(t *store.Thread, a *arrival) []string {
	if t == nil || len(t.Answerable) == 0 || slices.Contains(t.Answerable, a.sender.addr) {
		return a.binds
	}
	return nil
}

// guarded reports whether replies in conversation t go only to its
// answerable addresses: it arrived encrypted, and a message has arrived
// since the addresses are kept.
func guarded(t *store.Thread) bool {
	return t != nil && t.Encrypted && t.Guarded
}
