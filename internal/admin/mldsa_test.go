package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
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
