package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// oneLine joins text's lines, so that a check does not depend on where
// a notice wraps.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestCertificateWithoutListIdentity: issue 15 item 8. A member added
// with a certificate to a list that has no S/MIME identity is told about
// at once (a warning naming the command that gives the list one, which
// works), and each post's notices name the real reason: the member's
// notice does not call their good certificate unusable, and the owner's
// summary names the list's missing certificate and the command.
func TestCertificateWithoutListIdentity(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		alice = "alice@example.org"
		bob   = "bob@example.org"
		owner = "owner@example.org"
	)
	data := t.TempDir()
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	bobLeaf := ca.Issue(bob, openssltest.RSA2048, openssltest.LeafOptions{})
	bobCert := filepath.Join(o.Dir, o.WriteCert("bob.pem", bobLeaf.Cert))

	sealpost(t, data, nil, "list", "create", list, "--owner", owner).want(t, exitOK)
	g := gpgtest.New(t)
	aliceFpr := g.GenKey("Alice <" + alice + ">")
	g.Import([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	sealpost(t, data, nil, "member", "add", list, alice, "--key", writeFile(t, t.TempDir(), "alice.asc", g.Export(aliceFpr))).want(t, exitOK)

	command := "sealpost key import --list " + list + " --passphrase-file PASSWORD-FILE CERT.p12"
	r := sealpost(t, data, nil, "member", "add", list, bob, "--key", bobCert).want(t, exitOK)
	if !strings.Contains(r.stderr, "warning: "+list+" has no S/MIME certificate") || !strings.Contains(r.stderr, command) {
		t.Errorf("member add of a certificate to a list without one does not warn with the command:\n%s", r.stderr)
	}

	listFpr := gpgFingerprints(t, g, list)[0]
	inner := []byte("Content-Type: text/plain\r\nFrom: " + alice + "\r\nTo: " + list + "\r\nSubject: s\r\n\r\nbody\r\n")
	post := pgpMIME(alice, list, g.MustRun(inner, "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", aliceFpr).Stdout)
	sealpost(t, data, post, "process", list, "--sender", alice).want(t, exitOK)
	notices := map[string]string{}
	for _, f := range readOutbox(t, data) {
		notices[f.deliveredTo] = oneLine(string(f.raw))
	}
	switch n := notices[bob]; {
	case n == "":
		t.Fatalf("no notice to %s; outbox has %d messages", bob, len(notices))
	case strings.Contains(n, "cannot be used for encryption") || !strings.Contains(n, "the list has no S/MIME certificate of its own yet") ||
		!strings.Contains(n, ") is fine: nothing needs doing on your side"):
		t.Errorf("the member's notice does not name the list's missing certificate:\n%s", n)
	}
	switch n := notices[owner]; {
	case n == "":
		t.Fatalf("no notice to the owner")
	case !strings.Contains(n, bob+" The list has no S/MIME certificate to sign copies with") || !strings.Contains(n, command):
		t.Errorf("the owner's summary does not name the list's missing certificate and the command:\n%s", n)
	}

	// The command named gives the list its identity; a certificate added
	// then draws no warning.
	teamLeaf := ca.Issue(list, openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("team.pem", teamLeaf.Cert)
	o.WriteKey("team.key", teamLeaf.Key)
	o.MustRun(nil, "pkcs12", "-export", "-inkey", "team.key", "-in", "team.pem", "-passout", "pass:s3cret", "-out", "CERT.p12")
	o.Write("PASSWORD-FILE", []byte("s3cret\n"))
	args := strings.Fields(strings.TrimPrefix(command, "sealpost "))
	args[len(args)-2] = filepath.Join(o.Dir, "PASSWORD-FILE")
	args[len(args)-1] = filepath.Join(o.Dir, "CERT.p12")
	sealpost(t, data, nil, args...).want(t, exitOK)
	sealpost(t, data, nil, "list", "cert", list).want(t, exitOK)
	r = sealpost(t, data, nil, "member", "key", list, bob, "--key", bobCert).want(t, exitOK)
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("a warning although the list has a certificate now:\n%s", r.stderr)
	}
}

// TestProcessSaysHeld: issue 15 item 8. A message the list holds is not
// reported as accepted: `process` says it was held for the moderator,
// with the reference the hold shows (exit 0, as for any message taken),
// and `serve` logs the same for a message held over SMTP.
func TestProcessSaysHeld(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		alice = "alice@example.org"
	)
	data := t.TempDir()
	g, listFpr := holdingList(t, data, list, alice)
	unsigned := func(text string) []byte {
		inner := []byte("Content-Type: text/plain\r\nFrom: " + alice + "\r\nTo: " + list + "\r\nSubject: s\r\n\r\n" + text + "\r\n")
		return pgpMIME(alice, list, g.MustRun(inner, "--armor", "--encrypt", "-r", listFpr).Stdout)
	}

	r := sealpost(t, data, unsigned("first"), "process", list, "--sender", alice).want(t, exitOK)
	m := regexp.MustCompile(`^held for the moderator, reference ([0-9a-f]+)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("process of a held message printed %q", r.stdout)
	}
	if show := sealpost(t, data, nil, "hold", "show", list, "1").want(t, exitOK).stdout; !strings.Contains(show, m[1]) {
		t.Errorf("the hold does not carry the reference %s:\n%s", m[1], show)
	}
	log, err := os.ReadFile(filepath.Join(data, "process.log"))
	if err != nil || !strings.Contains(string(log), `msg="process: message held for the moderator"`) {
		t.Errorf("process.log does not say the message was held (%v):\n%s", err, log)
	}

	s := startServe(t, data)
	sendPost(t, s.addr, alice, list, unsigned("second"))
	if !eventually(10*time.Second, func() bool { return strings.Contains(s.output.String(), `msg="smtp: message held for the moderator"`) }) {
		t.Errorf("serve does not log that the message was held:\n%s", s.output.String())
	}
}

// TestCreateWithCertificateForAnotherAddress: issue 15 item 8. `list
// create` (and `gateway create`) with a PKCS#12 file for another address
// refuse before creating anything, say so, and name the address the
// certificate is for; they never print "Created".
func TestCreateWithCertificateForAnotherAddress(t *testing.T) {
	t.Parallel()
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	p12, pass := identityFile(o, "other", ca.Issue("other@lists.example.org", openssltest.RSA2048, openssltest.LeafOptions{}))
	data := t.TempDir()
	for _, tc := range []struct{ what, addr string }{
		{"list", "team@lists.example.org"},
		{"gateway", "support@example.org"},
	} {
		args := []string{tc.what, "create", tc.addr, "--smime-cert", p12, "--smime-pass-file", pass}
		if tc.what == "gateway" {
			args = append(args, "--deliver-to", "smtp://127.0.0.1:2526")
		}
		r := sealpost(t, data, nil, args...).want(t, exitData)
		if r.stdout != "" {
			t.Errorf("%s create printed %q though it created nothing", tc.what, r.stdout)
		}
		if !strings.Contains(r.stderr, "is for other@lists.example.org, not for "+tc.addr) || !strings.Contains(r.stderr, "no "+tc.what+" was created") {
			t.Errorf("%s create does not say what happened:\n%s", tc.what, r.stderr)
		}
		sealpost(t, data, nil, tc.what, "show", tc.addr).want(t, exitData)
	}
}
