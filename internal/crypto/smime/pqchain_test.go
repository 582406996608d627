package smime

import (
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestCheckCertificateMLDSA: CheckCertificate over chains signed with
// ML-DSA, start valid, break one thing; each refusal has the reason a
// classical chain gets for the same fault (TestCheckCertificate).
func TestCheckCertificateMLDSA(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	inter := ca.Intermediate(openssltest.MLDSA87, "PQ Intermediate")
	// Same name as ca, another key: it can sign nothing ca vouches for.
	impostor := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	other := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "Other PQ Root")
	alice := ca.Issue("Alice@Example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	alice87 := inter.Issue("alice@example.com", openssltest.MLDSA87, openssltest.LeafOptions{})
	classical := ca.IssueClassical("alice@example.com", openssltest.P256, openssltest.LeafOptions{})
	noEKU := ca.Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{NoEmailEKU: true})
	notForSigning := ca.Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{Usage: x509.KeyUsageCRLSign})
	stranger := other.Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	forged := impostor.Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	notCA := ca.Issue("carol@example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	underLeaf := openssltest.MLDSACertificate(t, &x509.Certificate{
		SerialNumber: big.NewInt(77), Subject: alice.Cert.Subject, EmailAddresses: []string{"alice@example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, &openssltest.MLDSACA{Cert: notCA.Cert, Key: notCA.Key}, nil, openssltest.NewMLDSAKey(t, openssltest.MLDSA65).Public)
	classicalInter, classicalLeaf := mixedChain(t, ca)
	constrainedInter, constrainedLeaf := constrainedChain(t, ca)
	now := time.Now()
	base := TrustOptions{Roots: []*x509.Certificate{ca.Cert}, Now: now}
	withInter := func(o TrustOptions) TrustOptions { o.Intermediates = []*x509.Certificate{inter.Cert}; return o }
	tests := []trustCase{
		{"valid ML-DSA-65 leaf", alice.Cert, "alice@example.com", nil, 0},
		{"valid through an ML-DSA-87 intermediate", alice87.Cert, "alice@example.com", withInter, 0},
		{"intermediate missing", alice87.Cert, "alice@example.com", nil, Untrusted},
		{"classical key, ML-DSA-signed", classical.Cert, "alice@example.com", nil, 0},
		{"classical intermediate under an ML-DSA root", classicalLeaf, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.Intermediates = []*x509.Certificate{classicalInter}
			return o
		}, 0},
		{"name constraints are not evaluated: refused", constrainedLeaf, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.Intermediates = []*x509.Certificate{constrainedInter}
			return o
		}, Untrusted},
		{"another address", alice.Cert, "bob@example.com", nil, AddressMismatch},
		{"untrusted CA", stranger.Cert, "alice@example.com", nil, Untrusted},
		{"CA name, another key", forged.Cert, "alice@example.com", nil, Untrusted},
		{"issued by a leaf", underLeaf, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.Intermediates = []*x509.Certificate{notCA.Cert}
			return o
		}, Untrusted},
		{"no email-protection EKU", noEKU.Cert, "alice@example.com", nil, NoEmailEKU},
		{"key usage without digitalSignature", notForSigning.Cert, "alice@example.com", nil, NotForSigning},
		{"expired", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions { o.Now = now.AddDate(5, 0, 0); return o }, Expired},
		{"anchor expired", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.Now = now.AddDate(1, 0, 0)
			o.Roots = []*x509.Certificate{expiredCopy(t, ca)}
			return o
		}, Expired},
		{"revoked by an ML-DSA CRL", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{ca.CRL(now.Add(time.Hour), alice.Cert.SerialNumber)}
			return o
		}, Revoked},
		{"intermediate revoked", alice87.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o = withInter(o)
			o.CRLs = []*x509.RevocationList{ca.CRL(now.Add(time.Hour), inter.Cert.SerialNumber)}
			return o
		}, Revoked},
		{"CRL of the impostor does not count", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{impostor.CRL(now.Add(time.Hour), alice.Cert.SerialNumber)}
			return o
		}, 0},
		{"CRL too old", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{ca.CRL(now.Add(-time.Minute))}
			return o
		}, CRLTooOld},
		{"No CRL known", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions { o.RequireCRL = true; return o }, NoCRL},
		{"current ML-DSA CRL, not listed", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.RequireCRL = true
			o.CRLs = []*x509.RevocationList{ca.CRL(now.Add(time.Hour), big.NewInt(999))}
			return o
		}, 0},
	}
	runTrustCases(t, base, tests)
}

// expiredCopy is ca's certificate re-issued (same name and key) to expire
// within the next year.
func expiredCopy(t *testing.T, ca *openssltest.MLDSACA) *x509.Certificate {
	t.Helper()
	tmpl := openssltest.CATemplate(ca.Cert.Subject.CommonName, 5)
	tmpl.NotAfter = time.Now().AddDate(0, 6, 0)
	return openssltest.MLDSACertificate(t, tmpl, nil, ca.Key, ca.Key.Public)
}

