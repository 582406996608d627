package app_test

import (
	"bytes"
	"context"
	stdmime "mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/clienttest"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// writers is a list whose members write with their own programs: each
// has a GnuPG home with their secret key (OpenPGP, or an S/MIME
// certificate in gpgsm), the list's key with full trust and the list's
// certificate under a trusted root.
type writers struct {
	s       *server
	listFpr string
	ca      *openssltest.CA
	o       *openssltest.OpenSSL
	caFile  string
	homes   map[string]*gpgtest.GPG
	keys    map[string]string // the member's key or certificate fingerprint
	smime   map[string]bool   // S/MIME members
}

// The members of the writers' list: who writes with what.
var (
	pgpWriters   = map[string]string{"nora@example.org": "neomutt", "matt@example.org": "mutt", "gina@example.org": "gpg"}
	smimeWriters = map[string]string{"sina@example.org": "neomutt", "muriel@example.org": "mutt"}
)

func startWriters(t *testing.T) *writers {
	t.Helper()
	clienttest.Require(t, "gpg", "gpgsm", "openssl")
	w := &writers{ca: openssltest.NewCA(t, openssltest.RSA2048), o: openssltest.New(t),
		homes: map[string]*gpgtest.GPG{}, keys: map[string]string{}, smime: map[string]bool{}}
	w.caFile = filepath.Join(w.o.Dir, w.o.WriteCert("ca.pem", w.ca.Cert))
	w.s = startServerWithConfig(t, "[smime]\ntrust_anchors = \""+w.caFile+"\"\n")
	ctx := context.Background()
	adm := w.s.app.Admin
	var listLeaf *openssltest.Leaf
	w.listFpr, listLeaf = createSMIMEList(t, w.s, w.ca)
	listKey, err := adm.ListKey(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	for addr := range pgpWriters {
		g := gpgtest.New(t)
		g.Import(listKey)
		// The list's key with full validity, as a user makes it after
		// checking its fingerprint (gpgme offers only valid keys).
		g.TrustKey(w.listFpr)
		w.keys[addr] = g.GenKey(addr + " <" + addr + ">")
		w.homes[addr] = g
		if _, _, err := adm.AddMemberWith(ctx, team, addr, g.Export(w.keys[addr]), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	for addr := range smimeWriters {
		g := gpgtest.New(t)
		g.TrustRoot(w.ca.Cert)
		g.ImportCerts(listLeaf.Cert)
		leaf := w.ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{})
		g.ImportPKCS12("", func() []byte { return w.o.PKCS12(leaf.Cert, leaf.Key, "") })
		w.keys[addr] = gpgtest.CertFingerprint(leaf.Cert)
		w.homes[addr], w.smime[addr] = g, true
		name := strings.Split(addr, "@")[0]
		w.o.WriteCert(name+".pem", leaf.Cert)
		w.o.WriteKey(name+".key", leaf.Key)
		if _, _, err := adm.AddMemberWith(ctx, team, addr, smime.CertsPEM(leaf.Cert), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestPostsWrittenByMailPrograms: posts that NeoMutt and mutt write and
// sign and encrypt themselves (gpgme: PGP/MIME with gpg, S/MIME with
// gpgsm), and posts made with `gpg --sign --encrypt` without protected
// headers, are accepted by a list with the default options, and every
// member's copy opens with a good signature by the list.
func TestPostsWrittenByMailPrograms(t *testing.T) {
	clienttest.Require(t, "neomutt", "mutt", "tmux")
	w := startWriters(t)
	for _, tc := range []struct {
		name, from string
		inline     bool // gpg: the armored message as the text body
	}{
		{"NeoMutt, PGP/MIME", "nora@example.org", false},
		{"mutt, PGP/MIME", "matt@example.org", false},
		{"NeoMutt, S/MIME", "sina@example.org", false},
		{"mutt, S/MIME", "muriel@example.org", false},
		{"gpg --sign --encrypt, RFC 3156", "gina@example.org", false},
		{"gpg --sign --encrypt, inline PGP", "gina@example.org", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.s.clearOutbox(t)
			subject := "Grüße von " + tc.name
			text := "Grüße aus Köln, " + tc.name + "."
			var raw []byte
			if program := writerProgram(tc.from); program == "gpg" {
				raw = w.gpgPost(t, tc.from, subject, text, tc.inline)
			} else {
				raw = w.clientPost(t, program, tc.from, subject, text)
			}
			err := w.s.send(t, tc.from, []string{team}, raw)
			for _, c := range w.copies(t, err) {
				w.checkCopy(t, c, subject, text)
			}
		})
	}
}

// copies returns every member's copy of a post that got the SMTP reply
// err. It fails t, with the owner's notice that gives the reason, when
// the post was refused or held.
func (w *writers) copies(t *testing.T, err error) [][]byte {
	t.Helper()
	dir := filepath.Join(w.s.dir, app.OutboxDir, "new")
	deadline := time.Now().Add(15 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		var msgs [][]byte
		owner := ""
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if deliveredTo(b) == listOwner {
				owner = string(b)
			}
			msgs = append(msgs, b)
		}
		switch {
		case err != nil && owner == "" && time.Now().Before(deadline.Add(-10*time.Second)):
			// Refused: wait a little for the owner's notice with the reason.
		case err != nil || owner != "":
			t.Fatalf("post not distributed under the default options (SMTP: %v); the owner was told:\n%s", err, owner)
		case len(msgs) == len(w.homes):
			return msgs
		case time.Now().After(deadline):
			t.Fatalf("%d copies after 15 s, want %d", len(msgs), len(w.homes))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writerProgram is the program the member addr writes with.
func writerProgram(addr string) string {
	if p, ok := pgpWriters[addr]; ok {
		return p
	}
	return smimeWriters[addr]
}

// clientPost has the member from write a post in program, signed and
// encrypted by the program itself, and checks that what it handed to
// sendmail is: PGP/MIME multipart/encrypted or S/MIME enveloped-data
// that the member's own key opens (both programs encrypt to the sender
// too) with the member's good signature inside.
func (w *writers) clientPost(t *testing.T, program, from, subject, text string) []byte {
	t.Helper()
	m := clienttest.NewMutt(t, program, w.homes[from].Home)
	raw := m.Write(clienttest.Post{From: "Member <" + from + ">", To: team, Subject: subject, Body: text + "\n",
		SMIME: w.smime[from], Key: w.keys[from]})
	shape, read := shapeOf(t, raw), clienttest.GPGRead
	want := shapePGPEncrypted
	if w.smime[from] {
		want, read = shapeEnveloped, clienttest.GpgsmRead
	}
	r := read(t, w.homes[from], raw)
	if shape != want || !r.Decrypted || !r.GoodSignature || !strings.EqualFold(r.Signer, w.keys[from]) || len(r.Trouble) > 0 {
		t.Fatalf("%s did not sign and encrypt the post (%s; decrypted %v, good signature %v by %s, trouble %q):\n%s\n%s",
			program, shape, r.Decrypted, r.GoodSignature, r.Signer, r.Trouble, raw, r.Raw)
	}
	return append([]byte("Return-Path: <"+from+">\r\n"), bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))...)
}

// gpgPost is a post made on the command line, as users of gpg without a
// mail program do: `gpg --sign --encrypt --armor` to the list of a text
// entity without protected headers (only its Content-Type), wrapped as
// RFC 3156 multipart/encrypted by the test; or, as inline PGP, of the
// bare text, the armored message sent as the text body.
func (w *writers) gpgPost(t *testing.T, from, subject, text string, inline bool) []byte {
	t.Helper()
	content := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n"
	if inline {
		content = text + "\n"
	}
	armored := w.homes[from].MustRun([]byte(content), "--armor", "--sign", "--encrypt", "-r", w.listFpr, "-u", w.keys[from]).Stdout
	head := "From: " + from + "\r\nTo: " + team + "\r\nSubject: " + stdmime.QEncoding.Encode("utf-8", subject) + "\r\nMIME-Version: 1.0\r\n"
	if inline {
		return []byte(head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
			strings.ReplaceAll(strings.ReplaceAll(string(armored), "\r\n", "\n"), "\n", "\r\n"))
	}
	ct, body := pgp.EncryptedBody(armored, "outer-boundary")
	return append([]byte(head+"Content-Type: "+ct+"\r\n\r\n"), body...)
}

// checkCopy: a member's copy of the post opens for them with the list's
// good signature, the post's Subject and text.
func (w *writers) checkCopy(t *testing.T, c []byte, subject, text string) {
	t.Helper()
	to := deliveredTo(c)
	home := w.homes[to]
	if home == nil {
		t.Fatalf("a copy for %q", to)
	}
	var r clienttest.Reading
	if w.smime[to] {
		name := strings.Split(to, "@")[0]
		r = clienttest.OpenSSLRead(t, openssltest.New(t), filepath.Join(w.o.Dir, name+".pem"), filepath.Join(w.o.Dir, name+".key"), w.caFile, c)
	} else {
		r = clienttest.GPGRead(t, home, c)
		if !strings.EqualFold(r.Signer, w.listFpr) {
			t.Errorf("%s: copy signed by %q, want the list's %s", to, r.Signer, w.listFpr)
		}
	}
	if !r.Decrypted || !r.GoodSignature || len(r.Trouble) > 0 || r.Subject != subject || !strings.Contains(r.Text, text) {
		t.Errorf("%s: %s: decrypted %v, good signature %v, trouble %q, Subject %q (want %q), text:\n%s\n%s",
			to, r.Program, r.Decrypted, r.GoodSignature, r.Trouble, r.Subject, subject, r.Text, r.Raw)
	}
}
