package admin

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// KeyringStore is what the keyring's admin pages need of the store
// besides the keys themselves: listing them, the installation's trust
// anchors and the CRLs an admin added.
type KeyringStore interface {
	ListKeys(ctx context.Context, f store.KeyFilter) (store.KeyPage, error)
	AddInstallationTrustAnchor(ctx context.Context, a store.TrustAnchor) error
	RemoveInstallationTrustAnchor(ctx context.Context, fingerprint string) error
	InstallationTrustAnchors(ctx context.Context) ([]store.TrustAnchor, error)
	ListAnchors(ctx context.Context) ([]store.ListAnchor, error)
	PutCRL(ctx context.Context, c store.CRL) (bool, error)
	CRLs(ctx context.Context) ([]store.CRL, error)
}

// KeysPerPage is how many keys a page of ListKeys holds unless asked
// for fewer; store.MaxKeysPage is the most it holds.
const KeysPerPage = 50

// KeyStatuses are the statuses ListKeys filters by, in the order the
// pages offer them.
var KeyStatuses = []string{store.KeyStatusValid, store.KeyStatusExpiring, store.KeyStatusExpired, store.KeyStatusRevoked, store.KeyStatusWeak}

// KeyQuery selects a page of the keyring (ListKeys).
type KeyQuery struct {
	Address string // part of an address, any case
	Engine  string // store.EngineOpenPGP, store.EngineSMIME or "" (both)
	Status  string // one of KeyStatuses, or "" (any)
	Offset  int
	Limit   int // 0: KeysPerPage; at most store.MaxKeysPage
}

// KeyListing is one page of the keyring.
type KeyListing struct {
	Keys          []KeyDetails
	Total         int // keys matching on every page
	Offset, Limit int
}

// ListKeys returns a page of the keyring, filtered by part of an
// address, engine and status (expiring: within ExpiringWithin), ordered
// by fingerprint: all of it for an admin, the keys of their lists and
// their lists' members for anyone else (as FindKey). An actor limited to
// one list may not list it (a key names who uses it, on every list).
func (s *Service) ListKeys(ctx context.Context, q KeyQuery) (KeyListing, error) {
	if err := s.requireUnlimited("list the keyring"); err != nil {
		return KeyListing{}, err
	}
	var listIDs []int64 // nil: every key
	if !s.actor.IsAdmin() {
		lists, err := s.Lists(ctx)
		if err != nil {
			return KeyListing{}, err
		}
		listIDs = make([]int64, 0, len(lists))
		for _, l := range lists {
			listIDs = append(listIDs, l.ID)
		}
	}
	if q.Engine != "" && q.Engine != store.EngineOpenPGP && q.Engine != store.EngineSMIME {
		return KeyListing{}, fmt.Errorf("%w: engine %q is neither %s nor %s", ErrInvalid, q.Engine, store.EngineOpenPGP, store.EngineSMIME)
	}
	if q.Status != "" && !slices.Contains(KeyStatuses, q.Status) {
		return KeyListing{}, fmt.Errorf("%w: status %q is not one of %s", ErrInvalid, q.Status, strings.Join(KeyStatuses, ", "))
	}
	if q.Offset < 0 || q.Limit < 0 {
		return KeyListing{}, fmt.Errorf("%w: offset and limit cannot be negative", ErrInvalid)
	}
	if q.Limit == 0 {
		q.Limit = KeysPerPage
	}
	q.Limit = min(q.Limit, store.MaxKeysPage)
	page, err := s.st.ListKeys(ctx, store.KeyFilter{Address: q.Address, Engine: q.Engine, Status: q.Status, ListIDs: listIDs,
		Now: s.now(), Within: ExpiringWithin, Offset: q.Offset, Limit: q.Limit})
	if err != nil {
		return KeyListing{}, err
	}
	out := KeyListing{Total: page.Total, Offset: q.Offset, Limit: q.Limit, Keys: make([]KeyDetails, 0, len(page.Keys))}
	for _, k := range page.Keys {
		d, err := s.details(ctx, k)
		if err != nil {
			return KeyListing{}, err
		}
		out.Keys = append(out.Keys, d)
	}
	return out, nil
}

// Where a trust anchor or CRL comes from (TrustAnchor.Source, CRLView.Source).
const (
	FromConfig = "configuration" // [smime] trust_anchors or crls: changed there
	FromAdmin  = "added"         // added by an admin (page, API): removable there
)

