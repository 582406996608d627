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
)

// TestAddMemberMLDSACertificate: an ML-DSA certificate (RFC 9881) signs
// and does not encrypt, so it is taken like any signing-only
// certificate: beside an encryption certificate, not as a member's only
// key; the member list names its algorithm.
func TestAddMemberMLDSACertificate(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	const list = "team@lists.example.org"
	if _, err := s.CreateList(ctx, list, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	pq := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ CA").Issue("alice@example.org", openssltest.MLDSA65, openssltest.LeafOptions{})
	if _, _, err := s.AddMember(ctx, list, "alice@example.org", pq.Cert.Raw, false); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("an ML-DSA certificate as a member's only key: %v, want refusal", err)
	}
	enc := openssltest.NewCA(t, openssltest.RSA2048).Issue("alice@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	if _, _, err := s.AddMember(ctx, list, "alice@example.org", enc.Cert.Raw, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMemberKey(ctx, list, "alice@example.org", pq.Cert.Raw); err != nil {
		t.Fatalf("ML-DSA certificate beside the encryption one: %v", err)
	}
	ms, err := s.Members(ctx, list)
	if err != nil || len(ms) != 1 || len(ms[0].Member.Keys) != 2 {
		t.Fatalf("alice's keys: %+v, %v", ms, err)
	}
	found := false
	for _, k := range ms[0].Keys {
		found = found || k.Algorithm == "ML-DSA-65"
		t.Logf("%+v", k)
	}
	if !found {
		t.Errorf("no key shown as ML-DSA-65: %+v", ms[0].Keys)
	}
}

// TestMLDSAKeyChain: the key details of an ML-DSA member certificate
// follow its chain as for a classical one (TestGlobalTrustAndCRLs):
// issuer not known, then named from the keyring, then chained once its
// ML-DSA CA is a trust anchor; the CA's ML-DSA CRL loads and revokes it.
func TestMLDSAKeyChain(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	ca := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ CA")
	alice := ca.Issue("alice@example.org", openssltest.MLDSA65, openssltest.LeafOptions{})
	fpr := smime.Fingerprint(alice.Cert)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	importOne(t, s, "alice.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: alice.Cert.Raw}), admin.ImportOptions{})
	if d := findOne(t, s, fpr, fpr); d.ChainStatus != "issuer not known: CN=PQ CA" || d.Info.Algorithm != "ML-DSA-65" {
		t.Errorf("before: %q, %s", d.ChainStatus, d.Info.Algorithm)
	}
	importOne(t, s, "ca.pem", caPEM, admin.ImportOptions{})
	if d := findOne(t, s, fpr, fpr); !strings.Contains(d.ChainStatus, "in the keyring but not a trust anchor") || len(d.Chain) != 2 {
		t.Errorf("with the CA in the keyring: %q, chain of %d", d.ChainStatus, len(d.Chain))
	}
	if _, err := s.AddGlobalTrustAnchors(ctx, caPEM); err != nil {
		t.Fatal(err)
	}
	if d := findOne(t, s, fpr, fpr); d.ChainStatus != "chains to a trusted certification authority" || len(d.Chain) != 2 || d.Info.Revoked {
		t.Errorf("with the CA trusted: %q, chain of %d, revoked %v", d.ChainStatus, len(d.Chain), d.Info.Revoked)
	}
	crl := ca.CRL(time.Now().Add(24*time.Hour), alice.Cert.SerialNumber)
	if _, err := s.AddCRLs(ctx, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw})); err != nil {
		t.Fatalf("the CA's ML-DSA CRL: %v", err)
	}
	if d := findOne(t, s, fpr, fpr); !d.Info.Revoked {
		t.Error("the loaded ML-DSA CRL does not revoke the certificate")
	}
}
