package app_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// heldEntity is a signed post's inner entity: a text with markup in it
// and a PDF attachment.
func heldEntity(from string) []byte {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% a report\n"))
	return []byte("Content-Type: multipart/mixed; boundary=\"mix\"\r\nFrom: Alice <" + from + ">\r\nTo: " + team + "\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <held-1@example.org>\r\n\r\n" +
		"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello <script>alert(1)</script> " + canary + "\r\n" +
		"--mix\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n--mix--\r\n")
}

// TestReadHold: an owner reads a held post before deciding. ReadHold
// decrypts it with the list's key (real gpg made it), says who signed it
// and whether that is a member posting as themselves, why it is held,
// its inner headers, text and attachment names; each reading is audited;
// the hold stays ciphertext; the owner of another list may not read it.
// By mail, a list admin's X-HOLD-SHOW answers with the same, encrypted to
// them (gpg decrypts it); a rejection carries the owner's reason, quoted.
func TestReadHold(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	ctx := context.Background()
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"on_duplicate=hold", "on_unknown_signer=hold"}); err != nil {
		t.Fatal(err)
	}
	// One signed entity (RFC 3156 §6.1) encrypted twice: the first is
	// distributed, the second held as a replay, with a good signature by
	// a member.
	sig := alice.gpg.MustRun(heldEntity(alice.addr), "--armor", "--detach-sign", "-u", alice.fpr).Stdout
	signed := "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n" +
		"--sig\r\n" + string(heldEntity(alice.addr)) + "\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--sig--\r\n"
	for range 2 {
		post := wrap(alice.addr, alice.gpg.MustRun([]byte(signed), "--armor", "--encrypt", "-r", listFpr).Stdout)
		if err := s.send(t, alice.addr, []string{team}, post); err != nil {
			t.Fatal(err)
		}
	}
	// A stranger's signed post is held: the list does not know the key.
	carol := gpgtest.New(t)
	carolFpr := carol.GenKey("Carol <carol@example.net>")
	listKey, _ := s.app.Admin.ListKey(ctx, team)
	carol.Import(listKey)
	if err := s.send(t, "carol@example.net", []string{team}, wrap("carol@example.net",
		carol.MustRun(entity("carol@example.net"), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", carolFpr).Stdout)); err != nil {
		t.Fatal(err)
	}
	hs, err := s.app.Admin.Holds(ctx, team)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds = %d, %v", len(hs), err)
	}

	p, err := s.app.Admin.ReadHold(ctx, team, hs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Encrypted || !p.Verified || p.Signer == nil || p.Signer.Fingerprint != alice.fpr ||
		!strings.Contains(p.Signature, "good signature by the member alice@example.org") {
		t.Errorf("signer: verified %v, %q, %+v", p.Verified, p.Signature, p.Signer)
	}
	if p.Reason != policy.Replay.TextFor(false) {
		t.Errorf("reason %q (hold says %q)", p.Reason, hs[0].Reason)
	}
	hdr := map[string]string{}
	for _, f := range p.Headers {
		hdr[f.Name] = f.Value
	}
	if hdr["Subject"] != "Grüße" || hdr["From"] != "Alice <alice@example.org>" || hdr["Message-Id"] != "<held-1@example.org>" {
		t.Errorf("inner headers %+v", p.Headers)
	}
	if len(p.Texts) != 1 || !strings.Contains(p.Texts[0], "Hello <script>alert(1)</script> "+canary) {
		t.Errorf("texts %q", p.Texts)
	}
	if len(p.Attachments) != 1 || p.Attachments[0].Name != "report.pdf" || p.Attachments[0].Type != "application/pdf" || p.Attachments[0].Size != 20 {
		t.Errorf("attachments %+v", p.Attachments)
	}
	if p.Raw != nil {
		t.Error("ReadHold hands out the ciphertext as well")
	}

	stranger, err := s.app.Admin.ReadHold(ctx, team, hs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if stranger.Verified || !strings.Contains(stranger.Signature, "no member's") || len(stranger.Texts) != 1 ||
		!strings.Contains(stranger.Texts[0], "Hello from carol@example.net") {
		t.Errorf("stranger's post: verified %v, %q, %q", stranger.Verified, stranger.Signature, stranger.Texts)
	}

	// Each reading is in the audit log; nothing of it is stored in clear.
	es, err := s.app.Admin.Audit(ctx, team, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if reads := auditReads(es); len(reads) != 2 || reads[0].Target != "hold "+strconv.FormatInt(hs[1].ID, 10) ||
		reads[1].Target != "hold "+strconv.FormatInt(hs[0].ID, 10) || reads[0].Actor != "operator" {
		t.Errorf("audit: %+v", reads)
	}
	again, _ := s.app.Admin.Holds(ctx, team)
	for _, h := range again {
		if strings.Contains(string(h.Raw), canary) {
			t.Errorf("hold %d is stored in clear after a reading", h.ID)
		}
	}

	// The owner of another list may not read it, and no reading is recorded.
	other := s.app.Admin.As(admin.Actor{Email: "mallory@example.org", Role: store.RoleOwner, Via: admin.ViaWeb})
	if _, err := other.ReadHold(ctx, team, hs[0].ID); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("another owner reads the hold: %v", err)
	}
	if es, _ := s.app.Admin.Audit(ctx, team, 0, 10); len(auditReads(es)) != 2 {
		t.Error("a refused reading is in the audit log")
	}

	// By mail: bob is no admin and may not; alice, once admin, may.
	show := "Content-Type: text/plain\r\n\r\nX-LIST-NAME: " + team + "\r\nX-HOLD-SHOW: " + strconv.FormatInt(hs[0].ID, 10) + "\r\n"
	bob := ms["bob@example.org"]
	s.clearOutbox(t)
	if err := s.send(t, bob.addr, []string{teamRequest}, request(t, bob, listFpr, bob.fpr, requestEntity(bob.addr, show))); err != nil {
		t.Fatal(err)
	}
	if r := bob.gpg.Run(s.waitFor(t, bob.addr), "--decrypt"); !strings.Contains(string(r.Stdout), "X-HOLD-SHOW is for the list's admins only") ||
		strings.Contains(string(r.Stdout), canary) {
		t.Fatalf("a member reading a hold by mail:\n%s", r.Stdout)
	}
	if err := s.app.Admin.RemoveMember(ctx, team, alice.addr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, alice.addr, alice.gpg.Export(alice.fpr), quiet(true)); err != nil {
		t.Fatal(err)
	}
	s.clearOutbox(t)
	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, alice.fpr, requestEntity(alice.addr, show))); err != nil {
		t.Fatal(err)
	}
	raw := s.waitFor(t, alice.addr)
	if strings.Contains(string(raw), canary) {
		t.Fatal("the answer carries the held text in clear")
	}
	r := alice.gpg.Run(raw, "--decrypt")
	for _, want := range []string{canary, "<script>alert(1)</script>", "Subject: Grüße", "good signature by the member alice@example.org",
		"report.pdf (application/pdf, 20 bytes)", "Held because: " + hs[0].Reason} {
		if !r.Verified(listFpr) || !strings.Contains(string(r.Stdout), want) {
			t.Errorf("X-HOLD-SHOW answer lacks %q:\n%s\n%s", want, r.Status, r.Stdout)
		}
	}
	es, _ = s.app.Admin.Audit(ctx, team, 0, 10)
	if reads := auditReads(es); len(reads) != 3 || reads[0].Actor != alice.addr || reads[0].Via != admin.ViaMail {
		t.Errorf("the reading by mail is not audited as alice's: %+v", reads)
	}

	// Rejected with a reason: the sender reads it, quoted as the owner's.
	s.clearOutbox(t)
	if err := s.app.Admin.RejectHold(ctx, team, hs[0].ID, "Please don't send this twice.\n<b>Thanks</b>"); err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify()
	n := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
	if !strings.Contains(string(n.Stdout), "The moderator gave this reason:") ||
		!strings.Contains(string(n.Stdout), "> Please don't send this twice.\r\n> <b>Thanks</b>") || strings.Contains(string(n.Stdout), canary) {
		t.Errorf("rejection notice:\n%s", n.Stdout)
	}
	if err := s.app.Admin.RejectHold(ctx, team, hs[1].ID, "bell \a"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("a reason with a control character: %v", err)
	}
}

