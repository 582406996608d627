// Package postfixtest runs a private Postfix instance for tests: Debian's
// postfix package, its own configuration, queue, mailboxes and log in a
// temporary directory, listening on a loopback port (postfix -c DIR), so
// that nothing system-wide changes and the machine's own Postfix, if one
// runs, is not touched. Test support: only _test.go files import it.
//
// Postfix's master runs as root and its daemons as the postfix user, so
// Start needs root; it skips the test without root or without Postfix,
// unless REQUIRE_INTEROP=1 is set (then it fails: .ci/run installs
// postfix and runs as root).
package postfixtest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// Config says what the instance does besides accepting mail on its port.
type Config struct {
	// Mailboxes are the addresses Postfix delivers into Maildirs (virtual
	// mailboxes, owned by MailboxUID); other addresses in their domains
	// are refused at RCPT with 550 5.1.1.
	Mailboxes []string
	// Transport is Postfix's transport map: a domain and where its mail
	// goes ("lists.example.org" → "smtp:[127.0.0.1]:2525", or "sealpost:"
	// for a pipe service in MasterExtra). Its domains are relay domains:
	// Postfix accepts their mail from anyone.
	Transport map[string]string
	// Main is added to main.cf ("name = value" lines).
	Main []string
	// MasterExtra is added to master.cf (a pipe service, say).
	MasterExtra string
	// TLS makes the SMTP listener offer STARTTLS with a self-signed
	// certificate for mx.postfixtest.invalid, as Debian's Postfix does
	// out of the box with its snakeoil certificate.
	TLS bool
}

// MailboxUID is the owner of the mailboxes and the user a pipe may run
// as: nobody.
const MailboxUID = 65534

// Instance is one running Postfix.
type Instance struct {
	Dir  string // config (etc/), queue/, data/, mail/ and the log
	Addr string // the SMTP listener, 127.0.0.1:port
	t    testing.TB
	cfg  Config
}

// Start configures and starts an instance; it is stopped when the test
// ends.
func Start(t testing.TB, cfg Config) *Instance {
	t.Helper()
	_, err := exec.LookPath("postfix")
	switch {
	case err != nil:
		skip(t, "postfix is not installed (apt-get install -y postfix)")
	case os.Geteuid() != 0:
		skip(t, "a private Postfix needs root (its master runs as root)")
	}
	if _, err := user.Lookup("postfix"); err != nil {
		skip(t, "no postfix user: "+err.Error())
	}
	dir, err := os.MkdirTemp("", "postfixtest-")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix's daemons (user postfix) and the mailbox owner must reach
	// what is below it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Instance{Dir: dir, Addr: FreeAddr(t), t: t, cfg: cfg}
	t.Cleanup(func() {
		p.run("stop")
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.Log())
		}
		os.RemoveAll(dir)
	})
	for _, d := range []string{"etc", "queue", "data", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pf, _ := user.Lookup("postfix")
	uid, _ := strconv.Atoi(pf.Uid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, -1); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "mail"), MailboxUID, MailboxUID); err != nil {
		t.Fatal(err)
	}
	if cfg.TLS {
		p.selfSigned()
	}
	p.write("main.cf", p.mainCf())
	p.write("master.cf", p.masterCf())
	var vmail, transport strings.Builder
	for _, m := range cfg.Mailboxes {
		fmt.Fprintf(&vmail, "%s %s/\n", m, m)
	}
	for domain, to := range cfg.Transport {
		fmt.Fprintf(&transport, "%s %s\n", domain, to)
	}
	p.write("vmailbox", vmail.String())
	p.write("transport", transport.String())
	if out, err := p.run("check"); err != nil {
		t.Fatalf("postfix check: %v\n%s\n%s", err, out, p.Log())
	}
	p.Start()
	return p
}

// skip skips t, or fails it under REQUIRE_INTEROP=1 (gpgtest.Skip).
func skip(t testing.TB, why string) { gpgtest.Skip(t, why) }

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *Instance) etc(name string) string { return filepath.Join(p.Dir, "etc", name) }

func (p *Instance) write(name, text string) {
	p.t.Helper()
	if err := os.WriteFile(p.etc(name), []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *Instance) mainCf() string {
	domains := map[string]bool{}
	for _, m := range p.cfg.Mailboxes {
		if _, d, ok := strings.Cut(m, "@"); ok {
			domains[d] = true
		}
	}
	var vdomains, relay []string
	for d := range domains {
		vdomains = append(vdomains, d)
	}
	for d := range p.cfg.Transport {
		relay = append(relay, d)
	}
	lines := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(p.Dir, "queue"),
		"data_directory = " + filepath.Join(p.Dir, "data"),
		"maillog_file = " + filepath.Join(p.Dir, "maillog"),
		"maillog_file_prefixes = " + p.Dir,
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"myhostname = mx.postfixtest.invalid",
		"mydomain = postfixtest.invalid",
		"myorigin = postfixtest.invalid",
		"mydestination =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
		"relay_domains = " + strings.Join(relay, ", "),
		"transport_maps = texthash:" + p.etc("transport"),
		"virtual_mailbox_domains = " + strings.Join(vdomains, ", "),
		"virtual_mailbox_base = " + filepath.Join(p.Dir, "mail"),
		"virtual_mailbox_maps = texthash:" + p.etc("vmailbox"),
		fmt.Sprintf("virtual_uid_maps = static:%d", MailboxUID),
		fmt.Sprintf("virtual_gid_maps = static:%d", MailboxUID),
		"virtual_minimum_uid = 100",
		"alias_maps =",
		"alias_database =",
		"biff = no",
		"smtp_tls_security_level = none",
		// A test must not wait minutes for a retry: the queue is run
		// again soon, and flushed by Flush.
		"queue_run_delay = 2s",
		"minimal_backoff_time = 2s",
		"maximal_backoff_time = 4s",
		// A deferred message stays deferred while the test runs.
		"maximal_queue_lifetime = 1h",
		"bounce_queue_lifetime = 1h",
	}
	if !p.cfg.TLS {
		lines = append(lines, "smtpd_tls_security_level = none")
	} else {
		lines = append(lines,
			"smtpd_tls_security_level = may",
			"smtpd_tls_cert_file = "+p.etc("cert.pem"),
			"smtpd_tls_key_file = "+p.etc("key.pem"),
			"smtpd_tls_loglevel = 1")
	}
	return strings.Join(append(lines, p.cfg.Main...), "\n") + "\n"
}

