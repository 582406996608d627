package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestPresentationOptions: each option that changes how copies show a
// post, checked on a member's decrypted copy.
func TestPresentationOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*store.ListSettings)
		check func(t *testing.T, outer, inner *mime.Part)
	}{
		{"defaults", func(*store.ListSettings) {}, func(t *testing.T, outer, inner *mime.Part) {
			// The name is the one alice's key gives her (fixture: "Alice").
			want(t, inner, "From", `"Alice via team@lists.example.org" <team@lists.example.org>`)
			want(t, inner, "Reply-To", team)
			want(t, inner, "Subject", "the real subject")
			want(t, inner, "Message-Id", "<post-1@example.org>")
			want(t, outer, "Message-Id", "<post-1@example.org>")
		}},
		{"subject_prefix", func(s *store.ListSettings) { s.SubjectPrefix = "[team]" }, func(t *testing.T, _, inner *mime.Part) {
			want(t, inner, "Subject", "[team] the real subject")
		}},
		{"keep_msgid=false", func(s *store.ListSettings) { s.NewMessageID = true }, func(t *testing.T, outer, inner *mime.Part) {
			if id := inner.Header.Get("Message-Id"); id == "<post-1@example.org>" || !strings.HasSuffix(id, "@lists.example.org>") ||
				outer.Header.Get("Message-Id") != id {
				t.Errorf("Message-ID inside %q, outside %q", id, outer.Header.Get("Message-Id"))
			}
		}},
		{"munge_from=false", func(s *store.ListSettings) { s.RealFrom = true }, func(t *testing.T, outer, inner *mime.Part) {
			want(t, inner, "From", `"Alice" <alice@example.org>`)
			want(t, outer, "From", `"Alice" <alice@example.org>`)
		}},
		{"set_reply_to_sender", func(s *store.ListSettings) { s.ReplyToSender = true }, func(t *testing.T, outer, inner *mime.Part) {
			want(t, inner, "Reply-To", "alice@example.org")
			want(t, outer, "Reply-To", "alice@example.org")
		}},
		{"anonymous", func(s *store.ListSettings) { s.Anonymous, s.HeadersToMeta = true, true }, func(t *testing.T, outer, inner *mime.Part) {
			want(t, inner, "From", `"team@lists.example.org" <team@lists.example.org>`)
			want(t, inner, pipeline.VerifiedHeader, "signed by a member of the list")
			for _, p := range []*mime.Part{outer, inner} {
				if strings.Contains(strings.ToLower(string(p.RawHeader)), "alice") || strings.Contains(string(p.RawHeader), "post-1@example.org") {
					t.Errorf("a header names the sender:\n%s", p.RawHeader)
				}
			}
			if meta := string(inner.Children[0].Body); strings.Contains(meta, "alice") || !strings.Contains(meta, "Sig: Good signature by a member") {
				t.Errorf("meta block of an anonymous list:\n%s", meta)
			}
		}},
		{"headers_to_meta and footer", func(s *store.ListSettings) { s.HeadersToMeta, s.Footer = true, "Unsubscribe: ask the owner.\nBye." },
			func(t *testing.T, _, inner *mime.Part) {
				if inner.MediaType != "multipart/mixed" || len(inner.Children) != 3 {
					t.Fatalf("copy is %s with %d parts", inner.MediaType, len(inner.Children))
				}
				meta, post, footer := string(inner.Children[0].Body), inner.Children[1], string(inner.Children[2].Body)
				for _, l := range []string{"From: \"Alice\" <alice@example.org>", "To: team@lists.example.org", "Sig: Good signature from ", "Enc: Encrypted"} {
					if !strings.Contains(meta, l) {
						t.Errorf("meta block lacks %q:\n%s", l, meta)
					}
				}
				if !hasCanary(post.Body) || post.MediaType != "text/plain" {
					t.Errorf("the post part: %s %q", post.MediaType, post.Body)
				}
				if footer != "Unsubscribe: ask the owner.\r\nBye." {
					t.Errorf("footer = %q", footer)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			l := f.list(team, "alice@example.org", "bob@example.org")
			tc.set(&l.rec.Settings)
			if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
				t.Fatal(err)
			}
			if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "p1"); err != nil {
				t.Fatal(err)
			}
			for _, d := range f.deliveries("p1") {
				if d.To == "bob@example.org" {
					outer, inner := f.open(l, d)
					tc.check(t, outer, inner)
				}
			}
		})
	}
}

