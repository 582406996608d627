package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestMixedListWithOpenSSLAndGnuPG: posts made by openssl cms in several
// shapes go through the SMTP listener; two OpenPGP and two S/MIME members
// each get a copy that their own tool opens and verifies: gpg with
// VALIDSIG by the list key, openssl cms -decrypt then -verify -CAfile.
func TestMixedListWithOpenSSLAndGnuPG(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	listFpr, pgpMembers := setupList(t, s, "carol@example.org", "dave@example.org")
	ctx := context.Background()
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	o.WriteCert("list.pem", listLeaf.Cert)
	smimeMembers := map[string]*openssltest.Leaf{
		"alice@example.org": ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{}),
		"bob@example.org":   ca.Issue("bob@example.org", openssltest.RSA2048, openssltest.LeafOptions{}),
	}
	for addr, leaf := range smimeMembers {
		if _, _, err := s.app.Admin.AddMemberWith(ctx, team, addr, smime.CertsPEM(leaf.Cert), quiet(false)); err != nil {
			t.Fatal(err)
		}
		name := strings.Split(addr, "@")[0]
		o.WriteCert(name+".pem", leaf.Cert)
		o.WriteKey(name+".key", leaf.Key)
	}

	posts := []struct {
		name, from string
		sign       []string
		encrypt    []string
	}{
		{"ECDSA detached, AES-256-GCM", "alice", nil, []string{"-aes-256-gcm"}},
		{"ECDSA opaque, AES-256-CBC", "alice", []string{"-nodetach"}, []string{"-aes-256-cbc"}},
		{"RSA-PSS detached, AES-128-GCM, RSA-OAEP-SHA256", "bob", []string{"-keyopt", "rsa_padding_mode:pss"},
			[]string{"-aes-128-gcm", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}},
	}
	for i, p := range posts {
		t.Run(p.name, func(t *testing.T) {
			s.clearOutbox(t)
			addr := p.from + "@example.org"
			o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: "+addr+"\r\nTo: "+team+"\r\nSubject: e2e subject\r\n\r\nPost "+
				string(rune('0'+i))+" from "+addr+". "+canary+"\r\n"))
			o.MustRun(nil, append([]string{"cms", "-sign", "-in", "entity", "-signer", p.from + ".pem", "-inkey", p.from + ".key", "-out", "signed"}, p.sign...)...)
			o.MustRun(nil, append([]string{"cms", "-encrypt", "-in", "signed", "-out", "post.eml", "-recip", "list.pem"}, p.encrypt...)...)
			post := append([]byte("From: "+addr+"\r\nTo: "+team+"\r\nSubject: ...\r\n"), o.Read("post.eml")...)
			if err := s.send(t, addr, []string{team}, post); err != nil {
				t.Fatalf("post refused: %v", err)
			}
			for _, c := range s.outbox(t, 4) {
				to := deliveredTo(c)
				if bytes.Contains(c, []byte(canary)) {
					t.Fatalf("copy for %s carries plaintext", to)
				}
				if m := pgpMembers[to]; m != nil {
					r := m.gpg.Run(c, "--decrypt")
					if !r.HasStatus("GOODMDC") || !r.Verified(listFpr) || !bytes.Contains(r.Stdout, []byte(canary)) {
						t.Errorf("%s: gpg:\n%s", to, r.Status)
					}
					continue
				}
				name := strings.Split(to, "@")[0]
				o.Write("copy.eml", c)
				dec := o.Run(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", name+".pem", "-inkey", name+".key", "-out", "dec.eml")
				if dec.Err != nil {
					t.Fatalf("%s: openssl cms -decrypt: %v\n%s", to, dec.Err, dec.Stderr)
				}
				ver := o.Run(nil, "cms", "-verify", "-in", "dec.eml", "-CAfile", caFile)
				if ver.Err != nil || !bytes.Contains(ver.Stdout, []byte(canary)) || !bytes.Contains(ver.Stdout, []byte("Subject: e2e subject")) {
					t.Errorf("%s: openssl cms -verify: %v\n%s", to, ver.Err, ver.Stderr)
				}
			}
		})
	}

	// OpenSSL announces only CBC ciphers in its SMIMECapabilities, so after
	// their posts alice and bob get EnvelopedData (RFC 8551 §2.7.1) copies:
	// in the last round alice, who had posted before; bob only posted in it.
	ms, err := s.app.Admin.Members(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if k := m.Member.Key("smime"); k != nil && (k.Capabilities == "" || strings.Contains(k.Capabilities, "gcm")) {
			t.Errorf("%s: capabilities %q, want OpenSSL's CBC-only list", m.Email, k.Capabilities)
		}
	}
	for _, c := range s.outbox(t, 4) {
		if to := deliveredTo(c); to == "alice@example.org" && !bytes.Contains(c, []byte("smime-type=enveloped-data")) {
			t.Errorf("%s's copy is not EnvelopedData after their client announced CBC only", to)
		}
	}

	t.Run("two SignerInfos refused", func(t *testing.T) {
		s.clearOutbox(t)
		o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: "+team+"\r\n\r\ntwo signers "+canary+"\r\n"))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-signer", "bob.pem", "-inkey", "bob.key", "-out", "signed")
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-gcm", "-in", "signed", "-out", "post.eml", "-recip", "list.pem")
		err := s.send(t, "alice@example.org", []string{team}, append([]byte("From: alice@example.org\r\nTo: "+team+"\r\n"), o.Read("post.eml")...))
		if smtpCode(err) != 550 {
			t.Fatalf("reply = %v, want 550", err)
		}
	})
}

