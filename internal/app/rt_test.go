package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/smtpserver"
)

// Request Tracker 5 as Debian packages it (request-tracker5 with
// rt5-db-sqlite; .ci/run installs them).
const (
	rtServer   = "/usr/share/request-tracker5/libexec/rt-server"
	rtAgent    = "agent@example.org" // a staff member, AdminCc of the queue
	rtPassword = "agent-password-1"
	rtSender   = "rt@example.org" // the envelope sender of RT's mail (no -f)
)

// rtCallback is the RT callback the README's "Helpdesks" section gives:
// it adds the X-Sealpost-* fields to the headers RT shows with every
// message, without "Show full headers". Its path below the local Mason
// root is rtCallbackPath.
const (
	rtCallbackPath = "Callbacks/Sealpost/Elements/ShowTransactionAttachments/MassageDisplayHeaders"
	rtCallback     = `<%ARGS>
$DisplayHeaders
</%ARGS>
<%INIT>
push @$DisplayHeaders, qw(X-Sealpost-Encryption X-Sealpost-Signature)
    unless grep { $_ eq '_all' } @$DisplayHeaders;
</%INIT>
`
)

// rtSiteConfig is the private RT's RT_SiteConfig.pm (RT_SITE_CONFIG):
// everything under dir, its own crypto off (the gateway does it), its
// mail handed to the sendmail shim.
const rtSiteConfig = `Set($rtname, 'example.org');
Set($Organization, 'example.org');
Set($Timezone, 'UTC');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{{dir}}/rt.db');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {{port}});
Set($WebPath, '');
Set($MasonDataDir, '{{dir}}/mason');
Set($MasonSessionDir, '{{dir}}/sessions');
Set($MasonLocalComponentRoot, '{{dir}}/html');
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'warning');
Set($CorrespondAddress, 'support@example.org');
Set($CommentAddress, 'support@example.org');
Set($RTAddressRegexp, qr/^support\@example\.org$/i);
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, '{{dir}}/sendmail');
Set(%GnuPG, Enable => 0);
Set(%SMIME, Enable => 0);
1;
`

// rtInitialData is what rt-setup-database inserts after RT's own
// initial data: the staff user (may do anything), customers' right to
// open and answer tickets by mail, the queue's addresses (both the
// gateway's: the submission listener takes mail From the gateway only)
// and the staff user as the queue's AdminCc.
const rtInitialData = `@Users = ({ Name => 'agent', EmailAddress => '` + rtAgent + `', RealName => 'Agent',
    Password => '` + rtPassword + `', Privileged => 1 });
@ACL = ({ UserId => 'agent', Right => 'SuperUser' },
    map { { GroupDomain => 'SystemInternal', GroupType => 'Everyone', Queue => 'General', Right => $_ } }
        qw(CreateTicket ReplyToTicket));
@Final = (sub {
    my $q = RT::Queue->new(RT->SystemUser);
    $q->Load('General') or die "no queue General";
    my ($ok, $msg) = $q->SetCorrespondAddress('support@example.org'); die $msg unless $ok;
    ($ok, $msg) = $q->SetCommentAddress('support@example.org'); die $msg unless $ok;
    my $u = RT::User->new(RT->SystemUser);
    $u->Load('agent') or die "no user agent";
    ($ok, $msg) = $q->AddWatcher(Type => 'AdminCc', PrincipalId => $u->PrincipalId); die $msg unless $ok;
});
1;
`

