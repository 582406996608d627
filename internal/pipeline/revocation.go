package pipeline

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// revocations are the CRLs (loadedCRLs and fetched) as they apply to list's certificates that are
// trusted by themselves: pinned, harvested, or on file for a gateway's
// correspondent. A chained certificate is checked with its chain instead
// (smime.CheckCertificate); the same CRLs apply to both. A CRL counts
// when its issuer is a global trust anchor, a certificate loaded beside
// the CRLs, one of the list's trust anchors, or in chain (the
// certificates a message carries). A CRL whose issuer is none of them
// revokes nothing: it cannot be told from a forgery (Sealpost warns about
// it at start-up). fetched are CRLs fetched for a message. Nil when there
// is no CRL at all.
func (p *Pipeline) revocations(ctx context.Context, list *store.List, chain []*x509.Certificate, fetched []*x509.RevocationList) (*smime.Revocations, error) {
	loaded, err := p.loadedCRLs(ctx)
	if err != nil {
		return nil, err
	}
	crls := append(slices.Clip(fetched), loaded...)
	if len(crls) == 0 {
		return nil, nil
	}
	anchors, err := p.listAnchors(ctx, list)
	if err != nil {
		return nil, err
	}
	issuers := slices.Concat(p.opt.TrustAnchors, p.opt.CRLIssuers, anchors, chain)
	// Verifying and indexing a large CRL takes milliseconds; the same
	// CRLs and issuers (every post to a list) give the same answer.
	h := sha256.New()
	for _, der := range slices.Concat(rawCRLs(crls), rawCerts(issuers)) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(der))))
		h.Write(der)
	}
	return cached(p.keys, cacheRevocations, list.Address, h.Sum(nil), func() (*smime.Revocations, error) {
		return smime.NewRevocations(crls, issuers), nil
	})
}

func rawCRLs(crls []*x509.RevocationList) [][]byte {
	out := make([][]byte, len(crls))
	for i, c := range crls {
		out[i] = c.Raw
	}
	return append(out, nil) // ends the CRLs: a certificate is not a CRL
}

func rawCerts(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

// listAnchors are the list's own trust anchors.
func (p *Pipeline) listAnchors(ctx context.Context, list *store.List) ([]*x509.Certificate, error) {
	ders, err := p.store.TrustAnchors(ctx, list.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*x509.Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := p.certificate("", der)
		if err != nil {
			return nil, fmt.Errorf("pipeline: trust anchor of %s: %w", list.Address, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// signerRevoked reports whether a CRL revokes the certificate of an
// S/MIME signature that is not judged through a chain: the loaded CRLs
// and those fetched from the distribution points the message's
// certificates name, with the message's certificates as candidate
// issuers.
func (p *Pipeline) signerRevoked(ctx context.Context, list *store.List, v *smime.Verified) (bool, error) {
	rev, err := p.revocations(ctx, list, v.Certificates, p.fetchCRLs(ctx, v.Certificates))
	if err != nil {
		return false, err
	}
	return rev.Check(v.Signer) != nil, nil
}

// addedCRLsFor is how long the CRLs an admin added are used before the
// store is read again: a CRL is issued for days, and a node sees
// another's addition within this.
const addedCRLsFor = time.Minute

// addedCRLs are the CRLs an admin added (the store's), as last read.
type addedCRLs struct {
	mu   sync.Mutex
	at   time.Time
	crls []*x509.RevocationList
}

// loadedCRLs are the configuration's CRLs and those an admin added
// (Service.AddCRLs checked their issuers; one that does not parse
// revokes nothing).
func (p *Pipeline) loadedCRLs(ctx context.Context) ([]*x509.RevocationList, error) {
	a := &p.added
	a.mu.Lock()
	defer a.mu.Unlock()
	if now := p.opt.Now(); a.at.IsZero() || now.Sub(a.at) >= addedCRLsFor || now.Before(a.at) {
		stored, err := p.store.CRLs(ctx)
		if err != nil {
			return nil, fmt.Errorf("pipeline: CRLs: %w", err)
		}
		a.crls = a.crls[:0:0]
		for _, c := range stored {
			if crl, err := x509.ParseRevocationList(c.Data); err == nil {
				a.crls = append(a.crls, crl)
			}
		}
		a.at = now
	}
	return slices.Concat(p.opt.CRLs, a.crls), nil
}
