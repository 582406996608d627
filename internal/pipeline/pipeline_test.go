package pipeline_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

const team = "team@lists.example.org"

func TestPostDistributed(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org", "carol@example.org")
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "Alice <alice@example.org>",
		extraInner: "X-Sealpost-Verified: forged by the sender\r\nIn-Reply-To: <protected-thread@example.org>\r\n",
		extraOuter: "X-Sealpost-Verified: forged outside\r\n"})
	if err := f.process(l, raw, "r1"); err != nil {
		t.Fatal(err)
	}
	ds := f.deliveries("r1")
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3", len(ds))
	}
	for _, d := range ds {
		// VERP: each copy's envelope sender names its member, so a
		// bounce does too.
		if d.Kind != store.KindPost || d.From != f.verp(d.To) {
			t.Errorf("delivery to %s: kind %s, envelope sender %s", d.To, d.Kind, d.From)
		}
		// DESIGN §4.6: what is queued is ciphertext.
		if hasCanary(d.Data) || strings.Contains(string(d.Data), "the real subject") {
			t.Errorf("queued copy for %s contains plaintext", d.To)
		}
		outer, inner := f.open(l, d)
		checkHeader(t, outer, "Subject", "...")
		checkHeader(t, outer, "List-Id", "<team.lists.example.org>")
		checkHeader(t, outer, "List-Post", "<mailto:team@lists.example.org>")
		checkHeader(t, outer, "To", "<"+d.To+">")
		checkHeader(t, outer, "From", `"Alice via team@lists.example.org" <team@lists.example.org>`)
		checkHeader(t, inner, "Subject", "the real subject")
		checkHeader(t, inner, "Message-Id", "<post-1@example.org>")
		// Protected threading stays protected (RFC 9788 §4).
		checkHeader(t, inner, "In-Reply-To", "<protected-thread@example.org>")
		checkHeader(t, outer, "In-Reply-To", "")
		// DESIGN §4.7: verification claims from the sender never survive.
		if got := inner.Header.Values("X-Sealpost-Verified"); len(got) != 1 || !strings.HasPrefix(got[0], "signed by alice@example.org; key ") {
			t.Errorf("X-Sealpost-Verified = %q", got)
		}
		if outer.Header.Has("X-Sealpost-Verified") {
			t.Error("outer copy carries X-Sealpost-Verified")
		}
		if !hasCanary(inner.Body) {
			t.Errorf("decrypted copy lacks the body")
		}
	}
}

func checkHeader(t *testing.T, p *mime.Part, k, want string) {
	t.Helper()
	if got := p.Header.Get(k); got != want {
		t.Errorf("%s: %q, want %q", k, got, want)
	}
}

// TestRejections: each post breaks one rule of the default policy. All
// get the same reply (DESIGN §4.3), the owner a notice without content,
// and nobody a copy.
func TestRejections(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	other := f.list("other@lists.example.org", "alice@example.org")
	alice := f.member("alice@example.org")
	mallory := f.member("mallory@example.org")
	tests := []struct {
		name string
		spec postSpec
		want policy.Reason
	}{
		{"non-member", postSpec{signer: mallory, from: "mallory@example.org"}, policy.UnknownSigner},
		{"non-member forging a member's From", postSpec{signer: mallory, from: "alice@example.org"}, policy.UnknownSigner},
		{"unsigned", postSpec{from: "alice@example.org"}, policy.Unsigned},
		{"member signs with someone else's From", postSpec{signer: alice, from: "bob@example.org"}, policy.FromMismatch},
		{"not encrypted", postSpec{from: "alice@example.org", plaintext: true}, policy.NotEncrypted},
		{"encrypted to another key", postSpec{signer: alice, from: "alice@example.org", encryptTo: other.key}, policy.Undecryptable},
		{"signed for another list", postSpec{signer: alice, from: "alice@example.org", innerTo: other.rec.Address}, policy.NotForThisList},
	}
	var replies []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "rej" + string(rune('a'+i))
			err := f.process(l, f.post(l, tt.spec), ref)
			var rej *pipeline.Rejection
			if !errors.As(err, &rej) || rej.Reason != tt.want {
				t.Fatalf("Process = %v, want rejection %v", err, tt.want)
			}
			replies = append(replies, rej.Text)
			ds := f.deliveries(ref)
			if len(ds) != 1 || ds[0].Kind != store.KindNotice || ds[0].To != "owner@example.org" {
				t.Fatalf("deliveries = %+v, want only the owner's notice", ds)
			}
			if hasCanary(ds[0].Data) || strings.Contains(string(ds[0].Data), "the real subject") {
				t.Error("owner notice contains decrypted content")
			}
			if !strings.Contains(string(ds[0].Data), tt.want.Describe()[:20]) {
				t.Errorf("owner notice does not give the reason:\n%s", ds[0].Data)
			}
		})
	}
	for _, r := range replies {
		if r != replies[0] {
			t.Errorf("replies differ: %q vs %q (DESIGN §4.3 wants one text)", r, replies[0])
		}
	}
}