// TrustAnchor is a certification authority every list trusts.
type TrustAnchor struct {
	Cert        *x509.Certificate
	Fingerprint string
	Subject     string // smime.NameString
	Source      string // FromConfig or FromAdmin
}

// CRLView is a loaded certificate revocation list.
type CRLView struct {
	Issuer                 string // smime.NameString
	ThisUpdate, NextUpdate string // dates, for people; NextUpdate "" when none
	Entries                int
	Source                 string // FromConfig or FromAdmin
	CRL                    *x509.RevocationList
}

// installationAnchors are the trust anchors an admin added for every
// list (one that does not parse anchors nothing and is left out).
func (s *Service) installationAnchors(ctx context.Context) ([]*x509.Certificate, error) {
	as, err := s.st.InstallationTrustAnchors(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*x509.Certificate, 0, len(as))
	for _, a := range as {
		if c, err := x509.ParseCertificate(a.Cert); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// loadedCRLs are the configuration's CRLs and those an admin added.
func (s *Service) loadedCRLs(ctx context.Context) ([]*x509.RevocationList, error) {
	stored, err := s.st.CRLs(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Clip(s.crls)
	for _, c := range stored {
		if crl, err := x509.ParseRevocationList(c.Data); err == nil {
			out = append(out, crl)
		}
	}
	return out, nil
}

// GlobalTrustAnchors returns the trust anchors every list trusts: the
// configuration's and those an admin added. Each list may trust more of
// its own (TrustAnchors).
func (s *Service) GlobalTrustAnchors(ctx context.Context) ([]TrustAnchor, error) {
	if err := s.requireAdmin("see the installation's trust anchors"); err != nil {
		return nil, err
	}
	out := make([]TrustAnchor, 0, len(s.anchors))
	for _, c := range s.anchors {
		out = append(out, anchorView(c, FromConfig))
	}
	inst, err := s.installationAnchors(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range inst {
		out = append(out, anchorView(c, FromAdmin))
	}
	return out, nil
}

// AddGlobalTrustAnchors makes the CA certificates in data (PEM, one or
// more, or DER) trust anchors of every list. Only an admin may.
func (s *Service) AddGlobalTrustAnchors(ctx context.Context, data []byte) ([]TrustAnchor, error) {
	if err := s.requireAdmin("change the installation's trust anchors"); err != nil {
		return nil, err
	}
	certs, err := caCertificates(data)
	if err != nil {
		return nil, err
	}
	out := make([]TrustAnchor, 0, len(certs))
	for _, c := range certs {
		a := anchorView(c, FromAdmin)
		if err := s.st.AddInstallationTrustAnchor(ctx, store.TrustAnchor{Fingerprint: a.Fingerprint, Cert: c.Raw, CreatedAt: s.now()}); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, "trust.add", "", a.Fingerprint, a.Subject); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func anchorView(c *x509.Certificate, source string) TrustAnchor {
	return TrustAnchor{Cert: c, Fingerprint: smime.Fingerprint(c), Subject: smime.NameString(c.RawSubject), Source: source}
}

// caCertificates reads the certificates of data and refuses any that is
// not a certification authority's.
func caCertificates(data []byte) ([]*x509.Certificate, error) {
	first, rest, err := smime.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%w: not a certificate (PEM or DER): %v", ErrInvalid, err)
	}
	certs := append([]*x509.Certificate{first}, rest...)
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrInvalid, smime.NameString(c.RawSubject))
		}
	}
	return certs, nil
}

// RemoveGlobalTrustAnchor stops trusting, for every list, a trust anchor
// an admin added. Those of the configuration are removed there.
func (s *Service) RemoveGlobalTrustAnchor(ctx context.Context, fingerprint string) error {
	if err := s.requireAdmin("change the installation's trust anchors"); err != nil {
		return err
	}
	fpr := strings.ToUpper(strings.ReplaceAll(fingerprint, " ", ""))
	err := s.st.RemoveInstallationTrustAnchor(ctx, fpr)
	if errors.Is(err, store.ErrNotFound) {
		for _, c := range s.anchors {
			if smime.Fingerprint(c) == fpr {
				return fmt.Errorf("%w: trust anchor %s comes from [smime] trust_anchors of the configuration: remove it there", ErrInvalid, fpr)
			}
		}
		return fmt.Errorf("%w: no trust anchor %s was added", ErrNotFound, fpr)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "trust.remove", "", fpr, "")
}

// CRLs returns the loaded revocation lists: the configuration's and
// those an admin added.
func (s *Service) CRLs(ctx context.Context) ([]CRLView, error) {
	if err := s.requireAdmin("see the loaded CRLs"); err != nil {
		return nil, err
	}
	out := make([]CRLView, 0, len(s.crls))
	for _, c := range s.crls {
		out = append(out, crlView(c, FromConfig))
	}
	stored, err := s.st.CRLs(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range stored {
		if crl, err := x509.ParseRevocationList(c.Data); err == nil {
			out = append(out, crlView(crl, FromAdmin))
		}
	}
	return out, nil
}

func crlView(c *x509.RevocationList, source string) CRLView {
	v := CRLView{Issuer: smime.NameString(c.RawIssuer), ThisUpdate: c.ThisUpdate.UTC().Format("2006-01-02 15:04 MST"),
		Entries: len(c.RevokedCertificateEntries), Source: source, CRL: c}
	if !c.NextUpdate.IsZero() {
		v.NextUpdate = c.NextUpdate.UTC().Format("2006-01-02 15:04 MST")
	}
	return v
}

// AddCRLs loads the revocation lists in data (PEM "X509 CRL" blocks, or
// DER) for every list: a certificate one of them revokes is judged
// revoked from then on. A CRL must be signed by an issuer Sealpost
// knows (a trust anchor, global or of a list, or a certificate loaded
// beside the configuration's CRLs), else it could not be told from a
// forgery; one as new as the issuer's loaded CRL changes nothing.
func (s *Service) AddCRLs(ctx context.Context, data []byte) ([]CRLView, error) {
	if err := s.requireAdmin("load CRLs"); err != nil {
		return nil, err
	}
	crls, err := parseCRLs(data)
	if err != nil {
		return nil, err
	}
	issuers, err := s.knownIssuers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CRLView, 0, len(crls))
	for _, crl := range crls {
		name := smime.NameString(crl.RawIssuer)
		if !slices.ContainsFunc(issuers, func(c *x509.Certificate) bool { return smime.CRLSignedBy(crl, c) }) {
			return out, fmt.Errorf("%w: the CRL of %s is signed by no certification authority Sealpost knows: add the authority's certificate as a trust anchor first", ErrInvalid, name)
		}
		sum := sha256.Sum256(crl.RawIssuer)
		stored, err := s.st.PutCRL(ctx, store.CRL{IssuerHash: strings.ToUpper(hex.EncodeToString(sum[:])), Issuer: name,
			ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, Data: crl.Raw, CreatedAt: s.now()})
		if err != nil {
			return out, err
		}
		if !stored {
			return out, fmt.Errorf("%w: a CRL of %s as new as this one (%s) is loaded already", ErrExists, name, crl.ThisUpdate.UTC().Format("2006-01-02 15:04 MST"))
		}
		if err := s.audit(ctx, "crl.add", "", name, fmt.Sprintf("%d revoked, this update %s", len(crl.RevokedCertificateEntries), crl.ThisUpdate.UTC().Format(time.RFC3339))); err != nil {
			return out, err
		}
		out = append(out, crlView(crl, FromAdmin))
	}
	return out, nil
}

// parseCRLs reads the CRLs of a PEM file ("X509 CRL" blocks) or one DER CRL.
func parseCRLs(data []byte) ([]*x509.RevocationList, error) {
	ders := [][]byte{data}
	if block, _ := pem.Decode(data); block != nil {
		ders = nil
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if block.Type == "X509 CRL" {
				ders = append(ders, block.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, fmt.Errorf("%w: the PEM file holds no X509 CRL", ErrInvalid)
		}
	}
	out := make([]*x509.RevocationList, 0, len(ders))
	for _, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%w: not a certificate revocation list (PEM or DER): %v", ErrInvalid, err)
		}
		out = append(out, crl)
	}
	return out, nil
}

// knownIssuers are the certificates that may sign a CRL: every trust
// anchor (global, the installation's, every list's) and the certificates
// loaded beside the configuration's CRLs.
func (s *Service) knownIssuers(ctx context.Context) ([]*x509.Certificate, error) {
	listAnchors, err := s.everyListsAnchors(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := s.installationAnchors(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Concat(s.anchors, inst, s.crlIssuers, listAnchors), nil
}
