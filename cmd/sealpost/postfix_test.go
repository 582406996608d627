package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/postfixtest"
)

// The tests of this file put Sealpost behind a real Postfix (Debian's,
// a private instance on loopback: internal/postfixtest), wired the two
// ways the README's "Behind Postfix" describes, and check what a mail
// administrator relies on: posts reach the members' mailboxes through
// Postfix, a refused post comes back to its sender as Postfix's DSN with
// only the uniform text, neither side losing mail while the other is
// down, and a mailbox Postfix refuses counting as a bounce.

// postfixList is a list of alice, bob and carol (mailboxes in Postfix)
// and dave, whose mailbox Postfix refuses; one bounce stops delivery.
type postfixList struct {
	data    string
	keys    map[string]*pgp.Key
	listPub *pgp.Key
	// owner, when not nil, is the user the data directory was given to
	// (the pipe's); commands then run as that user, as root may not.
	owner *syscall.Credential
}

const (
	postfixListAddr = "team@lists.example.org"
	dave            = "dave@example.org"
)

// postfixMailboxes are the mailboxes Postfix delivers into: the three
// members with one, a non-member sender and the list's owner.
var postfixMailboxes = []string{"alice@example.org", "bob@example.org", "carol@example.org", "mallory@example.org", "owner@example.org"}

func newPostfixList(t *testing.T) *postfixList {
	t.Helper()
	data := t.TempDir()
	keys, listPub := crashList(t, data, postfixListAddr)
	k, err := pgp.GenerateKey("Dave", dave, pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealpost(t, data, nil, "member", "add", postfixListAddr, dave, "--key", writeFile(t, data, "dave.asc", k.Armored()), "--no-welcome").want(t, exitOK)
	sealpost(t, data, nil, "list", "set", postfixListAddr, "bounce_threshold=1").want(t, exitOK)
	return &postfixList{data: data, keys: keys, listPub: listPub}
}

// post is a post by alice to the list with text in it.
func (l *postfixList) post(t *testing.T, text string) []byte {
	return signedPost(t, l.keys["alice@example.org"], l.listPub, postfixListAddr, text)
}

// checkCopies waits until each member with a mailbox has n messages and
// checks the newest: alice's post with text, encrypted to the member and
// signed by the list.
func (l *postfixList) checkCopies(t *testing.T, pf *postfixtest.Instance, n int, text string) {
	t.Helper()
	for _, m := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		got := pf.WaitMail(m, n, 90*time.Second)
		checkCopy(t, received{to: []string{m}, data: got[len(got)-1]}, l.keys[m], l.listPub, text)
	}
}

