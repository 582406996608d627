package admin_test

import (
	"context"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
)

func certPEM(c *openssltest.Leaf) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// TestListKeysFilters: the keyring listed by engine, address and status,
// a page at a time, and only to an admin.
func TestListKeysFilters(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	for _, c := range []struct {
		email string
		until time.Time
	}{{"alice@example.org", time.Time{}}, {"bob@example.org", time.Now().Add(10 * 24 * time.Hour)}, {"carol@example.net", time.Time{}}} {
		importOne(t, s, c.email+".pem", certPEM(ca.Issue(c.email, openssltest.P256, openssltest.LeafOptions{NotAfter: c.until})), admin.ImportOptions{})
	}
	names := func(q admin.KeyQuery) (string, int) {
		t.Helper()
		l, err := s.ListKeys(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range l.Keys {
			out = append(out, strings.Join(k.Info.Addresses, ","))
		}
		return strings.Join(out, " "), l.Total
	}
	if got, n := names(admin.KeyQuery{Address: "example.org"}); n != 2 || !strings.Contains(got, "alice@example.org") || !strings.Contains(got, "bob@example.org") {
		t.Errorf("address example.org = %q (%d)", got, n)
	}
	if got, n := names(admin.KeyQuery{Status: store.KeyStatusExpiring}); n != 1 || got != "bob@example.org" {
		t.Errorf("expiring = %q (%d)", got, n)
	}
	if _, n := names(admin.KeyQuery{Engine: store.EngineOpenPGP}); n != 0 {
		t.Errorf("OpenPGP keys = %d, want 0", n)
	}
	if l, err := s.ListKeys(ctx, admin.KeyQuery{Limit: 2, Offset: 2}); err != nil || len(l.Keys) != 1 || l.Total != 3 || l.Limit != 2 {
		t.Errorf("page 2 of 2 = %d keys of %d (limit %d), %v", len(l.Keys), l.Total, l.Limit, err)
	}
	if l, _ := s.ListKeys(ctx, admin.KeyQuery{Limit: 10000}); l.Limit != store.MaxKeysPage {
		t.Errorf("a page of 10000 was allowed %d keys, want the maximum %d", l.Limit, store.MaxKeysPage)
	}
	for _, q := range []admin.KeyQuery{{Status: "lost"}, {Engine: "x509"}, {Offset: -1}} {
		if _, err := s.ListKeys(ctx, q); !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("ListKeys(%+v): %v, want ErrInvalid", q, err)
		}
	}
	// An owner lists the keys of their lists and members only; a token
	// limited to a list lists nothing.
	if _, err := s.CreateList(ctx, teamList, "owner@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddMember(ctx, teamList, "carol@example.net", certPEM(ca.Issue("carol@example.net", openssltest.P256, openssltest.LeafOptions{})), false); err != nil {
		t.Fatal(err)
	}
	owner := s.As(admin.Actor{Email: "owner@example.org", Role: store.RoleOwner})
	l, err := owner.ListKeys(ctx, admin.KeyQuery{})
	if err != nil || l.Total != 2 {
		t.Fatalf("the owner's keys: %d, %v; want the list's own and its member's", l.Total, err)
	}
	for _, k := range l.Keys {
		if len(k.Lists) != 1 || k.Lists[0] != teamList {
			t.Errorf("the owner sees a key of %v", k.Lists)
		}
	}
	if l, _ := s.As(admin.Actor{Email: "other@example.org", Role: store.RoleOwner}).ListKeys(ctx, admin.KeyQuery{}); l.Total != 0 {
		t.Errorf("an owner of no list sees %d keys", l.Total)
	}
	limited := s.As(admin.Actor{Email: "admin@example.org", Role: store.RoleAdmin, List: teamList})
	if _, err := limited.ListKeys(ctx, admin.KeyQuery{}); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("an actor limited to a list listed the keyring: %v", err)
	}
}

// TestDeleteKeyInUse: a key in use is refused with who uses it; an
// unused one is deleted and audited.
func TestDeleteKeyInUse(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	if _, err := s.CreateList(ctx, teamList, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.P256)
	alice, bob := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{}), ca.Issue("bob@example.org", openssltest.P256, openssltest.LeafOptions{})
	if _, _, err := s.AddMember(ctx, teamList, "alice@example.org", certPEM(alice), false); err != nil {
		t.Fatal(err)
	}
	used := smime.Fingerprint(alice.Cert)
	err := s.DeleteKey(ctx, used)
	var inUse *admin.KeyInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, admin.ErrInvalid) || len(inUse.Users) != 1 || inUse.Users[0] != "alice@example.org on "+teamList {
		t.Fatalf("deleting a member's key: %v (%+v)", err, inUse)
	}
	if !strings.Contains(err.Error(), "alice@example.org on "+teamList) {
		t.Errorf("the refusal does not name the user: %v", err)
	}
	l, _ := s.List(ctx, teamList)
	if err := s.DeleteKey(ctx, l.KeyFingerprint); !errors.As(err, &inUse) || inUse.Users[0] != "list "+teamList {
		t.Errorf("deleting a list's key: %v", err)
	}
	importOne(t, s, "bob.pem", certPEM(bob), admin.ImportOptions{})
	unused := smime.Fingerprint(bob.Cert)
	if err := s.As(admin.Actor{Email: "owner@example.org", Role: store.RoleOwner}).DeleteKey(ctx, unused); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("an owner deleted a key: %v", err)
	}
	if err := s.DeleteKey(ctx, unused); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindKey(ctx, unused); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("the deleted key is still found: %v", err)
	}
	if es, _ := s.Audit(ctx, "", 0, 10); len(es) == 0 || es[0].Action != "key.delete" || es[0].Target != unused {
		t.Errorf("last audit entry = %+v, want key.delete %s", es[0], unused)
	}
}

