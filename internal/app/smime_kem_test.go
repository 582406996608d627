package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// kemMember is an S/MIME member whose certificate is ML-KEM-768 (RFC
// 9935), issued by ca: a client that reads KEMRecipientInfo (none
// here does, so Sealpost's Decrypt stands in for it, with only the
// member's seed key).
type kemMember struct {
	cert *x509.Certificate
	key  *smime.MLKEMPrivateKey
}

func newKEMMember(t testing.TB, ca *openssltest.CA, addr string) kemMember {
	t.Helper()
	key, err := smime.GenerateMLKEM768()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(time.Now().UnixNano()),
		Subject:        pkix.Name{CommonName: addr},
		EmailAddresses: []string{addr},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().AddDate(1, 0, 0),
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := smime.CreateMLKEMCertificate(tmpl, ca.Cert, key, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// Only the seed travels: the member's client holds nothing else.
	pkcs8, err := key.MarshalPKCS8()
	if err != nil {
		t.Fatal(err)
	}
	if key, err = smime.ParseMLKEMPrivateKey(pkcs8); err != nil {
		t.Fatal(err)
	}
	return kemMember{cert, key}
}

// oriKEM is the DER of id-ori-kem (RFC 9629 §3), the oriType of a
// KEMRecipientInfo.
var oriKEM = func() []byte {
	b, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 13, 3})
	return b
}()

// smimeBody decodes the base64 body of an S/MIME copy.
func smimeBody(t testing.TB, msg []byte) []byte {
	t.Helper()
	loc := regexp.MustCompile(`\r?\n\r?\n`).FindIndex(msg)
	if loc == nil {
		t.Fatalf("no header/body separator")
	}
	der, err := base64.StdEncoding.DecodeString(string(regexp.MustCompile(`\s+`).ReplaceAll(msg[loc[1]:], nil)))
	if err != nil {
		t.Fatalf("base64 body: %v", err)
	}
	return der
}