// startServerWithConfig is startServer with a sealpost.toml written first.
func startServerWithConfig(t *testing.T, toml string) *server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sealpost.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServerIn(t, dir)
}

// TestSMIMEIdentityGrace: a list's S/MIME certificate replaced with a
// grace period still reads posts that a member's client (openssl cms)
// encrypted to the old one, as well as to the new one; one replaced
// without a grace period reads nothing any more.
func TestSMIMEIdentityGrace(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	setupList(t, s, "carol@example.org")
	ctx := context.Background()
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, "alice@example.org", smime.CertsPEM(alice.Cert), quiet(false)); err != nil {
		t.Fatal(err)
	}
	o.WriteCert("alice.pem", alice.Cert)
	o.WriteKey("alice.key", alice.Key)
	certs := map[string]*openssltest.Leaf{}
	for _, name := range []string{"first", "second", "third"} {
		certs[name] = ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
		o.WriteCert(name+".pem", certs[name].Cert)
	}
	replace := func(name string, grace time.Duration) {
		t.Helper()
		if _, err := s.app.Admin.ReplaceSMIMEIdentity(ctx, team, &smime.Identity{Cert: certs[name].Cert, Key: certs[name].Key}, grace); err != nil {
			t.Fatal(err)
		}
	}
	// post sends a post encrypted to the list certificate name and
	// reports the SMTP reply code.
	post := func(name string) int {
		t.Helper()
		s.clearOutbox(t)
		o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: "+team+"\r\nSubject: to "+name+"\r\n\r\nEncrypted to the "+name+" certificate. "+canary+"\r\n"))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed")
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-gcm", "-in", "signed", "-out", "post.eml", "-recip", name+".pem")
		err := s.send(t, "alice@example.org", []string{team}, append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: ...\r\n"), o.Read("post.eml")...))
		if err != nil {
			return smtpCode(err)
		}
		if n := len(s.outbox(t, 1)); n < 1 {
			t.Errorf("post to the %s certificate: taken, but no copy", name)
		}
		return 250
	}
	replace("first", 0)
	replace("second", 7*24*time.Hour)
	for _, name := range []string{"first", "second"} {
		if code := post(name); code != 250 {
			t.Errorf("a post encrypted to the %s certificate, within its grace period: %d, want 250", name, code)
		}
	}
	replace("third", 0)
	if code := post("second"); code != 550 {
		t.Errorf("a post encrypted to the second certificate, replaced without grace: %d, want 550", code)
	}
	for _, name := range []string{"first", "third"} {
		if code := post(name); code != 250 {
			t.Errorf("a post encrypted to the %s certificate: %d, want 250", name, code)
		}
	}
}
