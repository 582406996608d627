package pipeline_test

// S/MIME copies that the member's own client can open (issue 15 item 6):
// each copy is decrypted by the real programs a member reads with, gpgsm
// 2.2 (what mutt, NeoMutt and notmuch use) and openssl cms.

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// memberGpgsm is a GnuPG home whose gpgsm holds id's certificate and
// key, imported from a PKCS#12 file that `openssl pkcs12 -export`
// writes, as a member would import theirs.
func memberGpgsm(t *testing.T, o *openssltest.OpenSSL, id *smime.Identity) *gpgtest.GPG {
	t.Helper()
	const pass = "member-pass"
	g := gpgtest.New(t)
	g.ImportPKCS12(pass, func() []byte { return o.PKCS12(id.Cert, id.Key, pass) })
	return g
}

// copyDER is the DER ContentInfo of an S/MIME copy (its base64 body).
func copyDER(t *testing.T, msg []byte) []byte {
	t.Helper()
	_, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no body in the copy")
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), ""))
	if err != nil {
		t.Fatalf("copy body: %v", err)
	}
	return der
}

// copyProtection is how a copy for id was encrypted, as the engine reads it.
func copyProtection(t *testing.T, msg []byte, id *smime.Identity) smime.DecryptInfo {
	t.Helper()
	_, info, err := smime.Decrypt(copyDER(t, msg), id.Cert, id.Key)
	if err != nil {
		t.Fatalf("copy for %s: %v", id.Cert.EmailAddresses, err)
	}
	return info
}

// opensslReads checks that `openssl cms -decrypt` opens the copy for id
// and `openssl cms -verify` checks the list's signature inside it.
func opensslReads(t *testing.T, o *openssltest.OpenSSL, ca *openssltest.CA, id *smime.Identity, msg []byte) {
	t.Helper()
	o.WriteCert("ca.pem", ca.Cert)
	o.WriteCert("m.pem", id.Cert)
	o.WriteKey("m.key", id.Key)
	o.Write("copy.eml", msg)
	dec := o.Run(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "m.pem", "-inkey", "m.key", "-out", "dec.eml")
	if dec.Err != nil {
		t.Fatalf("openssl cms -decrypt: %v\n%s", dec.Err, dec.Stderr)
	}
	ver := o.Run(nil, "cms", "-verify", "-in", "dec.eml", "-CAfile", "ca.pem")
	if ver.Err != nil || !hasCanary(ver.Stdout) {
		t.Errorf("openssl cms -verify of the decrypted copy: %v\n%s", ver.Err, ver.Stderr)
	}
}

// copyTo is the one copy of a post for addr.
func (sf *smimeFixture) copyTo(ref, addr string) []byte {
	sf.t.Helper()
	for _, d := range sf.deliveries(ref) {
		if d.To == addr {
			if d.Kind != store.KindPost {
				sf.t.Fatalf("%s got a %s, not the post", addr, d.Kind)
			}
			return d.Data
		}
	}
	sf.t.Fatalf("no copy for %s", addr)
	return nil
}

// TestSMIMEDefaultCopyReadableByGpgsm: a member whose client announced
// nothing (a pinned certificate, never a signed post) gets what every
// client reads: AES-256-CBC EnvelopedData with RSA PKCS#1 v1.5 key
// transport, signed by the list inside. gpgsm 2.2 decrypts it after
// importing the member's PKCS#12; openssl cms decrypts it and verifies
// the list's signature. (The old default, AES-GCM AuthEnvelopedData with
// RSA-OAEP, gpgsm 2.2 cannot read: "error getting IV".)
func TestSMIMEDefaultCopyReadableByGpgsm(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	o := openssltest.New(t)
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	bob := sf.identity("bob@example.org", openssltest.RSA2048)
	gsm := memberGpgsm(t, o, bob)

	if err := sf.process(sf.l, sf.smimePost(sf.identity("alice@example.org", openssltest.P256), "alice@example.org", smime.AES256GCM), "d1"); err != nil {
		t.Fatal(err)
	}
	c := sf.copyTo("d1", "bob@example.org")
	if info := copyProtection(t, c, bob); info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-PKCS1v15" {
		t.Errorf("default copy: %s with %s, want AES-256-CBC with RSA-PKCS1v15", info.Cipher, info.KeyTransport)
	}
	r := gsm.Gpgsm(copyDER(t, c), "--decrypt")
	if r.Err != nil {
		t.Fatalf("gpgsm --decrypt of the default copy: %v\n%s", r.Err, r.Stderr)
	}
	if !hasCanary(r.Stdout) || !bytes.Contains(r.Stdout, []byte("multipart/signed")) {
		t.Errorf("gpgsm's plaintext is not the list-signed post:\n%s", r.Stdout)
	}
	opensslReads(t, o, sf.ca, bob, c)
}

