package smime

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// crlAt is a CRL of ca issued at this, due again at next, listing serials.
func crlAt(t *testing.T, ca *openssltest.CA, this, next time.Time, serials ...*big.Int) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(this.Unix()), ThisUpdate: this, NextUpdate: next}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: this})
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

// TestRevocations: a CRL revokes a certificate trusted by itself (pinned)
// when an issuer certificate Sealpost knows signed both the CRL and the
// certificate (RFC 5280 §6.3.3); the newest CRL of an issuer decides; a
// revocation stays in force on a CRL past its nextUpdate (RFC 5280
// §3.3). Start revoked, break one thing.
func TestRevocations(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	// Same key type, so the same subject name: a CRL of this authority
	// must not revoke what ca issued.
	impostor := openssltest.NewCA(t, openssltest.RSA2048)
	if !slices.Equal(ca.Cert.RawSubject, impostor.Cert.RawSubject) {
		t.Fatal("the impostor needs the same name as the CA")
	}
	alice := ca.Issue("alice@example.com", openssltest.P256, openssltest.LeafOptions{})
	serial := alice.Cert.SerialNumber
	now := time.Now()
	current := crlAt(t, ca, now.Add(-time.Hour), now.Add(time.Hour), serial)
	tests := []struct {
		name       string
		crls       []*x509.RevocationList
		issuers    []*x509.Certificate
		revoked    bool
		unverified int
	}{
		{"listed on the CRL of a known issuer", []*x509.RevocationList{current}, []*x509.Certificate{ca.Cert}, true, 0},
		{"issuer given twice", []*x509.RevocationList{current}, []*x509.Certificate{ca.Cert, ca.Cert}, true, 0},
		{"not listed", []*x509.RevocationList{crlAt(t, ca, now.Add(-time.Hour), now.Add(time.Hour), big.NewInt(999))},
			[]*x509.Certificate{ca.Cert}, false, 0},
		{"issuer not known: the CRL does not count", []*x509.RevocationList{current}, nil, false, 1},
		{"only a certificate with the issuer's name, another key", []*x509.RevocationList{current}, []*x509.Certificate{impostor.Cert}, false, 1},
		{"a same-named authority's CRL lists the serial", []*x509.RevocationList{crlAt(t, impostor, now.Add(-time.Hour), now.Add(time.Hour), serial)},
			[]*x509.Certificate{ca.Cert, impostor.Cert}, false, 0},
		{"a newer CRL no longer lists it (hold released)", []*x509.RevocationList{current, crlAt(t, ca, now.Add(-time.Minute), now.Add(time.Hour))},
			[]*x509.Certificate{ca.Cert}, false, 0},
		{"past its nextUpdate, the CRL still revokes", []*x509.RevocationList{crlAt(t, ca, now.Add(-48*time.Hour), now.Add(-24*time.Hour), serial)},
			[]*x509.Certificate{ca.Cert}, true, 0},
		{"no CRL", nil, []*x509.Certificate{ca.Cert}, false, 0},
	}
	for _, tt := range tests {
		r := NewRevocations(tt.crls, tt.issuers)
		err := r.Check(alice.Cert)
		var te *TrustError
		switch {
		case tt.revoked && (!errors.As(err, &te) || te.Reason != Revoked):
			t.Errorf("%s: %v, want revoked", tt.name, err)
		case !tt.revoked && err != nil:
			t.Errorf("%s: %v, want not revoked", tt.name, err)
		}
		if n := len(r.Unverified()); n != tt.unverified {
			t.Errorf("%s: %d unverified CRLs, want %d", tt.name, n, tt.unverified)
		}
	}
	var none *Revocations
	if err := none.Check(alice.Cert); err != nil {
		t.Errorf("no revocations: %v", err)
	}
}

// BenchmarkRevocations: building the revocations of a CRL with 10,000
// entries (about 370 kB; the pipeline caches what it builds) and checking
// one certificate against them (once per member certificate).
func BenchmarkRevocations(b *testing.B) {
	ca := openssltest.NewCA(b, openssltest.RSA2048)
	alice := ca.Issue("alice@example.com", openssltest.P256, openssltest.LeafOptions{})
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
	for i := range 10000 {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(int64(1000 + i)), RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		b.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			NewRevocations([]*x509.RevocationList{crl}, []*x509.Certificate{ca.Cert})
		}
	})
	r := NewRevocations([]*x509.RevocationList{crl}, []*x509.Certificate{ca.Cert})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if r.Check(alice.Cert) != nil {
				b.Fatal("revoked")
			}
		}
	})
}

// TestRevocationsSHA1Certificate: an old certificate its CA signed with
// SHA-1 (made by openssl x509 -sha1) is revoked like any other; crypto/x509
// refuses SHA-1 in CheckSignatureFrom, which must not make it slip through.
func TestRevocationsSHA1Certificate(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o.WriteCert("ca.pem", ca.Cert)
	o.WriteKey("ca.key", ca.Key)
	o.MustRun(nil, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "old.key", "-out", "old.csr", "-subj", "/CN=old@example.com")
	o.MustRun(nil, "x509", "-req", "-in", "old.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "77", "-sha1", "-days", "30", "-out", "old.pem")
	old, _, err := ParseCertificate(o.Read("old.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if old.SignatureAlgorithm != x509.SHA1WithRSA {
		t.Fatalf("signature algorithm %v, want SHA-1", old.SignatureAlgorithm)
	}
	now := time.Now()
	r := NewRevocations([]*x509.RevocationList{crlAt(t, ca, now.Add(-time.Hour), now.Add(time.Hour), old.SerialNumber)}, []*x509.Certificate{ca.Cert})
	var te *TrustError
	if err := r.Check(old); !errors.As(err, &te) || te.Reason != Revoked {
		t.Errorf("SHA-1 certificate on the CRL: %v, want revoked", err)
	}
}
