package pipeline_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestMLDSASignedPost: a member posts, encrypted to the list's (RSA)
// certificate, signed with an ML-DSA certificate (RFC 9881, RFC 9882).
// From a CA the list does not trust it is refused as untrusted, as a
// classical certificate is (TestListTrustAnchors); once the list trusts
// the CA it is distributed as signed by that member, directly under the
// ML-DSA-65 root and through an ML-DSA-87 intermediate the message
// carries. An ML-DSA CRL of the CA revokes the member's certificate.
func TestMLDSASignedPost(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	frank := &store.Member{ListID: sf.l.rec.ID, Email: "frank@example.org"}
	if err := sf.db.AddMember(context.Background(), frank); err != nil {
		t.Fatal(err)
	}
	pqCA := openssltest.NewMLDSACA(t, openssltest.MLDSA65, "PQ Members CA")
	leaf := pqCA.Issue("frank@example.org", openssltest.MLDSA65, openssltest.LeafOptions{})
	id := &smime.Identity{Cert: leaf.Cert, Key: leaf.Key.Signer()}
	inter := pqCA.Intermediate(openssltest.MLDSA87, "PQ Members Intermediate")
	leaf87 := inter.Issue("frank@example.org", openssltest.MLDSA87, openssltest.LeafOptions{})
	id87 := &smime.Identity{Cert: leaf87.Cert, Key: leaf87.Key.Signer(), Chain: []*x509.Certificate{inter.Cert}}

	sf.wantRefused(sf.smimePost(id, "frank@example.org", smime.AES256GCM), "pq-untrusted", policy.Untrusted, "")

	if err := sf.db.AddTrustAnchor(context.Background(), sf.l.rec.ID, smime.Fingerprint(pqCA.Cert), pqCA.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	sf.wantDistributed(sf.smimePost(id, "frank@example.org", smime.AES256GCM), "pq-65", "frank@example.org", "bob@example.org")
	sf.wantDistributed(sf.smimePost(id87, "frank@example.org", smime.AES256CBC), "pq-87", "frank@example.org", "bob@example.org")

	// Revoked by the CA's ML-DSA CRL: grace's certificate, never seen,
	// through its chain (untrusted); frank's, harvested by his first
	// post, as a member's certificate (key invalid), as for classical
	// certificates. heidi's, not listed, is accepted under the same CRL.
	newMember := func(addr string) *smime.Identity {
		if err := sf.db.AddMember(context.Background(), &store.Member{ListID: sf.l.rec.ID, Email: addr}); err != nil {
			t.Fatal(err)
		}
		l := pqCA.Issue(addr, openssltest.MLDSA65, openssltest.LeafOptions{})
		return &smime.Identity{Cert: l.Cert, Key: l.Key.Signer()}
	}
	graceID, heidiID := newMember("grace@example.org"), newMember("heidi@example.org")
	crl := pqCA.CRL(leaf.Cert.NotAfter, leaf.Cert.SerialNumber, graceID.Cert.SerialNumber)
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{CRLs: []*x509.RevocationList{crl}, RequireCRL: true, Logger: quietLogger()})
	sf.wantDistributed(sf.smimePost(heidiID, "heidi@example.org", smime.AES256GCM), "pq-heidi", "heidi@example.org", "bob@example.org")
	for _, tc := range []struct {
		id   *smime.Identity
		from string
		want policy.Reason
	}{
		{graceID, "grace@example.org", policy.Untrusted},
		{id, "frank@example.org", policy.KeyInvalid},
	} {
		var rej *pipeline.Rejection
		if err := sf.process(sf.l, sf.smimePost(tc.id, tc.from, smime.AES256GCM), "pq-revoked-"+tc.from); !errors.As(err, &rej) || rej.Reason != tc.want {
			t.Errorf("%s revoked by the CA's ML-DSA CRL: %v, want %v", tc.from, err, tc.want)
		}
	}
}