// post is a post by signer, From from, encrypted to the list's
// certificate; note makes its content (and signature) unique.
func (sf *smimeFixture) postSignedBy(signer *smime.Identity, from, note string) []byte {
	sf.t.Helper()
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: " + from + "\r\nTo: " + team + "\r\n" +
		"Subject: the real subject\r\n\r\n" + note + ". " + canary + "\r\n"
	signed, err := smime.SignEntity([]byte(inner), signer, smime.Options{})
	if err != nil {
		sf.t.Fatal(err)
	}
	ct, body, err := smime.EncryptEntity(signed, sf.list.Cert, smime.EncryptOptions{})
	if err != nil {
		sf.t.Fatal(err)
	}
	return []byte("From: " + from + "\r\nTo: " + team + "\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: " + ct +
		"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + string(body))
}

// opensslPost is a post signed by `openssl cms -sign` (which announces
// AES-CBC only) for id and encrypted by `openssl cms -encrypt` to the
// list's certificate.
func (sf *smimeFixture) opensslPost(o *openssltest.OpenSSL, id *smime.Identity, from, note string) []byte {
	sf.t.Helper()
	o.WriteCert("signer.pem", id.Cert)
	o.WriteKey("signer.key", id.Key)
	o.WriteCert("list.pem", sf.list.Cert)
	o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: "+from+"\r\nTo: "+team+"\r\nSubject: openssl\r\n\r\n"+note+". "+canary+"\r\n"))
	o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "signer.pem", "-inkey", "signer.key", "-out", "signed")
	o.MustRun(nil, "cms", "-encrypt", "-aes-256-gcm", "-in", "signed", "-out", "post.eml", "-recip", "list.pem")
	return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nSubject: ...\r\n"), o.Read("post.eml")...)
}

// TestSMIMECopyFollowsAnnouncement: a member's copies follow what their
// client announced in the SMIMECapabilities of their signed posts
// (RFC 8551 §2.7.1). bob's client (Sealpost's own signer) announces
// AES-GCM and RSA-OAEP-SHA256: he gets AuthEnvelopedData with OAEP, which
// openssl cms decrypts. carol's client (`openssl cms -sign`) announces
// AES-CBC and no key transport: she gets AES-256-CBC with RSA PKCS#1
// v1.5, which gpgsm 2.2 decrypts too. (Before, every copy was AES-GCM
// with RSA-OAEP and carol's gpgsm could not read hers.)
func TestSMIMECopyFollowsAnnouncement(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	o := openssltest.New(t)
	for _, a := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		sf.addCertMember(a, openssltest.RSA2048)
	}
	alice, bob, carol := sf.identity("alice@example.org", openssltest.RSA2048),
		sf.identity("bob@example.org", openssltest.RSA2048), sf.identity("carol@example.org", openssltest.RSA2048)
	gsm := memberGpgsm(t, o, carol)

	if err := sf.process(sf.l, sf.postSignedBy(bob, "bob@example.org", "bob announces"), "a1"); err != nil {
		t.Fatal(err)
	}
	if err := sf.process(sf.l, sf.opensslPost(o, carol, "carol@example.org", "carol announces"), "a2"); err != nil {
		t.Fatal(err)
	}
	if err := sf.process(sf.l, sf.postSignedBy(alice, "alice@example.org", "alice posts"), "a3"); err != nil {
		t.Fatal(err)
	}

	c := sf.copyTo("a3", "bob@example.org")
	if info := copyProtection(t, c, bob); info.Cipher != "AES-256-GCM" || info.KeyTransport != "RSA-OAEP-SHA256" {
		t.Errorf("bob's copy: %s with %s, want what his client announced: AES-256-GCM with RSA-OAEP-SHA256", info.Cipher, info.KeyTransport)
	}
	if !bytes.Contains(c, []byte("smime-type=authEnveloped-data")) {
		t.Errorf("bob's copy is not labelled authEnveloped-data")
	}
	opensslReads(t, o, sf.ca, bob, c)

	c = sf.copyTo("a3", "carol@example.org")
	if info := copyProtection(t, c, carol); info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-PKCS1v15" {
		t.Errorf("carol's copy: %s with %s, want AES-256-CBC with RSA-PKCS1v15", info.Cipher, info.KeyTransport)
	}
	if !bytes.Contains(c, []byte("smime-type=enveloped-data")) {
		t.Errorf("carol's copy is not labelled enveloped-data")
	}
	if r := gsm.Gpgsm(copyDER(t, c), "--decrypt"); r.Err != nil || !hasCanary(r.Stdout) {
		t.Errorf("gpgsm --decrypt of carol's copy: %v\n%s", r.Err, r.Stderr)
	}
	opensslReads(t, o, sf.ca, carol, c)
}

