package pipeline_test

// S/MIME posts as other clients and CMS implementations send them (issue
// 15 item 4), made with the real openssl where it can make them.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// osslPosts makes S/MIME posts to the fixture's list with openssl cms.
type osslPosts struct {
	sf *smimeFixture
	o  *openssltest.OpenSSL
	n  int
}

func (sf *smimeFixture) openssl() *osslPosts {
	o := openssltest.New(sf.t)
	o.WriteCert("list.pem", sf.list.Cert)
	return &osslPosts{sf: sf, o: o}
}

func (op *osslPosts) file(prefix string) string {
	op.n++
	return prefix + strconv.Itoa(op.n)
}

// entity is the inner entity of a post from from, naming the list in
// its protected To.
func smimeEntity(from, body string) []byte {
	return []byte("Content-Type: text/plain; charset=utf-8\r\nFrom: " + from + "\r\nTo: " + team + "\r\n" +
		"Subject: the real subject\r\n\r\n" + body + "Hello list. " + canary + "\r\n")
}

// sign signs entity with `openssl cms -sign` as signer, in S/MIME form
// (multipart/signed unless args say -nodetach).
func (op *osslPosts) sign(entity []byte, signer *smime.Identity, args ...string) []byte {
	op.sf.t.Helper()
	n := op.file("s")
	full := append([]string{"cms", "-sign", "-in", op.o.Write(n+".eml", entity), "-signer", op.o.WriteCert(n+".pem", signer.Cert),
		"-inkey", op.o.WriteKey(n+".key", signer.Key), "-outform", "SMIME"}, args...)
	return op.o.MustRun(nil, full...).Stdout
}

// encrypt encrypts inner to the list's certificate with `openssl cms
// -encrypt` and the cipher option given, as a whole message from from.
func (op *osslPosts) encrypt(inner []byte, from, cipherOpt string) []byte {
	op.sf.t.Helper()
	return op.o.MustRun(inner, "cms", "-encrypt", cipherOpt, "-recip", "list.pem", "-from", from, "-to", team,
		"-subject", "...", "-outform", "SMIME").Stdout
}

// wantRefused processes raw and checks the refusal's reason, that
// nothing was distributed and that the owner was told phrase.
func (sf *smimeFixture) wantRefused(raw []byte, ref string, want policy.Reason, phrase string) *pipeline.Rejection {
	sf.t.Helper()
	err := sf.process(sf.l, raw, ref)
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Reason != want {
		sf.t.Errorf("%s: Process = %v, want %v", ref, err, want)
		return rej
	}
	ds := sf.deliveries(ref)
	if len(ds) != 1 || ds[0].Kind != store.KindNotice || ds[0].To != "owner@example.org" || hasCanary(ds[0].Data) {
		sf.t.Errorf("%s: deliveries %+v, want only the owner's notice", ref, ds)
		return rej
	}
	if text := strings.Join(strings.Fields(string(ds[0].Data)), " "); !strings.Contains(text, phrase) {
		sf.t.Errorf("%s: the owner's notice does not say %q:\n%s", ref, phrase, ds[0].Data)
	}
	return rej
}

// wantDistributed processes raw and checks that each of to got a copy
// that says who signed, and that nothing else carries the content.
func (sf *smimeFixture) wantDistributed(raw []byte, ref, signer string, to ...string) {
	sf.t.Helper()
	if err := sf.process(sf.l, raw, ref); err != nil {
		sf.t.Errorf("%s: %v", ref, err)
		return
	}
	got := map[string]bool{}
	for _, d := range sf.deliveries(ref) {
		if hasCanary(d.Data) {
			sf.t.Errorf("%s: %s's %s is in clear", ref, d.To, d.Kind)
		}
		if d.Kind != store.KindPost {
			continue
		}
		got[d.To] = true
		id := sf.certs[d.To]
		msg, _ := mime.Parse(d.Data, mime.Limits{})
		u, err := smime.Unwrap(msg, id, smime.Options{})
		if err != nil || !strings.Contains(string(u.Content), "X-Sealpost-Verified: signed by "+signer) || !hasCanary(u.Content) {
			sf.t.Errorf("%s: %s's copy: %v\n%s", ref, d.To, err, u.Content)
		}
	}
	for _, a := range to {
		if !got[a] {
			sf.t.Errorf("%s: %s got no copy", ref, a)
		}
	}
}

