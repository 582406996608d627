package main_test

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestHoldShowDecrypt: `hold show LIST ID` shows the outer headers only;
// with --decrypt it shows the held post opened (signature verdict, inner
// headers, text), and the audit log records the reading as the
// operator's. `hold reject --reason` takes the owner's words; a reason
// with a control character is refused (exit 65) and the hold stays.
func TestHoldShowDecrypt(t *testing.T) {
	t.Parallel()
	const (
		list  = "team@lists.example.org"
		alice = "alice@example.org"
		text  = "A held text \x1b[31m with an escape, CANARY-hold-7c2"
	)
	data := t.TempDir()
	g, listFpr := holdingList(t, data, list, alice)
	inner := []byte("Content-Type: text/plain; charset=utf-8\r\nFrom: " + alice + "\r\nTo: " + list + "\r\nSubject: inner subject\r\n\r\n" + text + "\r\n")
	sealpost(t, data, pgpMIME(alice, list, g.MustRun(inner, "--armor", "--encrypt", "-r", listFpr).Stdout), "process", list, "--sender", alice).want(t, exitOK)

	if out := sealpost(t, data, nil, "hold", "show", list, "1").want(t, exitOK).stdout; strings.Contains(out, "CANARY-hold-7c2") || strings.Contains(out, "inner subject") {
		t.Errorf("hold show without --decrypt shows the content:\n%s", out)
	}
	out := sealpost(t, data, nil, "hold", "show", list, "1", "--decrypt").want(t, exitOK).stdout
	for _, want := range []string{"Held because: ", "Encrypted: yes, to the list's key", "Signature: not signed", "Subject: inner subject",
		"From: " + alice, "A held text \uFFFD[31m with an escape, CANARY-hold-7c2"} {
		if !strings.Contains(out, want) {
			t.Errorf("hold show --decrypt lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("hold show --decrypt writes the post's terminal escape to the terminal")
	}
	audit := sealpost(t, data, nil, "audit", "--list", list).want(t, exitOK).stdout
	if !strings.Contains(audit, "hold.read") || !strings.Contains(audit, "operator") {
		t.Errorf("the reading is not in the audit log:\n%s", audit)
	}

	sealpost(t, data, nil, "hold", "reject", list, "1", "--reason", "bell \a").want(t, exitData)
	sealpost(t, data, nil, "hold", "reject", list, "1", "--reason", "Please sign your posts.").want(t, exitOK)
	audit = sealpost(t, data, nil, "audit", "--list", list).want(t, exitOK).stdout
	if !strings.Contains(audit, "hold.reject") || !strings.Contains(audit, "Please sign your posts.") {
		t.Errorf("the rejection and its reason are not in the audit log:\n%s", audit)
	}
}

// holdingList creates list, which holds unsigned posts, with member, whose
// key is in the returned gpg home with the list's; it returns that and
// the list key's fingerprint.
func holdingList(t *testing.T, data, list, member string) (*gpgtest.GPG, string) {
	t.Helper()
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	sealpost(t, data, nil, "list", "set", list, "on_unsigned=hold").want(t, exitOK)
	g := gpgtest.New(t)
	fpr := g.GenKey(member + " <" + member + ">")
	g.Import([]byte(sealpost(t, data, nil, "list", "key", list).want(t, exitOK).stdout))
	sealpost(t, data, nil, "member", "add", list, member, "--key", writeFile(t, t.TempDir(), "member.asc", g.Export(fpr))).want(t, exitOK)
	return g, gpgFingerprints(t, g, list)[0]
}
