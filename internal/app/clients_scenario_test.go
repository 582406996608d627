package app_test

import (
	"context"
	stdmime "mime"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/clienttest"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
)

// The addresses of the scenario in which Sealpost sends every kind of
// message it sends (see outputKinds).
const (
	readerSubject = "Grüße vom Team"         // the real Subject of the posts: non-ASCII on purpose
	readerText    = "Grüße aus Köln, CANARY" // and their text
	pgpReader     = "alice@example.org"      // OpenPGP member, PGP/MIME copies; she posts
	inlineReader  = "ingrid@example.org"     // OpenPGP member with format=inline
	smimeReader   = "sam@example.org"        // S/MIME member, nothing known of their client
	gcmReader     = "gabi@example.org"       // S/MIME member with smime_cipher=aes256-gcm
	keylessMember = "kim@example.org"        // member without any key
	listOwner     = "owner@example.org"      // the list's owner, with no key anywhere
	outsider      = "outsider@example.net"   // an X-RESEND-UNENCRYPTED target
	visitor       = "visitor@example.net"    // asks LIST-sendkey for the list's key
	helpdeskFrom  = "helpdesk-bounces@example.org"
	gwCustomer    = "carol@example.net" // the gateway's customer with a pinned key
	keylessClient = "dan@example.net"   // the gateway's customer without a key
)

// scenario is a running Sealpost with a list (OpenPGP and S/MIME) and a
// gateway, and what it sent, by kind.
type scenario struct {
	s       *server
	listFpr string
	gwFpr   string
	ca      *openssltest.CA
	o       *openssltest.OpenSSL
	caFile  string
	// homes holds each recipient's GnuPG home: their own keys and
	// certificates, the list's and the gateway's public keys, the CA.
	homes map[string]*gpgtest.GPG
	// sent holds what Sealpost sent, by kind name.
	sent map[string]sentMessage
	// shapes records the shape of every message the scenario made.
	shapes map[string]bool
}

// sentMessage is one message Sealpost sent, with its recipient.
type sentMessage struct {
	to  string
	raw []byte
}

// runScenario makes Sealpost send one message of every kind.
func runScenario(t *testing.T) *scenario {
	t.Helper()
	clienttest.Require(t, "gpg", "gpgsm", "openssl")
	sc := &scenario{ca: openssltest.NewCA(t, openssltest.RSA2048), o: openssltest.New(t),
		homes: map[string]*gpgtest.GPG{}, sent: map[string]sentMessage{}, shapes: map[string]bool{}}
	sc.caFile = filepath.Join(sc.o.Dir, sc.o.WriteCert("ca.pem", sc.ca.Cert))
	sc.s = startServerWithConfig(t, "[smime]\ntrust_anchors = \""+sc.caFile+"\"\n[submission]\nlisten = \"127.0.0.1:0\"\n")
	sc.setupList(t)
	sc.listSteps(t)
	sc.gatewaySteps(t)
	return sc
}

// home returns addr's GnuPG home, made on first use with the list's and
// the gateway's public keys and the CA as a trusted root.
func (sc *scenario) home(t *testing.T, addr string) *gpgtest.GPG {
	t.Helper()
	if g := sc.homes[addr]; g != nil {
		return g
	}
	g := gpgtest.New(t)
	for _, l := range []string{team, support} {
		if key, err := sc.s.app.Admin.ListKey(context.Background(), l); err == nil {
			g.Import(key)
		}
	}
	g.TrustRoot(sc.ca.Cert)
	sc.homes[addr] = g
	return g
}

// createSMIMEList makes the list team, owned by listOwner, with its
// OpenPGP key and an S/MIME identity issued by ca, and returns the
// OpenPGP key's fingerprint and the list's certificate.
func createSMIMEList(t *testing.T, s *server, ca *openssltest.CA) (string, *openssltest.Leaf) {
	t.Helper()
	ctx := context.Background()
	l, err := s.app.Admin.CreateList(ctx, team, listOwner, "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	leaf := ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
	if _, err := s.app.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: leaf.Cert, Key: leaf.Key}); err != nil {
		t.Fatal(err)
	}
	return l.KeyFingerprint, leaf
}