// TestSMIMEPostWithoutCertificates: `openssl cms -sign -nocerts` by a
// member whose certificate is pinned or harvested is accepted, with GCM
// and with CBC; by anyone else it is a post of an unknown signer, not an
// altered one.
func TestSMIMEPostWithoutCertificates(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	carol := sf.identity("carol@example.org", openssltest.RSA2048)
	m := &store.Member{ListID: sf.l.rec.ID, Email: "carol@example.org", Keys: []store.MemberKey{{
		Key:    store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(carol.Cert), Data: carol.Cert.Raw},
		Source: store.SourceHarvested, CreatedAt: time.Now()}}}
	if err := sf.db.AddMember(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	op := sf.openssl()
	alice := sf.identity("alice@example.org", openssltest.P256)
	for i, cipherOpt := range []string{"-aes-256-gcm", "-aes256"} {
		signed := op.sign(smimeEntity("alice@example.org", ""), alice, "-nocerts")
		sf.wantDistributed(op.encrypt(signed, "alice@example.org", cipherOpt), "nc"+strconv.Itoa(i), "alice@example.org", "alice@example.org", "bob@example.org", "carol@example.org")
	}
	signed := op.sign(smimeEntity("carol@example.org", ""), carol, "-nocerts")
	sf.wantDistributed(op.encrypt(signed, "carol@example.org", "-aes-256-gcm"), "nc-harvested", "carol@example.org", "alice@example.org", "bob@example.org", "carol@example.org")

	mallory := sf.identity("mallory@example.org", openssltest.P256)
	signed = op.sign(smimeEntity("mallory@example.org", ""), mallory, "-nocerts")
	sf.wantRefused(op.encrypt(signed, "mallory@example.org", "-aes-256-gcm"), "nc-stranger", policy.UnknownSigner, "belongs to no member")
}

