package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestAddedCRLRevokes: a CRL an admin added (the store's, not the
// configuration's) revokes as a loaded one does, when its issuer is a
// trust anchor an admin added for the whole installation.
func TestAddedCRLRevokes(t *testing.T) {
	ctx := context.Background()
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	alice := sf.identity("alice@example.org", openssltest.P256)
	signer := &smime.Identity{Cert: alice.Cert, Key: alice.Key}
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{Logger: quietLogger()})
	if err := sf.process(sf.l, sf.smimePost(signer, "alice@example.org", smime.AES256GCM), "added-1"); err != nil {
		t.Fatalf("post before any CRL: %v", err)
	}

	if err := sf.db.AddInstallationTrustAnchor(ctx, store.TrustAnchor{Fingerprint: smime.Fingerprint(sf.ca.Cert), Cert: sf.ca.Cert.Raw, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	crl := revocationList(t, sf.ca, alice.Cert.SerialNumber)
	if _, err := sf.db.PutCRL(ctx, store.CRL{IssuerHash: "CA", Issuer: "CN=CA", ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, Data: crl.Raw, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{Logger: quietLogger()})
	err := sf.process(sf.l, sf.smimePost(signer, "alice@example.org", smime.AES256GCM), "added-2")
	if rej := (*pipeline.Rejection)(nil); !errors.As(err, &rej) || rej.Reason != policy.KeyInvalid {
		t.Fatalf("post by the certificate an added CRL revokes: %v, want refused as %v", err, policy.KeyInvalid)
	}
}
