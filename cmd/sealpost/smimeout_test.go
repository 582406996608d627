package main_test

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestSMIMECopyEncryption (issue 15 item 6): through the binary, with
// posts made by openssl cms and `sealpost process`. A member about whom
// nothing is known gets AES-256-CBC with RSA PKCS#1 v1.5, which gpgsm 2.2
// decrypts after importing the member's PKCS#12; `member set ...
// smime_cipher= smime_keytransport=` gives one member AES-GCM with
// RSA-OAEP, which openssl cms decrypts; `list set ... smime_keytransport=`
// changes the default; invalid values are refused with the values that
// are valid.
func TestSMIMECopyEncryption(t *testing.T) {
	t.Parallel()
	const list = "team@lists.example.org"
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	listLeaf := ca.Issue(list, openssltest.RSA2048, openssltest.LeafOptions{})
	p12, pass := identityFile(o, "list", listLeaf)
	ids := map[string]*smime.Identity{}
	for _, name := range []string{"alice", "bob", "dave"} {
		leaf := ca.Issue(name+"@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
		ids[name+"@example.org"] = &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
		o.WriteCert(name+".pem", leaf.Cert)
		o.WriteKey(name+".key", leaf.Key)
	}
	path := func(name string) string { return filepath.Join(o.Dir, name) }
	data := t.TempDir()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org", "--smime-cert", p12, "--smime-pass-file", pass).want(t, exitOK)
	for _, name := range []string{"alice", "bob", "dave"} {
		sealpost(t, data, nil, "member", "add", list, name+"@example.org", "--key", path(name+".pem")).want(t, exitOK)
	}
	dave := gpgtest.New(t) // dave's own GnuPG home, his PKCS#12 imported into gpgsm
	dave.ImportPKCS12("dave-pass", func() []byte { return o.PKCS12(ids["dave@example.org"].Cert, ids["dave@example.org"].Key, "dave-pass") })

	sealpost(t, data, nil, "member", "set", list, "bob@example.org", "smime_cipher=aes256-gcm").want(t, exitOK)
	sealpost(t, data, nil, "member", "set", list, "bob@example.org", "smime_keytransport=rsa-oaep-sha256").want(t, exitOK)
	r := sealpost(t, data, nil, "member", "set", list, "bob@example.org", "smime_keytransport=rsa-kem").want(t, exitData)
	if !strings.Contains(r.stderr, "rsa-pkcs1v15") || !strings.Contains(r.stderr, "rsa-oaep-sha256") {
		t.Errorf("an invalid key transport does not name the valid ones:\n%s", r.stderr)
	}
	r = sealpost(t, data, nil, "list", "set", list, "smime_cipher=des").want(t, exitData)
	if !strings.Contains(r.stderr, "aes256-cbc") {
		t.Errorf("an invalid list cipher does not name the valid ones:\n%s", r.stderr)
	}

	posts := 0
	post := func() map[string][]byte { // alice posts (openssl cms); the copies by recipient
		posts++
		o.Write("entity", fmt.Appendf(nil, "Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: %s\r\n\r\nPost %d. CANARY-kt\r\n", list, posts))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed")
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-cbc", "-in", "signed", "-recip", "list.pem", "-out", "post.eml")
		before := readOutbox(t, data)
		msg := append([]byte("From: alice@example.org\r\nTo: "+list+"\r\n"), o.Read("post.eml")...)
		sealpost(t, data, msg, "process", list, "--sender", "alice@example.org").want(t, exitOK)
		out := map[string][]byte{}
		for _, f := range newFiles(before, readOutbox(t, data)) {
			out[f.deliveredTo] = f.raw
		}
		return out
	}
	protection := func(who string, c []byte) (smime.DecryptInfo, []byte) {
		t.Helper()
		der := outboxDER(t, c)
		_, info, err := smime.Decrypt(der, ids[who].Cert, ids[who].Key)
		if err != nil {
			t.Fatalf("%s's copy: %v", who, err)
		}
		name := strings.TrimSuffix(who, "@example.org")
		o.Write("copy.der", der)
		dec := o.Run(nil, "cms", "-decrypt", "-inform", "DER", "-in", "copy.der", "-recip", name+".pem", "-inkey", name+".key")
		if dec.Err != nil || !strings.Contains(string(dec.Stdout), "CANARY-kt") {
			t.Errorf("openssl cms -decrypt of %s's copy: %v\n%s", who, dec.Err, dec.Stderr)
		}
		return info, der
	}

	copies := post()
	info, der := protection("dave@example.org", copies["dave@example.org"])
	if info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-PKCS1v15" {
		t.Errorf("dave's default copy: %s with %s, want AES-256-CBC with RSA-PKCS1v15", info.Cipher, info.KeyTransport)
	}
	if g := dave.Gpgsm(der, "--decrypt"); g.Err != nil || !strings.Contains(string(g.Stdout), "CANARY-kt") {
		t.Errorf("gpgsm --decrypt of dave's copy: %v\n%s", g.Err, g.Stderr)
	}
	if info, _ := protection("bob@example.org", copies["bob@example.org"]); info.Cipher != "AES-256-GCM" || info.KeyTransport != "RSA-OAEP-SHA256" {
		t.Errorf("bob's copy: %s with %s, want his settings: AES-256-GCM with RSA-OAEP-SHA256", info.Cipher, info.KeyTransport)
	}

	sealpost(t, data, nil, "list", "set", list, "smime_keytransport=rsa-oaep-sha256").want(t, exitOK)
	sealpost(t, data, nil, "member", "set", list, "bob@example.org", "smime_cipher=auto").want(t, exitOK)
	copies = post()
	if info, _ := protection("dave@example.org", copies["dave@example.org"]); info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-OAEP-SHA256" {
		t.Errorf("dave's copy after list set smime_keytransport: %s with %s, want AES-256-CBC with RSA-OAEP-SHA256", info.Cipher, info.KeyTransport)
	}
	if info, _ := protection("bob@example.org", copies["bob@example.org"]); info.Cipher != "AES-256-CBC" || info.KeyTransport != "RSA-OAEP-SHA256" {
		t.Errorf("bob's copy after smime_cipher=auto: %s with %s, want AES-256-CBC with RSA-OAEP-SHA256", info.Cipher, info.KeyTransport)
	}
}

// outboxDER is the DER ContentInfo of an S/MIME copy in the outbox (its
// base64 body).
func outboxDER(t *testing.T, msg []byte) []byte {
	t.Helper()
	loc := regexp.MustCompile(`\r?\n\r?\n`).FindIndex(msg)
	if loc == nil || !strings.Contains(string(msg[:loc[0]]), "application/pkcs7-mime") {
		t.Fatalf("not an S/MIME copy:\n%s", msg)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(msg[loc[1]:])), ""))
	if err != nil {
		t.Fatalf("copy body: %v", err)
	}
	return der
}