// TestSMIMEEncryptionSettings: the member's own settings come before
// what their client announced, and survive their next post (which
// rewrites the announcement); the list's settings, then the server's
// [smime] key_transport, apply to members about whom nothing is known.
func TestSMIMEEncryptionSettings(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	o := openssltest.New(t)
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{SMIMEKeyTransport: "rsa-oaep-sha256", Logger: quietLogger()})
	for _, a := range []string{"alice@example.org", "bob@example.org", "dave@example.org"} {
		sf.addCertMember(a, openssltest.RSA2048)
	}
	alice, bob, dave := sf.identity("alice@example.org", openssltest.RSA2048),
		sf.identity("bob@example.org", openssltest.RSA2048), sf.identity("dave@example.org", openssltest.RSA2048)
	ctx := context.Background()
	// bob's client announces AES-GCM and OAEP, but he also reads on a
	// device that cannot: the owner sets what that one reads.
	if err := sf.process(sf.l, sf.postSignedBy(bob, "bob@example.org", "bob announces"), "s1"); err != nil {
		t.Fatal(err)
	}
	if err := sf.db.SetMemberCipher(ctx, sf.l.rec.ID, "bob@example.org", "aes256-cbc"); err != nil {
		t.Fatal(err)
	}
	if err := sf.db.SetMemberKeyTransport(ctx, sf.l.rec.ID, "bob@example.org", "rsa-pkcs1v15"); err != nil {
		t.Fatal(err)
	}
	gsm := memberGpgsm(t, o, bob)

	rounds := []struct {
		name             string
		listCipher       string
		listKeyTransport string
		// what dave, about whom nothing is known, gets
		daveCipher, daveKT string
	}{
		{"server default", "", "", "AES-256-CBC", "RSA-OAEP-SHA256"},
		{"list defaults", "aes128-gcm", "rsa-pkcs1v15", "AES-128-GCM", "RSA-PKCS1v15"},
	}
	for i, r := range rounds {
		sf.l.rec.Settings.SMIMECipher, sf.l.rec.Settings.SMIMEKeyTransport = r.listCipher, r.listKeyTransport
		if err := sf.db.UpdateList(ctx, sf.l.rec); err != nil {
			t.Fatal(err)
		}
		// bob posts again each round: his announcement is rewritten, his
		// settings stay.
		ref := "s" + string(rune('2'+2*i))
		if err := sf.process(sf.l, sf.postSignedBy(bob, "bob@example.org", "bob again "+ref), ref); err != nil {
			t.Fatal(err)
		}
		ref = "s" + string(rune('3'+2*i))
		if err := sf.process(sf.l, sf.postSignedBy(alice, "alice@example.org", "alice "+ref), ref); err != nil {
			t.Fatal(err)
		}
		c := sf.copyTo(ref, "bob@example.org")
		if info := copyProtection(t, c, bob); info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-PKCS1v15" {
			t.Errorf("%s: bob's copy: %s with %s, want his settings: AES-256-CBC with RSA-PKCS1v15", r.name, info.Cipher, info.KeyTransport)
		}
		if g := gsm.Gpgsm(copyDER(t, c), "--decrypt"); g.Err != nil || !hasCanary(g.Stdout) {
			t.Errorf("%s: gpgsm --decrypt of bob's copy: %v\n%s", r.name, g.Err, g.Stderr)
		}
		c = sf.copyTo(ref, "dave@example.org")
		if info := copyProtection(t, c, dave); info.Cipher != r.daveCipher || info.KeyTransport != r.daveKT {
			t.Errorf("%s: dave's copy: %s with %s, want %s with %s", r.name, info.Cipher, info.KeyTransport, r.daveCipher, r.daveKT)
		}
		opensslReads(t, o, sf.ca, dave, c)
	}
	ms, err := sf.db.Members(ctx, sf.l.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Email == "bob@example.org" && !strings.Contains(m.Keys[0].Capabilities, "rsa-oaep-sha256") {
			t.Errorf("bob's announcement was not kept: %q", m.Keys[0].Capabilities)
		}
	}
}
