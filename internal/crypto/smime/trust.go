package smime

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// TrustReason says why a certificate is not trusted for an address.
type TrustReason int

// Reasons a certificate is refused. The names follow the wording Sympa
// and OpenSSL users know ("No CRL known", "CRL too old").
const (
	Untrusted       TrustReason = iota + 1 // no chain to a configured trust anchor
	Expired                                // outside its validity period
	NoEmailEKU                             // not valid for email protection
	AddressMismatch                        // no rfc822Name SAN equals the address
	Revoked                                // listed on a CRL of its issuer
	CRLTooOld                              // the issuer's CRL is past its nextUpdate
	NoCRL                                  // CRLs are required and none is known for the issuer
	NotForSigning                          // its key usage does not allow signing
)

var trustReasonText = map[TrustReason]string{
	Untrusted:       "certificate does not chain to a trusted authority",
	Expired:         "certificate is expired or not yet valid",
	NoEmailEKU:      "certificate is not valid for email protection",
	AddressMismatch: "certificate is not issued for this address",
	Revoked:         "certificate is revoked",
	CRLTooOld:       "CRL too old",
	NoCRL:           "No CRL known",
	NotForSigning:   "certificate is not for signing",
}

func (r TrustReason) String() string { return trustReasonText[r] }

// TrustError reports why a certificate was refused.
type TrustError struct {
	Reason TrustReason
	Detail string
}

func (e *TrustError) Error() string {
	if e.Detail == "" {
		return "smime: " + e.Reason.String()
	}
	return "smime: " + e.Reason.String() + ": " + e.Detail
}

// TrustOptions are the inputs of a trust decision.
type TrustOptions struct {
	// Roots are the trust anchors (a list's own plus the global ones).
	Roots []*x509.Certificate
	// Intermediates are candidate intermediate certificates, typically
	// those carried in the signed message.
	Intermediates []*x509.Certificate
	// Now is the verification time.
	Now time.Time
	// CRLs are the revocation lists the administrator loaded (or that
	// were fetched); each is used only for the issuer that signed it.
	CRLs []*x509.RevocationList
	// RequireCRL refuses a certificate whose issuer has no CRL here.
	RequireCRL bool
}

// CheckCertificate decides whether cert may sign for addr: it must
// chain to a trust anchor at Now with the email-protection EKU (RFC 8550
// §4.4.4, checked along the whole chain), carry addr as an address
// (RFC 8550 §3: an rfc822Name SAN or a PKCS #9 emailAddress in the
// subject; compared without regard to case, the whole addr-spec, never
// the display name), allow signing when it has a key usage extension
// (RFC 8550 §4.4.2: digitalSignature or nonRepudiation), and not be
// revoked by a CRL of its issuer.
//
// crypto/x509 builds and checks the chain, except when a certificate
// involved is signed with ML-DSA, which it cannot verify: then the chain
// is built here (pqchain.go) with the same rules, and the same reasons
// are given for a refusal.
func CheckCertificate(cert *x509.Certificate, addr string, opt TrustOptions) error {
	if opt.Now.Before(cert.NotBefore) || opt.Now.After(cert.NotAfter) {
		return &TrustError{Reason: Expired, Detail: fmt.Sprintf("valid %s to %s",
			cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))}
	}
	if !hasAddress(cert, addr) {
		return &TrustError{Reason: AddressMismatch, Detail: fmt.Sprintf("%s is not among %v", addr, certAddresses(cert))}
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return &TrustError{Reason: NotForSigning}
	}
	var chain []*x509.Certificate
	var err error
	if mldsaInvolved(cert, opt.Intermediates) {
		chain, err = pqChain(cert, opt)
	} else {
		chain, err = x509Chain(cert, opt)
	}
	if err != nil {
		return err
	}
	return checkRevocation(chain, opt)
}

// x509Chain is the chain crypto/x509 builds from cert to a trust anchor.
func x509Chain(cert *x509.Certificate, opt TrustOptions) ([]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range opt.Intermediates {
		pool.AddCert(c)
	}
	roots := x509.NewCertPool()
	for _, c := range opt.Roots {
		roots.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   opt.Now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
			return nil, &TrustError{Reason: NoEmailEKU}
		}
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, &TrustError{Reason: Expired, Detail: "a certificate in the chain"}
		}
		return nil, &TrustError{Reason: Untrusted, Detail: err.Error()}
	}
	return chains[0], nil
}

