package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	stdmime "mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestSignedOutputsVerifyInGPG: every kind of message a list or gateway
// signs with its OpenPGP key — a member's PGP/MIME copy, an inline copy,
// a signed-only copy in clear, the member's and the owner's notices in
// clear, the owner's notice of a refused post, resends encrypted and in
// clear, an X-RESEND-CC in clear, an announcement under two keys, a
// gateway's reply in clear and its notice to a correspondent without a
// key — is walked part by part, and each signature in it
// (multipart/signed, inside multipart/encrypted, inline armor, *.pgp
// attachments) must verify in gpg 2.2 with exit status 0 and no NODATA,
// as mutt, NeoMutt and notmuch need. A delivery with no signature at all
// fails too, except the gateway's delivery status notification to its
// helpdesk, which is not signed.
func TestSignedOutputsVerifyInGPG(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.list(team, "alice@example.org", "bob@example.org")
	dk := f.member("dave@example.org") // reads inline PGP
	for _, m := range []*store.Member{
		{ListID: l.rec.ID, Email: "carol@example.org"}, // no key
		{ListID: l.rec.ID, Email: "dave@example.org", Format: store.FormatInline, Keys: []store.MemberKey{{Key: store.Key{
			Engine: store.EngineOpenPGP, Fingerprint: dk.Fingerprint(), Data: dk.PublicBytes()}}}},
	} {
		if err := f.db.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"outsider@example.net", "x@example.net"} {
		rec, _ := keyring.OpenPGPRecord(f.member(a), time.Now())
		if _, err := f.db.PutKeys(ctx, []store.Key{rec}); err != nil {
			t.Fatal(err)
		}
	}
	g := gpgtest.New(t)
	g.Import(l.key.Armored())
	for _, k := range f.keys {
		sec, err := k.ArmoredSecret()
		if err != nil {
			t.Fatal(err)
		}
		g.Import(sec)
	}
	alice := f.member("alice@example.org")
	kws := "X-LIST-NAME: " + team + "\r\nX-RESEND: outsider@example.net\r\nX-RESEND-UNENCRYPTED: plain@example.net\r\n" +
		"X-RESEND-CC: x@example.net nokey@example.net\r\n\r\n"
	var all []store.Delivery
	post := func(ref string, s postSpec) {
		t.Helper()
		if err := f.process(l, f.post(l, s), ref); err != nil && s.signer != nil {
			t.Fatal(err)
		}
		all = append(all, f.deliveries(ref)...)
	}
	post("s1", postSpec{signer: alice, from: "alice@example.org", bodyStart: kws})
	post("s2", postSpec{from: "alice@example.org"}) // unsigned: the owner is told
	l.rec.Settings.SendPlaintext = true
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	post("s3", postSpec{signer: alice, from: "alice@example.org"})
	next, err := pgp.GenerateKey("", team, pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Import(next.Armored())
	announced, _, err := f.p.Announce(ctx, l.rec, pipeline.Announcement{Subject: "New key", Text: "The list has a new key.\n",
		ExtraSigners: []*pgp.Key{next}, Ref: "s4"})
	if err != nil {
		t.Fatal(err)
	}

	gw, gwKey := gatewayFixture(t, f)
	g.Import(gwKey.Armored())
	gwOut := gatewayReplies(t, f, gw)

	kinds := map[string]bool{}
	for _, d := range all {
		kind := outputKind(t, d)
		kinds[kind] = true
		n := verifyOutput(t, g, d.Data, l.key.Fingerprint())
		t.Logf("%s: %s to %s (%s): %d signatures", d.Ref, d.Kind, d.To, kind, n)
		if n == 0 {
			t.Errorf("%s %s to %s carries no signature", d.Ref, d.Kind, d.To)
		}
	}
	for _, d := range announced {
		if n := verifyOutput(t, g, d.Data, l.key.Fingerprint(), next.Fingerprint()); n == 0 {
			t.Errorf("announcement to %s carries no signature", d.To)
		}
	}
	for _, d := range gwOut {
		kind := outputKind(t, d)
		kinds["gateway "+kind] = true
		n := verifyOutput(t, g, d.Data, gwKey.Fingerprint())
		t.Logf("%s: %s to %s (%s): %d signatures", d.Ref, d.Kind, d.To, kind, n)
		// The delivery status notification to the helpdesk is not signed.
		if n == 0 && kind != "multipart/report" {
			t.Errorf("%s %s to %s carries no signature", d.Ref, d.Kind, d.To)
		}
	}
	// The walk must have met every kind, or it proves less than it says.
	for _, k := range []string{"multipart/encrypted", "inline", "multipart/signed notice", "multipart/signed post",
		"gateway multipart/signed reply", "gateway multipart/signed notice"} {
		if !kinds[k] {
			t.Errorf("no %s among the outputs (%v)", k, kinds)
		}
	}
}

// gatewayFixture creates the gateway support@example.org with an OpenPGP
// key and no S/MIME identity.
func gatewayFixture(t *testing.T, f *fixture) (*store.List, *pgp.Key) {
	t.Helper()
	const addr = "support@example.org"
	k, err := pgp.GenerateKey("Support", addr, pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := k.SecretBytes()
	sealed, err := f.sealer.Seal(secret, keyring.ListKeyLabel(addr, k.Fingerprint()))
	if err != nil {
		t.Fatal(err)
	}
	gw := &store.List{Address: addr, Mode: store.ModeGateway, Owner: "owner@example.org", KeyFingerprint: k.Fingerprint(),
		PublicKey: k.PublicBytes(), SealedKey: sealed, Gateway: store.GatewaySettings{DeliverTo: "maildir:" + t.TempDir()}}
	if err := f.db.CreateList(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	return gw, k
}

// gatewayReplies submits two helpdesk replies to a correspondent
// without a key: one sent in clear, signed; one refused under
// encrypt_replies=always (a notice to the correspondent, a DSN to the
// helpdesk). It returns the deliveries, opened.
func gatewayReplies(t *testing.T, f *fixture, gw *store.List) []store.Delivery {
	t.Helper()
	ctx := context.Background()
	var out []store.Delivery
	for i, always := range []bool{false, true} {
		gw.Gateway.EncryptReplies = ""
		if always {
			gw.Gateway.EncryptReplies = store.EncryptAlways
		}
		if err := f.db.UpdateList(ctx, gw); err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("g%d", i+1)
		reply := fmt.Sprintf("From: Support <%s>\r\nTo: erin@example.com\r\nSubject: Re: printer\r\n"+
			"Message-ID: <reply-%d@helpdesk.example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain answer\r\n", gw.Address, i)
		err := f.p.Submit(ctx, pipeline.Submission{Ref: ref, EnvelopeFrom: "helpdesk@example.org", Rcpts: []string{"erin@example.com"},
			Raw: []byte(reply), Authorized: func(*store.List) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.deliveries(ref) {
			if d.Sealed {
				if d.Data, err = f.p.OpenDelivery(&d); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// outputKind names the form of a delivery for the coverage check.
func outputKind(t *testing.T, d store.Delivery) string {
	t.Helper()
	msg, err := mime.Parse(d.Data, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case msg.MediaType == "multipart/signed":
		return "multipart/signed " + string(d.Kind)
	case msg.MediaType == "multipart/encrypted":
		return msg.MediaType
	case bytes.Contains(d.Data, []byte("-----BEGIN PGP MESSAGE-----")):
		return "inline"
	}
	return msg.MediaType
}

// verifyOutput checks every OpenPGP signature in the message raw with g
// (which holds the recipients' secret keys): each must be good by every
// one of fprs with exit status 0 (gpgtest.Result.Verified). It returns how
// many signed objects it checked.
func verifyOutput(t *testing.T, g *gpgtest.GPG, raw []byte, fprs ...string) int {
	t.Helper()
	msg, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return verifyPart(t, g, msg, fprs)
}

func verifyPart(t *testing.T, g *gpgtest.GPG, p *mime.Part, fprs []string) int {
	t.Helper()
	check := func(what string, r gpgtest.Result) {
		t.Helper()
		for _, fpr := range fprs {
			if !r.Verified(fpr) {
				t.Errorf("%s: gpg does not verify the signature by %s:\n%s", what, fpr, r.Report())
			}
		}
	}
	switch {
	case p.MediaType == "multipart/signed" && p.Params["protocol"] == "application/pgp-signature" && len(p.Children) == 2:
		dir := t.TempDir()
		data, sig := filepath.Join(dir, "signed"), filepath.Join(dir, "signed.asc")
		if err := os.WriteFile(data, p.Children[0].Raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sig, p.Children[1].Body, 0o600); err != nil {
			t.Fatal(err)
		}
		check("multipart/signed", g.Run(nil, "--verify", sig, data))
		return 1 + verifyPart(t, g, p.Children[0], fprs)
	case p.MediaType == "multipart/encrypted" && len(p.Children) == 2:
		r := g.Run(p.Children[1].Body, "--decrypt")
		check("multipart/encrypted", r)
		inner, err := mime.Parse(r.Stdout, mime.Limits{})
		if err != nil {
			t.Fatalf("decrypted entity: %v", err)
		}
		return 1 + verifyPart(t, g, inner, fprs)
	case p.IsMultipart():
		n := 0
		for _, c := range p.Children {
			n += verifyPart(t, g, c, fprs)
		}
		return n
	}
	body, err := p.Decoded(1 << 24)
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := stdmime.ParseMediaType(p.Header.Get("Content-Disposition"))
	switch {
	case bytes.Contains(body, []byte("-----BEGIN PGP MESSAGE-----")), strings.HasSuffix(params["filename"], ".pgp"):
		check("inline "+p.MediaType, g.Run(body, "--decrypt"))
		return 1
	case bytes.Contains(body, []byte("-----BEGIN PGP SIGNED MESSAGE-----")):
		check("cleartext signature", g.Run(body, "--verify"))
		return 1
	}
	return 0
}
