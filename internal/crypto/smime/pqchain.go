package smime

// Chain building for certificates crypto/x509 cannot verify: a chain in
// which a link is signed with ML-DSA (RFC 9881). The rules are those
// crypto/x509's Verify applies to classical chains (RFC 5280 §6.1, as Go
// implements it), so that the trust decision does not depend on the
// algorithm: validity dates of every certificate, CA basic constraints
// and keyCertSign on every issuer, path length constraints, no unhandled
// critical extension, SHA-1 refused on classical links, and the
// email-protection EKU nested along the chain (RFC 8550 §4.4.4). Name
// and policy constraints are not evaluated: a chain through a
// certificate that has any is refused (fail closed).

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// pqMaxChain bounds the chain length (leaf, intermediates, anchor), as a
// guard against loops and wide searches over untrusted certificates.
const pqMaxChain = 8

// pqMaxSignatureChecks bounds the signatures verified for one chain, as
// crypto/x509 bounds its own (maxChainSignatureChecks): certificates that
// share a name and a key could otherwise make the search exponential.
const pqMaxSignatureChecks = 100

// pqChain returns a chain from cert to one of opt.Roots in which every
// link verifies (ML-DSA with circl, other algorithms with crypto/x509)
// and every certificate passes the rules above. Errors are *TrustError,
// with the reasons crypto/x509's errors map to in x509Chain.
func pqChain(cert *x509.Certificate, opt TrustOptions) ([]*x509.Certificate, error) {
	chain, err := pqBuild(cert, opt)
	if err != nil {
		return nil, err
	}
	if !pqEmailEKU(chain) {
		return nil, &TrustError{Reason: NoEmailEKU}
	}
	return chain, nil
}

// pqBuild returns a chain from cert to one of opt.Roots that passes the
// rules above except the EKU, or a *TrustError.
func pqBuild(cert *x509.Certificate, opt TrustOptions) ([]*x509.Certificate, error) {
	b := pqBuilder{opt: opt, candidates: slices.Concat(opt.Intermediates, opt.Roots)}
	if err := b.certOK(cert); err != nil {
		return nil, err
	}
	if chain := b.extend([]*x509.Certificate{cert}); chain != nil {
		return chain, nil
	}
	if b.firstErr != nil {
		return nil, b.firstErr
	}
	return nil, &TrustError{Reason: Untrusted, Detail: "no chain to a trust anchor for " + cert.Issuer.String()}
}

// pqBuilder searches depth-first for a chain to an anchor.
type pqBuilder struct {
	opt        TrustOptions
	candidates []*x509.Certificate
	// firstErr is why the first rejected issuer candidate was rejected:
	// the reason given when no chain is found.
	firstErr *TrustError
	// checks counts the signatures verified, up to pqMaxSignatureChecks.
	checks int
}

// extend returns chain completed to an anchor, or nil.
func (b *pqBuilder) extend(chain []*x509.Certificate) []*x509.Certificate {
	cur := chain[len(chain)-1]
	if slices.ContainsFunc(b.opt.Roots, cur.Equal) {
		return chain
	}
	if len(chain) == pqMaxChain || b.checks > pqMaxSignatureChecks {
		return nil
	}
	for _, issuer := range b.candidates {
		if !bytes.Equal(issuer.RawSubject, cur.RawIssuer) || slices.ContainsFunc(chain, issuer.Equal) {
			continue
		}
		if err := b.linkOK(cur, issuer, len(chain)-1); err != nil {
			if b.firstErr == nil {
				b.firstErr = err
			}
			continue
		}
		if full := b.extend(append(slices.Clip(chain), issuer)); full != nil {
			return full
		}
	}
	return nil
}

