package app_test

// Issue 21 end to end, over SMTP: a list with a post-quantum key
// (--key-algo pq) whose members are classical (gpg 2.2), post-quantum in
// OpenPGP (RFC 9980 keys made by go-crypto, v4 and v6) and post-quantum
// in S/MIME (an ML-KEM-768 certificate). Each member opens their own copy
// with their own software and key.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// pqMember is a list member whose RFC 9980 key go-crypto made and holds.
type pqMember struct {
	addr string
	e    *openpgp.Entity // with its secret parts
}

func (m *pqMember) fpr() string { return fmt.Sprintf("%X", m.e.PrimaryKey.Fingerprint) }

// publicKey is the member's armored public key, as they would hand it over.
func (m *pqMember) publicKey(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newPQMember makes an RFC 9980 key: v6 ML-DSA-65+Ed25519 with an
// ML-KEM-768+X25519 subkey, or v4 Ed25519 with a Cv25519 and an
// ML-KEM-768+X25519 subkey.
func newPQMember(t *testing.T, addr string, v6 bool) *pqMember {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}
	if v6 {
		cfg = &packet.Config{V6Keys: true, Algorithm: packet.PubKeyAlgoMldsa65Ed25519, AEADConfig: &packet.AEADConfig{}}
	}
	e, err := openpgp.NewEntity("", "", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !v6 {
		if err := e.AddEncryptionSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoMlkem768X25519}); err != nil {
			t.Fatal(err)
		}
	}
	return &pqMember{addr: addr, e: e}
}