// TestTamperedCiphertext: DESIGN §4.1, one flipped byte and nothing is used.
func TestTamperedCiphertext(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"})
	s := string(raw)
	i := strings.Index(s, "-----END PGP MESSAGE-----") - 80
	flipped := []byte(s)
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	err := f.process(l, flipped, "t1")
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("Process(tampered) = %v, want a rejection", err)
	}
	for _, d := range f.deliveries("t1") {
		if d.Kind == store.KindPost || hasCanary(d.Data) {
			t.Fatalf("tampered post produced %+v", d)
		}
	}
}

// TestReplay: DESIGN §4.4. The same signed post is accepted once per list,
// whether resent as is or re-encrypted.
func TestReplay(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	alice := f.member("alice@example.org")
	inner := "Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: " + team + "\r\n\r\n" + canary + "\r\n"
	signed, err := pgp.Sign(alice, []byte(inner), pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wrap := func() []byte {
		armored, err := signed.EncryptTo(l.key, false)
		if err != nil {
			t.Fatal(err)
		}
		ct, body := pgp.EncryptedBody(armored, "b")
		return append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
	}
	first := wrap()
	if err := f.process(l, first, "p1"); err != nil {
		t.Fatal(err)
	}
	// The same bytes again are a retry (the sender did not see the 250):
	// taken, and nothing is sent twice. The same signature in another
	// message is a replay.
	for name, raw := range map[string][]byte{"resent": first, "re-encrypted": wrap()} {
		err := f.process(l, raw, "p-"+name)
		var rej *pipeline.Rejection
		if retry := name == "resent"; retry && err != nil || !retry && (!errors.As(err, &rej) || rej.Reason != policy.Replay) {
			t.Errorf("%s: Process = %v", name, err)
		}
		for _, d := range f.deliveries("p-" + name) {
			if d.Kind == store.KindPost {
				t.Errorf("%s: replay distributed to %s", name, d.To)
			}
		}
	}
}

// TestFailClosed: DESIGN §4.5, a member whose key cannot be used gets a
// notice and never the post in clear.
func TestFailClosed(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	eddie := corpusKey(t, "eddie@openpgp.example-0x15e9357d2c2395c0-pub.asc") // expired 2016
	f.addMember(l, "eddie@openpgp.example", eddie)
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "f1"); err != nil {
		t.Fatal(err)
	}
	var sawNotice bool
	for _, d := range f.deliveries("f1") {
		if d.To != "eddie@openpgp.example" {
			continue
		}
		if d.Kind != store.KindNotice || hasCanary(d.Data) || strings.Contains(string(d.Data), "the real subject") {
			t.Fatalf("eddie got %s:\n%s", d.Kind, d.Data)
		}
		sawNotice = true
	}
	if !sawNotice {
		t.Error("eddie got no notice")
	}
	// The owner hears once which members got no copy, and why.
	var owner []store.Delivery
	for _, d := range f.deliveries("f1") {
		if d.To == "owner@example.org" {
			owner = append(owner, d)
		}
	}
	if len(owner) != 1 || !strings.Contains(string(owner[0].Data), "eddie@openpgp.example  Key expired") || hasCanary(owner[0].Data) {
		t.Errorf("owner's notices: %d", len(owner))
		for _, d := range owner {
			t.Logf("%s", d.Data)
		}
	}
}

// spoolDigest is the key under which f.process spools raw for l.
func (f *fixture) spoolDigest(l *testList, raw []byte) string {
	return pipeline.Digest(pipeline.Message{EnvelopeFrom: "sender@example.org", Rcpt: l.rec.Address, Raw: raw})
}

// crashedAttempts leaves n attempts at processing raw for l behind as a
// killed process leaves them: spooled, claimed, never finished (their
// claims long expired).
func (f *fixture) crashedAttempts(l *testList, raw []byte, n int) {
	f.t.Helper()
	for i := range n {
		at := time.Now().Add(-time.Duration(n-i) * time.Hour)
		in := &store.Inbound{ID: fmt.Sprintf("crash%d", i), ListID: l.rec.ID, Digest: f.spoolDigest(l, raw), Sealed: []byte("sealed"), ReceivedAt: at}
		if _, err := f.db.Admit(context.Background(), in, at, time.Minute); err != nil {
			f.t.Fatal(err)
		}
	}
}

