package smime

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

func crl(t *testing.T, ca *openssltest.CA, next time.Time, revoked ...*big.Int) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCheckCertificate: start valid, break one thing (RFC 8550, RFC 5280).
func TestCheckCertificate(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	other := openssltest.NewCA(t, openssltest.P256)
	alice := ca.Issue("Alice@Example.com", openssltest.P256, openssltest.LeafOptions{})
	noEKU := ca.Issue("alice@example.com", openssltest.P256, openssltest.LeafOptions{NoEmailEKU: true})
	stranger := other.Issue("alice@example.com", openssltest.P256, openssltest.LeafOptions{})
	encOnly := ca.Issue("alice@example.com", openssltest.RSA2048, openssltest.LeafOptions{Usage: x509.KeyUsageKeyEncipherment})
	now := time.Now()
	base := TrustOptions{Roots: []*x509.Certificate{ca.Cert}, Now: now}
	tests := []trustCase{
		{"valid", alice.Cert, "alice@example.com", nil, 0},
		{"another address", alice.Cert, "bob@example.com", nil, AddressMismatch},
		{"display name is not an address", alice.Cert, "Alice", nil, AddressMismatch},
		{"unknown authority", stranger.Cert, "alice@example.com", nil, Untrusted},
		{"no email-protection EKU", noEKU.Cert, "alice@example.com", nil, NoEmailEKU},
		{"key usage without digitalSignature", encOnly.Cert, "alice@example.com", nil, NotForSigning},
		{"expired", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions { o.Now = now.AddDate(5, 0, 0); return o }, Expired},
		{"revoked", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{crl(t, ca, now.Add(time.Hour), alice.Cert.SerialNumber)}
			return o
		}, Revoked},
		{"CRL of another issuer does not count", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{crl(t, other, now.Add(time.Hour), alice.Cert.SerialNumber)}
			return o
		}, 0},
		{"CRL too old", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.CRLs = []*x509.RevocationList{crl(t, ca, now.Add(-time.Minute))}
			return o
		}, CRLTooOld},
		{"No CRL known", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions { o.RequireCRL = true; return o }, NoCRL},
		{"current CRL, not listed", alice.Cert, "alice@example.com", func(o TrustOptions) TrustOptions {
			o.RequireCRL = true
			o.CRLs = []*x509.RevocationList{crl(t, ca, now.Add(time.Hour), big.NewInt(999))}
			return o
		}, 0},
	}
	runTrustCases(t, base, tests)
}

// trustCase is one CheckCertificate case: the reason wanted, 0 for none.
type trustCase struct {
	name string
	cert *x509.Certificate
	addr string
	opt  func(TrustOptions) TrustOptions
	want TrustReason
}

// runTrustCases checks each case with base, changed by the case's opt.
func runTrustCases(t *testing.T, base TrustOptions, tests []trustCase) {
	t.Helper()
	for _, tt := range tests {
		opt := base
		if tt.opt != nil {
			opt = tt.opt(opt)
		}
		err := CheckCertificate(tt.cert, tt.addr, opt)
		t.Logf("%s: %v", tt.name, err)
		var te *TrustError
		switch {
		case tt.want == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != 0 && (!errors.As(err, &te) || te.Reason != tt.want):
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
