package admin

import (
	"context"
	"crypto/x509"
	"slices"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// revocations are the loaded CRLs (the configuration's and those an
// admin added, Service.AddCRL) as they apply to certificates trusted by
// themselves (a member's pinned or harvested certificate, a list's own),
// judged as the pipeline judges them (smime.Revocations): a CRL counts
// when a global or installation trust anchor, a certificate loaded
// beside the CRLs, one of listAnchors or of chain verifies it. Nil when
// no CRL is loaded.
func (s *Service) revocations(ctx context.Context, listAnchors, chain []*x509.Certificate) (*smime.Revocations, error) {
	crls, err := s.loadedCRLs(ctx)
	if err != nil || len(crls) == 0 {
		return nil, err
	}
	inst, err := s.installationAnchors(ctx)
	if err != nil {
		return nil, err
	}
	return smime.NewRevocations(crls, slices.Concat(s.anchors, inst, s.crlIssuers, listAnchors, chain)), nil
}

// anchorsOf are the lists' own trust anchors (one that does not parse is
// left out: it anchors nothing either).
func (s *Service) anchorsOf(ctx context.Context, lists ...*store.List) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, l := range lists {
		ders, err := s.st.TrustAnchors(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		for _, der := range ders {
			if c, err := x509.ParseCertificate(der); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// markRevoked marks info, the description of the key data, revoked when
// it is a certificate that rev revokes: from then on its status is "Key
// revoked" wherever it is judged (keyring.CheckMemberKey, key check, the
// badges).
func markRevoked(rev *smime.Revocations, data []byte, info *crypto.KeyInfo) {
	if rev == nil || info.Engine != crypto.SMIME {
		return
	}
	if c, err := x509.ParseCertificate(data); err == nil && rev.Check(c) != nil {
		info.Revoked = true
	}
}

// judgeCRLs marks info, the description of key data offered for a member
// of l, revoked when a loaded CRL revokes it.
func (s *Service) judgeCRLs(ctx context.Context, l *store.List, data []byte, info *crypto.KeyInfo) error {
	anchors, err := s.anchorsOf(ctx, l)
	if err != nil {
		return err
	}
	rev, err := s.revocations(ctx, anchors, nil)
	markRevoked(rev, data, info)
	return err
}

// UnverifiedCRLs are the loaded CRLs that no certificate Sealpost knows
// verifies: no global trust anchor, no certificate loaded beside the
// CRLs and no list's trust anchor is their issuer. They revoke nothing,
// except for a message that carries their issuer's certificate.
func (s *Service) UnverifiedCRLs(ctx context.Context) ([]*x509.RevocationList, error) {
	if err := s.requireAdmin("inspect the loaded CRLs"); err != nil {
		return nil, err
	}
	anchors, err := s.everyListsAnchors(ctx)
	if err != nil {
		return nil, err
	}
	rev, err := s.revocations(ctx, anchors, nil)
	if err != nil || rev == nil {
		return nil, err
	}
	return rev.Unverified(), nil
}

// everyListsAnchors are the trust anchors of every list (with the
// installation's, which every list trusts).
func (s *Service) everyListsAnchors(ctx context.Context) ([]*x509.Certificate, error) {
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*store.List, len(lists))
	for i := range lists {
		ptrs[i] = &lists[i]
	}
	return s.anchorsOf(ctx, ptrs...)
}