// TestHeldAfterRepeatedCrashes: DESIGN §5, a message whose processing
// crashed more than MaxCrashes (3) times is held, sealed, not tried again.
func TestHeldAfterRepeatedCrashes(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"})
	f.crashedAttempts(l, raw, 4)
	if err := f.process(l, raw, "c2"); err != nil {
		t.Fatalf("held message must be accepted: %v", err)
	}
	holds, err := f.db.Holds(context.Background(), l.rec.ID)
	if err != nil || len(holds) != 1 || !holds[0].Sealed || bytes.Contains(holds[0].Raw, raw[:200]) {
		t.Fatalf("holds = %+v, %v; want one, sealed", holds, err)
	}
	opened, err := f.sealer.OpenHold(&holds[0])
	if err != nil || !bytes.Equal(opened.Raw, raw) || opened.Size != len(raw) {
		t.Fatalf("OpenHold = %v; the message as received: %v", err, opened != nil && bytes.Equal(opened.Raw, raw))
	}
	ds := f.deliveries("crash0")
	if len(ds) != 1 || ds[0].To != "owner@example.org" {
		t.Errorf("deliveries = %+v, want the owner's notice only", ds)
	}
}

// TestCrashesCountOnlyUnfinishedAttempts: issue 14 item 4. Three crashed
// attempts and any number of attempts that ended on a transient fault do
// not hold a post: the fourth attempt distributes it.
func TestCrashesCountOnlyUnfinishedAttempts(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"})
	f.crashedAttempts(l, raw, 3)
	for range 5 { // attempts that ended: claimed, then released
		in := &store.Inbound{ID: "t", ListID: l.rec.ID, Digest: f.spoolDigest(l, raw), Sealed: []byte("sealed"), ReceivedAt: time.Now()}
		if _, err := f.db.Admit(context.Background(), in, time.Now(), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := f.db.EndAttempt(context.Background(), in.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.process(l, raw, "c4"); err != nil {
		t.Fatalf("fourth attempt: %v", err)
	}
	if holds, _ := f.db.Holds(context.Background(), l.rec.ID); len(holds) != 0 {
		t.Fatalf("post held after three crashes: %+v", holds)
	}
	var copies int
	for _, d := range f.deliveries("crash0") {
		if d.Kind == store.KindPost {
			copies++
		}
	}
	if copies != 2 {
		t.Errorf("copies = %d, want 2", copies)
	}
}

func TestRoleAddresses(t *testing.T) {
	f := newFixture(t)
	f.list(team, "alice@example.org")
	ctx := context.Background()
	if err := f.p.Process(ctx, pipeline.Message{Ref: "o1", EnvelopeFrom: "x@example.org", Rcpt: "team-owner@lists.example.org", Raw: []byte("Subject: hi\r\n\r\nhello\r\n")}); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries("o1"); len(ds) != 1 || ds[0].To != "owner@example.org" {
		t.Errorf("-owner mail: %+v", ds)
	}
	// Requests must be encrypted and signed like posts.
	var rej *pipeline.Rejection
	err := f.p.Process(ctx, pipeline.Message{Ref: "q1", Rcpt: "team-request@lists.example.org", Raw: []byte("Subject: help\r\n\r\n")})
	if !errors.As(err, &rej) || rej.Reason != policy.NotEncrypted {
		t.Fatalf("plaintext -request mail: %v, want refused as not encrypted", err)
	}
	if ds := f.deliveries("q1"); len(ds) != 1 || ds[0].To != "owner@example.org" {
		t.Errorf("-request refusal: %+v, want the owner's notice", ds)
	}
	if _, _, err := f.p.Resolve(ctx, "nobody@lists.example.org"); !errors.Is(err, pipeline.ErrUnknownList) {
		t.Errorf("Resolve(unknown) = %v", err)
	}
}

// TestKeyAnnouncementHeaders: copies announce the list key with an
// Autocrypt header (Autocrypt Level 1 §2.1) and an OpenPGP header, unless
// the list switches them off.
func TestKeyAnnouncementHeaders(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	for round, off := range []bool{false, true} {
		l.rec.Settings.NoAutocrypt, l.rec.Settings.NoOpenPGPHeader = off, off
		if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
			t.Fatal(err)
		}
		ref := "ac" + string(rune('0'+round))
		if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), ref); err != nil {
			t.Fatal(err)
		}
		outer, _ := f.open(l, f.deliveries(ref)[0])
		ac, op := outer.Header.Get("Autocrypt"), outer.Header.Get("Openpgp")
		if off {
			if ac != "" || op != "" {
				t.Errorf("switched off, yet Autocrypt %q, OpenPGP %q", ac, op)
			}
			continue
		}
		if op != "id="+l.key.Fingerprint()+"; preference=signencrypt" {
			t.Errorf("OpenPGP = %q", op)
		}
		_, keydata, ok := strings.Cut(ac, "keydata=")
		if !strings.HasPrefix(ac, "addr="+team+"; prefer-encrypt=mutual; ") || !ok {
			t.Fatalf("Autocrypt = %q", ac)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(keydata), ""))
		if err != nil {
			t.Fatal(err)
		}
		if k, err := pgp.ParseKey(der); err != nil || k.Fingerprint() != l.key.Fingerprint() {
			t.Errorf("Autocrypt keydata is not the list key: %v", err)
		}
	}
}

