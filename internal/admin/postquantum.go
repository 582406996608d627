package admin

import (
	"context"
	"crypto/x509"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
)

// Readiness is whether one key of a list, or one member's copies, is
// protected against a quantum computer: for the list's own keys, whether
// posts can be encrypted to it with ML-KEM; for a member, whether their
// copies are.
type Readiness struct {
	List        string
	Holder      string // "list" for the list's own keys, else the member's address
	Engine      crypto.Engine
	Fingerprint string // "" for a member who gets no copies
	PostQuantum bool
}

// PostQuantum reports, for list (or every list when list is empty), the
// list's own encryption keys and each member's copies: which are
// encrypted with ML-KEM. "key check --post-quantum" prints it.
func (s *Service) PostQuantum(ctx context.Context, list string) ([]Readiness, error) {
	lists, err := s.scope(ctx, list)
	if err != nil {
		return nil, err
	}
	var out []Readiness
	for _, l := range lists {
		if info, err := s.KeyInfo(&l); err == nil {
			out = append(out, Readiness{List: l.Address, Holder: "list", Engine: crypto.OpenPGP,
				Fingerprint: info.Fingerprint, PostQuantum: info.PostQuantum})
		}
		if c, err := x509.ParseCertificate(l.SMIMECert); err == nil {
			info := smime.CertInfo(c)
			out = append(out, Readiness{List: l.Address, Holder: "list", Engine: crypto.SMIME,
				Fingerprint: info.Fingerprint, PostQuantum: info.PostQuantum})
		}
		if c, err := x509.ParseCertificate(l.SMIMEKEMCert); err == nil {
			info := smime.CertInfo(c)
			out = append(out, Readiness{List: l.Address, Holder: "list", Engine: crypto.SMIME,
				Fingerprint: info.Fingerprint, PostQuantum: info.PostQuantum})
		}
		vs, err := s.Members(ctx, l.Address)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			r := Readiness{List: l.Address, Holder: v.Email, Fingerprint: v.CopyKey, PostQuantum: v.PostQuantum}
			for _, mk := range v.Member.Keys {
				if mk.Fingerprint == v.CopyKey {
					r.Engine = crypto.Engine(mk.Engine)
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// Copies says how the member's copies are encrypted: "post-quantum"
// (with ML-KEM), "classical", or "none" when they get none.
func (v MemberView) Copies() string {
	switch {
	case v.CopyKey == "":
		return "none"
	case v.PostQuantum:
		return "post-quantum"
	}
	return "classical"
}

// CopyProtection counts a list's members, those of them who get copies,
// and those whose copies are encrypted with ML-KEM.
type CopyProtection struct {
	Members, Served, PostQuantum int
}

// Percent is the share of the members whose copies are post-quantum,
// rounded down; 0 for a list without members.
func (p CopyProtection) Percent() int {
	if p.Members == 0 {
		return 0
	}
	return p.PostQuantum * 100 / p.Members
}

// Protection counts how the members of list are sent copies.
func (s *Service) Protection(ctx context.Context, list string) (CopyProtection, error) {
	vs, err := s.Members(ctx, list)
	if err != nil {
		return CopyProtection{}, err
	}
	return ProtectionOf(vs), nil
}

// ProtectionOf counts how the members vs (of one list) are sent copies.
func ProtectionOf(vs []MemberView) CopyProtection {
	p := CopyProtection{Members: len(vs)}
	for _, v := range vs {
		if v.CopyKey != "" {
			p.Served++
		}
		if v.PostQuantum {
			p.PostQuantum++
		}
	}
	return p
}