// TestMLKEMListAndMember: a list with an RSA S/MIME identity and an
// ML-KEM-768 certificate it issued itself (GenerateListKEM); a classical
// member (P-256, its posts made by openssl cms) and an ML-KEM member
// whose certificate a classical test CA issued. A post from the
// classical member fans out: openssl opens and verifies the classical
// copy; the ML-KEM copy is AuthEnvelopedData whose only RecipientInfo is
// a KEMRecipientInfo, opened by Sealpost's Decrypt with the member's seed
// key alone, and its list signature verifies with openssl. Then a post
// encrypted to the list's ML-KEM certificate (written with Sealpost's
// Encrypt, as no client here writes one) is decrypted and accepted.
func TestMLKEMListAndMember(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	ctx := context.Background()
	if _, err := s.app.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	l, err := s.app.Admin.GenerateListKEM(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	listKEM, err := x509.ParseCertificate(l.SMIMEKEMCert)
	if err != nil {
		t.Fatal(err)
	}
	// Issued by the list's certificate, an end entity: crypto/x509's
	// CheckSignatureFrom wants a CA parent, so the signature is checked
	// directly.
	sigErr := listLeaf.Cert.CheckSignature(listKEM.SignatureAlgorithm, listKEM.RawTBSCertificate, listKEM.Signature)
	if info := smime.CertInfo(listKEM); info.Algorithm != "ML-KEM-768" || !info.PostQuantum || listKEM.KeyUsage != x509.KeyUsageKeyEncipherment ||
		len(listKEM.SubjectKeyId) == 0 || sigErr != nil || !bytes.Equal(listKEM.RawIssuer, listLeaf.Cert.RawSubject) {
		t.Fatalf("list ML-KEM certificate: %+v, usage %v, SKI %x, signed by the list: %v", info, listKEM.KeyUsage, listKEM.SubjectKeyId, sigErr)
	}
	pem, err := s.app.Admin.ListCert(ctx, team)
	if err != nil || bytes.Count(pem, []byte("BEGIN CERTIFICATE")) != 2 {
		t.Errorf("list cert: %d certificates, %v; want the S/MIME and the ML-KEM one", bytes.Count(pem, []byte("BEGIN CERTIFICATE")), err)
	}
	o.WriteCert("list.pem", listLeaf.Cert)

	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	o.WriteCert("alice.pem", alice.Cert)
	o.WriteKey("alice.key", alice.Key)
	pq := newKEMMember(t, ca, "pq@example.org")
	for addr, cert := range map[string]*x509.Certificate{"alice@example.org": alice.Cert, "pq@example.org": pq.cert} {
		if _, info, err := s.app.Admin.AddMemberWith(ctx, team, addr, smime.CertsPEM(cert), quiet(false)); err != nil {
			t.Fatalf("member add %s: %v", addr, err)
		} else if addr == "pq@example.org" && (!info.PostQuantum || info.Algorithm != "ML-KEM-768") {
			t.Errorf("member add %s: %+v", addr, info)
		}
	}

	checkCopies := func(t *testing.T, marker string) {
		t.Helper()
		for _, c := range s.outbox(t, 2) {
			to := deliveredTo(c)
			if bytes.Contains(c, []byte(marker)) {
				t.Fatalf("copy for %s carries plaintext", to)
			}
			if to == "alice@example.org" {
				o.Write("copy.eml", c)
				if dec := o.Run(nil, "cms", "-decrypt", "-in", "copy.eml", "-recip", "alice.pem", "-inkey", "alice.key", "-out", "dec.eml"); dec.Err != nil {
					t.Fatalf("alice: openssl cms -decrypt: %v\n%s", dec.Err, dec.Stderr)
				}
				if ver := o.Run(nil, "cms", "-verify", "-in", "dec.eml", "-CAfile", caFile); ver.Err != nil || !bytes.Contains(ver.Stdout, []byte(marker)) {
					t.Errorf("alice: openssl cms -verify: %v\n%s", ver.Err, ver.Stderr)
				}
				continue
			}
			if !bytes.Contains(c, []byte("smime-type=authEnveloped-data")) {
				t.Errorf("%s: copy is not AuthEnvelopedData:\n%.400s", to, c)
			}
			der := smimeBody(t, c)
			if bytes.Count(der, oriKEM) != 1 {
				t.Errorf("%s: copy holds %d KEMRecipientInfos, want 1", to, bytes.Count(der, oriKEM))
			}
			plain, info, err := smime.Decrypt(der, pq.cert, pq.key)
			if err != nil || info.KeyTransport != "ML-KEM-768-HKDF-SHA256" || info.Cipher != "AES-256-GCM" {
				t.Fatalf("%s: Decrypt: %+v, %v", to, info, err)
			}
			o.Write("pqdec.eml", plain)
			if ver := o.Run(nil, "cms", "-verify", "-in", "pqdec.eml", "-CAfile", caFile); ver.Err != nil || !bytes.Contains(ver.Stdout, []byte(marker)) {
				t.Errorf("%s: openssl cms -verify of the decrypted copy: %v\n%s", to, ver.Err, ver.Stderr)
			}
		}
	}

	t.Run("post to the RSA certificate", func(t *testing.T) {
		s.clearOutbox(t)
		const marker = "CANARY-kem-classical"
		o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: "+team+"\r\nSubject: kem\r\n\r\n"+marker+"\r\n"))
		o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed")
		o.MustRun(nil, "cms", "-encrypt", "-aes-256-gcm", "-in", "signed", "-out", "post.eml", "-recip", "list.pem")
		if err := s.send(t, "alice@example.org", []string{team}, append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: ...\r\n"), o.Read("post.eml")...)); err != nil {
			t.Fatalf("post refused: %v", err)
		}
		checkCopies(t, marker)
	})

	// postToKEM is alice's post, signed by her and encrypted to an ML-KEM
	// certificate of the list alone (with Sealpost's Encrypt, as no
	// client here writes one).
	postToKEM := func(t *testing.T, marker string, to *x509.Certificate) []byte {
		t.Helper()
		signed, err := smime.SignEntity([]byte("Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: "+team+"\r\n\r\n"+marker+"\r\n"),
			&smime.Identity{Cert: alice.Cert, Key: alice.Key}, smime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ct, body, err := smime.EncryptEntity(signed, to, smime.EncryptOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if der := smimeBody(t, append([]byte("\r\n\r\n"), body...)); bytes.Count(der, oriKEM) != 1 {
			t.Fatalf("post to the list has no KEMRecipientInfo")
		}
		return append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+
			"\r\nContent-Transfer-Encoding: base64\r\n\r\n"), body...)
	}

	t.Run("post to the list's ML-KEM certificate", func(t *testing.T) {
		s.clearOutbox(t)
		const marker = "CANARY-kem-to-list"
		if err := s.send(t, "alice@example.org", []string{team}, postToKEM(t, marker, listKEM)); err != nil {
			t.Fatalf("post refused: %v", err)
		}
		checkCopies(t, marker)
	})

	t.Run("post to a replaced ML-KEM certificate in its grace period", func(t *testing.T) {
		s.clearOutbox(t)
		const marker = "CANARY-kem-replaced"
		post := postToKEM(t, marker, listKEM)
		l, err := s.app.Admin.GenerateListKEM(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(l.SMIMEKEMCert, listKEM.Raw) {
			t.Fatal("GenerateListKEM kept the certificate")
		}
		if err := s.send(t, "alice@example.org", []string{team}, post); err != nil {
			t.Fatalf("post to the replaced certificate refused: %v", err)
		}
		checkCopies(t, marker)
		if listKEM, err = x509.ParseCertificate(l.SMIMEKEMCert); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("welcome to an ML-KEM member", func(t *testing.T) {
		s.clearOutbox(t)
		pq2 := newKEMMember(t, ca, "pq2@example.org")
		if _, _, err := s.app.Admin.AddMember(ctx, team, "pq2@example.org", smime.CertsPEM(pq2.cert), false); err != nil {
			t.Fatal(err)
		}
		s.app.Queue.Notify()
		der := smimeBody(t, s.waitFor(t, "pq2@example.org"))
		plain, info, err := smime.Decrypt(der, pq2.cert, pq2.key)
		if err != nil || info.KeyTransport != "ML-KEM-768-HKDF-SHA256" {
			t.Fatalf("welcome: Decrypt: %+v, %v", info, err)
		}
		// It carries the list's ML-KEM certificate beside its S/MIME one.
		if !bytes.Contains(plain, []byte("list-cert-mlkem.pem")) || !bytes.Contains(plain, []byte("list-cert.pem")) {
			t.Errorf("welcome lacks the list's certificates:\n%.600s", plain)
		}
	})

	t.Run("ML-KEM certificate of another address refused", func(t *testing.T) {
		other := newKEMMember(t, ca, "someone@example.org")
		if _, err := s.app.Admin.SetListKEM(ctx, team, &smime.KEMIdentity{Cert: other.cert, Key: other.key}); err == nil ||
			!strings.Contains(err.Error(), "someone@example.org") {
			t.Errorf("SetListKEM with another address's certificate: %v", err)
		}
	})
}
