package clienttest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Mutt drives mutt or NeoMutt (Program) with gpgme, in a terminal, as a
// user whose GnuPG home (keys for gpg and gpgsm) is Home.
type Mutt struct {
	Program string // "mutt" or "neomutt"
	Home    string
	t       testing.TB
}

// NewMutt returns a driver for program ("mutt" or "neomutt") with the
// GnuPG home gnupgHome.
func NewMutt(t testing.TB, program, gnupgHome string) *Mutt {
	t.Helper()
	Require(t, program, "tmux")
	return &Mutt{Program: program, Home: gnupgHome, t: t}
}

// commonRC is the configuration both programs start from: gpgme for
// OpenPGP and S/MIME, signatures checked when a message is shown,
// protected headers read, a Maildir of the test's, and nothing that
// waits for a key press.
const commonRC = `set crypt_use_gpgme=yes
set crypt_verify_sig=yes
set crypt_protected_headers_read=yes
set pgp_auto_decode=yes
set mbox_type=Maildir
set header_cache=""
set quit=yes
set wait_key=no
set sleep_time=0
set mark_old=no
set markers=no
set beep=no
set record=""
set postpone=no
set charset="utf-8"
set send_charset="us-ascii:utf-8"
set hostname="example.org"
`

// writeRC writes commonRC and extra lines as the program's muttrc in
// dir, with dir/mail as its mailbox, and returns the file's name.
func (m *Mutt) writeRC(dir string, extra ...string) string {
	m.t.Helper()
	mail := filepath.Join(dir, "mail")
	maildir(m.t, mail)
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		m.t.Fatal(err)
	}
	rc := commonRC + "set folder=\"" + dir + "\"\nset spoolfile=\"" + mail + "\"\nset tmpdir=\"" + tmp + "\"\n" +
		strings.Join(extra, "\n") + "\n"
	name := filepath.Join(dir, "muttrc")
	if err := os.WriteFile(name, []byte(rc), 0o600); err != nil {
		m.t.Fatal(err)
	}
	return name
}

// subjectMark frames the subject in the pager's status line
// ($pager_format %s: the subject the program shows, protected or not).
var subjectMark = regexp.MustCompile(`SEALPOST-SUBJECT\[(.*?)\]SEALPOST`)

// Read opens a Maildir holding msg and shows the message in the pager,
// as a user who presses Enter on it. The pager's text (through
// $display_filter, which sees what the pager shows) and the last screen
// make the Reading.
func (m *Mutt) Read(msg []byte) Reading {
	m.t.Helper()
	dir := tempDir(m.t, m.Program)
	shown := filepath.Join(dir, "shown.txt")
	rc := m.writeRC(dir,
		"set display_filter=\"tee "+shown+"\"",
		"set pager_format=\"SEALPOST-SUBJECT[%s]SEALPOST\"",
		"set pager_index_lines=0")
	maildir(m.t, filepath.Join(dir, "mail"), msg)
	term := StartTerminal(m.t, environ(m.Home, dir), m.Program, "-n", "-F", rc, "-f", filepath.Join(dir, "mail"),
		"-e", "push <display-message>")
	// The pager shows the message; a message the program cannot show
	// leaves it in the index with an error in the message line.
	term.WaitFor("the message in the pager", func(s string) bool {
		return subjectMark.MatchString(s) || strings.Contains(firstLine(s), "q:Quit") && muttTrouble.MatchString(lastLine(s))
	})
	// The message line settles after the pager is drawn.
	time.Sleep(300 * time.Millisecond)
	screen := term.Screen()
	text, err := os.ReadFile(shown)
	if err != nil && !os.IsNotExist(err) {
		m.t.Fatal(err)
	}
	return muttReading(m.Program, screen, string(text))
}

// attributes are the pager's colour markers that $display_filter sees
// (ESC ] 9 ; ... BEL and the like); a user sees none of them.
var attributes = regexp.MustCompile("\x1b\\][0-9]+;[^\x07]*\x07")

// muttTrouble are the program's words for something gone wrong with
// decryption or a signature, in its own notes. Whole words only: a key's
// fingerprint in the notes is hexadecimal, and "…DBAD 631D…" is no
// trouble.
var muttTrouble = regexp.MustCompile(`(?i)\b(errors?|bad|problems?|fail(s|ed|ure)?|could not|can't|cannot|nodata|invalid|not verified|unknown|expired|revoked)\b`)

var (
	decryptedNote   = regexp.MustCompile(`\[-- (The following data is (PGP/MIME|S/MIME) (signed and )?encrypted|BEGIN PGP MESSAGE) --\]`)
	fingerprintLine = regexp.MustCompile(`(?m)^Fingerprint: ([0-9A-Fa-f :]+)$`)
)

