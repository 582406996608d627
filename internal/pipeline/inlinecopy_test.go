package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// inlineFixture is a list whose member dave reads inline PGP, with a gpg
// home holding dave's secret key and the list's public key.
func inlineFixture(t *testing.T) (*fixture, *testList, *gpgtest.GPG) {
	t.Helper()
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	l.rec.Settings.OutgoingFormat = store.FormatInline
	if err := f.db.UpdateList(context.Background(), l.rec); err != nil {
		t.Fatal(err)
	}
	f.addMember(l, "dave@example.org", f.member("dave@example.org").PublicBytes())
	g := gpgtest.New(t)
	g.Import(l.key.Armored())
	sec, err := f.member("dave@example.org").ArmoredSecret()
	if err != nil {
		t.Fatal(err)
	}
	g.Import(sec)
	return f, l, g
}

// inlineCopyFor posts entity, signed by alice, and returns dave's copy.
func inlineCopyFor(t *testing.T, f *fixture, l *testList, entity, ref string) (store.Delivery, *mime.Part) {
	t.Helper()
	if err := f.process(l, pgpWrap(t, f.member("alice@example.org"), l.key, []byte(entity)), ref); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.deliveries(ref) {
		if d.To == "dave@example.org" {
			msg, err := mime.Parse(d.Data, mime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return d, msg
		}
	}
	t.Fatal("no copy for dave")
	return store.Delivery{}, nil
}

// TestInlineCopyText: the text of an inline copy decrypts in gpg to LF
// text (no CR, which mutt and NeoMutt show as ^M), UTF-8 intact, from a
// literal of format 'u' (RFC 9580 §5.9) under a good signature; the part
// that carries the armor declares charset=utf-8 and x-action=pgp-encrypted.
// ISO-8859-1 text is converted to UTF-8; text in a charset Sealpost does
// not convert keeps its bytes and charset and decrypts without CR too;
// attachments keep every byte, CRs included.
func TestInlineCopyText(t *testing.T) {
	f, l, g := inlineFixture(t)
	fpr := l.key.Fingerprint()
	attachment := []byte("line one\r\nline two\r\n\x00\xff")
	entity := "Content-Type: multipart/mixed; boundary=\"mx\"\r\nFrom: alice@example.org\r\nTo: " + team + "\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\nMessage-ID: <inline-1@example.org>\r\n\r\n" +
		"--mx\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Gr=FC=DFe aus K=F6ln, 5 =80.\r\nSecond line. " + canary + "\r\n" +
		"--mx\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"\xf0\xd2\xc9\xd7\xc5\xd4\r\nkoi8 line\r\n" +
		"--mx\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + encodeB64(attachment) + "\r\n--mx--\r\n"
	_, msg := inlineCopyFor(t, f, l, entity, "il1")
	if msg.MediaType != "multipart/mixed" || len(msg.Children) != 3 {
		t.Fatalf("inline copy:\n%s", mime.Tree(msg))
	}
	for i, c := range []struct {
		charset string
		format  string // GnuPG's PLAINTEXT format: 75 'u', 62 'b'
		want    []string
	}{
		{"utf-8", "75", []string{"Subject: Grüße from Alice\n", "\n\nGrüße aus Köln, 5 €.\nSecond line. " + canary}},
		{"koi8-r", "62", []string{"\xf0\xd2\xc9\xd7\xc5\xd4\nkoi8 line"}},
	} {
		part := msg.Children[i]
		if part.MediaType != "text/plain" || part.Params["charset"] != c.charset || part.Params["x-action"] != "pgp-encrypted" {
			t.Errorf("part %d: Content-Type %q, want text/plain; charset=%s; x-action=pgp-encrypted", i, part.Header.Get("Content-Type"), c.charset)
		}
		r := g.Run(part.Body, "--decrypt")
		if !r.Verified(fpr) || !r.HasStatus("PLAINTEXT", c.format) {
			t.Errorf("part %d: want a good signature and literal format %s: %s", i, c.format, r.Report())
		}
		if bytes.Contains(r.Stdout, []byte("\r")) {
			t.Errorf("part %d decrypts with CR line ends: %q", i, r.Stdout)
		}
		if c.charset == "utf-8" && !utf8.Valid(r.Stdout) {
			t.Errorf("part %d is not UTF-8: %q", i, r.Stdout)
		}
		for _, w := range c.want {
			if !bytes.Contains(r.Stdout, []byte(w)) {
				t.Errorf("part %d decrypts to %q, lacking %q", i, r.Stdout, w)
			}
		}
	}
	bin, err := msg.Children[2].Decoded(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Run(bin, "--decrypt"); !r.Verified(fpr) || !bytes.Equal(r.Stdout, attachment) {
		t.Errorf("attachment decrypts to %q: %s", r.Stdout, r.Report())
	}
}

// TestInlineCopyInMutt: mutt and NeoMutt, through gpgme and with their
// default settings otherwise ($pgp_auto_decode unset), show an inline
// copy decrypted, with the list's good signature, as UTF-8 and without
// ^M; what their pager gets is checked.
func TestInlineCopyInMutt(t *testing.T) {
	f, l, g := inlineFixture(t)
	entity := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nFrom: alice@example.org\r\n" +
		"To: " + team + "\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\nMessage-ID: <inline-2@example.org>\r\n\r\n" +
		"Grüße aus Köln — ça coûte 5 €.\r\n\r\nSecond paragraph. " + canary + "\r\n"
	d, _ := inlineCopyFor(t, f, l, entity, "il2")
	for _, bin := range []string{"neomutt", "mutt"} {
		t.Run(bin, func(t *testing.T) {
			shown := muttShows(t, bin, g, d.Data)
			_, text, ok := strings.Cut(shown, "[-- BEGIN PGP MESSAGE --]")
			if !ok || !strings.Contains(shown, "Good signature from: <"+team+">") {
				t.Fatalf("%s does not show the copy decrypted with a good signature:\n%s", bin, shown)
			}
			for _, w := range []string{"Subject: Grüße from Alice\n", "\nGrüße aus Köln — ça coûte 5 €.\n\nSecond paragraph. " + canary + "\n"} {
				if !strings.Contains(text, w) {
					t.Errorf("%s shows %q, lacking %q", bin, text, w)
				}
			}
			if strings.Contains(text, "\r") {
				t.Errorf("%s shows ^M: %q", bin, text)
			}
		})
	}
}

// muttShows opens msg with bin (mutt or NeoMutt) on a terminal, through
// gpgme with the keys of g, and returns what its pager was given: the
// message as the reader sees it. The terminal is script(1)'s; the pager is
// a script that saves its file, after which bin is told to quit.
func muttShows(t *testing.T, bin string, g *gpgtest.GPG, msg []byte) string {
	t.Helper()
	gpgtest.Require(t, bin)
	gpgtest.Require(t, "script")
	dir := t.TempDir()
	mail := filepath.Join(dir, "mail")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(mail, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// An MDA stores mail with LF line ends.
	if err := os.WriteFile(filepath.Join(mail, "new", "1.eml"), bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	shown, pager := filepath.Join(dir, "shown"), filepath.Join(dir, "pager")
	script := fmt.Sprintf("#!/bin/sh\ncat \"$1\" > %s.tmp && mv %s.tmp %s\n", shown, shown, shown)
	if err := os.WriteFile(pager, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "muttrc")
	conf := "set crypt_use_gpgme=yes\nset pager=\"" + pager + "\"\nset wait_key=no\nset quit=yes\nset charset=\"utf-8\"\n" +
		"set mbox_type=Maildir\nset folder=\"" + mail + "\"\nset spoolfile=\"" + mail + "\"\nset header_cache=\"\"\n" +
		"push \"<display-message>\"\n"
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", bin+" -n -F "+rc+" -f "+mail, "/dev/null")
	cmd.Env = append(os.Environ(), "GNUPGHOME="+g.Home, "HOME="+dir, "TERM=xterm", "LC_ALL=C.UTF-8")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Once the pager has run, "q" quits; keys typed while bin is still
	// busy are flushed, so it is typed until bin has gone.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			data, rerr := os.ReadFile(shown)
			if rerr != nil {
				t.Fatalf("%s showed nothing (%v): %v\n%s", bin, err, rerr, out.Bytes())
			}
			return string(data)
		case <-tick.C:
			if _, err := os.Stat(shown); err == nil {
				io.WriteString(stdin, "q")
			}
		}
	}
}