// rtSendmail is the $SendmailPath RT pipes its mail to: "sendmail -oi
// -t [-f SENDER]" that submits the message to the gateway's submission
// listener (submit_clients lets loopback in without AUTH), recipients
// from To, Cc and Bcc, Bcc removed. It exits 75 (EX_TEMPFAIL) when the
// listener does not take the message.
const rtSendmail = `#!/usr/bin/perl
use strict;
use warnings;
use Net::SMTP;
use Mail::Address;

my $from = '` + rtSender + `';
while (defined(my $arg = shift @ARGV)) {
    if ($arg eq '-f') { $from = shift @ARGV } elsif ($arg =~ /^-f(.+)$/) { $from = $1 }
}
$from = '' if $from eq '<>';
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g;
my ($head, $body) = split /\r\n\r\n/, $msg, 2;
my (@rcpts, @fields);
for my $line (split /\r\n/, $head) {
    if ($line =~ /^[ \t]/ && @fields) { $fields[-1] .= "\r\n$line" } else { push @fields, $line }
}
my @kept;
for my $f (@fields) {
    if ($f =~ /^(To|Cc|Bcc):(.*)$/is) {
        (my $v = $2) =~ s/\r\n//g;
        push @rcpts, map { $_->address } Mail::Address->parse($v);
    }
    push @kept, $f unless $f =~ /^Bcc:/i;
}
die "sendmail: no recipients\n" unless @rcpts;
my $smtp = Net::SMTP->new('{{host}}', Port => {{port}}, Hello => 'rt.example.org', Timeout => 60)
    or do { warn "sendmail: cannot connect\n"; exit 75 };
sub fail { warn "sendmail: ", $smtp->message; exit 75 }
$smtp->mail($from) or fail();
$smtp->to(@rcpts) or fail();
$smtp->data() or fail();
$smtp->datasend(join("\r\n", @kept) . "\r\n\r\n" . ($body // '')) or fail();
$smtp->dataend() or fail();
$smtp->quit;
exit 0;
`

// requireRT skips the test, or fails it with REQUIRE_INTEROP=1, when
// Request Tracker 5 is not installed; it returns the paths of
// rt-setup-database and rt-mailgate.
func requireRT(t *testing.T) (setup, mailgate string) {
	t.Helper()
	gpgtest.Require(t, "perl")
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if _, err := os.Stat("/usr/sbin/" + name); err == nil {
			return "/usr/sbin/" + name
		}
		return ""
	}
	setup, mailgate = find("rt-setup-database"), find("rt-mailgate")
	_, err := os.Stat(rtServer)
	if setup != "" && mailgate != "" && err == nil {
		return setup, mailgate
	}
	const why = "Request Tracker 5 (Debian's request-tracker5 and rt5-db-sqlite: rt-setup-database, rt-mailgate, " + rtServer + ")"
	if os.Getenv("REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s is required for interop tests (REQUIRE_INTEROP=1) but not installed", why)
	}
	t.Skipf("%s not installed; interop test skipped", why)
	return "", ""
}

// requestTracker is a private RT 5 on a loopback port: its database,
// Mason cache, sessions and configuration live in a temporary directory,
// and nothing system-wide is changed.
type requestTracker struct {
	dir      string
	url      string // http://127.0.0.1:PORT
	env      []string
	mailgate string
	web      *http.Client // logged in as the staff user
}

