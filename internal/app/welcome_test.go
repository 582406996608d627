package app_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// pgpKeyBlock finds an armored OpenPGP public key in a decrypted message.
var pgpKeyBlock = regexp.MustCompile(`(?s)-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----`)

// TestWelcome: a member added with a real gpg key gets the welcome,
// encrypted to that key and nothing of it in clear; gpg imports the list
// key attached to it, which has the list's fingerprint, and with it
// verifies the welcome's signature; the text says how to post, where
// requests go and how to leave. A list in German welcomes in German; a
// list whose welcome option is off sends none; each add is audited with
// what became of the welcome.
func TestWelcome(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	l, err := s.app.Admin.CreateList(ctx, team, "owner@example.org", "Team", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	listFpr := l.KeyFingerprint
	// add adds addr with a new gpg key and returns their GnuPG home;
	// it does not know the list's key.
	add := func(addr string) *gpgtest.GPG {
		t.Helper()
		g := gpgtest.New(t)
		fpr := g.GenKey(addr + " <" + addr + ">")
		if _, _, err := s.app.Admin.AddMember(ctx, team, addr, g.Export(fpr), false); err != nil {
			t.Fatal(err)
		}
		s.app.Queue.Notify()
		return g
	}
	// open decrypts the welcome to addr with their key, imports the list
	// key it carries, checks the signature with it and returns the text.
	open := func(g *gpgtest.GPG, addr string) string {
		t.Helper()
		raw := s.waitFor(t, addr)
		for _, clear := range []string{"Welcome", "Willkommen", "X-UNSUBSCRIBE", "BEGIN PGP PUBLIC KEY BLOCK"} {
			if bytes.Contains(raw, []byte(clear)) {
				t.Fatalf("the welcome to %s carries %q in clear", addr, clear)
			}
		}
		first := g.Run(raw, "--decrypt")
		if !first.HasStatus("DECRYPTION_OKAY") || !first.HasStatus("GOODMDC") {
			t.Fatalf("%s cannot decrypt their welcome:\n%s", addr, first.Report())
		}
		key := pgpKeyBlock.Find(first.Stdout)
		if key == nil {
			t.Fatalf("the welcome to %s has no OpenPGP key attached:\n%s", addr, first.Stdout)
		}
		if imp := g.Run(key, "--import"); !imp.HasStatus("IMPORT_OK") {
			t.Fatalf("gpg does not import the attached key:\n%s", imp.Report())
		}
		if r := g.Run(nil, "--with-colons", "--fingerprint", team); !bytes.Contains(r.Stdout, []byte("fpr:::::::::"+listFpr+":")) {
			t.Fatalf("the attached key is not the list's key %s:\n%s", listFpr, r.Stdout)
		}
		again := g.Run(raw, "--decrypt")
		if !again.Verified(listFpr) {
			t.Fatalf("the welcome to %s is not signed by the list's key:\n%s", addr, again.Report())
		}
		return string(again.Stdout)
	}

	alice := add("alice@example.org")
	text := open(alice, "alice@example.org")
	for _, want := range []string{"Subject: [" + team + "] Welcome to " + team, "Welcome to the list " + team + " (Team)",
		crypto.FormatFingerprint(listFpr), "Write to " + team + ", encrypted to the list's key",
		"team-request@lists.example.org", "X-UNSUBSCRIBE:", "team-owner@lists.example.org"} {
		if !strings.Contains(text, want) {
			t.Errorf("the welcome lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "certificate") {
		t.Errorf("the welcome of a list without a certificate mentions one:\n%s", text)
	}

	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"language=de"}); err != nil {
		t.Fatal(err)
	}
	text = open(add("bob@example.org"), "bob@example.org")
	for _, want := range []string{"Willkommen auf der Liste " + team, "Schreiben Sie an " + team, "X-UNSUBSCRIBE:"} {
		if !strings.Contains(text, want) {
			t.Errorf("the German welcome lacks %q:\n%s", want, text)
		}
	}

	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"welcome=false"}); err != nil {
		t.Fatal(err)
	}
	add("carol@example.org")
	if n := queuedTo(t, s, "carol@example.org"); n != 0 {
		t.Errorf("welcome=false: %d messages queued for carol, want none", n)
	}
	es, err := s.app.Admin.Audit(ctx, team, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	details := map[string]string{}
	for _, e := range es {
		if e.Action == "member.add" {
			details[e.Target] = e.Detail
		}
	}
	for addr, want := range map[string]string{"alice@example.org": "welcome sent", "bob@example.org": "welcome sent",
		"carol@example.org": "no welcome (the list's welcome option is off)"} {
		if !strings.HasSuffix(details[addr], "; "+want) {
			t.Errorf("audit of adding %s: %q, want it to end %q", addr, details[addr], want)
		}
	}
}

