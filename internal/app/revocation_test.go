package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// openApp opens the app on the data directory dir with its sealpost.toml.
func openApp(t *testing.T, dir string) *app.App {
	t.Helper()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// takeOutbox returns the messages in the outbox of the data directory
// dir by recipient, and empties it.
func takeOutbox(t *testing.T, dir string) map[string][][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, app.OutboxDir, "new", "*"))
	out := map[string][][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[deliveredTo(b)] = append(out[deliveredTo(b)], b)
		os.Remove(f)
	}
	return out
}

// crlDir writes a CRL of ca made by openssl, revoking revoked, with the
// CA's certificate beside it (the CA is no trust anchor), and returns the
// directory for [smime] crls.
func crlDir(t *testing.T, o *openssltest.OpenSSL, ca *openssltest.CA, revoked ...*smime.Identity) string {
	t.Helper()
	var certs []*x509.Certificate
	for _, id := range revoked {
		certs = append(certs, id.Cert)
	}
	dir := t.TempDir()
	crl := o.CRL(ca, 7, certs...)
	if err := os.WriteFile(filepath.Join(dir, "ca.crl"), crl, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), smime.CertsPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCRLRevokesPinnedCertificates (issue 14, item 10): certificates
// pinned with `member add` and `member key`, of an authority that is no
// trust anchor, are used until a CRL made by openssl revokes them
// ([smime] crls, with the CA's certificate beside it); from then on their
// posts are refused, copies are no longer encrypted to them (a notice, or
// the member's OpenPGP key), key check and key show say "Key revoked",
// and a revoked certificate cannot be pinned again.
func TestCRLRevokesPinnedCertificates(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	issue := func(addr string) *smime.Identity {
		leaf := ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{})
		return &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
	}
	alice, bob, carol, dave := issue("alice@example.org"), issue("bob@example.org"), issue("carol@example.org"), issue("dave@example.org")
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	dir := t.TempDir()
	ctx := context.Background()

	a := openApp(t, dir)
	if _, err := a.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.SetOptions(ctx, team, []string{"outgoing_format=smime"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*smime.Identity{alice, carol} { // member add
		if _, _, err := a.Admin.AddMemberWith(ctx, team, id.Cert.EmailAddresses[0], smime.CertsPEM(id.Cert), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	bobPGP, err := pgp.GenerateKey("", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Admin.AddMemberWith(ctx, team, "bob@example.org", bobPGP.Armored(), quiet(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.AddMemberKey(ctx, team, "bob@example.org", smime.CertsPEM(bob.Cert)); err != nil { // member key
		t.Fatal(err)
	}
	posts := 0
	post := func(a *app.App, id *smime.Identity) error {
		t.Helper()
		from := id.Cert.EmailAddresses[0]
		posts++ // a new text each time: RSA signatures of the same text are the same, a replay
		_, err := a.Process(ctx, team, from, signedPost(t, id, from, listLeaf.Cert, fmt.Sprintf("Post %d from %s. %s\r\n", posts, from, canary)))
		return err
	}
	smimeCopy := func(m []byte) bool { return bytes.Contains(m, []byte("application/pkcs7-mime")) }

	// Before the CRL: posts by the pinned certificates are accepted, and
	// their holders' copies are S/MIME.
	for _, id := range []*smime.Identity{alice, bob} {
		if err := post(a, id); err != nil {
			t.Fatalf("%s before the CRL: %v", id.Cert.EmailAddresses[0], err)
		}
	}
	out := takeOutbox(t, dir)
	for _, addr := range []string{"alice@example.org", "bob@example.org"} {
		if len(out[addr]) != 2 || !smimeCopy(out[addr][0]) || !smimeCopy(out[addr][1]) {
			t.Fatalf("%s before the CRL: %d messages, want two S/MIME copies", addr, len(out[addr]))
		}
	}
	a.Close()

	toml := "[smime]\ncrls = \"" + crlDir(t, o, ca, alice, bob, dave) + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	a = openApp(t, dir)
	defer a.Close()

	t.Run("posts signed with a revoked certificate are refused", func(t *testing.T) {
		for _, id := range []*smime.Identity{alice, bob} {
			var rej *pipeline.Rejection
			if err := post(a, id); !errors.As(err, &rej) || rej.Reason != policy.KeyInvalid {
				t.Errorf("%s: %v, want refused as %v", id.Cert.EmailAddresses[0], err, policy.KeyInvalid)
			}
		}
		takeOutbox(t, dir)
	})

	t.Run("no copy is encrypted to a revoked certificate", func(t *testing.T) {
		if err := post(a, carol); err != nil {
			t.Fatalf("carol, not revoked: %v", err)
		}
		out := takeOutbox(t, dir)
		if len(out["carol@example.org"]) != 1 || !smimeCopy(out["carol@example.org"][0]) {
			t.Errorf("carol: want one S/MIME copy, got %d messages", len(out["carol@example.org"]))
		}
		for _, m := range out["alice@example.org"] {
			if smimeCopy(m) || bytes.Contains(m, []byte(canary)) {
				t.Errorf("alice, whose only certificate is revoked, got a copy:\n%.400s", m)
			}
		}
		if len(out["alice@example.org"]) != 1 {
			t.Errorf("alice: %d messages, want the notice", len(out["alice@example.org"]))
		}
		if len(out["bob@example.org"]) != 1 || smimeCopy(out["bob@example.org"][0]) ||
			!bytes.Contains(out["bob@example.org"][0], []byte("multipart/encrypted")) {
			t.Errorf("bob: want one PGP/MIME copy to his OpenPGP key, not S/MIME to his revoked certificate")
		}
		owner := out["owner@example.org"]
		if len(owner) != 1 || !bytes.Contains(owner[0], []byte("alice@example.org")) || !bytes.Contains(owner[0], []byte("Key revoked")) {
			t.Errorf("the owner is not told alice's key is revoked:\n%s", bytes.Join(owner, []byte("\n----\n")))
		}
	})

	t.Run("key check and key show say Key revoked", func(t *testing.T) {
		fs, err := a.Admin.CheckKeys(ctx, team, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]keyring.Status{}
		for _, f := range fs {
			got[f.Fingerprint] = f.Status
		}
		want := map[string]keyring.Status{smime.Fingerprint(alice.Cert): keyring.KeyRevoked, smime.Fingerprint(bob.Cert): keyring.KeyRevoked}
		for fpr, st := range want {
			if got[fpr] != st {
				t.Errorf("key check: %s is %v, want %v (findings %+v)", fpr, got[fpr], st, fs)
			}
		}
		if st, listed := got[smime.Fingerprint(carol.Cert)]; listed {
			t.Errorf("key check lists carol's certificate, which is not revoked: %v", st)
		}
		for _, id := range []*smime.Identity{alice, bob} {
			ds, err := a.Admin.FindKey(ctx, smime.Fingerprint(id.Cert))
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].Status != keyring.KeyRevoked || !ds[0].Info.Revoked {
				t.Errorf("key show %s: %+v, want Key revoked", id.Cert.EmailAddresses[0], ds)
			}
		}
		if ds, err := a.Admin.FindKey(ctx, smime.Fingerprint(carol.Cert)); err != nil || ds[0].Status != keyring.Usable {
			t.Errorf("key show carol: %v %v, want Usable", ds, err)
		}
	})

	t.Run("a revoked certificate is not pinned", func(t *testing.T) {
		_, _, err := a.Admin.AddMemberWith(ctx, team, "dave@example.org", smime.CertsPEM(dave.Cert), quiet(false))
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("member add with a revoked certificate: %v", err)
		}
		_, err = a.Admin.AddMemberKey(ctx, team, "carol@example.org", smime.CertsPEM(alice.Cert))
		if !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("member key with a revoked certificate: %v", err)
		}
	})
}

// TestCRLGatewayPinnedCertificate: at a gateway, a signature by a
// correspondent's pinned certificate that a loaded CRL revokes is marked
// invalid for the helpdesk, never good; one by a pinned certificate the
// CRL does not list stays good.
func TestCRLGatewayPinnedCertificate(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	issue := func(addr string) *smime.Identity {
		leaf := ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{})
		return &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
	}
	erin, frank := issue("erin@example.net"), issue("frank@example.net")
	dir := t.TempDir()
	toml := "[smime]\ncrls = \"" + crlDir(t, o, ca, erin) + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := openApp(t, dir)
	defer a.Close()
	ctx := context.Background()
	desk := filepath.Join(t.TempDir(), "desk")
	gw, err := a.Admin.CreateGateway(ctx, support, "admin@example.org", "", pgp.Ed25519, desk)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*smime.Identity{erin, frank} {
		m := &store.Member{ListID: gw.ID, Email: id.Cert.EmailAddresses[0], Keys: []store.MemberKey{{Source: store.SourcePinned,
			Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(id.Cert), Data: id.Cert.Raw}}}}
		if err := a.Store.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		id   *smime.Identity
		want string
	}{
		{frank, "good; engine=smime; signer=" + smime.Fingerprint(frank.Cert) + "; address=frank@example.net; trust=pinned"},
		{erin, "invalid; engine=smime"},
	} {
		from := tc.id.Cert.EmailAddresses[0]
		signed, err := smime.SignEntity([]byte("Content-Type: text/plain\r\n\r\nSigned, not encrypted.\r\n"), tc.id, smime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		msg := append([]byte("From: "+from+"\r\nTo: "+support+"\r\nSubject: Hello\r\nMessage-ID: <m"+string(rune('0'+i))+"@example.net>\r\n"), signed...)
		if _, err := a.Process(ctx, support, from, msg); err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		got := maildirMessages(t, desk, i+1)
		var sig []string
		for _, m := range got {
			if fs := fieldValues(t, m, "From"); len(fs) == 1 && strings.Contains(fs[0], from) {
				sig = fieldValues(t, m, "X-Sealpost-Signature")
			}
		}
		if len(sig) != 1 || !strings.HasPrefix(sig[0], tc.want) {
			t.Errorf("%s: X-Sealpost-Signature = %q, want %q...", from, sig, tc.want)
		}
	}
}