// startRT sets up and starts RT, whose mail leaves through the
// submission listener at submission.
func startRT(t *testing.T, submission string) *requestTracker {
	t.Helper()
	setup, mailgate := requireRT(t)
	dir := t.TempDir()
	port := freePort(t)
	host, subPort, err := net.SplitHostPort(submission)
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{{dir}}", dir, "{{port}}", strconv.Itoa(port))
	files := map[string]string{
		"RT_SiteConfig.pm":       fill.Replace(rtSiteConfig),
		"initialdata":            rtInitialData,
		"sendmail":               strings.NewReplacer("{{host}}", host, "{{port}}", subPort).Replace(rtSendmail),
		"html/" + rtCallbackPath: rtCallback,
	}
	for _, d := range []string{"conf.d", "mason", "sessions"} {
		files[d+"/.keep"] = ""
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rt := &requestTracker{
		dir: dir, url: "http://127.0.0.1:" + strconv.Itoa(port), mailgate: mailgate,
		// RT_SITE_CONFIG replaces /etc/request-tracker5/RT_SiteConfig.pm,
		// RT_SITE_CONFIG_DIR its RT_SiteConfig.d (RT::Config::LoadConfig).
		env: append(os.Environ(), "RT_SITE_CONFIG="+filepath.Join(dir, "RT_SiteConfig.pm"),
			"RT_SITE_CONFIG_DIR="+filepath.Join(dir, "conf.d")),
	}
	start := time.Now()
	rt.run(t, setup, "--action", "init", "--skip-create")
	rt.run(t, setup, "--action", "insert", "--datafile", filepath.Join(dir, "initialdata"))
	t.Logf("RT database set up in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	rt.serve(t, port)
	t.Logf("rt-server answered after %v", time.Since(start).Round(time.Millisecond))
	rt.login(t)
	return rt
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// run runs one of RT's programs with the private configuration.
func (rt *requestTracker) run(t *testing.T, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = rt.env
	cmd.Dir = rt.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
}

// serve starts rt-server (Starlet, two workers) on 127.0.0.1:port in
// its own process group, stopped with SIGTERM when the test ends (its
// SIGINT handler, as root, would chown /var/lib/request-tracker5).
func (rt *requestTracker) serve(t *testing.T, port int) {
	t.Helper()
	logf, err := os.Create(filepath.Join(rt.dir, "rt-server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("perl", rtServer, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--max-workers", "2")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = rt.env, rt.dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(rt.dir, "rt-server.log"))
			t.Logf("rt-server's log:\n%s", tail(log, 4000))
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(rt.dir, "rt-server.log"))
			t.Fatalf("rt-server exited:\n%s", tail(log, 4000))
		default:
		}
		if resp, err := http.Get(rt.url + "/NoAuth/Login.html"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("rt-server does not answer")
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// login logs the staff user into RT's web interface.
func (rt *requestTracker) login(t *testing.T) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	rt.web = &http.Client{Jar: jar, Timeout: 60 * time.Second}
	resp, err := rt.web.PostForm(rt.url+"/NoAuth/Login.html", url.Values{"user": {"agent"}, "pass": {rtPassword}, "next": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// page returns a page of RT's web interface.
func (rt *requestTracker) page(t *testing.T, path string) string {
	t.Helper()
	resp, err := rt.web.Get(rt.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return string(b)
}

// rest calls RT's REST 1.0 API as the staff user and returns the answer
// after its status line.
func (rt *requestTracker) rest(t *testing.T, path string, form url.Values) string {
	t.Helper()
	form.Set("user", "agent")
	form.Set("pass", rtPassword)
	resp, err := http.PostForm(rt.url+"/REST/1.0/"+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	status, body, _ := strings.Cut(string(b), "\n")
	if !strings.HasSuffix(status, " 200 Ok") {
		t.Fatalf("REST %s: %s", path, b)
	}
	return strings.TrimLeft(body, "\n")
}

// tickets returns the subjects of the tickets in the queue General, by
// ticket number.
func (rt *requestTracker) tickets(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	body := rt.rest(t, "search/ticket", url.Values{"query": {"Queue = 'General'"}, "orderby": {"id"}, "format": {"s"}})
	for _, line := range strings.Split(body, "\n") {
		id, subject, ok := strings.Cut(line, ": ")
		if n, err := strconv.Atoi(id); ok && err == nil {
			out[n] = subject
		}
	}
	return out
}

// rtTxn is one transaction of a ticket's history (REST 1.0, format=l).
type rtTxn struct {
	ID, Type, Creator, Description, Content string
}

// history returns ticket id's transactions.
func (rt *requestTracker) history(t *testing.T, id int) []rtTxn {
	t.Helper()
	body := rt.rest(t, "ticket/"+strconv.Itoa(id)+"/history", url.Values{"format": {"l"}})
	var out []rtTxn
	for _, block := range strings.Split(body, "\n--\n") {
		f := restFields(block)
		if f["id"] != "" {
			out = append(out, rtTxn{f["id"], f["Type"], f["Creator"], f["Description"], f["Content"]})
		}
	}
	return out
}

// restFields reads a REST 1.0 form: "Name: value" lines, a value's
// further lines indented by the width of "Name: ".
func restFields(block string) map[string]string {
	f := map[string]string{}
	name := ""
	sc := bufio.NewScanner(strings.NewReader(block))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name != "" && (line == "" || strings.HasPrefix(line, strings.Repeat(" ", len(name)+2))) {
			f[name] += "\n" + strings.TrimPrefix(line, strings.Repeat(" ", len(name)+2))
			continue
		}
		n, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") || strings.ContainsAny(n, " \t") {
			name = ""
			continue
		}
		name = n
		f[n] = strings.TrimPrefix(v, " ")
	}
	for n, v := range f {
		f[n] = strings.TrimRight(v, "\n")
	}
	return f
}

// correspond makes a staff reply on ticket id through the REST API, with
// a one-time Cc when cc is not empty.
func (rt *requestTracker) correspond(t *testing.T, id int, text, cc string) {
	t.Helper()
	content := "id: " + strconv.Itoa(id) + "\nAction: correspond\nText: " + text + "\n"
	if cc != "" {
		content += "Cc: " + cc + "\n"
	}
	if body := rt.rest(t, "ticket/"+strconv.Itoa(id)+"/comment", url.Values{"content": {content}}); !strings.Contains(body, "Correspondence added") {
		t.Fatalf("RT did not add the correspondence: %s", body)
	}
}

// waitTicket waits until a ticket's history holds a transaction that
// has what in its content, and returns the ticket's number and the
// transaction.
func (rt *requestTracker) waitTicket(t *testing.T, what string) (int, rtTxn) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ids := rt.tickets(t)
		nums := make([]int, 0, len(ids))
		for n := range ids {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			for _, tx := range rt.history(t, n) {
				if strings.Contains(tx.Content, what) {
					return n, tx
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ticket has a message with %q; tickets: %v", what, ids)
		}
	}
}

// rtMailgate is the helpdesk's mail entrance: an SMTP listener on
// loopback (the gateway's deliver_to) that hands each message to
// rt-mailgate, as an MTA's alias "|rt-mailgate --queue General --action
// correspond --url ..." would; a failed rt-mailgate is a 451.
type rtMailgate struct {
	addr string
	mu   sync.Mutex
	rt   *requestTracker
	got  [][]byte
}

func startRTMailgate(t *testing.T) *rtMailgate {
	t.Helper()
	g := &rtMailgate{}
	srv := smtpserver.New(g, smtpserver.Options{Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	g.addr = ln.Addr().String()
	return g
}

func (g *rtMailgate) Recipient(context.Context, *smtpserver.Envelope, string) error { return nil }

func (g *rtMailgate) Deliver(ctx context.Context, env *smtpserver.Envelope, raw []byte) error {
	g.mu.Lock()
	rt := g.rt
	g.got = append(g.got, raw)
	g.mu.Unlock()
	if rt == nil {
		return &smtpserver.Error{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: "RT is not running yet"}
	}
	cmd := exec.CommandContext(ctx, rt.mailgate, "--queue", "General", "--action", "correspond", "--url", rt.url+"/", "--timeout", "60")
	cmd.Env = rt.env
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &smtpserver.Error{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: fmt.Sprintf("rt-mailgate: %v: %s", err, bytes.TrimSpace(out))}
	}
	return nil
}

// outboxWatch finds the messages Sealpost sent, each once.
type outboxWatch struct {
	s     *server
	taken map[string]bool
}

// next waits for a message to rcpt, not returned before, that match
// accepts.
func (o *outboxWatch) next(t *testing.T, rcpt, what string, match func([]byte) bool) []byte {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(o.s.dir, app.OutboxDir, "new", "*"))
		sort.Strings(files)
		for _, f := range files {
			if o.taken[f] {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil || deliveredTo(b) != rcpt || !match(b) {
				continue
			}
			o.taken[f] = true
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s reached %s", what, rcpt)
		}
	}
}

// header returns the first value of the header field name of msg.
func header(t *testing.T, msg []byte, name string) string {
	t.Helper()
	if vs := fieldValues(t, msg, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// TestRequestTracker is issue 16's proof: Request Tracker 5 behind a
// gateway as a helpdesk admin sets it up. Mail for RT goes from the
// gateway's deliver_to to rt-mailgate; RT's mail goes through a sendmail
// shim to the submission listener; RT's own crypto is off. The checks
// read RT through its REST API as a staff user and decrypt what the
// customer and the staff member get with gpg.
func TestRequestTracker(t *testing.T) {
	gate := startRTMailgate(t)
	s, gw := startGateway(t, "smtp://"+gate.addr)
	ctx := context.Background()
	if _, err := s.app.Admin.SetOptions(ctx, support, []string{"submit_clients=127.0.0.1/32"}); err != nil {
		t.Fatal(err)
	}
	// Issue 16's options: the outer Subject of replies keeps the ticket
	// tag (item 1), the helpdesk's own people are staff (item 3); the
	// verdict banner (item 4) is on by default.
	for _, o := range []string{"reply_subject=tag", "staff=*@example.org"} {
		if _, err := s.app.Admin.SetOptions(ctx, support, []string{o}); err != nil {
			t.Errorf("gateway set %s: %v", o, err)
		}
	}
	gwKey, err := s.app.Admin.ListKey(ctx, support)
	if err != nil {
		t.Fatal(err)
	}
	agent := gpgtest.New(t)
	agentFpr := agent.GenKey("Agent <" + rtAgent + ">")
	agent.Import(gwKey)
	if _, _, err := s.app.Admin.AddMemberWith(ctx, support, rtAgent, agent.Export(agentFpr), quiet(false)); err != nil {
		t.Fatal(err) // the administrator pins the staff member's key
	}
	rt := startRT(t, s.app.SubmissionAddr().String())
	gate.mu.Lock()
	gate.rt = rt
	gate.mu.Unlock()
	out := &outboxWatch{s: s, taken: map[string]bool{}}

	alice := customer(t, s, "alice@example.net", false)
	// encrypted is a message from c to the gateway, encrypted and
	// signed with gpg: outer is its header in clear, innerFields the
	// header inside, with c's key attached when attachKey.
	encrypted := func(c *member, outer, innerFields, text string, attachKey bool) []byte {
		inner := innerFields + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
		if attachKey {
			inner = innerFields + "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n" +
				"--m\r\nContent-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n" + string(c.gpg.Export(c.fpr)) + "\r\n--m--\r\n"
		}
		armored := c.gpg.MustRun([]byte(inner), "--armor", "--sign", "--encrypt", "-r", gw.KeyFingerprint, "-u", c.fpr).Stdout
		ct, body := pgp.EncryptedBody(armored, "outer")
		return append([]byte(outer+"MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
	}
	// readable decrypts msg with g and checks that it was encrypted,
	// signed by the gateway, and holds want.
	readable := func(t *testing.T, g *gpgtest.GPG, msg []byte, want string) gpgtest.Result {
		t.Helper()
		if bytes.Contains(msg, []byte(want)) {
			t.Fatalf("%s went out in clear:\n%.800s", want, msg)
		}
		r := g.Run(msg, "--decrypt")
		if !r.HasStatus("GOODMDC") || !r.Verified(gw.KeyFingerprint) || !bytes.Contains(r.Stdout, []byte(want)) {
			t.Fatalf("%s cannot be read as encrypted and signed by the gateway:\n%s\n%.600s", want, r.Status, r.Stdout)
		}
		return r
	}
	isReply := func(m []byte) bool { return header(t, m, "Auto-Submitted") == "" }
	const question = "CANARY-rt-question"
	ticket := 0

	t.Run("an encrypted, signed mail becomes a ticket that shows the verdict", func(t *testing.T) {
		msg := encrypted(alice, "From: alice@example.net\r\nTo: "+support+"\r\nSubject: ...\r\nMessage-ID: <alice-rt-1@example.net>\r\n",
			"From: Alice <alice@example.net>\r\nTo: "+support+"\r\nSubject: My printer is on fire\r\nMessage-ID: <alice-rt-1@example.net>\r\n",
			"Help! "+question, true)
		if err := s.send(t, alice.addr, []string{support}, msg); err != nil {
			t.Fatalf("refused: %v", err)
		}
		var created rtTxn
		ticket, created = rt.waitTicket(t, question)
		if subject := rt.tickets(t)[ticket]; subject != "My printer is on fire" || created.Type != "Create" || created.Creator != alice.addr {
			t.Errorf("ticket #%d %q: %s by %s", ticket, subject, created.Type, created.Creator)
		}
		// The X-Sealpost-* fields are kept with the message and, with the
		// README's callback, shown with it.
		display := rt.page(t, "/Helpers/TicketHistory?id="+strconv.Itoa(ticket))
		for _, want := range []string{"X-Sealpost-Signature:</td>", "good; engine=openpgp; signer=" + alice.fpr, "X-Sealpost-Encryption:</td>", "yes; engine=openpgp"} {
			if !strings.Contains(display, want) {
				t.Errorf("RT's ticket display does not show %q", want)
			}
		}
		// Issue 16 item 4 (verdict_banner, on by default): the verdict is
		// the first line of the text the ticket holds.
		first, _, _ := strings.Cut(strings.TrimSpace(created.Content), "\n")
		if !strings.HasPrefix(first, "[Sealpost: ") || !strings.Contains(first, "encrypted") || !strings.Contains(first, alice.addr) {
			t.Errorf("the ticket's text does not start with the verdict banner; its first line: %q", first)
		}
	})
	if ticket == 0 {
		t.Fatal("no ticket; the other checks need one")
	}
	tag := "[example.org #" + strconv.Itoa(ticket) + "]"

	t.Run("RT's auto-reply reaches the customer encrypted and signed", func(t *testing.T) {
		c := out.next(t, alice.addr, "auto-reply", func(m []byte) bool { return header(t, m, "Auto-Submitted") == "auto-replied" })
		// RT's auto-reply quotes the customer's message; with
		// reply_subject=tag the tag is outside too.
		r := readable(t, alice.gpg, c, question)
		if !bytes.Contains(r.Stdout, []byte("Subject: "+tag+" AutoReply: My printer is on fire")) {
			t.Errorf("the auto-reply lost its protected Subject:\n%.600s", r.Stdout)
		}
	})

	// Issue 16 item 3: the queue's AdminCc, a staff address with a key
	// on file, gets RT's notification of the new ticket encrypted to it.
	t.Run("a staff watcher gets the notification encrypted to their key", func(t *testing.T) {
		c := out.next(t, rtAgent, "notification of the new ticket", func(m []byte) bool {
			return strings.Contains(header(t, m, "References"), "<alice-rt-1@example.net>")
		})
		r := readable(t, agent, c, question)
		if !bytes.Contains(r.Stdout, []byte("Request "+strconv.Itoa(ticket)+" was acted upon")) {
			t.Errorf("not RT's notification:\n%.600s", r.Stdout)
		}
	})

	var staffReply []byte
	t.Run("a staff reply made in RT reaches the customer encrypted and signed", func(t *testing.T) {
		const answer = "CANARY-rt-staff-answer"
		rt.correspond(t, ticket, "Please unplug it. "+answer, "")
		staffReply = out.next(t, alice.addr, "staff reply", isReply)
		r := readable(t, alice.gpg, staffReply, answer)
		if !bytes.Contains(r.Stdout, []byte("Subject: "+tag+" My printer is on fire")) {
			t.Errorf("the staff reply lost its protected Subject:\n%.600s", r.Stdout)
		}
		// Issue 16 item 1: with reply_subject=tag only the tag is outside.
		if got := header(t, staffReply, "Subject"); got != tag+" ..." {
			t.Errorf("outer Subject of the reply with reply_subject=tag: %q, want %q", got, tag+" ...")
		}
	})

	// Issue 16 item 1: a customer whose mail program shows no protected
	// headers answers with the outer Subject they saw, or with "Re: ...",
	// and no protected Subject of their own.
	t.Run("answers without protected headers thread into the ticket (reply_subject=tag)", func(t *testing.T) {
		if staffReply == nil {
			t.Skip("no staff reply to answer")
		}
		answer := func(subject, text, id string) {
			t.Helper()
			irt := header(t, staffReply, "Message-Id")
			fields := "In-Reply-To: " + irt + "\r\nReferences: " + irt + "\r\nMessage-ID: " + id + "\r\n"
			msg := encrypted(alice, "From: alice@example.net\r\nTo: "+support+"\r\nSubject: "+subject+"\r\n"+fields,
				"From: alice@example.net\r\nTo: "+support+"\r\n"+fields, text, false)
			if err := s.send(t, alice.addr, []string{support}, msg); err != nil {
				t.Fatalf("refused: %v", err)
			}
			if n, tx := rt.waitTicket(t, text); n != ticket {
				t.Errorf("the answer %q opened ticket #%d %q instead of going into #%d", subject, n, rt.tickets(t)[n], ticket)
			} else if tx.Type != "Correspond" {
				t.Errorf("the answer is a %s in the ticket", tx.Type)
			}
		}
		answer("Re: "+header(t, staffReply, "Subject"), "CANARY-rt-thanks-1", "<alice-rt-2@example.net>")
		answer("Re: ...", "CANARY-rt-thanks-2", "<alice-rt-3@example.net>")
	})

	// Issue 16 item 2: a copy Sealpost does not send is reported in the
	// ticket, through deliver_to, and nothing goes to RT's envelope
	// sender.
	t.Run("a staff reply with a keyless Cc: the report lands in the ticket", func(t *testing.T) {
		const keyless = "nokey@example.com"
		before := len(rt.tickets(t))
		rt.correspond(t, ticket, "Copying a colleague. CANARY-rt-cc", keyless)
		readable(t, alice.gpg, out.next(t, alice.addr, "staff reply", isReply), "CANARY-rt-cc")
		n, tx := rt.waitTicket(t, keyless)
		if n != ticket || tx.Type != "Correspond" || tx.Creator == "agent" {
			t.Errorf("the report is a %s by %s in ticket #%d, want one in #%d", tx.Type, tx.Creator, n, ticket)
		}
		if after := len(rt.tickets(t)); after != before {
			t.Errorf("the report opened a ticket: %d tickets, were %d", after, before)
		}
		files, _ := filepath.Glob(filepath.Join(s.dir, app.OutboxDir, "new", "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if to := deliveredTo(b); to == rtSender || to == keyless && bytes.Contains(b, []byte("CANARY-rt-cc")) {
				t.Errorf("Sealpost sent a message to %s:\n%.600s", to, b)
			}
		}
	})
}

// TestRequestTrackerCallbackInREADME: the callback TestRequestTracker
// installs is the one the README gives, at the path it gives.
func TestRequestTrackerCallbackInREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, helpdesks, _ := strings.Cut(string(readme), "\n## Helpdesks\n")
	helpdesks, _, _ = strings.Cut(helpdesks, "\n## ")
	indented := "  ```\n  " + strings.ReplaceAll(strings.TrimSuffix(rtCallback, "\n"), "\n", "\n  ") + "\n  ```\n"
	if !strings.Contains(helpdesks, indented) {
		t.Errorf("the README's section Helpdesks does not give the callback:\n%s", indented)
	}
	if path := "/usr/local/share/request-tracker5/html/" + rtCallbackPath; !strings.Contains(helpdesks, "`"+path+"`") {
		t.Errorf("the README's section Helpdesks does not give the callback's path %s", path)
	}
}
