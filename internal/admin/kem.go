package admin

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// SetListKEM gives the list an ML-KEM certificate (RFC 9935) beside its
// S/MIME identity: clients that write KEMRecipientInfo (RFC 9629,
// RFC 9936) encrypt posts to it, and the list decrypts them. The list
// must have an S/MIME identity (it signs the copies); the certificate
// must name the list's address, be valid now and be ML-KEM-768 or -1024
// with keyEncipherment as its only key usage. It replaces the list's
// ML-KEM certificate, if it had one; that one keeps decrypting posts for
// DefaultGrace.
func (s *Service) SetListKEM(ctx context.Context, list string, k *smime.KEMIdentity) (*store.List, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if err := needSMIMEIdentity(l); err != nil {
		return nil, err
	}
	if k == nil {
		return nil, fmt.Errorf("%w: no ML-KEM certificate", ErrInvalid)
	}
	info := smime.CertInfo(k.Cert)
	if err := keyring.CheckMemberKey(info, l.Address, s.now()); err != nil {
		return nil, fmt.Errorf("%w: ML-KEM certificate: %v", ErrInvalid, err)
	}
	if !info.PostQuantum {
		return nil, fmt.Errorf("%w: certificate %s (%s) is not an ML-KEM-768 or ML-KEM-1024 encryption certificate", ErrInvalid, info.Fingerprint, info.Algorithm)
	}
	secret, err := k.MarshalSecret()
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	sealed, err := s.sealer.Seal(secret, keyring.ListKeyLabel(l.Address, info.Fingerprint))
	if err != nil {
		return nil, err
	}
	detail := "ML-KEM certificate " + info.Fingerprint + " (" + info.Algorithm + ")"
	retired, said := s.retireCert(store.RetiredMLKEM, "ML-KEM certificate", l.SMIMEKEMCert, l.SMIMEKEMSealed, info.Fingerprint, DefaultGrace)
	detail += said
	l.SMIMEKEMCert, l.SMIMEKEMSealed = k.Cert.Raw, sealed
	if err := s.st.ReplaceListKEM(ctx, l, info.Fingerprint, retired); err != nil {
		return nil, err
	}
	return l, s.audit(ctx, "list.smime-kem", l.Address, "", detail)
}

// GenerateListKEM gives the list a new ML-KEM-768 key and a certificate
// for it issued by the list's own S/MIME certificate (same subject and
// address, keyUsage keyEncipherment alone, a subjectKeyIdentifier):
// members who trust the list's certificate can check it.
func (s *Service) GenerateListKEM(ctx context.Context, list string) (*store.List, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if err := needSMIMEIdentity(l); err != nil {
		return nil, err
	}
	id, err := s.sealer.OpenListIdentity(l)
	if err != nil {
		return nil, err
	}
	cert, key, err := smime.GenerateMLKEMCertificate(id, s.now(), s.rand)
	if err != nil {
		return nil, err
	}
	k, err := smime.NewKEMIdentity(cert, key)
	if err != nil {
		return nil, err
	}
	return s.SetListKEM(ctx, list, k)
}

// needSMIMEIdentity refuses an ML-KEM certificate to a list without an
// S/MIME identity: that one signs the list's copies, and issues the
// ML-KEM certificate GenerateListKEM makes.
func needSMIMEIdentity(l *store.List) error {
	if len(l.SMIMECert) == 0 {
		return fmt.Errorf("%w: list %s has no S/MIME certificate for the ML-KEM one to go beside (give it one with: %s)",
			ErrInvalid, l.Address, IdentityCommand(l.Address))
	}
	return nil
}
