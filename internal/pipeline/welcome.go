package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// ErrNoWelcomeKey is returned by Welcome when the new member's key cannot
// be encrypted to in any format the list sends (DESIGN §4.5: no welcome
// in clear).
var ErrNoWelcomeKey = errors.New("the welcome cannot be encrypted to the member's key")

// Welcome writes the welcome message to email, a new member of list whose key is key (as it will
// be stored): signed by the list, encrypted to key, the list's public key (and S/MIME certificate,
// when the list has one) attached. The member need not be in the roster yet. The caller commits
// the deliveries.
//
// The copy's format is chosen as for a post to a member with that one
// key: PGP/MIME to an OpenPGP key, S/MIME to a certificate (when the list
// has a certificate to sign with); always PGP/MIME, never inline, like
// every announcement.
func (p *Pipeline) Welcome(ctx context.Context, list *store.List, email string, key store.MemberKey, ref string) ([]store.Delivery, error) {
	rev, err := p.revocations(ctx, list, nil, nil)
	if err != nil {
		return nil, err
	}
	r := p.rosterOf(list, []store.Member{{ListID: list.ID, Email: email, Keys: []store.MemberKey{key}}}, rev)
	to, ok := r.to[email]
	if !ok || to.pgp == nil && to.cert == nil {
		why := to.status.String()
		if to.noListCert {
			why = noListCertStatus
		}
		return nil, fmt.Errorf("%w: %s", ErrNoWelcomeKey, why)
	}
	a, err := p.welcome(list, to.cert != nil)
	if err != nil {
		return nil, err
	}
	a.Ref, a.direct = ref, &directRecipient{email: email, to: to}
	ds, _, err := p.Announce(ctx, list, a)
	if err != nil {
		return nil, fmt.Errorf("pipeline: welcome to %s: %w", email, err)
	}
	return ds, nil
}

// welcome is the welcome announcement of list, rendered from its
// "welcome" template, with the list's key and certificate attached;
// smimeCopy says whether it goes out as S/MIME.
func (p *Pipeline) welcome(list *store.List, smimeCopy bool) (Announcement, error) {
	key, err := p.listKey(list)
	if err != nil {
		return Announcement{}, err
	}
	request, owner := mail.RoleAddress(list.Address, mail.RoleRequest), mail.RoleAddress(list.Address, mail.RoleOwner)
	if list.IsGateway() {
		request, owner = list.Address, list.Address // a gateway has no role addresses
	}
	data := map[string]any{
		"Name":        list.Name,
		"Fingerprint": crypto.FormatFingerprint(list.KeyFingerprint),
		"Certificate": "",
		"SMIME":       smimeCopy,
		"Request":     request,
		"Owner":       owner,
		// A list that names no admin keywords uses the default ones,
		// which leave X-UNSUBSCRIBE to every member.
		"Unsubscribe": !slices.Contains(list.Settings.AdminKeywords, "UNSUBSCRIBE"),
		"AdminOnly":   list.Settings.AdminOnly,
		"Footer":      list.Settings.Footer,
		"Page":        p.subscribePage(list),
	}
	attach := []Attachment{{Name: "list-key.asc", ContentType: "application/pgp-keys", Data: key.Armored()}}
	if len(list.SMIMECert) > 0 {
		cert, err := x509.ParseCertificate(list.SMIMECert)
		if err != nil {
			return Announcement{}, fmt.Errorf("pipeline: the list's certificate: %w", err)
		}
		data["Certificate"] = crypto.FormatFingerprint(smime.CertInfo(cert).Fingerprint)
		attach = append(attach, Attachment{Name: "list-cert.pem", ContentType: "application/x-pem-file", Data: smime.CertsPEM(cert)})
	}
	if len(list.SMIMEKEMCert) > 0 {
		// The list's ML-KEM certificate, for clients that encrypt with
		// ML-KEM (RFC 9936); a file of its own, as other clients cannot
		// use it.
		kem, err := x509.ParseCertificate(list.SMIMEKEMCert)
		if err != nil {
			return Announcement{}, fmt.Errorf("pipeline: the list's ML-KEM certificate: %w", err)
		}
		attach = append(attach, Attachment{Name: "list-cert-mlkem.pem", ContentType: "application/x-pem-file", Data: smime.CertsPEM(kem)})
	}
	subject, text, err := p.render(list, "welcome", data)
	if err != nil {
		return Announcement{}, err
	}
	return Announcement{Subject: subject, Text: text, Attachments: attach}, nil
}
