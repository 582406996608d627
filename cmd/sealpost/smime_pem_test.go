package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestPEMArmouredPKCS12: a PKCS#12 file written as base64 between
// -----BEGIN PKCS12----- lines (as some tools write it; here the base64
// of `openssl pkcs12 -export`) gives a new list its identity with
// `list create --smime-cert`, and an existing list its identity with
// `key import --list`, whatever the file is called.
func TestPEMArmouredPKCS12(t *testing.T) {
	t.Parallel()
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	data := t.TempDir()
	o.Write("pass", []byte("s3cret\n"))
	pass := filepath.Join(o.Dir, "pass")
	armoured := func(name string, leaf *openssltest.Leaf) string {
		o.WriteCert(name+".pem", leaf.Cert)
		o.WriteKey(name+".key", leaf.Key)
		der := o.MustRun(nil, "pkcs12", "-export", "-inkey", name+".key", "-in", name+".pem", "-passout", "pass:s3cret").Stdout
		b64 := o.MustRun(der, "base64").Stdout
		return filepath.Join(o.Dir, o.Write(name+".p12.pem", []byte("-----BEGIN PKCS12-----\n"+string(b64)+"-----END PKCS12-----\n")))
	}

	team := ca.Issue("team@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	r := sealpost(t, data, nil, "list", "create", "team@lists.example.org", "--smime-cert", armoured("team", team), "--smime-pass-file", pass).want(t, 0)
	if !strings.Contains(r.stdout, smime.Fingerprint(team.Cert)) {
		t.Errorf("list create does not show the certificate:\n%s", r.stdout)
	}

	other := ca.Issue("other@lists.example.org", openssltest.P256, openssltest.LeafOptions{})
	sealpost(t, data, nil, "list", "create", "other@lists.example.org").want(t, 0)
	r = sealpost(t, data, nil, "key", "import", "--list", "other@lists.example.org", "--passphrase-file", pass, armoured("other", other)).want(t, 0)
	if !strings.Contains(r.stdout, "now the S/MIME identity of other@lists.example.org") {
		t.Errorf("key import:\n%s", r.stdout)
	}
	r = sealpost(t, data, nil, "list", "cert", "other@lists.example.org").want(t, 0)
	if c, _, err := smime.ParseCertificate([]byte(r.stdout)); err != nil || !c.Equal(other.Cert) {
		t.Errorf("list cert printed %q (%v)", r.stdout, err)
	}
}
