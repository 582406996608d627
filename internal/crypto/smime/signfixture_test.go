package smime

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// Fixtures shared by the SignedData tests.

// sigTestNow is the signing time of the tests' signatures.
var sigTestNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func sigFixedNow() time.Time { return sigTestNow }

// sigTestContent is a small MIME entity with CRLF line endings.
var sigTestContent = []byte("Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the list.\r\n")

// sigCraft builds a SignedData like Sign does, but lets edit change the
// plan (algorithms, attributes, certificates) before it is signed. The
// plan handed to edit already has sorted default attributes for
// opt.Hash; an edit that changes the hash must rebuild them.
func sigCraft(t *testing.T, leaf *openssltest.Leaf, content []byte, opt SignOptions, edit func(p *sigPlan)) []byte {
	t.Helper()
	p, err := sigNewPlan(leaf.Key.Public(), opt)
	if err != nil {
		t.Fatal(err)
	}
	p.attrs = sigTestAttrs(t, content, p.hash)
	p.certs = sigCertSet(leaf.Cert, opt.Extra)
	if edit != nil {
		edit(&p)
	}
	der, err := sigAssemble(content, leaf.Cert, leaf.Key, rand.Reader, p)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sigTestAttrs returns the default signed attributes, sorted as Sign does.
func sigTestAttrs(t *testing.T, content []byte, h crypto.Hash) [][]byte {
	t.Helper()
	attrs, err := sigSignedAttrs(content, h, sigTestNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigSortAttrs(attrs)
	return attrs
}

// sigTestAttr encodes one attribute with value v.
func sigTestAttr(t *testing.T, oid asn1.ObjectIdentifier, v any) []byte {
	t.Helper()
	a, err := sigEncodeAttribute(oid, v)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sigRewrite parses a ContentInfo with SignedData, lets edit change it and
// encodes it again.
func sigRewrite(t *testing.T, der []byte, edit func(sd *sigSignedData)) []byte {
	t.Helper()
	sd, err := sigParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	edit(sd)
	inner, err := asn1.Marshal(*sd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := marshalContentInfo(oidSignedData, inner)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sigRewriteSignerInfo lets edit change the one SignerInfo of der.
func sigRewriteSignerInfo(t *testing.T, der []byte, edit func(si *sigSignerInfo)) []byte {
	t.Helper()
	return sigRewrite(t, der, func(sd *sigSignedData) {
		var si sigSignerInfo
		if _, err := asn1.Unmarshal(sd.SignerInfos[0].FullBytes, &si); err != nil {
			t.Fatal(err)
		}
		edit(&si)
		b, err := asn1.Marshal(si)
		if err != nil {
			t.Fatal(err)
		}
		sd.SignerInfos[0] = asn1.RawValue{FullBytes: b}
	})
}

// sigIntermediate makes an intermediate CA under root and a leaf for
// email under it, for chain tests.
func sigIntermediate(t *testing.T, root *openssltest.CA, email string) (inter *x509.Certificate, leaf *openssltest.Leaf) {
	t.Helper()
	ikey := openssltest.NewKey(t, openssltest.P256)
	inter = sigCreateCert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1000),
		Subject:               pkix.Name{CommonName: "Sealpost Test Intermediate"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, root.Cert, ikey.Public(), root.Key)
	lkey := openssltest.NewKey(t, openssltest.RSA2048)
	lcert := sigCreateCert(t, &x509.Certificate{
		SerialNumber:   big.NewInt(1001),
		Subject:        pkix.Name{CommonName: email},
		EmailAddresses: []string{email},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().AddDate(2, 0, 0),
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, inter, lkey.Public(), ikey)
	return inter, &openssltest.Leaf{Cert: lcert, Key: lkey}
}

func sigCreateCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
