package pipeline_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestCRLRevokesPinnedSender: a loaded CRL revokes a member's pinned
// certificate as it revokes a chained one (RFC 5280 §3.3), when Sealpost
// knows the CRL's issuer: a global trust anchor, a certificate loaded
// beside the CRLs, the list's own trust anchor, or the chain the message
// carries. The post is refused as signed by a revoked key; the member
// gets a notice instead of copies, and the owner hears why (Key revoked).
// A CRL whose issuer Sealpost cannot find revokes nothing (it could be
// forged).
func TestCRLRevokesPinnedSender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(sf *smimeFixture, opt *pipeline.Options, signer *smime.Identity)
		revoked bool
		// outbound: the roster knows the issuer too (not from a message's
		// chain), so the member gets no copy.
		outbound bool
	}{
		{"issuer is a global trust anchor", func(sf *smimeFixture, opt *pipeline.Options, _ *smime.Identity) {
			opt.TrustAnchors = []*x509.Certificate{sf.ca.Cert}
		}, true, true},
		{"issuer loaded beside the CRL", func(sf *smimeFixture, opt *pipeline.Options, _ *smime.Identity) {
			opt.CRLIssuers = []*x509.Certificate{sf.ca.Cert}
		}, true, true},
		{"issuer is the list's trust anchor", func(sf *smimeFixture, _ *pipeline.Options, _ *smime.Identity) {
			if err := sf.db.AddTrustAnchor(context.Background(), sf.l.rec.ID, smime.Fingerprint(sf.ca.Cert), sf.ca.Cert.Raw); err != nil {
				sf.t.Fatal(err)
			}
		}, true, true},
		{"issuer carried in the message", func(sf *smimeFixture, _ *pipeline.Options, signer *smime.Identity) {
			signer.Chain = []*x509.Certificate{sf.ca.Cert}
		}, true, false},
		{"issuer not known", func(*smimeFixture, *pipeline.Options, *smime.Identity) {}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := newSMIMEFixture(t, false)
			sf.addCertMember("alice@example.org", openssltest.P256)
			sf.addCertMember("bob@example.org", openssltest.RSA2048)
			alice := sf.identity("alice@example.org", openssltest.P256)
			signer := &smime.Identity{Cert: alice.Cert, Key: alice.Key}
			opt := pipeline.Options{Logger: quietLogger(), CRLs: []*x509.RevocationList{revocationList(t, sf.ca, alice.Cert.SerialNumber)}}
			tc.setup(sf, &opt, signer)
			sf.p = pipeline.New(sf.db, sf.sealer, opt)

			err := sf.process(sf.l, sf.smimePost(signer, "alice@example.org", smime.AES256GCM), "crl-1")
			var rej *pipeline.Rejection
			switch {
			case tc.revoked && (!errors.As(err, &rej) || rej.Reason != policy.KeyInvalid):
				t.Fatalf("post by the revoked certificate: %v, want refused as %v", err, policy.KeyInvalid)
			case !tc.revoked && err != nil:
				t.Fatalf("post: %v, want accepted (the CRL cannot be verified)", err)
			}
			if !tc.outbound {
				return
			}
			bob := sf.identity("bob@example.org", openssltest.RSA2048)
			if err := sf.process(sf.l, sf.smimePost(bob, "bob@example.org", smime.AES256GCM), "crl-2"); err != nil {
				t.Fatalf("post by bob, not revoked: %v", err)
			}
			var toAlice, toOwner []store.Delivery
			for _, d := range sf.deliveries("crl-2") {
				switch d.To {
				case "alice@example.org":
					toAlice = append(toAlice, d)
				case "owner@example.org":
					toOwner = append(toOwner, d)
				}
			}
			if len(toAlice) != 1 || toAlice[0].Kind != store.KindNotice || hasCanary(toAlice[0].Data) {
				t.Errorf("alice, revoked: %d deliveries, want one notice and no copy", len(toAlice))
			}
			if len(toOwner) != 1 || !strings.Contains(string(toOwner[0].Data), "alice@example.org  "+keyring.KeyRevoked.String()) {
				t.Errorf("the owner is not told that alice's key is revoked: %d notices", len(toOwner))
			}
		})
	}
}