// linkOK checks issuer as the issuer of cert, with below CA certificates
// between cert's issuer and the leaf.
func (b *pqBuilder) linkOK(cert, issuer *x509.Certificate, below int) *TrustError {
	if err := b.certOK(issuer); err != nil {
		return err
	}
	// RFC 5280 §4.2.1.9, §6.1.4 (k), (l); §4.2.1.3 keyCertSign.
	switch {
	case !issuer.BasicConstraintsValid || !issuer.IsCA:
		return &TrustError{Reason: Untrusted, Detail: issuer.Subject.String() + " is not a certification authority"}
	case issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCertSign == 0:
		return &TrustError{Reason: Untrusted, Detail: issuer.Subject.String() + " may not sign certificates"}
	case issuer.MaxPathLen >= 0 && below > issuer.MaxPathLen:
		return &TrustError{Reason: Untrusted, Detail: "too many intermediates for the path length constraint of " + issuer.Subject.String()}
	case pqHasNameConstraints(issuer):
		return &TrustError{Reason: Untrusted, Detail: "name constraints of " + issuer.Subject.String() + " are not checked on an ML-DSA chain"}
	}
	if b.checks++; b.checks > pqMaxSignatureChecks {
		return &TrustError{Reason: Untrusted, Detail: "too many certificates to try for the chain"}
	}
	if err := certSignedBy(cert, issuer, true); err != nil {
		return &TrustError{Reason: Untrusted, Detail: fmt.Sprintf("%s: %v", cert.Subject, err)}
	}
	return nil
}

// certOK checks what each certificate of a chain must satisfy by itself.
func (b *pqBuilder) certOK(c *x509.Certificate) *TrustError {
	if b.opt.Now.Before(c.NotBefore) || b.opt.Now.After(c.NotAfter) {
		return &TrustError{Reason: Expired, Detail: "a certificate in the chain"}
	}
	if len(c.UnhandledCriticalExtensions) > 0 {
		return &TrustError{Reason: Untrusted, Detail: fmt.Sprintf("unhandled critical extension in %s", c.Subject)}
	}
	if pqHasPolicyConstraints(c) {
		return &TrustError{Reason: Untrusted, Detail: fmt.Sprintf("policy constraints of %s are not checked on an ML-DSA chain", c.Subject)}
	}
	return nil
}

// MLDSAChain is for describing a certificate (admin's key details)
// rather than accepting a signature: when a link of cert's chain is
// signed with ML-DSA, which crypto/x509's Verify cannot check, it builds
// the chain to one of roots through intermediates at now with
// CheckCertificate's rules but without the address, key usage and EKU
// requirements. involved is false when no ML-DSA signature is involved:
// crypto/x509's answer then stands.
func MLDSAChain(cert *x509.Certificate, roots, intermediates []*x509.Certificate, now time.Time) (chain []*x509.Certificate, involved bool, err error) {
	if !mldsaInvolved(cert, intermediates) {
		return nil, false, nil
	}
	chain, err = pqBuild(cert, TrustOptions{Roots: roots, Intermediates: intermediates, Now: now})
	return chain, true, err
}

// pqHasPolicyConstraints reports whether c constrains certificate
// policies (RFC 5280 §4.2.1.11, §4.2.1.14), which crypto/x509 evaluates
// and this chain building does not: such a chain is refused.
func pqHasPolicyConstraints(c *x509.Certificate) bool {
	return c.RequireExplicitPolicy > 0 || c.RequireExplicitPolicyZero ||
		c.InhibitPolicyMapping > 0 || c.InhibitPolicyMappingZero ||
		c.InhibitAnyPolicy > 0 || c.InhibitAnyPolicyZero
}

// pqHasNameConstraints reports whether c constrains names.
func pqHasNameConstraints(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+
		len(c.ExcludedIPRanges)+len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+
		len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0 || c.PermittedDNSDomainsCritical
}

// pqEmailEKU reports whether every certificate of chain allows email
// protection: no EKU, anyExtendedKeyUsage, or emailProtection (the
// nesting crypto/x509 applies, RFC 8550 §4.4.4).
func pqEmailEKU(chain []*x509.Certificate) bool {
	for _, c := range chain {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			continue
		}
		if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageEmailProtection) {
			return false
		}
	}
	return true
}

// mldsaInvolved reports whether cert or one of the candidate
// intermediates is signed with ML-DSA.
func mldsaInvolved(cert *x509.Certificate, intermediates []*x509.Certificate) bool {
	return mldsaSigned(cert) || slices.ContainsFunc(intermediates, mldsaSigned)
}
