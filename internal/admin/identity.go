package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
)

// IdentityCommand is the command that gives the existing list address an
// S/MIME identity from a PKCS#12 file (for a new list, `list create
// --smime-cert` or `--smime-generate` do).
func IdentityCommand(address string) string {
	return "sealpost key import --list " + address + " --passphrase-file PASSWORD-FILE CERT.p12"
}

// CheckListIdentity reports whether id may become the S/MIME identity of
// the list or gateway at address, as SetSMIMEIdentity would judge it, so
// that a command can refuse a wrong PKCS#12 file before it creates
// anything. The error names the address the certificate is for.
func (s *Service) CheckListIdentity(address string, id *smime.Identity) error {
	if err := s.requireAdmin("create a list or gateway"); err != nil {
		return err
	}
	if id == nil {
		return fmt.Errorf("%w: no S/MIME identity to check", ErrInvalid)
	}
	addr, err := mail.Normalize(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, address)
	}
	return s.checkIdentity(addr, id)
}

// checkIdentity judges id for the list address addr: its certificate
// must name addr, be valid now, and allow signing and encryption.
func (s *Service) checkIdentity(addr string, id *smime.Identity) error {
	info := smime.CertInfo(id.Cert)
	err := keyring.CheckMemberKey(info, addr, s.now())
	switch {
	case keyring.StatusOf(err) == keyring.PolicyMismatch && len(info.Addresses) > 0:
		return fmt.Errorf("%w: the S/MIME certificate %s is for %s, not for %s", ErrInvalid,
			info.Fingerprint, strings.Join(info.Addresses, ", "), addr)
	case err != nil:
		return fmt.Errorf("%w: list certificate: %v", ErrInvalid, err)
	case !info.CanSign:
		return fmt.Errorf("%w: list certificate %s cannot be used for signing email", ErrInvalid, info.Fingerprint)
	}
	return nil
}

// MemberKeyWarnings says what keeps list from using a key or certificate
// of the member email that is good in itself (info, as AddMember or
// AddMemberKey returned it), naming the command that mends it; nil when
// nothing does. Today that is one thing: a certificate on a list without
// an S/MIME identity. The list signs every S/MIME copy with its own
// certificate, so without one the member's certificate looks usable
// (`key show`) and yet each post reaches them only as a notice.
func (s *Service) MemberKeyWarnings(ctx context.Context, list, email string, info crypto.KeyInfo) ([]string, error) {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil || info.Engine != crypto.SMIME || len(l.SMIMECert) > 0 {
		return nil, err
	}
	meanwhile := addr + " gets a notice instead of each post until it has one"
	if ok, err := s.hasUsableOpenPGP(ctx, l.ID, addr); err != nil {
		return nil, err
	} else if ok {
		meanwhile = addr + "'s copies stay OpenPGP until it has one"
	}
	return []string{fmt.Sprintf("%s has no S/MIME certificate of its own: S/MIME copies are signed with the list's certificate, "+
		"so it cannot send copies to this certificate (%s). Give the list one with: %s",
		l.Address, meanwhile, IdentityCommand(l.Address))}, nil
}

// hasUsableOpenPGP reports whether the member addr of the list listID has
// an OpenPGP key the list can encrypt to now.
func (s *Service) hasUsableOpenPGP(ctx context.Context, listID int64, addr string) (bool, error) {
	ms, err := s.st.MembersByEmail(ctx, listID, []string{addr})
	if err != nil {
		return false, err
	}
	for _, v := range s.memberViews(ms, nil) {
		for _, info := range v.Keys {
			if info.Engine == crypto.OpenPGP && keyring.CheckMemberKey(info, addr, s.now()) == nil {
				return true, nil
			}
		}
	}
	return false, nil
}