// auditReads are the hold.read entries of es, newest first.
func auditReads(es []store.AuditEntry) []store.AuditEntry {
	var out []store.AuditEntry
	for _, e := range es {
		if e.Action == "hold.read" {
			out = append(out, e)
		}
	}
	return out
}

// TestReadHoldSMIME: a post an S/MIME member signed and encrypted with
// openssl, sent twice, is held the second time as a replay; its owner
// reads it: the signature is the member's, certified by the list's trust
// anchor, and the text is the member's.
func TestReadHoldSMIME(t *testing.T) {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	o := openssltest.New(t)
	caFile := o.WriteCert("ca.pem", ca.Cert)
	s := startServerWithConfig(t, "[smime]\ntrust_anchors = \""+filepath.Join(o.Dir, caFile)+"\"\n")
	setupList(t, s)
	ctx := context.Background()
	listLeaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: listLeaf.Cert, Key: listLeaf.Key}); err != nil {
		t.Fatal(err)
	}
	o.WriteCert("list.pem", listLeaf.Cert)
	alice := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{})
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, "alice@example.org", smime.CertsPEM(alice.Cert), quiet(false)); err != nil {
		t.Fatal(err)
	}
	o.WriteCert("alice.pem", alice.Cert)
	o.WriteKey("alice.key", alice.Key)
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"on_duplicate=hold"}); err != nil {
		t.Fatal(err)
	}
	o.Write("entity", []byte("Content-Type: text/plain\r\nFrom: alice@example.org\r\nTo: "+team+"\r\nSubject: by S/MIME\r\n\r\nSigned by openssl. "+canary+"\r\n"))
	o.MustRun(nil, "cms", "-sign", "-in", "entity", "-signer", "alice.pem", "-inkey", "alice.key", "-out", "signed")
	for range 2 {
		o.MustRun(nil, "cms", "-encrypt", "-in", "signed", "-out", "post.eml", "-recip", "list.pem", "-aes-256-gcm")
		post := append([]byte("From: alice@example.org\r\nTo: "+team+"\r\nSubject: ...\r\n"), o.Read("post.eml")...)
		if err := s.send(t, "alice@example.org", []string{team}, post); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := s.app.Admin.Holds(ctx, team)
	if err != nil || len(hs) != 1 {
		t.Fatalf("holds = %d, %v", len(hs), err)
	}
	p, err := s.app.Admin.ReadHold(ctx, team, hs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Encrypted || !p.Verified || !strings.Contains(p.Signature, "good signature by the member alice@example.org") ||
		len(p.Texts) != 1 || !strings.Contains(p.Texts[0], "Signed by openssl. "+canary) || p.Reason != policy.Replay.TextFor(false) {
		t.Errorf("read: encrypted %v, verified %v, %q, texts %q, reason %q", p.Encrypted, p.Verified, p.Signature, p.Texts, p.Reason)
	}
}
