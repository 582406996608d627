package pipeline_test

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/postfixtest"
)

// bounceDir holds the bounce corpus (testdata/bounces/README.md).
var bounceDir = filepath.Join("testdata", "bounces")

// copyMembers are the members whose real copies the corpus returns: bob's
// mailbox is gone, carol's mail is forwarded to a mailbox that is gone,
// dave's server answers "try again later" until Postfix gives up.
var copyMembers = []string{"bob@example.org", "carol@example.org", "dave@example.org"}

// TestMakeBounceFixtures writes the corpus's real parts again:
// original-*.eml, a real copy of a post to each of copyMembers (made by
// the pipeline, with the test fixture's fixed master key, so its
// X-Sealpost-Bounce carries the token the corpus test expects; the
// encrypted body is cut short), and postfix-*.eml, the reports a real,
// private Postfix (postfixtest) sends back when it relays those copies
// to a server that refuses them. It runs only with
// MAKE_BOUNCE_FIXTURES=1 (as root, with postfix installed), and checks
// what it wrote.
func TestMakeBounceFixtures(t *testing.T) {
	if os.Getenv("MAKE_BOUNCE_FIXTURES") != "1" {
		t.Skip("MAKE_BOUNCE_FIXTURES=1 writes testdata/bounces/original-*.eml and postfix-*.eml again")
	}
	originals := makeOriginals(t)
	host, port, _ := net.SplitHostPort(refusingServer(t))
	remote := "smtp:[" + host + "]:" + port
	aliases := filepath.Join(t.TempDir(), "aliases")
	if err := os.WriteFile(aliases, []byte("carol@example.org carol@elsewhere.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(aliases), 0o755)
	pf := postfixtest.Start(t, postfixtest.Config{
		Mailboxes: []string{"team-bounce@lists.example.org"},
		Transport: map[string]string{"example.org": remote, "elsewhere.example": remote},
		Main: []string{
			"recipient_delimiter = +",
			"virtual_alias_maps = texthash:" + aliases,
			"delay_warning_time = 1s",
			"maximal_queue_lifetime = 20s",
			// net/smtp asks for SMTPUTF8 when offered, and Postfix then
			// reports in RFC 6533's message/global-delivery-status; the
			// corpus wants the common RFC 3464 form.
			"smtputf8_enable = no",
		},
	})
	for i, m := range copyMembers {
		from := headerValue(originals[i], pipelineBounceHeader)
		if err := smtp.SendMail(pf.Addr, nil, from, []string{m}, originals[i]); err != nil {
			t.Fatalf("sending %s's copy into Postfix: %v", m, err)
		}
	}
	// bob: failed; carol: failed after forwarding; dave: delayed, then
	// failed with the 4.0.0 his server kept answering.
	got := pf.WaitMail("team-bounce@lists.example.org", 4, 90*time.Second)
	names := map[string][]byte{}
	for _, raw := range got {
		msg, err := mime.Parse(raw, mime.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		rs := dsnBlocks(t, msg)
		if len(rs) != 1 {
			t.Fatalf("a report with %d recipients:\n%s", len(rs), raw)
		}
		name := "postfix-" + strings.TrimSuffix(rs[0].Recipient, "@example.org") + "-" + rs[0].Action + ".eml"
		if rs[0].Original != "" && rs[0].Original != rs[0].Recipient {
			name = "postfix-forwarded-" + rs[0].Action + ".eml"
		}
		if rs[0].Action == "failed" && strings.HasPrefix(rs[0].Status, "4.") {
			name = "postfix-" + rs[0].Status + "-failed.eml"
		}
		names[name] = raw
	}
	for _, want := range []string{"postfix-bob-failed.eml", "postfix-forwarded-failed.eml", "postfix-dave-delayed.eml", "postfix-4.0.0-failed.eml"} {
		if names[want] == nil {
			t.Errorf("Postfix sent no %s; got %v", want, slices.Sorted(maps.Keys(names)))
		}
	}
	for name, raw := range names {
		writeFixture(t, name, raw)
	}
}

// pipelineBounceHeader is the header field of a copy that names its
// envelope sender.
const pipelineBounceHeader = "X-Sealpost-Bounce"

// makeOriginals makes a real copy of a post for each of copyMembers,
// writes each as original-LOCAL.eml with its encrypted body cut short,
// and returns them whole.
func makeOriginals(t *testing.T) [][]byte {
	f := newFixture(t)
	l := f.list(team, append([]string{"alice@example.org"}, copyMembers...)...)
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "orig"); err != nil {
		t.Fatal(err)
	}
	byTo := map[string][]byte{}
	for _, d := range f.deliveries("orig") {
		if got := headerValue(d.Data, pipelineBounceHeader); got != d.From {
			t.Fatalf("%s's copy names %q as its envelope sender, want %q", d.To, got, d.From)
		}
		byTo[d.To] = d.Data
	}
	var out [][]byte
	for _, m := range copyMembers {
		local, _, _ := strings.Cut(m, "@")
		writeFixture(t, "original-"+local+".eml", cutBody(byTo[m]))
		out = append(out, byTo[m])
	}
	return out
}

// cutBody keeps the header of a copy and the first lines of its body.
func cutBody(raw []byte) []byte {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	lines := strings.SplitAfter(string(raw[i+4:]), "\r\n")
	return append(raw[:i+4:i+4], []byte(strings.Join(lines[:min(12, len(lines))], "")+"[... the rest of the encrypted body is left out ...]\r\n")...)
}

func writeFixture(t *testing.T, name string, raw []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(bounceDir, name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func headerValue(raw []byte, name string) string {
	h, err := mime.ParseHeader(raw, mime.Limits{})
	if err != nil {
		return ""
	}
	return h.Header.Get(name)
}

// dsnBlocks reads the recipients of an RFC 3464 report.
func dsnBlocks(t *testing.T, msg *mime.Part) []mail.DSNRecipient {
	t.Helper()
	for _, c := range msg.Children {
		if c.MediaType == "message/delivery-status" {
			body, err := c.Decoded(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			return mail.ParseDSN(body)
		}
	}
	t.Fatalf("no message/delivery-status part in:\n%s", mime.Tree(msg))
	return nil
}

// refusingServer is the members' mail server as the corpus needs it:
// bob@example.org and carol@elsewhere.example do not exist (550 5.1.1),
// dave@example.org is answered "try again later" (451 4.0.0) until
// Postfix gives up. It speaks just enough SMTP (RFC 5321) for Postfix's
// client and returns its address.
func refusingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go refuse(c)
		}
	}()
	return ln.Addr().String()
}

func refuse(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	say("220 mx.example.org ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-mx.example.org\r\n250 8BITMIME")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			switch {
			case strings.Contains(cmd, "DAVE@"):
				say("451 4.0.0 <dave@example.org>: Temporary failure, please try again later")
			default:
				rcpt := strings.ToLower(strings.Trim(strings.TrimPrefix(strings.TrimSpace(line)[8:], " "), "<>"))
				say("550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table")
			}
		case cmd == "QUIT":
			say("221 2.0.0 Bye")
			return
		case strings.HasPrefix(cmd, "DATA"):
			say("554 5.5.1 Error: no valid recipients")
		default:
			say("250 2.0.0 Ok")
		}
	}
}
