package openssltest

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// CRL makes a CRL of ca the way an authority's own tooling does: each
// certificate in revoked is revoked with `openssl ca -revoke`, then
// `openssl ca -gencrl` signs the list, due again in days days. It
// returns the CRL in PEM. Every call starts from an empty CA database.
func (o *OpenSSL) CRL(ca *CA, days int, revoked ...*x509.Certificate) []byte {
	o.t.Helper()
	dir, err := os.MkdirTemp(o.Dir, "ca-")
	if err != nil {
		o.t.Fatal(err)
	}
	rel := func(name string) string { return filepath.Join(filepath.Base(dir), name) }
	o.WriteCert(rel("ca.pem"), ca.Cert)
	o.WriteKey(rel("ca.key"), ca.Key)
	o.Write(rel("index.txt"), nil)
	o.Write(rel("crlnumber"), []byte("01\n"))
	o.Write(rel("ca.cnf"), fmt.Appendf(nil, "[ca]\ndefault_ca = sealpost_test\n\n[sealpost_test]\n"+
		"database = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = %d\n",
		rel("index.txt"), rel("crlnumber"), days))
	base := []string{"ca", "-config", rel("ca.cnf"), "-keyfile", rel("ca.key"), "-cert", rel("ca.pem")}
	for i, c := range revoked {
		name := o.WriteCert(rel("revoked-"+strconv.Itoa(i)+".pem"), c)
		o.MustRun(nil, append(base, "-revoke", name)...)
	}
	o.MustRun(nil, append(base, "-gencrl", "-out", rel("crl.pem"))...)
	return o.Read(rel("crl.pem"))
}