// TestSMIMEEd25519Post: a member signs with an Ed25519 certificate (RFC
// 8419). openssl 3.0 cannot sign CMS with Ed25519, so the signature is
// Sealpost's own (SignEntity); openssl encrypts.
func TestSMIMEEd25519Post(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(25519), Subject: pkix.Name{CommonName: "Erin"}, EmailAddresses: []string{"erin@example.org"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, sf.ca.Cert, pub, sf.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	erin := &smime.Identity{Cert: cert, Key: priv}
	m := &store.Member{ListID: sf.l.rec.ID, Email: "erin@example.org", Keys: []store.MemberKey{{
		Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(cert), Data: cert.Raw}}}}
	if err := sf.db.AddMember(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	signed, err := smime.SignEntity(smimeEntity("erin@example.org", ""), erin, smime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	op := sf.openssl()
	// Erin's certificate cannot be encrypted to: she gets a notice.
	sf.wantDistributed(op.encrypt(signed, "erin@example.org", "-aes-256-gcm"), "ed", "erin@example.org", "bob@example.org")
}

// TestSMIMEGCMNonceLengths: AuthEnvelopedData with a 16-byte aes-nonce
// (RFC 5084 §3.2). openssl cms writes 12 bytes only, so the envelope is
// Sealpost's own: smime.Encrypt with a known content key, sealed again
// under the longer nonce; the signature inside is openssl's.
func TestSMIMEGCMNonceLengths(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	op := sf.openssl()
	for _, n := range []int{16, 8} {
		signed := op.sign(smimeEntity("alice@example.org", ""), sf.identity("alice@example.org", openssltest.P256))
		der := gcmWithNonce(t, sf.list.Cert, mime.Canonicalize(signed), n)
		raw := "From: alice@example.org\r\nTo: " + team + "\r\nSubject: ...\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name=\"smime.p7m\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + encodeB64(der)
		sf.wantDistributed([]byte(raw), "nonce"+strconv.Itoa(n), "alice@example.org", "alice@example.org")
	}
}

// authEnvelopedData is RFC 5083 §2.1, as far as gcmWithNonce changes it.
type authEnvelopedData struct {
	Version        int
	RecipientInfos asn1.RawValue
	ECI            struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Encrypted   asn1.RawValue `asn1:"optional,tag:0"`
	}
	MAC []byte
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

// gcmWithNonce encrypts content to cert with smime.Encrypt (AES-256-GCM,
// the content key taken from a reader the test controls) and seals the
// content again under an aes-nonce of n bytes.
func gcmWithNonce(t *testing.T, cert *x509.Certificate, content []byte, n int) []byte {
	t.Helper()
	cek := make([]byte, 32)
	rand.Read(cek)
	der, err := smime.Encrypt(content, []*x509.Certificate{cert}, smime.EncryptOptions{Rand: io.MultiReader(bytes.NewReader(cek), rand.Reader)})
	if err != nil {
		t.Fatal(err)
	}
	var ci contentInfo
	var aed authEnvelopedData
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &aed); err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(cek)
	gcm, err := cipher.NewGCMWithNonceSize(block, n)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, n)
	rand.Read(nonce)
	sealed := gcm.Seal(nil, nonce, content, nil)
	// RFC 5084 §3.2: GCMParameters ::= SEQUENCE { aes-nonce, aes-ICVlen }.
	params, _ := asn1.Marshal(struct {
		Nonce  []byte
		ICVLen int
	}{nonce, 16})
	aed.ECI.Algorithm.Parameters = asn1.RawValue{FullBytes: params}
	aed.ECI.Encrypted = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: sealed[:len(content)]}
	aed.MAC = sealed[len(content):]
	inner, err := asn1.Marshal(aed)
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(contentInfo{ContentType: ci.ContentType, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSMIMEBareCRPost: a post whose text has a bare CR, signed by
// openssl cms in its default (text) mode, which keeps a CR inside a line
// (RFC 8551 §3.1.1 as OpenSSL reads it): encrypted, and in clear to a
// list that takes unencrypted posts.
func TestSMIMEBareCRPost(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	op := sf.openssl()
	alice := sf.identity("alice@example.org", openssltest.P256)
	signed := op.sign(smimeEntity("alice@example.org", "Old Mac text:\rstill the same line.\r\n"), alice)
	if !bytes.Contains(signed, []byte(":\rstill")) {
		t.Fatal("openssl did not keep the bare CR")
	}
	sf.wantDistributed(op.encrypt(signed, "alice@example.org", "-aes-256-gcm"), "cr1", "alice@example.org", "alice@example.org")

	sf.l.rec.Settings.Actions = map[string]string{"unencrypted": "accept"}
	if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	signed = op.sign(smimeEntity("alice@example.org", "Again:\rwith a CR.\r\n"), alice)
	clear := append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: clear\r\n"), signed...)
	sf.wantDistributed(clear, "cr2", "alice@example.org", "alice@example.org")
}

// TestSMIMEOpaqueSignedInClear: a list that takes unencrypted posts reads
// opaque signed-data (application/pkcs7-mime; smime-type=signed-data,
// RFC 8551 §3.5.2) as it reads multipart/signed, also without the
// optional smime-type parameter; a stranger's is still refused.
func TestSMIMEOpaqueSignedInClear(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.l.rec.Settings.Actions = map[string]string{"unencrypted": "accept"}
	if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	op := sf.openssl()
	post := func(from string, id *smime.Identity) []byte {
		signed := op.sign(smimeEntity(from, ""), id, "-nodetach")
		if !bytes.Contains(signed, []byte("smime-type=signed-data")) {
			t.Fatalf("openssl wrote:\n%s", signed)
		}
		return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nSubject: clear\r\n"), signed...)
	}
	alicePost := post("alice@example.org", sf.identity("alice@example.org", openssltest.P256))
	sf.wantDistributed(alicePost, "op1", "alice@example.org", "alice@example.org")
	alicePost = post("alice@example.org", sf.identity("alice@example.org", openssltest.P256))
	sf.wantDistributed(bytes.Replace(alicePost, []byte(" smime-type=signed-data;"), nil, 1), "op2", "alice@example.org", "alice@example.org")
	err := sf.process(sf.l, post("mallory@example.org", sf.identity("mallory@example.org", openssltest.P256)), "op3")
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Reason != policy.Untrusted {
		t.Errorf("a stranger's opaque-signed post: %v, want untrusted (no trust anchor)", err)
	}

	// A list that refuses unencrypted posts refuses it as not encrypted.
	sf.l.rec.Settings.Actions = nil
	if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	sf.wantRefused(post("alice@example.org", sf.identity("alice@example.org", openssltest.P256)), "op4", policy.NotEncrypted, "not encrypted")
}

// TestSMIMERefusalReasons: each refusal names its real reason to the
// owner, while the sender's reply stays the same for all (DESIGN §4.3).
func TestSMIMERefusalReasons(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.RSA2048)
	op := sf.openssl()
	alice := sf.identity("alice@example.org", openssltest.RSA2048)
	entity := smimeEntity("alice@example.org", "")
	good := op.sign(entity, alice)
	sha1 := op.sign(entity, alice, "-md", "sha1")
	dupTime := editSignature(t, good, func(attrs [][]byte) [][]byte {
		return append(attrs, attrWith(t, attrs, oidSigningTime))
	})
	noDigest := editSignature(t, good, func(attrs [][]byte) [][]byte {
		return without(t, attrs, oidMessageDigest)
	})
	altered := bytes.Replace(good, []byte("Hello list."), []byte("Hello List."), 1)
	tests := []struct {
		name   string
		raw    []byte
		want   policy.Reason
		phrase string
	}{
		{"SHA-1, GCM", op.encrypt(sha1, "alice@example.org", "-aes-256-gcm"), policy.WeakSignature, "SHA-1"},
		{"SHA-1, CBC", op.encrypt(sha1, "alice@example.org", "-aes256"), policy.WeakSignature, "SHA-1"},
		{"duplicate signing-time, GCM", op.encrypt(dupTime, "alice@example.org", "-aes-256-gcm"), policy.MalformedSignature, "given twice"},
		{"duplicate signing-time, CBC", op.encrypt(dupTime, "alice@example.org", "-aes256"), policy.MalformedSignature, "given twice"},
		{"no message-digest, CBC", op.encrypt(noDigest, "alice@example.org", "-aes256"), policy.MalformedSignature, "message digest"},
		{"3DES", op.encrypt(good, "alice@example.org", "-des3"), policy.WeakCipher, "3DES"},
		{"Camellia", op.encrypt(good, "alice@example.org", "-camellia256"), policy.Unsupported, "does not support"},
		// Controls: what is altered is still reported as altered.
		{"altered, GCM", op.encrypt(altered, "alice@example.org", "-aes-256-gcm"), policy.BadSignature, "altered"},
		{"altered, CBC", op.encrypt(altered, "alice@example.org", "-aes256"), policy.NoIntegrity, "integrity"},
	}
	var texts []string
	for i, tt := range tests {
		rej := sf.wantRefused(tt.raw, "why"+strconv.Itoa(i), tt.want, tt.phrase)
		if rej != nil {
			texts = append(texts, rej.Text)
		}
	}
	for _, text := range texts {
		if text != texts[0] {
			t.Errorf("replies differ: %q and %q", text, texts[0])
		}
	}
}

// TestSMIMEClearRefusalReasons: on a list that takes unencrypted posts,
// a signature in clear that is refused for how it was made gets that
// reason too, not "altered" and not the list's bad_signature action.
func TestSMIMEClearRefusalReasons(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.RSA2048)
	sf.l.rec.Settings.Actions = map[string]string{"unencrypted": "accept", "bad_signature": "hold"}
	if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	op := sf.openssl()
	alice := sf.identity("alice@example.org", openssltest.RSA2048)
	clear := func(signed []byte) []byte {
		return append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: clear\r\n"), signed...)
	}
	sha1 := op.sign(smimeEntity("alice@example.org", ""), alice, "-md", "sha1")
	sf.wantRefused(clear(sha1), "c1", policy.WeakSignature, "SHA-1")
	sha1Opaque := op.sign(smimeEntity("alice@example.org", "opaque "), alice, "-md", "sha1", "-nodetach")
	sf.wantRefused(clear(sha1Opaque), "c2", policy.WeakSignature, "SHA-1")
}

