package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestTrustAndCRLCommands: a CA trusted for every list from the command
// line, its CRL (made by openssl) loaded only once the CA is trusted, both
// listed, and the anchor removed again.
func TestTrustAndCRLCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", "team@lists.example.org").want(t, exitOK)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	caFile := filepath.Join(o.Dir, o.WriteCert("ca.pem", ca.Cert))
	leaf := ca.Issue("alice@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	crlFile := filepath.Join(o.Dir, o.Write("ca.crl", o.CRL(ca, 30, leaf.Cert)))
	fpr := smime.Fingerprint(ca.Cert)

	sealpost(t, data, nil, "crl", "add", crlFile).want(t, exitData) // its issuer is not trusted yet
	if r := sealpost(t, data, nil, "trust", "add", caFile).want(t, exitOK); !strings.Contains(r.stdout, fpr) {
		t.Errorf("trust add says:\n%s", r.stdout)
	}
	if r := sealpost(t, data, nil, "trust", "list").want(t, exitOK); !strings.Contains(r.stdout, fpr) {
		t.Errorf("trust list:\n%s", r.stdout)
	}
	if r := sealpost(t, data, nil, "crl", "add", crlFile).want(t, exitOK); !strings.Contains(r.stdout, "1 revoked") {
		t.Errorf("crl add says:\n%s", r.stdout)
	}
	if r := sealpost(t, data, nil, "crl", "list").want(t, exitOK); len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 2 ||
		!strings.Contains(r.stdout, "added") {
		t.Errorf("crl list, want the header and the added CRL:\n%s", r.stdout)
	}
	sealpost(t, data, nil, "trust", "remove", fpr).want(t, exitOK)
	if r := sealpost(t, data, nil, "trust", "list").want(t, exitOK); strings.Contains(r.stdout, fpr) {
		t.Errorf("trust list after remove:\n%s", r.stdout)
	}
}