// TestUntrustedSameReason: an ML-DSA certificate from a CA that is not a
// trust anchor is refused for the reason a classical one is.
func TestUntrustedSameReason(t *testing.T) {
	trusted := openssltest.NewCA(t, openssltest.P256)
	pqTrusted := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	opt := TrustOptions{Roots: []*x509.Certificate{trusted.Cert, pqTrusted.Cert}, Now: time.Now()}
	classical := openssltest.NewCA(t, openssltest.RSA2048).Issue("alice@example.com", openssltest.P256, openssltest.LeafOptions{})
	pq := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "Untrusted PQ Root").Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	var classicalErr, pqErr *TrustError
	if !errors.As(CheckCertificate(classical.Cert, "alice@example.com", opt), &classicalErr) ||
		!errors.As(CheckCertificate(pq.Cert, "alice@example.com", opt), &pqErr) {
		t.Fatal("an untrusted certificate was accepted")
	}
	if classicalErr.Reason != Untrusted || pqErr.Reason != classicalErr.Reason {
		t.Errorf("classical: %v; ML-DSA: %v; want both %v", classicalErr, pqErr, Untrusted)
	}
	t.Logf("classical: %v\nML-DSA: %v", classicalErr, pqErr)
}

// TestRevocationsMLDSA: a pinned ML-DSA certificate is revoked by its
// ML-DSA issuer's CRL, not by an impostor's of the same name.
func TestRevocationsMLDSA(t *testing.T) {
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	impostor := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Root")
	alice := ca.Issue("alice@example.com", openssltest.MLDSA65, openssltest.LeafOptions{})
	next := time.Now().Add(time.Hour)
	r := NewRevocations([]*x509.RevocationList{ca.CRL(next, alice.Cert.SerialNumber)}, []*x509.Certificate{ca.Cert})
	var te *TrustError
	if err := r.Check(alice.Cert); !errors.As(err, &te) || te.Reason != Revoked {
		t.Errorf("issuer's CRL: %v, want Revoked", err)
	}
	r = NewRevocations([]*x509.RevocationList{impostor.CRL(next, alice.Cert.SerialNumber)}, []*x509.Certificate{ca.Cert})
	if err := r.Check(alice.Cert); err != nil || len(r.Unverified()) != 1 {
		t.Errorf("impostor's CRL: %v, %d unverified; want nil, 1", err, len(r.Unverified()))
	}
}

// mixedChain is a P-256 intermediate signed by ca's ML-DSA key and a
// P-256 leaf for alice@example.com that it signs (a classical link above
// an ML-DSA one).
func mixedChain(t *testing.T, ca *openssltest.MLDSACA) (inter, leaf *x509.Certificate) {
	t.Helper()
	ikey := openssltest.NewKey(t, openssltest.P256)
	inter = openssltest.MLDSACertificate(t, openssltest.CATemplate("Classical Intermediate", 300), ca, nil, ikey.Public())
	lkey := openssltest.NewKey(t, openssltest.P256)
	tmpl := openssltest.LeafTemplate("alice@example.com", x509.KeyUsageDigitalSignature, 301, openssltest.LeafOptions{})
	return inter, sigCreateCert(t, tmpl, inter, lkey.Public(), ikey)
}

// constrainedChain is an ML-DSA intermediate under ca permitted only
// example.com addresses (RFC 5280 §4.2.1.10) and an ML-DSA leaf for
// alice@example.com under it: allowed by the constraint, but the chain
// builder does not evaluate constraints and refuses it.
func constrainedChain(t *testing.T, ca *openssltest.MLDSACA) (inter, leaf *x509.Certificate) {
	t.Helper()
	ikey := openssltest.NewMLDSAKey(t, openssltest.MLDSA65)
	itmpl := openssltest.CATemplate("Constrained Intermediate", 302)
	itmpl.PermittedEmailAddresses = []string{"example.com"}
	inter = openssltest.MLDSACertificate(t, itmpl, ca, nil, ikey.Public)
	lkey := openssltest.NewMLDSAKey(t, openssltest.MLDSA65)
	tmpl := openssltest.LeafTemplate("alice@example.com", x509.KeyUsageDigitalSignature, 303, openssltest.LeafOptions{})
	return inter, openssltest.MLDSACertificate(t, tmpl, &openssltest.MLDSACA{Cert: inter, Key: ikey}, nil, lkey.Public)
}

// TestMLDSAChainSearchBounded: certificates that share a name and a key
// sign each other in every order; the search for a chain to an anchor
// that none reaches stops after a bounded number of signature checks
// (as crypto/x509's does) and the certificate is untrusted.
func TestMLDSAChainSearchBounded(t *testing.T) {
	key := openssltest.NewMLDSAKey(t, openssltest.MLDSA44)
	var loop []*x509.Certificate
	for i := range 12 {
		loop = append(loop, openssltest.MLDSACertificate(t, openssltest.CATemplate("Loop CA", int64(10+i)), nil, key, key.Public))
	}
	leaf := openssltest.MLDSACertificate(t, openssltest.LeafTemplate("alice@example.com", x509.KeyUsageDigitalSignature, 9, openssltest.LeafOptions{}),
		&openssltest.MLDSACA{Cert: loop[0], Key: key}, nil, openssltest.NewMLDSAKey(t, openssltest.MLDSA44).Public)
	anchor := openssltest.NewMLDSACA(t, openssltest.MLDSA44, "Anchor")
	start := time.Now()
	err := CheckCertificate(leaf, "alice@example.com", TrustOptions{Roots: []*x509.Certificate{anchor.Cert}, Intermediates: loop, Now: time.Now()})
	var te *TrustError
	if !errors.As(err, &te) || te.Reason != Untrusted {
		t.Errorf("CheckCertificate = %v, want untrusted", err)
	}
	t.Logf("%v in %v", err, time.Since(start))
}