// masterCf is Debian's master.cf reduced to what the tests use, without
// chroot (the queue directory has none of the files a chroot needs), and
// with the SMTP listener on p.Addr.
func (p *Instance) masterCf() string {
	return p.Addr + ` inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
` + p.cfg.MasterExtra
}

// selfSigned writes etc/cert.pem and etc/key.pem: a self-signed
// certificate for mx.postfixtest.invalid.
func (p *Instance) selfSigned() {
	p.t.Helper()
	cert := openssltest.ServerCert(p.t, "mx.postfixtest.invalid")
	pkcs8, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write("cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	p.write("key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
}

// run runs `postfix -c etc/ args...`.
func (p *Instance) run(args ...string) (string, error) {
	out, err := exec.Command("postfix", append([]string{"-c", filepath.Join(p.Dir, "etc")}, args...)...).CombinedOutput()
	return string(out), err
}

// Start starts the instance (again) and waits until it accepts
// connections.
func (p *Instance) Start() {
	p.t.Helper()
	if out, err := p.run("start"); err != nil {
		p.t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.Log())
	}
	if !Eventually(20*time.Second, func() bool { return answers(p.Addr) }) {
		p.t.Fatalf("postfix does not listen on %s:\n%s", p.Addr, p.Log())
	}
}

// Stop stops the instance and waits until its listener is closed; what
// is in its queue stays there.
func (p *Instance) Stop() {
	p.t.Helper()
	if out, err := p.run("stop"); err != nil {
		p.t.Fatalf("postfix stop: %v\n%s", err, out)
	}
	if !Eventually(20*time.Second, func() bool { return !answers(p.Addr) }) {
		p.t.Fatalf("postfix still listens on %s after stop", p.Addr)
	}
}

// answers reports whether an SMTP server greets on addr. It ends the
// session with QUIT, so that Postfix's log has no "lost connection"
// line for it: a test may look for those of the client under test.
func answers(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		return false
	}
	if err := tc.PrintfLine("QUIT"); err != nil {
		return true
	}
	tc.ReadResponse(221)
	return true
}

// Flush asks Postfix to attempt every deferred message now (postqueue -f).
func (p *Instance) Flush() {
	p.t.Helper()
	if out, err := exec.Command("postqueue", "-c", filepath.Join(p.Dir, "etc"), "-f").CombinedOutput(); err != nil {
		p.t.Fatalf("postqueue -f: %v\n%s", err, out)
	}
}

// Queue is Postfix's queue listing (postqueue -p).
func (p *Instance) Queue() string {
	p.t.Helper()
	out, err := exec.Command("postqueue", "-c", filepath.Join(p.Dir, "etc"), "-p").CombinedOutput()
	if err != nil {
		p.t.Fatalf("postqueue -p: %v\n%s", err, out)
	}
	return string(out)
}

// Log is Postfix's log so far.
func (p *Instance) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

// Mail returns the messages delivered to mailbox (one of
// Config.Mailboxes), oldest first.
func (p *Instance) Mail(mailbox string) [][]byte {
	p.t.Helper()
	dir := filepath.Join(p.Dir, "mail", mailbox, "new")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type msg struct {
		at   time.Time
		data []byte
	}
	var ms []msg
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			p.t.Fatal(err)
		}
		info, err := e.Info()
		if err != nil {
			p.t.Fatal(err)
		}
		ms = append(ms, msg{info.ModTime(), b})
	}
	slices.SortStableFunc(ms, func(a, b msg) int { return a.at.Compare(b.at) })
	out := make([][]byte, len(ms))
	for i := range ms {
		out[i] = ms[i].data
	}
	return out
}

// WaitMail waits until mailbox holds n messages and returns them; it
// fails the test after timeout.
func (p *Instance) WaitMail(mailbox string, n int, timeout time.Duration) [][]byte {
	p.t.Helper()
	var got [][]byte
	if !Eventually(timeout, func() bool { got = p.Mail(mailbox); return len(got) >= n }) {
		p.t.Fatalf("%s has %d messages after %s, want %d\nqueue:\n%s", mailbox, len(got), timeout, n, p.Queue())
	}
	return got
}

// Eventually polls cond every 50 ms until it holds or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