// armoredIn returns the armored OpenPGP message of a copy (its
// application/octet-stream part) as binary packets.
func armoredIn(t *testing.T, msg []byte) []byte {
	t.Helper()
	start := bytes.Index(msg, []byte("-----BEGIN PGP MESSAGE-----"))
	end := bytes.Index(msg, []byte("-----END PGP MESSAGE-----"))
	if start < 0 || end < start {
		t.Fatalf("no armored message in:\n%.400s", msg)
	}
	b, err := armor.Decode(bytes.NewReader(msg[start : end+len("-----END PGP MESSAGE-----")]))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(b.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// pkeskAlgos lists the public-key algorithms of a message's PKESKs.
func pkeskAlgos(t *testing.T, bin []byte) []packet.PublicKeyAlgorithm {
	t.Helper()
	var out []packet.PublicKeyAlgorithm
	r := packet.NewReader(bytes.NewReader(bin))
	for {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("packets: %v", err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			out = append(out, p.Algo)
		case *packet.SymmetricallyEncrypted:
			return out
		}
	}
}

// openPQCopy opens a copy as the member's RFC 9980 software would, with
// the member's key alone (and the list's public key to check the
// signature): its PKESK must be to an ML-KEM subkey (35), the list's
// signature must verify. It returns the decrypted entity.
func openPQCopy(t *testing.T, c []byte, m *pqMember, list *openpgp.Entity) string {
	t.Helper()
	bin := armoredIn(t, c)
	if algos := pkeskAlgos(t, bin); len(algos) != 1 || algos[0] != packet.PubKeyAlgoMlkem768X25519 {
		t.Errorf("%s: copy's PKESK algorithms %v, want one ML-KEM-768+X25519 (35)", m.addr, algos)
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(bin), openpgp.EntityList{m.e, list}, nil, nil)
	if err != nil {
		t.Fatalf("%s: go-crypto cannot decrypt the copy: %v", m.addr, err)
	}
	plain, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("%s: %v", m.addr, err)
	}
	if md.SignatureError != nil || md.SignedBy == nil || md.SignedBy.Entity != list {
		t.Errorf("%s: list's signature: %v (signed by %v)", m.addr, md.SignatureError, md.SignedBy)
	}
	if !bytes.Contains(plain, []byte(canary)) {
		t.Errorf("%s: decrypted copy lacks the post:\n%s", m.addr, plain)
	}
	return strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(string(plain))
}

// TestPQListMixedMembers: a pq list with two gpg 2.2 members, two RFC
// 9980 members (v4 with ML-KEM, v6 ML-DSA-65) and an S/MIME member with
// an ML-KEM-768 certificate (the list has an RSA S/MIME identity to sign
// that member's copies). The v6 member's post,
// signed with ML-DSA and encrypted by go-crypto to the list's ML-KEM
// subkey, is accepted as signed by them and fanned out: gpg opens each
// classical copy and checks the list's signature; each PQ copy is
// encrypted to the member's ML-KEM subkey and opened with the member's
// key alone; the S/MIME member's copy holds one KEMRecipientInfo, is
// opened with their ML-KEM seed key alone, and openssl verifies the
// list's signature inside. A gpg member's post (gpg encrypts to the
// list's Cv25519 subkey) goes the same way.
func TestPQListMixedMembers(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.P256)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	ctx := context.Background()
	listFpr, classic := setupListAlgo(t, s, pgp.PQ, "alice@example.org", "bob@example.org")
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	erin := newKEMMember(t, ca, "erin@example.org")
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, "erin@example.org", smime.CertsPEM(erin.cert), quiet(false)); err != nil {
		t.Fatal(err)
	}
	l, err := s.app.Admin.List(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	listKey, err := s.app.Admin.ListKey(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	listPub, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(listKey))
	if err != nil {
		t.Fatal(err)
	}
	pq := map[string]*pqMember{}
	for a, v6 := range map[string]bool{"carol@example.org": false, "dave@example.org": true} {
		m := newPQMember(t, a, v6)
		if _, _, err := s.app.Admin.AddMemberWith(ctx, team, a, m.publicKey(t), quiet(false)); err != nil {
			t.Fatalf("member add of %s's RFC 9980 key (v6 %v): %v", a, v6, err)
		}
		pq[a] = m
	}
	dave := pq["dave@example.org"]

	// dave's post: go-crypto signs with ML-DSA-65+Ed25519 and encrypts to
	// the list key, picking its ML-KEM subkey.
	var post bytes.Buffer
	aw, err := armor.Encode(&post, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A config, even empty: go-crypto v1.5.2's v2 API dereferences a nil
	// one when every recipient advertises SEIPD v2, as the list key does.
	pw, err := openpgp.Encrypt(aw, listPub, nil, []*openpgp.Entity{dave.e}, nil, &packet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(entity(dave.addr)); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	if algos := pkeskAlgos(t, armoredIn(t, post.Bytes())); len(algos) != 1 || algos[0] != packet.PubKeyAlgoMlkem768X25519 {
		t.Fatalf("dave's post's PKESK algorithms %v, want one ML-KEM-768+X25519 (35)", algos)
	}
	alice := classic["alice@example.org"]
	fromGPG := alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	if algos := pkeskAlgos(t, armoredIn(t, fromGPG)); len(algos) != 1 || algos[0] != packet.PubKeyAlgoECDH {
		t.Fatalf("gpg's post's PKESK algorithms %v, want one ECDH Cv25519 (18)", algos)
	}

	for _, tc := range []struct {
		name, from, fpr string
		armored         []byte
	}{
		{"v6 ML-DSA-65 member, post to the list's ML-KEM subkey", dave.addr, dave.fpr(), post.Bytes()},
		{"gpg 2.2 member, post to the list's Cv25519 subkey", alice.addr, alice.fpr, fromGPG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.clearOutbox(t)
			if err := s.send(t, tc.from, []string{team}, wrap(tc.from, tc.armored)); err != nil {
				t.Fatalf("post refused: %v", err)
			}
			copies := s.outbox(t, len(classic)+len(pq)+1)
			signedBy := "X-Sealpost-Verified: signed by " + tc.from + "; key " + tc.fpr
			for addr, m := range classic {
				if text := readCopy(t, m.gpg, copyFor(t, copies, addr), listFpr); !strings.Contains(text, signedBy) {
					t.Errorf("%s: copy not marked %q:\n%s", addr, signedBy, text)
				}
			}
			for addr, m := range pq {
				if text := openPQCopy(t, copyFor(t, copies, addr), m, listPub[0]); !strings.Contains(text, signedBy) {
					t.Errorf("%s: copy not marked %q:\n%s", addr, signedBy, text)
				}
			}
			der := smimeBody(t, copyFor(t, copies, "erin@example.org"))
			if n := bytes.Count(der, oriKEM); n != 1 {
				t.Errorf("erin: copy holds %d KEMRecipientInfos, want 1", n)
			}
			plain, info, err := smime.Decrypt(der, erin.cert, erin.key)
			if err != nil || info.KeyTransport != "ML-KEM-768-HKDF-SHA256" {
				t.Fatalf("erin: Decrypt with the seed key alone: %+v, %v", info, err)
			}
			o.Write("erin.eml", plain)
			ver := o.Run(nil, "cms", "-verify", "-in", "erin.eml", "-CAfile", caFile)
			if text := strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(string(ver.Stdout)); ver.Err != nil ||
				!strings.Contains(text, canary) || !strings.Contains(text, signedBy) {
				t.Errorf("erin: openssl cms -verify of the decrypted copy: %v\n%s\n%s", ver.Err, ver.Stderr, text)
			}
		})
	}
	// What key show, member list and the list page are told.
	if info, err := s.app.Admin.KeyInfo(l); err != nil || !info.PostQuantum {
		t.Errorf("list key: %+v, %v", info, err)
	}
	ms, err := s.app.Store.Members(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	copyKeys, err := s.app.Pipeline.CopyKeys(ctx, l, ms)
	if err != nil {
		t.Fatal(err)
	}
	for addr := range classic {
		if k := copyKeys[addr]; k.Fingerprint == "" || k.PostQuantum {
			t.Errorf("%s: copies go to %+v, want a classical key", addr, k)
		}
	}
	for addr, m := range pq {
		if k := copyKeys[addr]; k.Fingerprint != m.fpr() || !k.PostQuantum {
			t.Errorf("%s: copies go to %+v, want post-quantum to %s", addr, k, m.fpr())
		}
	}
	if k := copyKeys["erin@example.org"]; k.Fingerprint != smime.Fingerprint(erin.cert) || !k.PostQuantum {
		t.Errorf("erin: copies go to %+v, want post-quantum to her ML-KEM certificate", k)
	}
}