// TestGlobalTrustAndCRLs: a CA added as the installation's trust anchor
// makes its certificates chain; a CRL it signed revokes; a CRL of an
// unknown authority, a certificate that is no CA and a wrong file are
// refused with what to do.
func TestGlobalTrustAndCRLs(t *testing.T) {
	o := openssltest.New(t)
	ctx := context.Background()
	s, _ := keyService(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	fpr := smime.Fingerprint(alice.Cert)
	importOne(t, s, "alice.pem", certPEM(alice), admin.ImportOptions{})
	if d := findOne(t, s, fpr, fpr); d.ChainStatus != "issuer not known: CN=Sealpost Test CA p256" {
		t.Errorf("before: %q", d.ChainStatus)
	}
	// The CA in the keyring, not trusted: the page names it anyway.
	importOne(t, s, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), admin.ImportOptions{})
	if d := findOne(t, s, fpr, fpr); !strings.Contains(d.ChainStatus, "in the keyring but not a trust anchor") || len(d.Chain) != 2 {
		t.Errorf("with the CA in the keyring: %q, chain of %d", d.ChainStatus, len(d.Chain))
	}
	if _, err := s.AddGlobalTrustAnchors(ctx, certPEM(alice)); !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "not a CA certificate") {
		t.Errorf("a leaf as trust anchor: %v", err)
	}
	if _, err := s.AddGlobalTrustAnchors(ctx, []byte("hello")); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("junk as trust anchor: %v", err)
	}
	// A CRL before its issuer is trusted is refused.
	crl := o.CRL(ca, 7, alice.Cert)
	if _, err := s.AddCRLs(ctx, crl); !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "signed by no certification authority Sealpost knows") {
		t.Errorf("CRL of an unknown issuer: %v", err)
	}
	if _, err := s.AddGlobalTrustAnchors(ctx, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})); err != nil {
		t.Fatal(err)
	}
	d := findOne(t, s, fpr, fpr)
	if d.ChainStatus != "chains to a trusted certification authority" || d.Info.Revoked {
		t.Errorf("with the CA trusted: %q, revoked %v", d.ChainStatus, d.Info.Revoked)
	}
	as, err := s.GlobalTrustAnchors(ctx)
	if err != nil || len(as) != 1 || as[0].Subject != "CN=Sealpost Test CA p256" || as[0].Source != admin.FromAdmin {
		t.Errorf("GlobalTrustAnchors = %+v, %v", as, err)
	}
	views, err := s.AddCRLs(ctx, crl)
	if err != nil || len(views) != 1 || views[0].Entries != 1 || views[0].Issuer != "CN=Sealpost Test CA p256" || views[0].NextUpdate == "" {
		t.Fatalf("AddCRLs = %+v, %v", views, err)
	}
	if d := findOne(t, s, fpr, fpr); !d.Info.Revoked {
		t.Error("the loaded CRL does not revoke the certificate")
	}
	if _, err := s.AddCRLs(ctx, crl); !errors.Is(err, admin.ErrExists) {
		t.Errorf("the same CRL again: %v", err)
	}
	if _, err := s.AddCRLs(ctx, []byte("not a CRL")); !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "not a certificate revocation list") {
		t.Errorf("junk as CRL: %v", err)
	}
	if cs, err := s.CRLs(ctx); err != nil || len(cs) != 1 {
		t.Errorf("CRLs = %+v, %v", cs, err)
	}
	owner := s.As(admin.Actor{Email: "owner@example.org", Role: store.RoleOwner})
	if _, err := owner.AddGlobalTrustAnchors(ctx, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("an owner changed the trust anchors: %v", err)
	}
	if _, err := owner.AddCRLs(ctx, crl); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("an owner loaded a CRL: %v", err)
	}
	if err := s.RemoveGlobalTrustAnchor(ctx, as[0].Fingerprint); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveGlobalTrustAnchor(ctx, as[0].Fingerprint); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("removing it twice: %v", err)
	}
	if d := findOne(t, s, fpr, fpr); d.ChainStatus == "chains to a trusted certification authority" {
		t.Error("still trusted after the anchor was removed")
	}
}

// TestIssuerOfAnotherList: the key page names an issuer that is another
// list's trust anchor instead of calling it unknown.
func TestIssuerOfAnotherList(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	if _, err := s.CreateList(ctx, teamList, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	if _, err := s.AddTrustAnchors(ctx, teamList, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})); err != nil {
		t.Fatal(err)
	}
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	fpr := smime.Fingerprint(alice.Cert)
	importOne(t, s, "alice.pem", certPEM(alice), admin.ImportOptions{})
	if d := findOne(t, s, fpr, fpr); d.ChainStatus != "issued by CN=Sealpost Test CA rsa2048, a trust anchor of "+teamList+" only (no list that uses it trusts it)" {
		t.Errorf("ChainStatus = %q", d.ChainStatus)
	}
	// The list's own anchors stay its own: TrustAnchors does not show
	// the installation's.
	if as, err := s.TrustAnchors(ctx, teamList); err != nil || len(as) != 1 {
		t.Errorf("TrustAnchors = %d, %v", len(as), err)
	}
}