// TestLegacyDisplayRemoved: the part that displayed the sender's protected
// headers (RFC 9788 §4.5; Enigmail's text/rfc822-headers) is not
// distributed; the rest of the content is, byte for byte.
func TestLegacyDisplayRemoved(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	for i, display := range []string{
		"Content-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\n\r\nSubject: the real subject\r\n",
		"Content-Type: text/rfc822-headers; protected-headers=\"v1\"\r\n\r\nSubject: the real subject\r\n",
	} {
		inner := "Content-Type: multipart/mixed; boundary=\"lg\"; protected-headers=\"v1\"\r\nFrom: alice@example.org\r\nTo: " + team +
			"\r\nSubject: the real subject\r\n\r\n--lg\r\n" + display + "\r\n--lg\r\nContent-Type: text/plain\r\n\r\nBody " + canary + "\r\n--lg--\r\n"
		signed, err := pgp.Sign(f.member("alice@example.org"), []byte(inner), pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		armored, _ := signed.EncryptTo(l.key, false)
		ct, body := pgp.EncryptedBody(armored, "b")
		raw := append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
		ref := "lg" + string(rune('0'+i))
		if err := f.process(l, raw, ref); err != nil {
			t.Fatal(err)
		}
		_, got := f.open(l, f.deliveries(ref)[0])
		if len(got.Children) != 1 || !hasCanary(got.Children[0].Body) {
			t.Errorf("display %d: distributed tree:\n%s", i, mime.Tree(got))
		}
	}
}

// TestAutocryptImport: with autocrypt_import, a member's accepted post
// hands the list a new key only through a signed (protected) Autocrypt
// header; one in the outer header, which anyone on the way can add, is
// ignored unless it names the key that signed.
func TestAutocryptImport(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	alice := f.member("alice@example.org")
	newKey, _ := pgp.GenerateKey("", "alice@example.org", pgp.Ed25519, pgp.Options{})
	header := "Autocrypt: " + mail.Autocrypt("alice@example.org", newKey.PublicBytes()) + "\r\n"
	keys := func() int {
		ms, _ := f.db.Members(context.Background(), l.rec.ID)
		return len(ms[0].Keys)
	}
	post := func(ref string, spec postSpec) {
		t.Helper()
		spec.signer, spec.from = alice, "alice@example.org"
		if err := f.process(l, f.post(l, spec), ref); err != nil {
			t.Fatal(err)
		}
	}
	post("a0", postSpec{extraInner: header})
	if keys() != 1 {
		t.Fatal("imported although autocrypt_import is off")
	}
	l.rec.Settings.AutocryptImport = true
	if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
		t.Fatal(err)
	}
	post("a1", postSpec{extraOuter: header})
	if keys() != 1 {
		t.Fatal("an unsigned outer Autocrypt header replaced the member's key")
	}
	post("a2", postSpec{extraInner: header})
	ms, _ := f.db.Members(context.Background(), l.rec.ID)
	k := ms[0].Key(store.EngineOpenPGP)
	if len(ms[0].Keys) != 2 || k.Fingerprint != newKey.Fingerprint() || k.Source != store.SourceAutocrypt {
		t.Errorf("after a signed Autocrypt header: %+v", ms[0].Keys)
	}
}

// TestNestedEncryptionRefused: DESIGN §4.8, one layer of encryption.
func TestNestedEncryptionRefused(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	inner := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"})
	// The whole inner post, headers and all, encrypted again.
	outer := pgpWrap(t, f.member("alice@example.org"), l.key, inner)
	err := f.process(l, outer, "nest")
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Reason != policy.TooManyLayers {
		t.Fatalf("Process = %v, want too-many-layers", err)
	}
}