func want(t *testing.T, p *mime.Part, field, value string) {
	t.Helper()
	if got := p.Header.Get(field); got != value {
		t.Errorf("%s = %q, want %q", field, got, value)
	}
}

// TestPlaintextForKeylessMembers: with send_encrypted_only=false a member
// without a usable key gets the post in clear as PGP/MIME multipart/signed,
// and gpg verifies the list's signature over exactly the signed part; by
// default they get only a notice.
func TestPlaintextForKeylessMembers(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	ctx := context.Background()
	if err := f.db.AddMember(ctx, &store.Member{ListID: l.rec.ID, Email: "carol@example.org"}); err != nil {
		t.Fatal(err)
	}
	post := func(ref string) store.Delivery {
		t.Helper()
		if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), ref); err != nil {
			t.Fatal(err)
		}
		for _, d := range f.deliveries(ref) {
			if d.To == "carol@example.org" {
				return d
			}
		}
		t.Fatalf("%s: nothing for carol", ref)
		return store.Delivery{}
	}
	if d := post("n1"); hasCanary(d.Data) || d.Kind != store.KindNotice {
		t.Fatalf("default: carol got a %s (canary in clear: %v)", d.Kind, hasCanary(d.Data))
	}
	l.rec.Settings.SendPlaintext = true
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	d := post("n2")
	msg, err := mime.Parse(d.Data, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.MediaType != "multipart/signed" || len(msg.Children) != 2 || !hasCanary(msg.Children[0].Raw) ||
		msg.Header.Get("Subject") != "the real subject" || d.From != f.verp("carol@example.org") {
		t.Fatalf("plain copy: %s, %d parts, Subject %q, from %s", msg.MediaType, len(msg.Children), msg.Header.Get("Subject"), d.From)
	}
	g := gpgtest.New(t)
	g.Import(l.key.Armored())
	dir := t.TempDir()
	data, sig := filepath.Join(dir, "signed"), filepath.Join(dir, "signed.asc")
	os.WriteFile(data, msg.Children[0].Raw, 0o600)
	os.WriteFile(sig, msg.Children[1].Body, 0o600)
	if r := g.Run(nil, "--verify", sig, data); !r.Verified(l.key.Fingerprint()) {
		t.Errorf("gpg does not verify the list's signature:\n%s", r.Report())
	}
}

// TestNoticesSignedAndEncrypted: the owner's notice is signed by the list
// (gpg checks it); once the keyring holds a key for the owner's address,
// it is encrypted to that key too.
func TestNoticesSignedAndEncrypted(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	ctx := context.Background()
	unsigned := func() []byte { return f.post(l, postSpec{from: "alice@example.org"}) }
	f.process(l, unsigned(), "o1")
	ds := f.deliveries("o1")
	if len(ds) != 1 || ds[0].To != "owner@example.org" || ds[0].From != "" {
		t.Fatalf("deliveries = %+v", ds)
	}
	msg, err := mime.Parse(ds[0].Data, mime.Limits{})
	if err != nil || msg.MediaType != "multipart/signed" {
		t.Fatalf("owner's notice is %s (%v)", msg.MediaType, err)
	}
	g := gpgtest.New(t)
	g.Import(l.key.Armored())
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "n"), msg.Children[0].Raw, 0o600)
	os.WriteFile(filepath.Join(dir, "n.asc"), msg.Children[1].Body, 0o600)
	if r := g.Run(nil, "--verify", filepath.Join(dir, "n.asc"), filepath.Join(dir, "n")); !r.Verified(l.key.Fingerprint()) {
		t.Errorf("gpg does not verify the notice:\n%s", r.Report())
	}

	owner := f.member("owner@example.org") // a key for the owner's address
	rec, _ := keyring.OpenPGPRecord(owner, time.Now())
	if _, err := f.db.PutKeys(ctx, []store.Key{rec}); err != nil {
		t.Fatal(err)
	}
	f.process(l, unsigned(), "o2")
	ds = f.deliveries("o2")
	if len(ds) != 1 || hasText(ds[0].Data, "rejected") {
		t.Fatalf("deliveries = %d; the notice is readable in clear", len(ds))
	}
	_, inner := f.open(l, ds[0])
	if body := string(inner.Body); !strings.Contains(body, "not signed inside the encryption") {
		t.Errorf("decrypted notice:\n%s", body)
	}
}