// muttReading reads the pager's text and last screen of program.
func muttReading(program, screen, text string) Reading {
	text = attributes.ReplaceAllString(text, "")
	r := Reading{Program: program, Text: text, Raw: text + "\n--- last screen ---\n" + screen}
	if sm := subjectMark.FindStringSubmatch(screen); sm != nil {
		r.Subject = strings.TrimSpace(sm[1])
	}
	r.GoodSignature = strings.Contains(text, "Good signature from")
	if fm := fingerprintLine.FindStringSubmatch(text); fm != nil && r.GoodSignature {
		r.Signer = strings.NewReplacer(" ", "", ":", "").Replace(fm[1])
	}
	// The program says what it decrypted in its message line, or by
	// its notes around the decrypted part; "[-- BEGIN PGP MESSAGE --]"
	// stands for an inline PGP message it decrypted.
	r.Decrypted = strings.Contains(lastLine(screen), "successfully decrypted") || decryptedNote.MatchString(text)
	for _, note := range append(muttNotes(text), lastLine(screen)) {
		if muttTrouble.MatchString(note) {
			r.Trouble = append(r.Trouble, strings.TrimSpace(note))
		}
	}
	if strings.Contains(text, "\r") {
		r.Trouble = append(r.Trouble, "carriage returns shown as ^M")
	}
	return r
}

// muttNotes are the lines the program adds to a message it shows: its
// "[-- ... --]" lines and the signature information blocks, where it
// reports on decryption and signatures (the message's own text is not
// among them, nor the lines that name and describe attachments).
func muttNotes(text string) []string {
	var notes []string
	inSig := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "[-- Begin signature information --]"):
			inSig = true
		case strings.HasPrefix(line, "[-- End signature information --]"):
			inSig = false
		case strings.HasPrefix(line, "[-- Attachment #"), strings.HasPrefix(line, "[-- Type: "), strings.HasPrefix(line, "[-- Description: "):
		case strings.HasPrefix(line, "[-- "), inSig:
			notes = append(notes, line)
		}
	}
	return notes
}

// lastLine is the message line at the bottom of a screen.
func lastLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	return lines[len(lines)-1]
}

// Post is a message a user writes in mutt or NeoMutt and sends signed
// and encrypted with the program's own crypto.
type Post struct {
	From    string // "Name <addr>"
	To      string
	Subject string
	Body    string
	// SMIME makes it S/MIME (gpgsm) instead of PGP/MIME (gpg).
	SMIME bool
	// Key names the signing key or certificate (a fingerprint).
	Key string
}

// Write composes p as a user does who gives the recipient and subject on
// the command line (`-s SUBJECT -i BODYFILE TO`), leaves the body as it
// is and presses y in the compose menu, with $crypt_autosign and
// $crypt_autoencrypt set. Neither program signs or encrypts in batch
// mode (`-s ... < body` sends the text in clear), hence the terminal.
// It returns the message the program handed to $sendmail, a wrapper
// script that keeps it.
func (m *Mutt) Write(p Post) []byte {
	m.t.Helper()
	dir := tempDir(m.t, m.Program)
	sent := filepath.Join(dir, "sent.eml")
	wrapper := filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\n# a sendmail that keeps the message\ncat > '" + sent + ".tmp' && mv '" + sent + ".tmp' '" + sent + "'\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		m.t.Fatal(err)
	}
	body := filepath.Join(dir, "body.txt")
	if err := os.WriteFile(body, []byte(p.Body), 0o600); err != nil {
		m.t.Fatal(err)
	}
	extra := []string{
		"set sendmail=\"" + wrapper + "\"",
		"set from=\"" + p.From + "\"",
		"set use_from=yes",
		// The recipient and subject come from the command line and the
		// body from -i: the "editor" leaves the draft as it is, and with
		// autoedit and edit_headers the programs ask for nothing else.
		"set editor=\"true\"",
		"set autoedit=yes",
		"set edit_headers=yes",
		"set abort_unmodified=no",
		"set crypt_autosign=yes",
		"set crypt_autoencrypt=yes",
		"set pgp_default_key=\"" + p.Key + "\"",
	}
	if p.SMIME {
		extra = append(extra, "set smime_is_default=yes", "set smime_default_key=\""+p.Key+"\"")
	}
	rc := m.writeRC(dir, extra...)
	term := StartTerminal(m.t, environ(m.Home, dir), m.Program, "-n", "-F", rc, "-s", p.Subject, "-i", body, p.To)
	screen := term.WaitFor("the compose menu", func(s string) bool { return composing(m.t, s) })
	want := "Sign, Encrypt (PGP/MIME)"
	if p.SMIME {
		want = "Sign, Encrypt (S/MIME)"
	}
	if !strings.Contains(screen, want) {
		m.t.Fatalf("%s's compose menu does not offer %q:\n%s", m.Program, want, screen)
	}
	term.Keys("y")
	term.WaitFor("the message handed to sendmail", func(s string) bool {
		composing(m.t, s)
		_, err := os.Stat(sent)
		return err == nil
	})
	msg, err := os.ReadFile(sent)
	if err != nil {
		m.t.Fatal(err)
	}
	return msg
}

// composing reports whether screen is the compose menu, and fails t when
// the program shows its key selection menu or asks for a key ID instead:
// it found no valid key for a recipient or the signer.
func composing(t testing.TB, screen string) bool {
	t.Helper()
	if strings.Contains(firstLine(screen), "Check key") || strings.Contains(lastLines(screen, 2), "Enter keyID") {
		t.Fatalf("the program asks for a key:\n%s", screen)
	}
	return strings.Contains(screen, "Security:")
}

func lastLines(screen string, n int) string {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLine(screen string) string {
	line, _, _ := strings.Cut(screen, "\n")
	return line
}