// delivery returns the member's delivery state as `member list` shows it.
func (l *postfixList) delivery(t *testing.T, member string) string {
	t.Helper()
	r := runCred(t, l.owner, l.data, nil, "member", "list", postfixListAddr, "--json").want(t, exitOK)
	var ms []struct {
		Email    string `json:"email"`
		Delivery string `json:"delivery"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("member list --json: %v\n%s", err, r.stdout)
	}
	for _, m := range ms {
		if m.Email == member {
			return m.Delivery
		}
	}
	t.Fatalf("%s is not a member:\n%s", member, r.stdout)
	return ""
}

// refusedPost is a post by mallory, who is not a member: signed by her
// own key, encrypted to the list.
func (l *postfixList) refusedPost(t *testing.T) []byte {
	t.Helper()
	k, err := pgp.GenerateKey("Mallory", "mallory@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return signedPost(t, k, l.listPub, postfixListAddr, "mallory's secret text")
}

// checkUniformDSN checks Postfix's DSN to mallory: it says the list
// refused the message with the uniform policy text, and nothing of why.
func checkUniformDSN(t *testing.T, dsn []byte) {
	t.Helper()
	const uniform = "Message not accepted by the list's policy; the list owner has been notified"
	text := string(dsn)
	// Postfix folds the reply into its report; compare without line breaks.
	flat := strings.Join(strings.Fields(text), " ")
	if !strings.Contains(text, "Undelivered Mail Returned to Sender") || !strings.Contains(flat, "5.7.1 "+uniform) {
		t.Errorf("mallory's DSN does not carry the uniform refusal:\n%s", text)
	}
	if strings.Contains(text, "mallory's secret text") {
		t.Errorf("mallory's DSN shows the post's decrypted text:\n%s", text)
	}
	for _, leak := range []string{"not a member", "signature", "decrypt", "reason="} {
		if strings.Contains(strings.ToLower(flat), leak) {
			t.Errorf("mallory's DSN says %q, more than the uniform text:\n%s", leak, text)
		}
	}
}

// TestBehindPostfixSMTP is the README's first wiring: Postfix sends the
// list domain to `sealpost serve` over SMTP (transport_maps), and serve
// relays the copies back to Postfix (--relay).
func TestBehindPostfixSMTP(t *testing.T) {
	l := newPostfixList(t)
	sealAddr := postfixtest.FreeAddr(t)
	_, sealPort, _ := net.SplitHostPort(sealAddr)
	// Postfix offers STARTTLS with a self-signed certificate, as Debian's
	// does with its snakeoil one: the default level (may) uses it.
	pf := postfixtest.Start(t, postfixtest.Config{
		Mailboxes: postfixMailboxes,
		Transport: map[string]string{"lists.example.org": "smtp:[127.0.0.1]:" + sealPort},
		TLS:       true,
	})
	// The relay in the configuration, where `queue flush` finds it too.
	writeRelay(t, l.data, pf.Addr)
	serveArgs := []string{"--smtp", sealAddr}
	s := startServe(t, l.data, serveArgs...)

	// A post reaches every member's mailbox through Postfix, and dave's
	// copy, refused by Postfix (no such mailbox), counts as his bounce.
	sendPost(t, pf.Addr, "alice@example.org", postfixListAddr, l.post(t, "first post through postfix"))
	l.checkCopies(t, pf, 1, "first post through postfix")
	if !postfixtest.Eventually(60*time.Second, func() bool { return strings.HasPrefix(l.delivery(t, dave), "off") }) {
		t.Errorf("dave's copy was refused by Postfix, but his delivery is %q", l.delivery(t, dave))
	}

	// A refused post comes back to its sender as Postfix's DSN, with the
	// uniform text only.
	sendPost(t, pf.Addr, "mallory@example.org", postfixListAddr, l.refusedPost(t))
	checkUniformDSN(t, pf.WaitMail("mallory@example.org", 1, 90*time.Second)[0])

	// Sealpost stopped: Postfix keeps the post and delivers it once
	// Sealpost is back.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.exited(t, 30*time.Second)
	sendPost(t, pf.Addr, "alice@example.org", postfixListAddr, l.post(t, "second post, sealpost was down"))
	if !postfixtest.Eventually(60*time.Second, func() bool {
		return strings.Contains(pf.Log(), "127.0.0.1]:"+sealPort+": Connection refused")
	}) {
		t.Fatalf("Postfix did not try Sealpost while it was down:\n%s", pf.Log())
	}
	if q := pf.Queue(); !strings.Contains(q, postfixListAddr) {
		t.Fatalf("Postfix's queue does not hold the post for the list while Sealpost is down:\n%s", q)
	}
	s = startServe(t, l.data, serveArgs...)
	pf.Flush()
	l.checkCopies(t, pf, 2, "second post, sealpost was down")

	// Postfix stopped: Sealpost takes a post (here straight over SMTP, as
	// from another MX), its copies wait, and `queue flush` sends them once
	// Postfix is back.
	pf.Stop()
	sendPost(t, s.addr, "alice@example.org", postfixListAddr, l.post(t, "third post, postfix was down"))
	if !postfixtest.Eventually(60*time.Second, func() bool { return pendingCopies(t, l.data) >= 3 }) {
		t.Fatalf("the copies do not wait in Sealpost's queue while Postfix is down:\n%s",
			sealpost(t, l.data, nil, "queue", "list").stdout)
	}
	pf.Start()
	r := sealpost(t, l.data, nil, "queue", "flush").want(t, exitOK)
	if !strings.Contains(r.stdout, "0 still waiting") {
		t.Errorf("queue flush after Postfix came back:\n%s", r.stdout)
	}
	l.checkCopies(t, pf, 3, "third post, postfix was down")

	// Each member got each post once, and Postfix's log shows Sealpost's
	// relay sessions ending with QUIT, not dropped.
	time.Sleep(2 * time.Second)
	for _, m := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		if n := len(pf.Mail(m)); n != 3 {
			t.Errorf("%s has %d messages, want 3 (one per post)", m, n)
		}
	}
	checkRelaySessions(t, pf.Log())
}

// checkRelaySessions checks Postfix's log: Sealpost's relay sessions ran
// in TLS and each ended with QUIT (the issue's "lost connection after
// EHLO" came from a connection per copy, dropped when the relay offered
// no STARTTLS, and from sessions left without QUIT). The tests' own
// clients and postfixtest's probes say QUIT too.
func checkRelaySessions(t *testing.T, log string) {
	t.Helper()
	for line := range strings.Lines(log) {
		if strings.Contains(line, "lost connection after") {
			t.Errorf("Postfix's log shows a session dropped without QUIT: %s", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(log, "TLS connection established from") {
		t.Errorf("Postfix's log shows no STARTTLS session:\n%s", log)
	}
	t.Logf("Postfix's log: %d sessions in TLS, %d sessions in all, %d messages received",
		strings.Count(log, "TLS connection established from"), strings.Count(log, "]: disconnect from"), strings.Count(log, ": client=localhost"))
}

// pendingCopies is how many deliveries wait in Sealpost's queue.
func pendingCopies(t *testing.T, data string) int {
	t.Helper()
	r := sealpost(t, data, nil, "queue", "list", "--state", "pending", "--json").want(t, exitOK)
	var ds []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil {
		t.Fatalf("queue list --json: %v\n%s", err, r.stdout)
	}
	return len(ds)
}

// TestBehindPostfixPipe is the README's second wiring: Postfix hands the
// list domain's mail to `sealpost process` through its pipe(8) service,
// one recipient at a time, as the mailbox user; the copies go back to
// Postfix through the relay in sealpost.toml.
func TestBehindPostfixPipe(t *testing.T) {
	l := newPostfixList(t)
	// The pipe runs as nobody: it must reach the binary and own the data
	// directory.
	for _, d := range []string{filepath.Dir(binary), filepath.Dir(l.data), l.data} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	master := fmt.Sprintf("sealpost unix - n n - - pipe\n  flags=Rq user=nobody argv=%s --data %s process ${recipient} --sender ${sender}\n", binary, l.data)
	pf := postfixtest.Start(t, postfixtest.Config{
		Mailboxes:   postfixMailboxes,
		Transport:   map[string]string{"lists.example.org": "sealpost:"},
		Main:        []string{"sealpost_destination_recipient_limit = 1"},
		MasterExtra: master,
		TLS:         true,
	})
	writeRelay(t, l.data, pf.Addr)
	chownAll(t, l.data, postfixtest.MailboxUID)
	l.owner = &syscall.Credential{Uid: postfixtest.MailboxUID, Gid: postfixtest.MailboxUID}
	// Root may no longer use the directory: it says whose it is.
	if r := sealpost(t, l.data, nil, "member", "list", postfixListAddr); r.code != exitConfig || !strings.Contains(r.stderr, "sudo -u nobody") {
		t.Errorf("member list as root on nobody's data directory: exit %d, %s", r.code, r.stderr)
	}

	// One message to the list and to its owner address: Postfix hands
	// each recipient to its own `process`.
	sendPostTo(t, pf.Addr, "alice@example.org", []string{postfixListAddr, "team-owner@lists.example.org"}, l.post(t, "a post through the pipe"))
	l.checkCopies(t, pf, 1, "a post through the pipe")
	pf.WaitMail("owner@example.org", 1, 90*time.Second)
	if !postfixtest.Eventually(60*time.Second, func() bool { return strings.HasPrefix(l.delivery(t, dave), "off") }) {
		t.Errorf("dave's copy was refused by Postfix, but his delivery is %q", l.delivery(t, dave))
	}

	// A refused post: the pipe exits 65 with the uniform line, which
	// Postfix puts in its DSN to the sender.
	sendPost(t, pf.Addr, "mallory@example.org", postfixListAddr, l.refusedPost(t))
	checkUniformDSN(t, pf.WaitMail("mallory@example.org", 1, 90*time.Second)[0])
	if strings.Contains(pf.Log(), "usage") {
		t.Errorf("Postfix's log shows a usage error from the pipe:\n%s", pf.Log())
	}

	// The pipe without serve: with Postfix down, `process` still takes
	// the post (exit 0), says in its log that copies wait, and `queue
	// flush` sends them once Postfix is back.
	pf.Stop()
	r := runAs(t, postfixtest.MailboxUID, l.data, l.post(t, "a post while postfix was down"),
		"process", postfixListAddr, "--sender", "alice@example.org")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "accepted, reference ") {
		t.Fatalf("process with the relay down: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	log, _ := os.ReadFile(filepath.Join(l.data, "process.log"))
	if !bytes.Contains(log, []byte("copies wait in the queue")) {
		t.Errorf("process.log does not say that copies wait:\n%s", log)
	}
	pf.Start()
	flush := runAs(t, postfixtest.MailboxUID, l.data, nil, "queue", "flush")
	if flush.code != exitOK || !strings.Contains(flush.stdout, "0 still waiting") {
		t.Errorf("queue flush: exit %d\n%s%s", flush.code, flush.stdout, flush.stderr)
	}
	l.checkCopies(t, pf, 2, "a post while postfix was down")
	checkRelaySessions(t, pf.Log())
}

// TestBehindPostfixRelayVerify: Postfix offers STARTTLS with a
// self-signed certificate for its own name. With tls = "verify" the
// copies wait, and the queue and `sealpost check` say plainly why and
// what to set; with tls = "encrypt" they go out, and check says so.
func TestBehindPostfixRelayVerify(t *testing.T) {
	l := newPostfixList(t)
	pf := postfixtest.Start(t, postfixtest.Config{Mailboxes: postfixMailboxes, TLS: true})
	writeRelayConfig(t, l.data, pf.Addr, `tls = "verify"`)
	s := startServe(t, l.data)
	const text = "a post for a relay that verify refuses"
	sendPost(t, s.addr, "alice@example.org", postfixListAddr, l.post(t, text))

	const why = "the relay's certificate is not valid for 127.0.0.1 (it is for mx.postfixtest.invalid)"
	const fix = `use [relay] tls = "may" or "encrypt" (--relay-tls)`
	var waiting []queued
	if !postfixtest.Eventually(60*time.Second, func() bool {
		waiting = pendingList(t, l.data)
		return len(waiting) >= 4 && !slices.ContainsFunc(waiting, func(q queued) bool { return q.LastError == "" })
	}) {
		t.Fatalf("the copies do not wait after a failed attempt: %+v", waiting)
	}
	for _, q := range waiting {
		if !strings.Contains(q.LastError, why) || !strings.Contains(q.LastError, fix) {
			t.Errorf("copy to %s waits with %q, want it to say %q and %q", q.To, q.LastError, why, fix)
		}
	}
	r := sealpost(t, l.data, nil, "check")
	want := fmt.Sprintf("FAIL relay %s (tls = \"verify\"): smtpclient: STARTTLS with %s: %s; %s", pf.Addr, pf.Addr, why, fix)
	if r.code == exitOK || !strings.Contains(r.stdout, want) {
		t.Errorf("check with tls = verify: exit %d, want a failure saying\n%s\ngot:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	if n := len(pf.Mail("bob@example.org")); n != 0 {
		t.Fatalf("bob got %d messages although the relay was not verified", n)
	}
	// Refusing the certificate aborts the handshake, after which not
	// even QUIT can be said: Postfix logs those sessions as lost after
	// STARTTLS, and only those.
	refused := pf.Log()
	for line := range strings.Lines(refused) {
		if strings.Contains(line, "lost connection after") && !strings.Contains(line, "lost connection after STARTTLS") {
			t.Errorf("Postfix's log shows a session dropped other than by the refused handshake: %s", strings.TrimSpace(line))
		}
	}

	// The fix the message names: encrypt, without verifying.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.exited(t, 30*time.Second)
	writeRelayConfig(t, l.data, pf.Addr, `tls = "encrypt"`)
	r = sealpost(t, l.data, nil, "check")
	want = fmt.Sprintf("ok   relay %s answers, in TLS, certificate not verified (tls = \"encrypt\")", pf.Addr)
	if !strings.Contains(r.stdout, want) {
		t.Errorf("check with tls = encrypt does not say %q:\n%s%s", want, r.stdout, r.stderr)
	}
	flush := sealpost(t, l.data, nil, "queue", "flush").want(t, exitOK)
	if !strings.Contains(flush.stdout, "0 still waiting") {
		t.Errorf("queue flush with tls = encrypt:\n%s", flush.stdout)
	}
	l.checkCopies(t, pf, 1, text)
	checkRelaySessions(t, strings.TrimPrefix(pf.Log(), refused))
}

// queued is a delivery as `queue list --json` shows it.
type queued struct {
	To        string `json:"to"`
	LastError string `json:"last_error"`
}

// pendingList is the deliveries that wait in Sealpost's queue.
func pendingList(t *testing.T, data string) []queued {
	t.Helper()
	r := sealpost(t, data, nil, "queue", "list", "--state", "pending", "--json").want(t, exitOK)
	var qs []queued
	if err := json.Unmarshal([]byte(r.stdout), &qs); err != nil {
		t.Fatalf("queue list --json: %v\n%s", err, r.stdout)
	}
	return qs
}

// writeRelay writes the data directory's sealpost.toml with the relay
// addr.
func writeRelay(t *testing.T, data, addr string) { writeRelayConfig(t, data, addr) }

// writeRelayConfig writes the data directory's sealpost.toml with the
// relay addr and more lines of [relay].
func writeRelayConfig(t *testing.T, data, addr string, more ...string) {
	t.Helper()
	text := fmt.Sprintf("[relay]\naddr = %q\n", addr) + strings.Join(append(more, ""), "\n")
	if err := os.WriteFile(filepath.Join(data, "sealpost.toml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// chownAll gives everything under dir to uid.
func chownAll(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runAs runs the binary as uid, as an MTA's pipe would.
func runAs(t *testing.T, uid int, data string, stdin []byte, args ...string) result {
	t.Helper()
	return runCred(t, &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}, data, stdin, args...)
}

// sendPostTo is sendPost to several recipients in one transaction.
func sendPostTo(t *testing.T, addr, from string, to []string, msg []byte) {
	t.Helper()
	c := dialSMTP(t, addr)
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		t.Fatalf("sending the post: %v", err)
	}
	c.Quit()
}
