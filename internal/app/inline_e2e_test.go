package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mime"
)

// TestInlineCopiesWithGnuPG: with outgoing_format=inline, a member gets
// RT's Inline format — the text as one armored message, the attachment as
// NAME.pgp — and gpg opens both with a valid signature by the list key.
func TestInlineCopiesWithGnuPG(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	if _, err := s.app.Admin.SetOptions(context.Background(), team, []string{"outgoing_format=inline"}); err != nil {
		t.Fatal(err)
	}
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]
	attachment := bytes.Repeat([]byte{0, 1, 2, 0xff, '\n', '\r'}, 300)
	entity := "Content-Type: multipart/mixed; boundary=\"mx\"\r\nFrom: alice@example.org\r\nTo: " + team +
		"\r\nSubject: e2e subject\r\n\r\n--mx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the report. " + canary +
		"\r\n--mx\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(attachment) + "\r\n--mx--\r\n"
	ct := alice.gpg.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, ct)); err != nil {
		t.Fatalf("post refused: %v", err)
	}
	var copyForBob []byte
	for _, c := range s.outbox(t, 2) {
		if deliveredTo(c) == bob.addr {
			copyForBob = c
		}
	}
	msg, err := mime.Parse(copyForBob, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.MediaType != "multipart/mixed" || len(msg.Children) != 2 || bytes.Contains(copyForBob, []byte(canary)) {
		t.Fatalf("inline copy:\n%s", mime.Tree(msg))
	}
	text := bob.gpg.Run(msg.Children[0].Body, "--decrypt")
	if !text.Verified(listFpr) || !bytes.Contains(text.Stdout, []byte(canary)) || !bytes.Contains(text.Stdout, []byte("Subject: e2e subject")) {
		t.Errorf("text part: %s\n%s", text.Stdout, text.Status)
	}
	if name := msg.Children[1].Params["name"]; name != "report.pdf.pgp" {
		t.Errorf("attachment name %q", name)
	}
	bin, err := msg.Children[1].Decoded(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	att := bob.gpg.Run(bin, "--decrypt")
	if !att.Verified(listFpr) || !att.HasStatus("GOODMDC") || !bytes.Equal(att.Stdout, attachment) {
		t.Errorf("attachment: %d bytes (want %d), err %v, status:\n%s\nstderr:\n%s", len(att.Stdout), len(attachment), att.Err, att.Status, att.Stderr)
	}
	if strings.Contains(msg.Header.Get("Subject"), "e2e") {
		t.Error("the real Subject travels in clear")
	}
}
