package app_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/store"
)

// threadDesk is a gateway in front of a fake helpdesk, with alice, a
// customer whose key the administrator pinned, for the threading tests.
type threadDesk struct {
	s     *server
	gw    *store.List
	desk  *helpdesk
	alice *member
	n     int
}

func startThreadDesk(t *testing.T) *threadDesk {
	t.Helper()
	desk := startHelpdesk(t)
	s, gw := startGateway(t, "smtp://"+desk.addr)
	d := &threadDesk{s: s, gw: gw, desk: desk, alice: customer(t, s, "alice@example.net", true)}
	d.set(t, "submit_clients=127.0.0.0/8")
	return d
}

func (d *threadDesk) set(t *testing.T, opts ...string) {
	t.Helper()
	if _, err := d.s.app.Admin.SetOptions(context.Background(), support, opts); err != nil {
		t.Fatal(err)
	}
}

// deliver sends raw to the gateway and returns what the helpdesk got.
func (d *threadDesk) deliver(t *testing.T, envFrom string, raw []byte) []byte {
	t.Helper()
	if err := d.s.send(t, envFrom, []string{support}, raw); err != nil {
		t.Fatalf("refused: %v", err)
	}
	return d.desk.next(t).data
}

// encrypted is a message to the gateway from a GnuPG home: inner (the
// content, with its own header fields or none) signed with signer ("":
// not signed) and encrypted to the gateway, under the outer header.
func (d *threadDesk) encrypted(t *testing.T, g *gpgtest.GPG, signer, outer, inner string) []byte {
	t.Helper()
	args := []string{"--armor", "--encrypt", "-r", d.gw.KeyFingerprint}
	if signer != "" {
		args = append(args, "--sign", "-u", signer)
	}
	ct, body := pgp.EncryptedBody(g.MustRun([]byte(inner), args...).Stdout, "outer")
	return append([]byte(outer+"MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// ask opens a conversation: alice writes encrypted and signed, her
// Subject protected. It returns the message's Message-ID.
func (d *threadDesk) ask(t *testing.T, subject string) string {
	t.Helper()
	d.n++
	id := fmt.Sprintf("<alice-%d@example.net>", d.n)
	inner := "From: Alice <alice@example.net>\r\nTo: " + support + "\r\nSubject: " + subject + "\r\nMessage-ID: " + id + "\r\n" +
		"Content-Type: text/plain\r\n\r\nMy printer is on fire.\r\n"
	outer := "From: alice@example.net\r\nTo: " + support + "\r\nSubject: ...\r\nMessage-ID: " + id + "\r\n"
	d.deliver(t, "alice@example.net", d.encrypted(t, d.alice.gpg, d.alice.fpr, outer, inner))
	return id
}

// answer submits the helpdesk's reply to alice in the conversation of
// inReplyTo and returns alice's copy.
func (d *threadDesk) answer(t *testing.T, inReplyTo, subject, body string) (copy []byte, id string) {
	t.Helper()
	d.n++
	id = fmt.Sprintf("<reply-%d@helpdesk.example.org>", d.n)
	raw := "From: Support Team <" + support + ">\r\nTo: alice@example.net\r\nSubject: " + subject + "\r\nMessage-ID: " + id + "\r\n" +
		"In-Reply-To: " + inReplyTo + "\r\nReferences: " + inReplyTo + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		body + "\r\n"
	d.s.clearOutbox(t)
	if err := submit(t, d.s, "", "bounces@example.org", []string{"alice@example.net"}, []byte(raw)); err != nil {
		t.Fatalf("submission refused: %v", err)
	}
	return d.s.waitFor(t, "alice@example.net"), id
}

// legacy is an answer from a mail program that shows no protected
// headers: the outer Subject it saw with "Re: ", nothing but the text
// inside the encryption (and the signer's key, when the sender attached
// it), signed by signer ("": unsigned), In-Reply-To the reply's
// Message-ID. It returns the helpdesk's Subject fields.
func (d *threadDesk) legacy(t *testing.T, g *gpgtest.GPG, signer, from, subjectField, inReplyTo string, attachKey ...bool) []string {
	t.Helper()
	d.n++
	outer := fmt.Sprintf("From: %s\r\nTo: %s\r\n%sMessage-ID: <legacy-%d@example.net>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n",
		from, support, subjectField, d.n, inReplyTo, inReplyTo)
	inner := fmt.Sprintf("Content-Type: text/plain\r\n\r\nStill broken (%d).\r\n", d.n)
	if len(attachKey) > 0 && attachKey[0] {
		inner = fmt.Sprintf("Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nStill broken (%d).\r\n"+
			"--m\r\nContent-Type: application/pgp-keys\r\n\r\n%s\r\n--m--\r\n", d.n, g.Export(signer))
	}
	return fieldValues(t, d.deliver(t, from, d.encrypted(t, g, signer, outer, inner)), "Subject")
}

// TestReplySubject: what an encrypted reply shows outside with each
// reply_subject, and that the Subject inside (RFC 9788) stays whole;
// gpg is the oracle.
func TestReplySubject(t *testing.T) {
	d := startThreadDesk(t)
	id := d.ask(t, "Your printer")
	for _, tc := range []struct {
		option, subject, outer string
		inner                  string // "" when the same as subject
	}{
		{"", "[example.org #7] Your printer", "...", ""},
		{"reply_subject=hidden", "[example.org #7] Your printer", "...", ""},
		{"reply_subject=tag", "[example.org #7] Your printer", "[example.org #7] ...", ""},
		{"reply_subject=tag", "Re: [Ticket#2026120710000012] Your printer", "[Ticket#2026120710000012] ...", ""},
		{"reply_subject=tag", "Your printer", "...", ""}, // no tag, nothing outside
		{"reply_subject=tag", "=?utf-8?q?[example.org_#7]_Gr=C3=BC=C3=9Fe?=", "[example.org #7] ...", ""},
		{"reply_subject=clear", "[example.org #7] Your printer", "[example.org #7] Your printer", ""},
	} {
		t.Run(tc.option+" "+tc.subject, func(t *testing.T) {
			if tc.option != "" {
				d.set(t, tc.option)
			}
			const secret = "CANARY-reply-subject"
			c, _ := d.answer(t, id, tc.subject, secret)
			if got := fieldValues(t, c, "Subject"); len(got) != 1 || got[0] != tc.outer {
				t.Errorf("outer Subject = %q, want %q", got, tc.outer)
			}
			if bytes.Contains(c, []byte(secret)) {
				t.Fatal("the reply went out in clear")
			}
			if tc.outer != tc.subject && bytes.Contains(c, []byte("printer")) {
				t.Errorf("the Subject shows outside:\n%s", c)
			}
			r := d.alice.gpg.Run(c, "--decrypt")
			if !r.Verified(d.gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(secret)) {
				t.Fatalf("alice cannot read the reply as the gateway's:\n%s", r.Status)
			}
			if !bytes.Contains(r.Stdout, []byte("\nSubject: "+tc.subject+"\r\n")) {
				t.Errorf("the protected Subject is not %q inside:\n%s", tc.subject, r.Stdout)
			}
		})
	}
}

// TestTicketTagRestored: the helpdesk's reply carries its ticket tag in
// the protected Subject only; the customer answers from a mail program
// that shows no protected headers ("Re: ..."), and the helpdesk gets the
// answer with the tag back, for each helpdesk's form of tag.
func TestTicketTagRestored(t *testing.T) {
	d := startThreadDesk(t)
	for _, tc := range []struct {
		name, pattern, reply, tag string
		answer, want              string // the answer's Subject field, and the Subject the helpdesk gets
	}{
		{"Request Tracker", "", "[example.org #7] Your printer", "[example.org #7]", "Subject: Re: ...\r\n", "Re: [example.org #7] ..."},
		{"RT, a Subject of the customer's", "", "[example.org #8] Your printer", "[example.org #8]",
			"Subject: AW: Printer still broken\r\n", "AW: [example.org #8] Printer still broken"},
		{"RT, no Subject", "", "[example.org #9] Your printer", "[example.org #9]", "", "[example.org #9]"},
		{"RT, encoded words", "", "Re: [example.org #10] Your printer", "[example.org #10]",
			"Subject: Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n", "Re: [example.org #10] =?utf-8?q?Gr=C3=BC=C3=9Fe?="},
		{"Znuny/OTRS", "", "RE: [Ticket#2026120710000012] Your printer", "[Ticket#2026120710000012]",
			"Subject: Re: ...\r\n", "Re: [Ticket#2026120710000012] ..."},
		{"Znuny, divider", "", "[Ticket#: 2026120710000013] Your printer", "[Ticket#: 2026120710000013]",
			"Subject: Re: ...\r\n", "Re: [Ticket#: 2026120710000013] ..."},
		{"Zammad", "", "[Ticket#31001] Your printer", "[Ticket#31001]", "Subject: Re: ...\r\n", "Re: [Ticket#31001] ..."},
		{"osTicket", "", "Re: [#123] Your printer", "[#123]", "Subject: Re: ...\r\n", "Re: [#123] ..."},
		{"custom ticket_tag", `\[Support-[0-9]+\]`, "[Support-42] Your printer", "[Support-42]", "Subject: Re: ...\r\n",
			"Re: [Support-42] ..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pattern != "" {
				d.set(t, "ticket_tag="+tc.pattern)
				defer d.set(t, "ticket_tag=")
			}
			id := d.ask(t, "Your printer")
			c, replyID := d.answer(t, id, tc.reply, "We are on it.")
			if got := fieldValues(t, c, "Subject"); len(got) != 1 || got[0] != "..." {
				t.Fatalf("outer Subject of the reply = %q, want ...", got)
			}
			got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", tc.answer, replyID)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("the helpdesk got Subject %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("a conversation without a tag keeps the one the customer's signed answer carries", func(t *testing.T) {
		id := d.ask(t, "Your printer")
		_, untagged := d.answer(t, id, "Your printer", "A reply from before tags were kept.")
		if got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", "Subject: Re: [example.org #11] ...\r\n", untagged); len(got) != 1 ||
			got[0] != "Re: [example.org #11] ..." {
			t.Fatalf("an answer that has the tag: Subject %q", got)
		}
		if got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", "Subject: Re: ...\r\n", untagged); len(got) != 1 ||
			got[0] != "Re: [example.org #11] ..." {
			t.Errorf("the next answer without it: Subject %q, want the tag back", got)
		}
	})

	t.Run("the helpdesk's latest tag wins (RT merged the ticket)", func(t *testing.T) {
		id := d.ask(t, "Your printer")
		_, first := d.answer(t, id, "[example.org #20] Your printer", "On it.")
		_, merged := d.answer(t, first, "[example.org #3] Your printer", "Merged into your other ticket.")
		if got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", "Subject: Re: ...\r\n", first); len(got) != 1 ||
			got[0] != "Re: [example.org #3] ..." {
			t.Errorf("answer to the first reply: Subject %q, want the merged ticket's tag", got)
		}
		if got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", "Subject: Re: [example.org #3] ...\r\n", merged); len(got) != 1 ||
			got[0] != "Re: [example.org #3] ..." {
			t.Errorf("an answer that has the tag: Subject %q, want it as it came", got)
		}
		// The conversation lists show the tag (gateway archive, the API,
		// the UI's archive page).
		ts, err := d.s.app.Admin.Conversations(context.Background(), support, 100)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(ts, func(c store.Thread) bool { return c.ID == id }); i < 0 || ts[i].Tag != "[example.org #3]" {
			t.Errorf("the conversation's tag in the list of conversations: %+v", ts)
		}
	})
}

// TestTicketTagNotForStrangers: someone who refers to a customer's
// conversation (its Message-IDs travel in clear) but whose mail the
// conversation is not bound to gets no tag put on it: their message
// reaches the helpdesk as it came, not inside the customer's ticket.
func TestTicketTagNotForStrangers(t *testing.T) {
	d := startThreadDesk(t)
	id := d.ask(t, "Your printer")
	_, replyID := d.answer(t, id, "[example.org #7] Your printer", "On it.")

	mallory := customer(t, d.s, "mallory@example.com", false)
	impostor := gpgtest.New(t) // a key of their own for alice's address
	impostorFpr := impostor.GenKey("Alice <alice@example.net>")
	impostor.Import(d.alice.gpg.Export(d.gw.KeyFingerprint))
	for _, tc := range []struct {
		name         string
		g            *gpgtest.GPG
		signer, from string
		subject      string
		attachKey    bool
	}{
		{"signed by a stranger's own key", mallory.gpg, mallory.fpr, "mallory@example.com", "Re: ...", true},
		{"a stranger's tag does not become the conversation's", mallory.gpg, mallory.fpr, "mallory@example.com",
			"Re: [example.org #99] ...", false},
		{"signed by another key than the one on file for alice (untrusted)", impostor, impostorFpr, "alice@example.net", "Re: ...", true},
		{"signed by a key Sealpost does not have (unknown)", impostor, impostorFpr, "alice@example.net", "Re: ...", false},
		{"encrypted, not signed, From alice: nothing proves the sender", d.alice.gpg, "", "alice@example.net", "Re: ...", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.legacy(t, tc.g, tc.signer, tc.from, "Subject: "+tc.subject+"\r\n", replyID, tc.attachKey)
			if len(got) != 1 || got[0] != tc.subject {
				t.Errorf("the helpdesk got Subject %q, want %q as it came", got, tc.subject)
			}
		})
	}
	t.Run("in clear, From alice, not signed", func(t *testing.T) {
		raw := "From: alice@example.net\r\nTo: " + support + "\r\nSubject: Re: ...\r\nMessage-ID: <forged@example.com>\r\n" +
			"In-Reply-To: " + replyID + "\r\n\r\nPlease send me the password.\r\n"
		if got := fieldValues(t, d.deliver(t, "alice@example.net", []byte(raw)), "Subject"); len(got) != 1 || got[0] != "Re: ..." {
			t.Errorf("the helpdesk got Subject %q, want Re: ... as it came", got)
		}
	})
	t.Run("alice herself still gets her ticket's tag", func(t *testing.T) {
		if got := d.legacy(t, d.alice.gpg, d.alice.fpr, "alice@example.net", "Subject: Re: ...\r\n", replyID); len(got) != 1 ||
			got[0] != "Re: [example.org #7] ..." {
			t.Errorf("the helpdesk got Subject %q", got)
		}
	})
}