// TestWelcomeSMIME: a member added with an S/MIME certificate gets the
// welcome as S/MIME: openssl cms decrypts it with their key and verifies
// the list's signature up to the CA; it carries the list's certificate,
// the very one the list signs with, and its OpenPGP key too. A member the
// list cannot write to yet (a certificate, and the list has none) is
// added all the same, without the welcome, and the audit log says why.
func TestWelcomeSMIME(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	ctx := context.Background()
	l, err := s.app.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	// Before the list has a certificate to sign S/MIME with, a member
	// with a certificate alone is added without the welcome, and the
	// audit log says why.
	erin := ca.Issue("erin@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	if _, _, err := s.app.Admin.AddMember(ctx, team, "erin@example.org", smime.CertsPEM(erin.Cert), false); err != nil {
		t.Fatalf("a member whose welcome cannot be sent is not added: %v", err)
	}
	if n := queuedTo(t, s, "erin@example.org"); n != 0 {
		t.Errorf("%d messages for erin, whom the list cannot write S/MIME to yet", n)
	}
	if es, err := s.app.Admin.Audit(ctx, team, 0, 1); err != nil || len(es) != 1 || es[0].Target != "erin@example.org" ||
		!strings.Contains(es[0].Detail, "welcome not sent: the welcome cannot be encrypted to the member's key: The list has no S/MIME certificate") {
		t.Errorf("audit of adding erin: %+v %v", es, err)
	}
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	dave := ca.Issue("dave@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("dave.pem", dave.Cert)
	o.WriteKey("dave.key", dave.Key)
	if _, _, err := s.app.Admin.AddMember(ctx, team, "dave@example.org", smime.CertsPEM(dave.Cert), false); err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify()
	raw := s.waitFor(t, "dave@example.org")
	if bytes.Contains(raw, []byte("Welcome")) || !bytes.Contains(raw, []byte("application/pkcs7-mime")) {
		t.Fatalf("the welcome to dave is not S/MIME encrypted:\n%.600s", raw)
	}
	o.Write("welcome.eml", raw)
	if r := o.Run(nil, "cms", "-decrypt", "-in", "welcome.eml", "-recip", "dave.pem", "-inkey", "dave.key", "-out", "dec.eml"); r.Err != nil {
		t.Fatalf("openssl cms -decrypt: %v\n%s", r.Err, r.Stderr)
	}
	ver := o.Run(nil, "cms", "-verify", "-in", "dec.eml", "-CAfile", caFile, "-signer", "signer.pem")
	if ver.Err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", ver.Err, ver.Stderr)
	}
	if signer := o.Read("signer.pem"); !bytes.Equal(bytes.TrimSpace(signer), bytes.TrimSpace(smime.CertsPEM(listLeaf.Cert))) {
		t.Errorf("the welcome is signed by\n%s\nnot by the list's certificate", signer)
	}
	text := string(ver.Stdout)
	certFpr := crypto.FormatFingerprint(smime.CertInfo(listLeaf.Cert).Fingerprint)
	for _, want := range []string{"Welcome to the list " + team, "Its S/MIME certificate is attached too", certFpr,
		crypto.FormatFingerprint(l.KeyFingerprint), "encrypted to the list's key or certificate", "signed with the certificate",
		"-----BEGIN PGP PUBLIC KEY BLOCK-----", strings.TrimSpace(string(smime.CertsPEM(listLeaf.Cert)))} {
		if !strings.Contains(strings.ReplaceAll(text, "\r\n", "\n"), want) {
			t.Errorf("dave's welcome lacks %q:\n%s", want, text)
		}
	}
	if n := queuedTo(t, s, "dave@example.org"); n != 1 {
		t.Errorf("%d messages for dave, want the welcome", n)
	}
}
