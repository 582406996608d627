package pipeline_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// smimeFixture is a list with an S/MIME identity issued by a test CA.
type smimeFixture struct {
	*fixture
	ca    *openssltest.CA
	l     *testList
	list  *smime.Identity
	certs map[string]*smime.Identity // member identities by address
}

func newSMIMEFixture(t *testing.T, anchors bool) *smimeFixture {
	f := newFixture(t)
	sf := &smimeFixture{fixture: f, ca: openssltest.NewCA(t, openssltest.RSA2048), certs: map[string]*smime.Identity{}}
	if anchors {
		f.p = pipeline.New(f.db, f.sealer, pipeline.Options{TrustAnchors: []*x509.Certificate{sf.ca.Cert}, Logger: quietLogger()})
	}
	sf.l = f.list(team)
	leaf := sf.ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	sf.list = &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
	secret, err := sf.list.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	sf.l.rec.SMIMECert = leaf.Cert.Raw
	if sf.l.rec.SMIMESealed, err = f.sealer.Seal(secret, keyring.ListKeyLabel(team, smime.Fingerprint(leaf.Cert))); err != nil {
		t.Fatal(err)
	}
	if err := f.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	return sf
}

// identity issues (once) a certificate for addr from the fixture's CA.
func (sf *smimeFixture) identity(addr string, kt openssltest.KeyType) *smime.Identity {
	if id := sf.certs[addr]; id != nil {
		return id
	}
	leaf := sf.ca.Issue(addr, kt, openssltest.LeafOptions{})
	id := &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
	sf.certs[addr] = id
	return id
}

// addCertMember adds addr with their certificate pinned.
func (sf *smimeFixture) addCertMember(addr string, kt openssltest.KeyType) {
	sf.t.Helper()
	id := sf.identity(addr, kt)
	m := &store.Member{ListID: sf.l.rec.ID, Email: addr, Keys: []store.MemberKey{{
		Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(id.Cert), Data: id.Cert.Raw}}}}
	if err := sf.db.AddMember(context.Background(), m); err != nil {
		sf.t.Fatal(err)
	}
}