func hasText(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestNoticeLanguageAndTemplates: a German list writes German notices
// and a list's own template replaces the
// shipped one.
func TestNoticeLanguageAndTemplates(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	ctx := context.Background()
	l.rec.Settings.Language = "de"
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	f.process(l, f.post(l, postSpec{from: "alice@example.org"}), "de1")
	ds := f.deliveries("de1")
	if len(ds) != 1 || !hasText(ds[0].Data, "Subject: [team@lists.example.org] Eine Nachricht an die Liste wurde abgelehnt") {
		t.Fatalf("German owner notice:\n%s", ds[0].Data)
	}
	l.rec.Settings.Templates = map[string]string{"de/owner-rejected": "Subject: [{{.List}}] Nein\n\nAbgelehnt, weil: {{.Reason}}\n"}
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	f.process(l, f.post(l, postSpec{from: "alice@example.org"}), "de2")
	if ds := f.deliveries("de2"); len(ds) != 1 || !hasText(ds[0].Data, "Subject: [team@lists.example.org] Nein") ||
		!hasText(ds[0].Data, "Abgelehnt, weil: The message was not signed") {
		t.Errorf("the list's own template:\n%s", ds[0].Data)
	}
}

// TestShownSenderFromSigner: issue 14 item 9. The name a copy shows for
// its sender comes from the verified signer's key (a user ID's name, a
// certificate's common name), never from the From field the sender
// writes; a name that contains an address, or looks like one, is
// dropped and the address shows. OpenPGP and S/MIME, munge_from on and
// off.
func TestShownSenderFromSigner(t *testing.T) {
	sf := newSMIMEFixture(t, false)
	f, l := sf.fixture, sf.l
	for _, m := range []string{"alice@example.org", "bob@example.org"} {
		f.addMember(l, m, f.member(m).PublicBytes())
	}
	// Eve's key names her "manager@bigcorporation.example", Mal's with a
	// fullwidth at sign: both pinned by an owner who did not look closely.
	for addr, name := range map[string]string{"eve@example.org": "manager@bigcorporation.example",
		"mal@example.org": "boss\uFF20bigcorporation.example"} {
		k, err := pgp.GenerateKey(name, addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f.keys[addr] = k
		f.addMember(l, addr, k.PublicBytes())
	}
	// S/MIME members: one certificate with a plain name, one whose
	// common name is another address.
	for addr, cn := range map[string]string{"carol@example.org": "Carol Certified", "dan@example.org": "ceo@bigcorporation.example"} {
		leaf := sf.ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{CommonName: cn})
		sf.certs[addr] = &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}
		sf.addCertMember(addr, openssltest.RSA2048)
	}
	forged := []string{`"bob@example.org" <%s>`, `"Bob" <%s>`, `"bob` + "\uFF20" + `example.org" <%s>`,
		`"` + "\u0412\u043e" + `b" <%s>`, `=?utf-8?b?Ym9iQGV4YW1wbGUub3Jn?= <%s>`, `%s`}
	shown := map[string]string{
		"alice@example.org": "Alice", "eve@example.org": "", "mal@example.org": "",
		"carol@example.org": "Carol Certified", "dan@example.org": "",
	}
	ref := 0
	for sender, name := range shown {
		for _, realFrom := range []bool{false, true} {
			l.rec.Settings.RealFrom = realFrom
			if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
				t.Fatal(err)
			}
			for _, pattern := range forged {
				from := fmt.Sprintf(pattern, sender)
				ref++
				r := fmt.Sprintf("n%d", ref)
				var raw []byte
				if id := sf.certs[sender]; id != nil {
					// Each post its own signature: not a replay of the last.
					raw = sf.smimePost(id, from+"\r\nMessage-ID: <"+r+"@example.org>", smime.AES256GCM)
				} else {
					raw = f.post(l, postSpec{signer: f.member(sender), from: from})
				}
				if err := f.process(l, raw, r); err != nil {
					t.Fatalf("%s as %q: %v", sender, from, err)
				}
				want := mail.FormatAddress(strings.TrimSpace(cmp.Or(name, sender)+" via "+team), team)
				if realFrom {
					want = mail.FormatAddress(name, sender)
				}
				for _, d := range f.deliveries(r) {
					if d.Kind != store.KindPost || d.To != "alice@example.org" {
						continue
					}
					outer, inner := f.open(l, d)
					for _, p := range []*mime.Part{outer, inner} {
						if got := p.Header.Get("From"); got != want {
							t.Errorf("%s as %q (munge_from=%v): From %q, want %q", sender, from, !realFrom, got, want)
						}
					}
				}
			}
		}
	}
}
