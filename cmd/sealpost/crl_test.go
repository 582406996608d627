package main_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestCRLRevokesPinnedCertificates (issue 14, item 10): a CRL made with
// `openssl ca -gencrl` and loaded from [smime] crls revokes certificates
// pinned with `member add` and `member key` (their CA is no trust anchor;
// its certificate lies beside the CRL): posts signed with them were
// accepted before and are refused after, `key check` lists them as Key
// revoked, `key show` says so, no copy is encrypted to them, and a
// revoked certificate is not pinned again.
func TestCRLRevokesPinnedCertificates(t *testing.T) {
	t.Parallel()
	const list = "team@lists.example.org"
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	listLeaf := ca.Issue(list, openssltest.RSA2048, openssltest.LeafOptions{})
	p12, pass := identityFile(o, "list", listLeaf)
	leaves := map[string]*openssltest.Leaf{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		leaves[name] = ca.Issue(name+"@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
		o.WriteCert(name+".pem", leaves[name].Cert)
		o.WriteKey(name+".key", leaves[name].Key)
	}
	path := func(name string) string { return filepath.Join(o.Dir, name) }
	bobPGP, err := pgp.GenerateKey("", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.Write("bob.asc", bobPGP.Armored())

	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org", "--smime-cert", p12, "--smime-pass-file", pass).want(t, exitOK)
	sealpost(t, data, nil, "list", "set", list, "outgoing_format=smime").want(t, exitOK)
	sealpost(t, data, nil, "member", "add", list, "alice@example.org", "--key", path("alice.pem")).want(t, exitOK)
	sealpost(t, data, nil, "member", "add", list, "carol@example.org", "--key", path("carol.pem")).want(t, exitOK)
	sealpost(t, data, nil, "member", "add", list, "bob@example.org", "--key", path("bob.asc")).want(t, exitOK)
	sealpost(t, data, nil, "member", "key", list, "bob@example.org", "--key", path("bob.pem")).want(t, exitOK)

	posts := 0
	post := func(from string) []byte { // signed and encrypted by openssl cms
		posts++
		addr := from + "@example.org"
		o.Write("entity", fmt.Appendf(nil, "Content-Type: text/plain\r\nFrom: %s\r\nTo: %s\r\n\r\nPost %d. CANARY-crl\r\n", addr, list, posts))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", from+".pem", "-inkey", from+".key", "-out", "signed")
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-gcm", "-in", "signed", "-recip", "list.pem", "-out", "post.eml")
		return append([]byte("From: "+addr+"\r\nTo: "+list+"\r\n"), o.Read("post.eml")...)
	}
	copies := func(f func()) map[string][][]byte { // the outbox files f adds, by recipient
		before := readOutbox(t, data)
		f()
		out := map[string][][]byte{}
		for _, m := range newFiles(before, readOutbox(t, data)) {
			out[m.deliveredTo] = append(out[m.deliveredTo], m.raw)
		}
		return out
	}
	isSMIME := func(m []byte) bool { return bytes.Contains(m, []byte("application/pkcs7-mime")) }

	for _, from := range []string{"alice", "bob"} {
		sealpost(t, data, post(from), "process", list, "--sender", from+"@example.org").want(t, exitOK)
	}
	sealpost(t, data, nil, "key", "check", "--list", list, "--days", "0").want(t, exitOK)

	crls := t.TempDir()
	writeFile(t, crls, "ca.crl", o.CRL(ca, 7, leaves["alice"].Cert, leaves["bob"].Cert, leaves["dave"].Cert))
	writeFile(t, crls, "ca.pem", smime.CertsPEM(ca.Cert))
	writeFile(t, data, "sealpost.toml", []byte("[smime]\ncrls = \""+crls+"\"\n"))

	for _, from := range []string{"alice", "bob"} {
		sealpost(t, data, post(from), "process", list, "--sender", from+"@example.org").want(t, exitData)
	}

	out := copies(func() {
		sealpost(t, data, post("carol"), "process", list, "--sender", "carol@example.org").want(t, exitOK)
	})
	if c := out["carol@example.org"]; len(c) != 1 || !isSMIME(c[0]) {
		t.Errorf("carol, not revoked: want one S/MIME copy, got %d messages", len(c))
	}
	if c := out["alice@example.org"]; len(c) != 1 || isSMIME(c[0]) || bytes.Contains(c[0], []byte("CANARY-crl")) {
		t.Errorf("alice, whose only certificate is revoked: want the notice and no copy, got %d messages", len(c))
	}
	if c := out["bob@example.org"]; len(c) != 1 || isSMIME(c[0]) || !bytes.Contains(c[0], []byte("multipart/encrypted")) {
		t.Errorf("bob: want a PGP/MIME copy to his OpenPGP key, not S/MIME to his revoked certificate")
	}

	r := sealpost(t, data, nil, "key", "check", "--list", list, "--days", "0").want(t, exitOK)
	for _, name := range []string{"alice", "bob"} {
		fpr := smime.Fingerprint(leaves[name].Cert)
		if !strings.Contains(r.stdout, fpr) || !strings.Contains(lineWith(r.stdout, fpr), "Key revoked") {
			t.Errorf("key check does not list %s's certificate as Key revoked:\n%s", name, r.stdout)
		}
	}
	if strings.Contains(r.stdout, smime.Fingerprint(leaves["carol"].Cert)) {
		t.Errorf("key check lists carol's certificate, which is not revoked:\n%s", r.stdout)
	}
	r = sealpost(t, data, nil, "key", "show", smime.Fingerprint(leaves["alice"].Cert)).want(t, exitOK)
	if !strings.Contains(lineWith(r.stdout, "status:"), "Key revoked") {
		t.Errorf("key show:\n%s", r.stdout)
	}
	var shown []keyShowJSON
	decodeJSON(t, data, &shown, "key", "show", smime.Fingerprint(leaves["bob"].Cert), "--json")
	if len(shown) != 1 || shown[0].Status != "Key revoked" {
		t.Errorf("key show --json: %+v", shown)
	}
	var members []memberJSON
	decodeJSON(t, data, &members, "member", "list", list, "--json")
	for _, m := range members {
		if m.Email == "alice@example.org" && !strings.Contains(m.KeyStatus, "revoked") {
			t.Errorf("member list: alice's key status %q", m.KeyStatus)
		}
	}

	r = sealpost(t, data, nil, "member", "add", list, "dave@example.org", "--key", path("dave.pem")).want(t, exitData)
	if !strings.Contains(r.stderr, "revoked") {
		t.Errorf("member add with a revoked certificate:\n%s", r.stderr)
	}
	if err := os.Remove(filepath.Join(crls, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	r = sealpost(t, data, nil, "key", "check", "--list", list, "--days", "0").want(t, exitOK)
	if !strings.Contains(r.stderr, "CRL cannot be verified") || strings.Contains(r.stdout, "Key revoked") {
		t.Errorf("a CRL whose issuer is unknown: want a warning and no revocation\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// lineWith returns the first line of out that contains s.
func lineWith(out, s string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