// smimePost is a post signed by signer and encrypted to the list's
// certificate, From from, protected To naming the list.
func (sf *smimeFixture) smimePost(signer *smime.Identity, from string, cipher smime.Cipher) []byte {
	sf.t.Helper()
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: " + from + "\r\nTo: " + team + "\r\n" +
		"Subject: the real subject\r\n\r\nHello list. " + canary + "\r\n"
	signed, err := smime.SignEntity([]byte(inner), signer, smime.Options{})
	if err != nil {
		sf.t.Fatal(err)
	}
	ct, body, err := smime.EncryptEntity(signed, sf.list.Cert, smime.EncryptOptions{Cipher: cipher})
	if err != nil {
		sf.t.Fatal(err)
	}
	return []byte("From: " + from + "\r\nTo: " + team + "\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: " + ct +
		"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + string(body))
}

// TestMixedList: one post, two OpenPGP and two S/MIME members, four copies
// each in the member's own format, signed by the list.
func TestMixedList(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	for _, a := range []string{"carol@example.org", "dave@example.org"} {
		sf.addMember(sf.l, a, sf.member(a).PublicBytes())
	}
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	for _, cipher := range []smime.Cipher{smime.AES256GCM, smime.AES128CBC} {
		// The second round signs the S/MIME copies opaquely.
		sf.l.rec.Settings.SMIMEOpaque = cipher == smime.AES128CBC
		if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
			t.Fatal(err)
		}
		ref := "mixed" + string(rune('0'+cipher))
		if err := sf.process(sf.l, sf.smimePost(sf.identity("alice@example.org", openssltest.P256), "alice@example.org", cipher), ref); err != nil {
			t.Fatalf("cipher %d: %v", cipher, err)
		}
		ds := sf.deliveries(ref)
		if len(ds) != 4 {
			t.Fatalf("%d deliveries, want 4", len(ds))
		}
		for _, d := range ds {
			if hasCanary(d.Data) {
				t.Errorf("copy for %s carries plaintext", d.To)
			}
			if id := sf.certs[d.To]; id != nil {
				msg, err := mime.Parse(d.Data, mime.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				// AES-GCM only for alice once her first post announced it;
				// else AES-CBC, authenticated by the list's signature inside.
				integrity := "signature"
				if d.To == "alice@example.org" && cipher == smime.AES128CBC {
					integrity = "aead"
				}
				u, err := smime.Unwrap(msg, id, smime.Options{})
				if err != nil || u.Verified == nil || !u.Verified.Signer.Equal(sf.list.Cert) || u.Protection.Integrity != integrity {
					t.Fatalf("%s's S/MIME copy: %v, %+v, want integrity %s", d.To, err, u.Protection, integrity)
				}
				if !strings.Contains(string(u.Content), "X-Sealpost-Verified: signed by alice@example.org") || !hasCanary(u.Content) {
					t.Errorf("%s's copy content:\n%s", d.To, u.Content)
				}
				continue
			}
			_, inner := sf.open(sf.l, d) // OpenPGP members
			if !hasCanary(inner.Body) {
				t.Errorf("%s's PGP copy lacks the body", d.To)
			}
		}
	}
}

// TestSMIMECertifiedAndHarvested: with trust anchors, a member without a
// pinned certificate posts with a CA-issued one; it is accepted and the
// certificate kept, so the member gets S/MIME copies from then on.
func TestSMIMECertifiedAndHarvested(t *testing.T) {
	sf := newSMIMEFixture(t, true)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	frank := &store.Member{ListID: sf.l.rec.ID, Email: "frank@example.org"}
	if err := sf.db.AddMember(context.Background(), frank); err != nil {
		t.Fatal(err)
	}
	id := sf.identity("frank@example.org", openssltest.P256)
	if err := sf.process(sf.l, sf.smimePost(id, "frank@example.org", smime.AES256GCM), "h1"); err != nil {
		t.Fatal(err)
	}
	var frankGot string
	for _, d := range sf.deliveries("h1") {
		if d.To == "frank@example.org" {
			frankGot = d.Kind
		}
	}
	if frankGot != store.KindNotice {
		t.Errorf("frank, without any key yet, got %q, want a notice", frankGot)
	}
	ms, _ := sf.db.Members(context.Background(), sf.l.rec.ID)
	for _, m := range ms {
		if m.Email == "frank@example.org" && (m.Key(store.EngineSMIME) == nil || m.Key(store.EngineSMIME).Source != store.SourceHarvested) {
			t.Fatalf("frank's certificate was not harvested: %+v", m.Keys)
		}
	}
	bob := sf.identity("bob@example.org", openssltest.RSA2048)
	if err := sf.process(sf.l, sf.smimePost(bob, "bob@example.org", smime.AES256GCM), "h2"); err != nil {
		t.Fatal(err)
	}
	for _, d := range sf.deliveries("h2") {
		if d.To == "frank@example.org" && (d.Kind != store.KindPost || !strings.Contains(string(d.Data), "application/pkcs7-mime")) {
			t.Errorf("frank's second copy: %s", d.Kind)
		}
	}
}

// TestSMIMERefusals: start valid, break one thing (RFC 8550, RFC 5280,
// RFC 5083); every refusal gets the same reply and distributes nothing.
func TestSMIMERefusals(t *testing.T) {
	sf := newSMIMEFixture(t, true)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	alice := &store.Member{ListID: sf.l.rec.ID, Email: "alice@example.org"}
	if err := sf.db.AddMember(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	other := openssltest.NewCA(t, openssltest.P256)
	stranger := other.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	noEKU := sf.ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{NoEmailEKU: true})
	good := sf.identity("alice@example.org", openssltest.P256)
	post := func(id *smime.Identity, cipher smime.Cipher) []byte {
		return sf.smimePost(id, "alice@example.org", cipher)
	}
	flip := func(raw []byte, at func(body string) int) []byte {
		s := string(raw)
		body := strings.Index(s, "\r\n\r\n") + 4
		der, _ := decodeB64(s[body:])
		der[at(string(der))] ^= 0x01
		return []byte(s[:body] + encodeB64(der))
	}
	tests := []struct {
		name string
		raw  []byte
		want policy.Reason
	}{
		{"certificate of another authority", post(&smime.Identity{Cert: stranger.Cert, Key: stranger.Key}, smime.AES256GCM), policy.Untrusted},
		{"certificate without email protection", post(&smime.Identity{Cert: noEKU.Cert, Key: noEKU.Key}, smime.AES256GCM), policy.Untrusted},
		{"certificate for someone else", sf.smimePost(sf.identity("dave@example.org", openssltest.P256), "alice@example.org", smime.AES256GCM), policy.Untrusted},
		{"GCM tag altered", flip(post(good, smime.AES256GCM), func(d string) int { return len(d) - 3 }), policy.NoIntegrity},
		{"CBC ciphertext altered", flip(post(good, smime.AES256CBC), func(d string) int { return len(d) - 20 }), policy.NoIntegrity},
	}
	for i, tt := range tests {
		ref := "r" + string(rune('a'+i))
		err := sf.process(sf.l, tt.raw, ref)
		var rej *pipeline.Rejection
		if !errors.As(err, &rej) || rej.Reason != tt.want {
			t.Errorf("%s: Process = %v, want %v", tt.name, err, tt.want)
			continue
		}
		for _, d := range sf.deliveries(ref) {
			if d.Kind == store.KindPost || hasCanary(d.Data) {
				t.Errorf("%s: distributed %+v", tt.name, d.To)
			}
		}
	}

	// Revoked by a CRL the administrator loaded.
	crl := revocationList(t, sf.ca, good.Cert.SerialNumber)
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{TrustAnchors: []*x509.Certificate{sf.ca.Cert}, CRLs: []*x509.RevocationList{crl}, Logger: quietLogger()})
	var rej *pipeline.Rejection
	if err := sf.process(sf.l, post(good, smime.AES256GCM), "revoked"); !errors.As(err, &rej) || rej.Reason != policy.Untrusted {
		t.Errorf("revoked certificate: %v", err)
	}
}