var (
	oidSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

// signedData and signerInfo are RFC 5652 §5.1 and §5.3, the parts that
// editSignature changes kept apart.
type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos      asn1.RawValue
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    asn1.RawValue
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm asn1.RawValue
	Signature          []byte
}

// editSignature lets edit change the signed attributes of the signature
// part of msg, an openssl multipart/signed, and returns msg with it. The
// signature value is left as it was: the attributes break RFC 5652 §5.3
// before any signature is checked.
func editSignature(t *testing.T, msg []byte, edit func(attrs [][]byte) [][]byte) []byte {
	t.Helper()
	top, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sigPart := top.Children[1]
	der, err := sigPart.Decoded(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var ci contentInfo
	var sd signedData
	var si signerInfo
	must := func(rest []byte, err error) {
		t.Helper()
		if err != nil || len(rest) != 0 {
			t.Fatalf("signature: %v", err)
		}
	}
	must(asn1.Unmarshal(der, &ci))
	must(asn1.Unmarshal(ci.Content.Bytes, &sd))
	must(asn1.Unmarshal(sd.SignerInfos.Bytes, &si))
	var attrs [][]byte
	for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
		var a asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			t.Fatal(err)
		}
		attrs = append(attrs, a.FullBytes)
	}
	si.SignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(edit(attrs), nil)}
	siDER, err := asn1.Marshal(si)
	if err != nil {
		t.Fatal(err)
	}
	sd.SignerInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: siDER}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(contentInfo{ContentType: ci.ContentType, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER}})
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(msg, sigPart.Body)
	return append(append(bytes.Clone(msg[:i]), encodeB64(out)...), msg[i+len(sigPart.Body):]...)
}

// attrWith returns the attribute of type oid among attrs.
func attrWith(t *testing.T, attrs [][]byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	for _, a := range attrs {
		var attr struct {
			Type   asn1.ObjectIdentifier
			Values asn1.RawValue
		}
		if _, err := asn1.Unmarshal(a, &attr); err == nil && attr.Type.Equal(oid) {
			return a
		}
	}
	t.Fatalf("no attribute %v", oid)
	return nil
}

// without returns attrs without the attribute of type oid.
func without(t *testing.T, attrs [][]byte, oid asn1.ObjectIdentifier) [][]byte {
	t.Helper()
	drop := attrWith(t, attrs, oid)
	var out [][]byte
	for _, a := range attrs {
		if !bytes.Equal(a, drop) {
			out = append(out, a)
		}
	}
	return out
}