// setupList makes the list, its S/MIME identity and its members.
func (sc *scenario) setupList(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	adm := sc.s.app.Admin
	sc.listFpr, _ = createSMIMEList(t, sc.s, sc.ca)
	for _, addr := range []string{pgpReader, inlineReader} {
		g := sc.home(t, addr)
		fpr := g.GenKey(addr + " <" + addr + ">")
		if _, _, err := adm.AddMemberWith(ctx, team, addr, g.Export(fpr), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := adm.SetMemberFormat(ctx, team, inlineReader, "inline"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{smimeReader, gcmReader} {
		leaf := sc.ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{})
		name := strings.Split(addr, "@")[0]
		sc.o.WriteCert(name+".pem", leaf.Cert)
		sc.o.WriteKey(name+".key", leaf.Key)
		sc.home(t, addr).ImportPKCS12("", func() []byte { return sc.o.PKCS12(leaf.Cert, leaf.Key, "") })
		if _, _, err := adm.AddMemberWith(ctx, team, addr, smime.CertsPEM(leaf.Cert), quiet(false)); err != nil {
			t.Fatal(err)
		}
	}
	// The modern cipher, set per member (`member set ... smime_cipher=`).
	if err := adm.SetMemberCipher(ctx, team, gcmReader, "aes256-gcm"); err != nil {
		t.Fatal(err)
	}
	l, err := adm.List(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	// A member without any key, as X-SUBSCRIBE without a fingerprint makes one.
	if err := sc.s.app.Store.AddMember(ctx, &store.Member{ListID: l.ID, Email: keylessMember, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// post is a post by the member addr, signed and encrypted with gpg, with
// protected headers naming the list and the keywords in bodyStart.
func (sc *scenario) post(t *testing.T, addr, bodyStart string, sign bool) []byte {
	t.Helper()
	entity := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nFrom: " + addr + "\r\nTo: " + team +
		"\r\nSubject: " + stdmime.QEncoding.Encode("utf-8", readerSubject) + "\r\n\r\n" + bodyStart + readerText + "\r\nA second line.\r\n"
	args := []string{"--armor", "--encrypt", "-r", sc.listFpr}
	if sign {
		args = append(args, "--sign", "-u", addr)
	}
	return wrap(addr, sc.home(t, addr).MustRun([]byte(entity), args...).Stdout)
}

// step does what send does and returns the n messages it made Sealpost
// send, by recipient; kinds names the kind of the message to each
// recipient that the scenario keeps.
func (sc *scenario) step(t *testing.T, name string, n int, send func() error, kinds map[string]string) {
	t.Helper()
	sc.s.clearOutbox(t)
	if err := send(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	msgs := sc.s.outbox(t, n)
	time.Sleep(200 * time.Millisecond) // anything more would have arrived by now
	if msgs = sc.s.outbox(t, n); len(msgs) != n {
		t.Fatalf("%s: Sealpost sent %d messages, want %d", name, len(msgs), n)
	}
	for _, m := range msgs {
		sc.shapes[shapeOf(t, m)] = true
		to := deliveredTo(m)
		if kind := kinds[to]; kind != "" {
			sc.home(t, to)
			sc.sent[kind] = sentMessage{to: to, raw: m}
		}
	}
	for to, kind := range kinds {
		if _, ok := sc.sent[kind]; !ok {
			t.Fatalf("%s: nothing sent to %s (%s)", name, to, kind)
		}
	}
}

// listSteps makes the list send its kinds of message.
func (sc *scenario) listSteps(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s := sc.s
	resend := "X-LIST-NAME: " + team + "\r\nX-RESEND-UNENCRYPTED: " + outsider + "\r\n\r\n"
	// A post: copies in every format, a notice to the keyless member,
	// the owner's notice about them, and the resend in clear.
	sc.step(t, "a post", 7, func() error { return s.send(t, pgpReader, []string{team}, sc.post(t, pgpReader, resend, true)) },
		map[string]string{pgpReader: kindPGPMIME, inlineReader: kindInline, smimeReader: kindSMIME, gcmReader: kindSMIMEGCM,
			keylessMember: kindMemberNotice, outsider: kindResend, listOwner: kindOwnerUnserved})
	// With send_encrypted_only=false the keyless member gets the post
	// signed only.
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"send_encrypted_only=false"}); err != nil {
		t.Fatal(err)
	}
	sc.step(t, "a post to a list that sends in clear", 5, func() error { return s.send(t, pgpReader, []string{team}, sc.post(t, pgpReader, "", true)) },
		map[string]string{keylessMember: kindSignedOnly})
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"send_encrypted_only=true"}); err != nil {
		t.Fatal(err)
	}
	sc.step(t, "an unsigned post", 1, func() error {
		if err := s.send(t, pgpReader, []string{team}, sc.post(t, pgpReader, "", false)); smtpCode(err) != 550 {
			t.Fatalf("unsigned post: %v, want 550", err)
		}
		return nil
	}, map[string]string{listOwner: kindOwnerNotice})
	alice := &member{addr: pgpReader, gpg: sc.home(t, pgpReader), fpr: pgpReader}
	req := request(t, alice, sc.listFpr, pgpReader, requestEntity(pgpReader,
		"Content-Type: text/plain; charset=utf-8\r\n\r\nX-LIST-NAME: "+team+"\r\nX-LIST-SUBSCRIPTIONS:\r\n"))
	sc.step(t, "a request", 1, func() error { return s.send(t, pgpReader, []string{teamRequest}, req) },
		map[string]string{pgpReader: kindRequestReply})
	sc.step(t, "a key request", 1, func() error {
		return s.send(t, visitor, []string{"team-sendkey@lists.example.org"},
			[]byte("From: "+visitor+"\r\nTo: team-sendkey@lists.example.org\r\nSubject: key\r\n\r\nyour key please\r\n"))
	}, map[string]string{visitor: kindSendKey})
}

// gatewaySteps makes a gateway hand a message to its helpdesk, send a
// helpdesk's reply encrypted, and refuse one to a customer without key
// with a DSN in the helpdesk's ticket and a notice to the customer.
func (sc *scenario) gatewaySteps(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s := sc.s
	desk := filepath.Join(s.dir, "helpdesk")
	gw, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "Support", pgp.Ed25519, desk)
	if err != nil {
		t.Fatal(err)
	}
	sc.gwFpr = gw.KeyFingerprint
	password, err := s.app.Admin.NewSubmitPassword(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	gwKey, _ := s.app.Admin.ListKey(ctx, support)
	carol := sc.home(t, gwCustomer)
	carol.Import(gwKey)
	carolFpr := carol.GenKey("Carol <" + gwCustomer + ">")
	if _, _, err := s.app.Admin.AddMemberWith(ctx, support, gwCustomer, carol.Export(carolFpr), quiet(false)); err != nil {
		t.Fatal(err)
	}
	dan := sc.home(t, keylessClient)
	dan.Import(gwKey)

	inner := "From: " + gwCustomer + "\r\nTo: " + support + "\r\nSubject: " + stdmime.QEncoding.Encode("utf-8", readerSubject) + "\r\nMessage-ID: <carol-1@example.net>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + readerText + "\r\n"
	msg := wrapTo(gwCustomer, support, carol.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", sc.gwFpr, "-u", carolFpr).Stdout)
	if err := s.send(t, gwCustomer, []string{support}, msg); err != nil {
		t.Fatalf("customer's message: %v", err)
	}
	sc.home(t, "helpdesk")
	sc.sent[kindHelpdesk] = sentMessage{to: "helpdesk", raw: maildirMessages(t, desk, 1)[0]}
	sc.shapes[shapeOf(t, sc.sent[kindHelpdesk].raw)] = true
	sc.step(t, "a helpdesk reply", 1, func() error {
		return submit(t, s, password, helpdeskFrom, []string{gwCustomer},
			replyWith("<reply-carol@helpdesk.example.org>", "<carol-1@example.net>", gwCustomer, stdmime.QEncoding.Encode("utf-8", readerSubject), readerText))
	}, map[string]string{gwCustomer: kindGatewayReply})

	inner = "From: " + keylessClient + "\r\nTo: " + support + "\r\nSubject: Question\r\nMessage-ID: <dan-1@example.net>\r\n" +
		"Content-Type: text/plain\r\n\r\nA question\r\n"
	msg = wrapTo(keylessClient, support, dan.MustRun([]byte(inner), "--armor", "--encrypt", "-r", sc.gwFpr).Stdout)
	if err := s.send(t, keylessClient, []string{support}, msg); err != nil {
		t.Fatalf("keyless customer's message: %v", err)
	}
	maildirMessages(t, desk, 2)
	sc.step(t, "a helpdesk reply to a customer without key", 1, func() error {
		return submit(t, s, password, helpdeskFrom, []string{keylessClient},
			replyWith("<reply-dan@helpdesk.example.org>", "<dan-1@example.net>", keylessClient, "Re: Question", "The answer"))
	}, map[string]string{keylessClient: kindCustomerNotice})
	// The DSN goes into the ticket, through deliver_to (issue 16 item 2).
	for _, m := range maildirMessages(t, desk, 3) {
		if shape := shapeOf(t, m); shape == shapeDSN {
			sc.sent[kindDSN] = sentMessage{to: "helpdesk", raw: m}
			sc.shapes[shape] = true
		}
	}
	if _, ok := sc.sent[kindDSN]; !ok {
		t.Fatal("no DSN in the helpdesk's Maildir")
	}
}

// wrapTo is wrap for a message from from to to.
func wrapTo(from, to string, armored []byte) []byte {
	ct, body := pgp.EncryptedBody(armored, "outer-boundary")
	return append([]byte("From: "+from+"\r\nTo: "+to+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// replyWith is a helpdesk's reply with a subject and a UTF-8 text.
func replyWith(id, inReplyTo, to, subject, text string) []byte {
	return []byte("From: Support Team <" + support + ">\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: " + id +
		"\r\nIn-Reply-To: " + inReplyTo + "\r\nReferences: " + inReplyTo + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n")
}
