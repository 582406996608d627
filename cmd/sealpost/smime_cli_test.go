package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestSMIMECommands: the list's S/MIME identity from a PKCS#12 file made
// by openssl (password from a file), its certificate printed for members,
// members added with certificates in PEM and DER.
func TestSMIMECommands(t *testing.T) {
	t.Parallel()
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	list := ca.Issue("team@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	p12, pass := identityFile(o, "list", list)
	wrong := filepath.Join(o.Dir, o.Write("wrong", []byte("nope\n")))
	data := t.TempDir()

	r := sealpost(t, data, nil, "list", "create", "team@lists.example.org", "--smime-cert", p12, "--smime-pass-file", wrong).want(t, 65)
	if !strings.Contains(r.stderr, "password") {
		t.Errorf("a wrong PKCS#12 password is not named:\n%s", r.stderr)
	}
	// Nothing half-made, not even the data directory: list show finds none.
	sealpost(t, data, nil, "list", "show", "team@lists.example.org").want(t, exitConfig)
	sealpost(t, data, nil, "list", "create", "team@lists.example.org", "--smime-cert", p12, "--smime-generate").want(t, 64)

	r = sealpost(t, data, nil, "list", "create", "team@lists.example.org", "--smime-cert", p12, "--smime-pass-file", pass).want(t, 0)
	if !strings.Contains(r.stdout, smime.Fingerprint(list.Cert)) {
		t.Errorf("list create does not show the certificate:\n%s", r.stdout)
	}
	r = sealpost(t, data, nil, "list", "cert", "team@lists.example.org").want(t, 0)
	if c, _, err := smime.ParseCertificate([]byte(r.stdout)); err != nil || !c.Equal(list.Cert) {
		t.Errorf("list cert printed %q (%v)", r.stdout, err)
	}

	carol := ca.Issue("carol@example.org", openssltest.P256, openssltest.LeafOptions{})
	dave := ca.Issue("dave@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("carol.pem", carol.Cert)
	o.Write("dave.der", dave.Cert.Raw)
	sealpost(t, data, nil, "member", "add", "team@lists.example.org", "carol@example.org", "--key", filepath.Join(o.Dir, "carol.pem")).want(t, 0)
	sealpost(t, data, nil, "member", "add", "team@lists.example.org", "dave@example.org", "--key", filepath.Join(o.Dir, "dave.der")).want(t, 0)
	r = sealpost(t, data, nil, "member", "add", "team@lists.example.org", "erin@example.org", "--key", filepath.Join(o.Dir, "dave.der")).want(t, 65)
	if !strings.Contains(r.stderr, "not issued for erin@example.org") {
		t.Errorf("a certificate for another address is not explained:\n%s", r.stderr)
	}
	r = sealpost(t, data, nil, "member", "list", "team@lists.example.org", "--json").want(t, 0)
	for _, c := range []*openssltest.Leaf{carol, dave} {
		if !strings.Contains(r.stdout, smime.Fingerprint(c.Cert)) {
			t.Errorf("member list lacks %s:\n%s", c.Cert.EmailAddresses[0], r.stdout)
		}
	}
	sealpost(t, data, nil, "list", "set", "team@lists.example.org", "outgoing_format=smime").want(t, 0)

	caFile := filepath.Join(o.Dir, o.WriteCert("ca.pem", ca.Cert))
	sealpost(t, data, nil, "list", "trust", "add", "team@lists.example.org", caFile).want(t, 0)
	r = sealpost(t, data, nil, "list", "trust", "list", "team@lists.example.org").want(t, 0)
	if !strings.Contains(r.stdout, smime.Fingerprint(ca.Cert)) {
		t.Errorf("list trust list:\n%s", r.stdout)
	}
	r = sealpost(t, data, nil, "list", "trust", "add", "team@lists.example.org", filepath.Join(o.Dir, "carol.pem")).want(t, 65)
	if !strings.Contains(r.stderr, "not a CA certificate") {
		t.Errorf("a leaf certificate as trust anchor:\n%s", r.stderr)
	}
	sealpost(t, data, nil, "list", "trust", "remove", "team@lists.example.org", smime.Fingerprint(ca.Cert)).want(t, 0)
	sealpost(t, data, nil, "list", "trust", "remove", "team@lists.example.org", smime.Fingerprint(ca.Cert)).want(t, 65)
}

// identityFile writes leaf as NAME.pem and NAME.key and, made from them
// by `openssl pkcs12 -export`, as NAME.p12 protected by the password in
// the file "pass"; it returns the paths of the PKCS#12 file and of the
// password file.
func identityFile(o *openssltest.OpenSSL, name string, leaf *openssltest.Leaf) (p12, pass string) {
	o.WriteCert(name+".pem", leaf.Cert)
	o.WriteKey(name+".key", leaf.Key)
	o.MustRun(nil, "pkcs12", "-export", "-inkey", name+".key", "-in", name+".pem", "-passout", "pass:s3cret", "-out", name+".p12")
	return filepath.Join(o.Dir, name+".p12"), filepath.Join(o.Dir, o.Write("pass", []byte("s3cret\n")))
}