func revocationList(t *testing.T, ca *openssltest.CA, serials ...*big.Int) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSeparateSigningAndEncryptionCertificates: a member signs with one
// certificate and receives with another (key usages digitalSignature and
// keyEncipherment apart).
func TestSeparateSigningAndEncryptionCertificates(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	signLeaf := sf.ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{Usage: x509.KeyUsageDigitalSignature})
	encLeaf := sf.ca.Issue("alice@example.org", openssltest.RSA2048, openssltest.LeafOptions{Usage: x509.KeyUsageKeyEncipherment})
	m := &store.Member{ListID: sf.l.rec.ID, Email: "alice@example.org", Keys: []store.MemberKey{
		{Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(signLeaf.Cert), Data: signLeaf.Cert.Raw}},
		{Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(encLeaf.Cert), Data: encLeaf.Cert.Raw}},
	}}
	if err := sf.db.AddMember(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	raw := sf.smimePost(&smime.Identity{Cert: signLeaf.Cert, Key: signLeaf.Key}, "alice@example.org", smime.AES256GCM)
	if err := sf.process(sf.l, raw, "sep"); err != nil {
		t.Fatal(err)
	}
	ds := sf.deliveries("sep")
	if len(ds) != 1 || ds[0].Kind != store.KindPost {
		t.Fatalf("deliveries = %+v", ds)
	}
	msg, _ := mime.Parse(ds[0].Data, mime.Limits{})
	if _, err := smime.Unwrap(msg, &smime.Identity{Cert: encLeaf.Cert, Key: encLeaf.Key}, smime.Options{}); err != nil {
		t.Errorf("alice cannot open her copy with her encryption certificate: %v", err)
	}
}