// pgpWrap signs entity by signer, encrypts it to to and wraps it as
// RFC 3156 multipart/encrypted.
func pgpWrap(t *testing.T, signer, to *pgp.Key, entity []byte) []byte {
	t.Helper()
	signed, err := pgp.Sign(signer, entity, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(to, false)
	if err != nil {
		t.Fatal(err)
	}
	ct, body := pgp.EncryptedBody(armored, "nested")
	return append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// TestUnreadableMIMEIsHeld: a message Sealpost cannot read as MIME is kept
// as received for the owner, who is told; nothing is lost or distributed.
func TestUnreadableMIMEIsHeld(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	raw := []byte("From: alice@example.org\r\nContent-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n")
	if err := f.process(l, raw, "bad"); err != nil {
		t.Fatalf("Process = %v, want the message held (nil)", err)
	}
	holds, err := f.db.Holds(context.Background(), l.rec.ID)
	if err != nil || len(holds) != 1 {
		t.Fatalf("holds = %+v, %v", holds, err)
	}
	if h, err := f.sealer.OpenHold(&holds[0]); err != nil || string(h.Raw) != string(raw) {
		t.Fatalf("held message: %v", err)
	}
	ds := f.deliveries("bad")
	if len(ds) != 1 || ds[0].To != "owner@example.org" || ds[0].Kind != store.KindNotice {
		t.Errorf("deliveries = %+v, want the owner's notice", ds)
	}
}

// TestOuterFromIgnored: RFC 9788 §4.1, the protected From counts; an outer
// From that differs is ignored (and never redistributed).
func TestOuterFromIgnored(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	raw := f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", outerFrom: "Bob <bob@example.org>"})
	if err := f.process(l, raw, "of"); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.deliveries("of") {
		outer, inner := f.open(l, d)
		if strings.Contains(outer.Header.Get("From"), "Bob") || !strings.HasPrefix(inner.Header.Get(pipeline.VerifiedHeader), "signed by alice@example.org") {
			t.Errorf("copy for %s: From %q", d.To, outer.Header.Get("From"))
		}
	}
}

// TestLegacyDisplayOption: with legacy_display the copy's content is a
// multipart/mixed whose first part shows the protected headers (RFC 9788
// §4.5), followed by the post unchanged.
func TestLegacyDisplayOption(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	l.rec.Settings.LegacyDisplay = true
	if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
		t.Fatal(err)
	}
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "ld"); err != nil {
		t.Fatal(err)
	}
	_, inner := f.open(l, f.deliveries("ld")[0])
	if inner.MediaType != "multipart/mixed" || len(inner.Children) != 2 || inner.Children[0].Params["hp-legacy-display"] != "1" {
		t.Fatalf("copy tree:\n%s", mime.Tree(inner))
	}
	if !strings.Contains(string(inner.Children[0].Body), "Subject: the real subject") || !hasCanary(inner.Children[1].Body) {
		t.Errorf("legacy display %q, content %q", inner.Children[0].Body, inner.Children[1].Body)
	}
	checkHeader(t, inner, "Subject", "the real subject")
}

// TestInlinePGPPosts: inline PGP (a text body that is one armored message)
// is distributed when the list accepts posts without protected headers;
// plaintext beside the ciphertext is never decrypted into a post (EFAIL).
func TestInlinePGPPosts(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	// Inline text carries no protected To: accepted by default, marked.
	signed, err := pgp.Sign(f.member("alice@example.org"), []byte("Inline hello. "+canary+"\r\n"), pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(l.key, false)
	if err != nil {
		t.Fatal(err)
	}
	head := "From: alice@example.org\r\nTo: " + team + "\r\nSubject: inline\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	if err := f.process(l, []byte(head+string(armored)), "in1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.deliveries("in1") {
		if _, inner := f.open(l, d); !hasCanary(inner.Body) || !strings.HasSuffix(inner.Header.Get(pipeline.VerifiedHeader), "; not bound to the list") {
			t.Errorf("%s's copy lacks the text or the unbound mark: %q", d.To, inner.Header.Get(pipeline.VerifiedHeader))
		}
	}
	err = f.process(l, []byte(head+"Please also read this.\r\n\r\n"+string(armored)), "in2")
	var rej *pipeline.Rejection
	if !errors.As(err, &rej) || rej.Reason != policy.PartlyEncrypted {
		t.Errorf("plaintext beside inline ciphertext: %v, want partly-encrypted", err)
	}
}
