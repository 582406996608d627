package clienttest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Notmuch reads messages with notmuch, as a notmuch user with the
// GNUPGHOME Home (GMime does the crypto through gpgme: gpg and gpgsm).
type Notmuch struct {
	Home string
	t    testing.TB
}

// NewNotmuch returns a notmuch reader that uses the GnuPG home gnupgHome.
func NewNotmuch(t testing.TB, gnupgHome string) *Notmuch {
	t.Helper()
	Require(t, "notmuch")
	return &Notmuch{Home: gnupgHome, t: t}
}

// Read indexes msg in a new notmuch database (`notmuch new` on a Maildir)
// and shows it as a user would ask to see it decrypted and verified:
// `notmuch show --format=json --decrypt=true --verify`.
func (n *Notmuch) Read(msg []byte) Reading {
	n.t.Helper()
	dir := tempDir(n.t, "notmuch")
	mail := filepath.Join(dir, "mail")
	maildir(n.t, mail, msg)
	conf := filepath.Join(dir, "config")
	cfg := "[database]\npath=" + mail + "\n[user]\nname=Reader\nprimary_email=reader@example.org\n" +
		"[new]\ntags=inbox;\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		n.t.Fatal(err)
	}
	env := append(environ(n.Home, dir), "NOTMUCH_CONFIG="+conf)
	n.run(env, "new", "--quiet")
	out := n.run(env, "show", "--format=json", "--decrypt=true", "--verify", "--entire-thread=false", "*")
	return notmuchReading(n.t, out)
}

func (n *Notmuch) run(env []string, args ...string) []byte {
	n.t.Helper()
	cmd := exec.Command("notmuch", args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		n.t.Fatalf("notmuch %s: %v\n%s", strings.Join(args, " "), err, errb.Bytes())
	}
	return out.Bytes()
}

// nmMessage is the part of notmuch's JSON message (devel/schemata) that
// a reader's verdict depends on.
type nmMessage struct {
	Headers map[string]string `json:"headers"`
	Body    []nmPart          `json:"body"`
	Crypto  struct {
		Decrypted *struct {
			Status string `json:"status"`
		} `json:"decrypted"`
	} `json:"crypto"`
}

type nmPart struct {
	ContentType string            `json:"content-type"`
	Content     json.RawMessage   `json:"content"`
	EncStatus   []nmStatus        `json:"encstatus"`
	SigStatus   []nmStatus        `json:"sigstatus"`
	Headers     map[string]string `json:"headers"`
}

type nmStatus struct {
	Status      string         `json:"status"`
	Fingerprint string         `json:"fingerprint"`
	Errors      map[string]any `json:"errors"`
}

// notmuchReading reads the output of notmuch show --format=json for a
// thread of one message.
func notmuchReading(t testing.TB, out []byte) Reading {
	t.Helper()
	var threads [][][]json.RawMessage
	if err := json.Unmarshal(out, &threads); err != nil || len(threads) != 1 || len(threads[0]) != 1 || len(threads[0][0]) == 0 {
		t.Fatalf("notmuch show: unexpected output (%v):\n%s", err, out)
	}
	var m nmMessage
	if err := json.Unmarshal(threads[0][0][0], &m); err != nil {
		t.Fatalf("notmuch show: %v\n%s", err, out)
	}
	r := Reading{Program: "notmuch", Subject: m.Headers["Subject"], Raw: string(out)}
	if m.Crypto.Decrypted != nil {
		r.Decrypted = m.Crypto.Decrypted.Status == "full" || m.Crypto.Decrypted.Status == "partial"
	}
	var text strings.Builder
	for _, p := range m.Body {
		walkNotmuch(p, &r, &text)
	}
	r.Text = text.String()
	return r
}

// walkNotmuch collects the text and the crypto verdicts of p and its
// children into r.
func walkNotmuch(p nmPart, r *Reading, text *strings.Builder) {
	for _, s := range p.EncStatus {
		if s.Status != "good" {
			r.Trouble = append(r.Trouble, "decryption "+s.Status)
		}
	}
	for _, s := range p.SigStatus {
		switch {
		case s.Status == "good" && len(s.Errors) == 0:
			r.GoodSignature, r.Signer = true, s.Fingerprint
		default:
			r.Trouble = append(r.Trouble, "signature "+s.Status+errorNames(s.Errors))
		}
	}
	var s string
	if json.Unmarshal(p.Content, &s) == nil {
		text.WriteString(s)
		return
	}
	var children []nmPart
	if json.Unmarshal(p.Content, &children) == nil {
		for _, c := range children {
			walkNotmuch(c, r, text)
		}
		return
	}
	// message/rfc822: a list of {headers, body}.
	var msgs []struct {
		Headers map[string]string `json:"headers"`
		Body    []nmPart          `json:"body"`
	}
	if json.Unmarshal(p.Content, &msgs) == nil {
		for _, m := range msgs {
			for _, c := range m.Body {
				walkNotmuch(c, r, text)
			}
		}
	}
}

func errorNames(errs map[string]any) string {
	var names []string
	for k := range errs {
		names = append(names, k)
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}