func hasAddress(cert *x509.Certificate, addr string) bool {
	for _, a := range certAddresses(cert) {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// checkRevocation checks every certificate of the chain below the anchor
// against the CRLs its issuer signed (RFC 5280 §6.3, without delta CRLs
// or partitioned CRLs).
func checkRevocation(chain []*x509.Certificate, opt TrustOptions) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		crl := issuerCRL(issuer, opt.CRLs)
		if crl == nil {
			if opt.RequireCRL {
				return &TrustError{Reason: NoCRL, Detail: "issuer " + issuer.Subject.String()}
			}
			continue
		}
		if !crl.NextUpdate.IsZero() && opt.Now.After(crl.NextUpdate) {
			return &TrustError{Reason: CRLTooOld, Detail: "next update was due " + crl.NextUpdate.Format(time.DateOnly)}
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return revokedError(e.RevocationTime)
			}
		}
	}
	return nil
}

func revokedError(at time.Time) error {
	return &TrustError{Reason: Revoked, Detail: "on " + at.Format(time.DateOnly)}
}

// issuerCRL returns the newest CRL that issuer signed, or nil.
func issuerCRL(issuer *x509.Certificate, crls []*x509.RevocationList) *x509.RevocationList {
	var best *x509.RevocationList
	for _, crl := range crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crlSignedBy(crl, issuer) != nil {
			continue
		}
		if best == nil || crl.ThisUpdate.After(best.ThisUpdate) {
			best = crl
		}
	}
	return best
}

// Revocations are CRLs as they apply to certificates trusted by
// themselves rather than through a chain: a member's pinned or harvested
// certificate, a gateway correspondent's. A CRL covers every certificate
// its issuer signed, pinned or chained (RFC 5280 §3.3), but here no chain
// names the issuer, so a CRL counts only when one of the candidate
// issuer certificates it was built with verifies its signature (RFC 5280
// §6.3.3 (f)) and signed the certificate too: a CRL of another authority
// with the same name revokes nothing. Of an issuer's CRLs the newest
// decides.
//
// A CRL past its nextUpdate still revokes what it lists: a revocation is
// permanent (RFC 5280 §3.3; only a certificateHold, §5.3.1, may be lifted,
// by a newer CRL), so a CRL that is not refreshed cannot bring a revoked
// certificate back. It is not needed to clear one either: a pinned
// certificate is trusted because an administrator or the member's earlier
// mail vouched for it, and RequireCRL does not apply to it.
type Revocations struct {
	issued     []issuedCRL
	unverified []*x509.RevocationList
}

// issuedCRL is an issuer's newest CRL, its entries by serial number.
type issuedCRL struct {
	issuer  *x509.Certificate
	revoked map[string]time.Time
}

// NewRevocations verifies crls against the candidate issuers (trust
// anchors, certificates loaded beside the CRLs, the chain a message
// carries) once, for checking many certificates.
func NewRevocations(crls []*x509.RevocationList, issuers []*x509.Certificate) *Revocations {
	var distinct []*x509.Certificate
	for _, c := range issuers {
		if !slices.ContainsFunc(distinct, c.Equal) {
			distinct = append(distinct, c)
		}
	}
	newest := make([]*x509.RevocationList, len(distinct))
	r := &Revocations{}
	for _, crl := range crls {
		verified := false
		for i, issuer := range distinct {
			if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crlSignedBy(crl, issuer) != nil {
				continue
			}
			verified = true
			if newest[i] == nil || crl.ThisUpdate.After(newest[i].ThisUpdate) {
				newest[i] = crl
			}
		}
		if !verified {
			r.unverified = append(r.unverified, crl)
		}
	}
	for i, crl := range newest {
		if crl == nil {
			continue
		}
		ic := issuedCRL{issuer: distinct[i], revoked: make(map[string]time.Time, len(crl.RevokedCertificateEntries))}
		for _, e := range crl.RevokedCertificateEntries {
			ic.revoked[serialKey(e.SerialNumber)] = e.RevocationTime
		}
		r.issued = append(r.issued, ic)
	}
	return r
}

// Check returns a *TrustError with reason Revoked when the CRL of an
// issuer that signed cert lists it, and nil otherwise. A nil Revocations
// revokes nothing.
func (r *Revocations) Check(cert *x509.Certificate) error {
	if r == nil {
		return nil
	}
	serial := serialKey(cert.SerialNumber)
	for _, ic := range r.issued {
		at, listed := ic.revoked[serial]
		// The issuer's key signed cert, SHA-1 accepted: an old
		// certificate is revoked like any other.
		if listed && bytes.Equal(ic.issuer.RawSubject, cert.RawIssuer) && certSignedBy(cert, ic.issuer, false) == nil {
			return revokedError(at)
		}
	}
	return nil
}

// serialKey is a serial number as a map key: its sign and magnitude.
func serialKey(n *big.Int) string {
	return string(append([]byte{byte(n.Sign() + 1)}, n.Bytes()...))
}

// Unverified are the CRLs that none of the candidate issuers signed:
// they revoke nothing here.
func (r *Revocations) Unverified() []*x509.RevocationList {
	if r == nil {
		return nil
	}
	return r.unverified
}