// TestListTrustAnchors: a list's own trust anchor certifies its members'
// certificates; the same post to a list without it is untrusted.
func TestListTrustAnchors(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	frank := &store.Member{ListID: sf.l.rec.ID, Email: "frank@example.org"}
	if err := sf.db.AddMember(context.Background(), frank); err != nil {
		t.Fatal(err)
	}
	id := sf.identity("frank@example.org", openssltest.P256)
	var rej *pipeline.Rejection
	if err := sf.process(sf.l, sf.smimePost(id, "frank@example.org", smime.AES256GCM), "t1"); !errors.As(err, &rej) || rej.Reason != policy.Untrusted {
		t.Fatalf("without a trust anchor: %v, want untrusted", err)
	}
	if err := sf.db.AddTrustAnchor(context.Background(), sf.l.rec.ID, smime.Fingerprint(sf.ca.Cert), sf.ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	if err := sf.process(sf.l, sf.smimePost(id, "frank@example.org", smime.AES256GCM), "t2"); err != nil {
		t.Fatalf("with the list's trust anchor: %v", err)
	}
}

// TestRevokedRecipientGetsNotice: a member whose certificate a loaded CRL
// revokes gets a notice, never the post (Sympa's x509-user-cert-missing).
// The CRL's issuer is known from the certificate loaded beside it.
func TestRevokedRecipientGetsNotice(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.addCertMember("bob@example.org", openssltest.RSA2048)
	crl := revocationList(t, sf.ca, sf.identity("bob@example.org", openssltest.RSA2048).Cert.SerialNumber)
	sf.p = pipeline.New(sf.db, sf.sealer, pipeline.Options{CRLs: []*x509.RevocationList{crl}, CRLIssuers: []*x509.Certificate{sf.ca.Cert},
		Logger: quietLogger()})
	if err := sf.process(sf.l, sf.smimePost(sf.identity("alice@example.org", openssltest.P256), "alice@example.org", smime.AES256GCM), "rv"); err != nil {
		t.Fatal(err)
	}
	for _, d := range sf.deliveries("rv") {
		if d.To == "bob@example.org" && (d.Kind != store.KindNotice || hasCanary(d.Data)) {
			t.Errorf("bob, revoked, got a %s", d.Kind)
		}
	}
}

// TestFormatPreference: a member with both an OpenPGP key and a
// certificate gets PGP/MIME by default, S/MIME when the list prefers it,
// and whatever their own preference says above both.
func TestFormatPreference(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addCertMember("alice@example.org", openssltest.P256)
	bobCert := sf.identity("bob@example.org", openssltest.RSA2048)
	bob := &store.Member{ListID: sf.l.rec.ID, Email: "bob@example.org", Keys: []store.MemberKey{
		{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: sf.member("bob@example.org").Fingerprint(), Data: sf.member("bob@example.org").PublicBytes()}},
		{Key: store.Key{Engine: store.EngineSMIME, Fingerprint: smime.Fingerprint(bobCert.Cert), Data: bobCert.Cert.Raw}},
	}}
	if err := sf.db.AddMember(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		listFormat string
		bobFormat  string
		want       string
	}{
		{"", "", "multipart/encrypted"},
		{store.FormatSMIME, "", "application/pkcs7-mime"},
		{store.FormatSMIME, store.FormatPGPMIME, "multipart/encrypted"},
		{"", store.FormatSMIME, "application/pkcs7-mime"},
		{store.FormatInline, "", "text/plain"},
		{store.FormatSMIME, store.FormatInline, "text/plain"},
	} {
		sf.l.rec.Settings.OutgoingFormat = tc.listFormat
		if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
			t.Fatal(err)
		}
		if err := sf.db.SetMemberFormat(context.Background(), sf.l.rec.ID, "bob@example.org", tc.bobFormat); err != nil {
			t.Fatal(err)
		}
		ref := "fmt" + string(rune('0'+i))
		if err := sf.process(sf.l, sf.smimePost(sf.identity("alice@example.org", openssltest.P256), "alice@example.org", smime.AES256GCM), ref); err != nil {
			t.Fatal(err)
		}
		for _, d := range sf.deliveries(ref) {
			if d.To == "bob@example.org" && !strings.Contains(string(d.Data), "Content-Type: "+tc.want) {
				t.Errorf("case %d: bob's copy is not %s", i, tc.want)
			}
		}
	}
}

// TestUnencryptedSMIMESignedPost: a list that takes unencrypted posts
// checks an S/MIME signature in clear (multipart/signed) as it checks a
// PGP/MIME one: a member's is distributed, encrypted; a stranger's is not.
func TestUnencryptedSMIMESignedPost(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	sf.addMember(sf.l, "carol@example.org", sf.member("carol@example.org").PublicBytes())
	sf.addCertMember("alice@example.org", openssltest.P256)
	sf.l.rec.Settings.Actions = map[string]string{"unencrypted": "accept"}
	if err := sf.db.UpdateList(context.Background(), sf.l.rec); err != nil {
		t.Fatal(err)
	}
	post := func(id *smime.Identity, from string) []byte {
		inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: " + from + "\r\nTo: " + team + "\r\n\r\nIn clear. " + canary + "\r\n"
		signed, err := smime.SignEntity([]byte(inner), id, smime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nSubject: clear\r\nMIME-Version: 1.0\r\n"), signed...)
	}
	if err := sf.process(sf.l, post(sf.identity("alice@example.org", openssltest.P256), "alice@example.org"), "c1"); err != nil {
		t.Fatalf("a member's S/MIME-signed post in clear: %v", err)
	}
	ds := sf.deliveries("c1")
	if len(ds) != 2 {
		t.Fatalf("%d copies, want 2", len(ds))
	}
	for _, d := range ds {
		if hasCanary(d.Data) {
			t.Errorf("%s's copy is not encrypted", d.To)
		}
	}
	var rej *pipeline.Rejection
	err := sf.process(sf.l, post(sf.identity("mallory@example.org", openssltest.P256), "mallory@example.org"), "c2")
	if !errors.As(err, &rej) {
		t.Errorf("a stranger's S/MIME-signed post in clear: %v, want refused", err)
	}
}
