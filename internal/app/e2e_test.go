package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/pgtest"
)

const (
	team   = "team@lists.example.org"
	canary = "CANARY-e2e-4f1d"
)

// server is Sealpost running in-process on a loopback port.
type server struct {
	app  *app.App
	addr string
	dir  string
}

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerIn(t, t.TempDir())
}

// startServerIn starts Sealpost on the data directory dir.
func startServerIn(t *testing.T, dir string) *server {
	t.Helper()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.Database.URL = databaseOf(t, dir)
	a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &server{app: a, addr: serve(t, a), dir: dir}
}

// TestPostgres runs this package's tests again, the servers of
// startServerIn keeping their records in PostgreSQL (internal/pgtest).
func TestPostgres(t *testing.T) { pgtest.Suite(t) }

var (
	databasesMu sync.Mutex
	databases   = map[string]string{} // data directory → its PostgreSQL database
)

// databaseOf is [database] url for a server on the data directory dir:
// none (SQLite in dir), or in the PostgreSQL run one database per data
// directory, the same for a server started there again.
func databaseOf(t *testing.T, dir string) string {
	if !pgtest.OnPostgres() {
		return ""
	}
	databasesMu.Lock()
	defer databasesMu.Unlock()
	if url, ok := databases[dir]; ok {
		return url
	}
	url := pgtest.Database(t, "")
	databases[dir] = url
	return url
}

// send submits raw to rcpts over SMTP and returns the server's verdict.
func (s *server) send(t *testing.T, from string, rcpts []string, raw []byte) error {
	t.Helper()
	return smtpSend(t, s.addr, nil, from, rcpts, raw)
}

// smtpSend sends raw to rcpts at addr, authenticating with auth when it
// is not nil, and returns the server's verdict.
func smtpSend(t *testing.T, addr string, auth sasl.Client, from string, rcpts []string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	w.Write(raw)
	return w.Close()
}

// outbox waits until the outbox holds n messages and returns them.
func (s *server) outbox(t *testing.T, n int) [][]byte {
	t.Helper()
	return maildirMessages(t, filepath.Join(s.dir, app.OutboxDir), n)
}

// maildirMessages waits until the Maildir dir holds n new messages and
// returns them.
func maildirMessages(t *testing.T, dir string, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		if len(files) >= n {
			var out [][]byte
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d messages, want %d", dir, len(files), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) clearOutbox(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(s.dir, app.OutboxDir, "new", "*"))
	for _, f := range files {
		os.Remove(f)
	}
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// quiet are the options of a member added as a test's setup: without
// the welcome message (TestWelcome covers it), so that outboxes and
// queues hold only what the test counts.
func quiet(isAdmin bool) admin.MemberOptions {
	return admin.MemberOptions{Admin: isAdmin, NoWelcome: true}
}

// member is a list member with their own GnuPG home.
type member struct {
	addr string
	fpr  string
	gpg  *gpgtest.GPG
}

func setupList(t *testing.T, s *server, addrs ...string) (listFpr string, members map[string]*member) {
	t.Helper()
	return setupListAlgo(t, s, pgp.Ed25519, addrs...)
}

// setupListAlgo is setupList with a list key of algo.
func setupListAlgo(t *testing.T, s *server, algo pgp.Algorithm, addrs ...string) (listFpr string, members map[string]*member) {
	t.Helper()
	ctx := context.Background()
	l, err := s.app.Admin.CreateList(ctx, team, "owner@example.org", "", algo)
	if err != nil {
		t.Fatal(err)
	}
	listKey, err := s.app.Admin.ListKey(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	members = map[string]*member{}
	for _, a := range addrs {
		g := gpgtest.New(t)
		fpr := g.GenKey(a + " <" + a + ">")
		g.Import(listKey)
		if _, _, err := s.app.Admin.AddMemberWith(ctx, team, a, g.Export(fpr), quiet(false)); err != nil {
			t.Fatal(err)
		}
		members[a] = &member{addr: a, fpr: fpr, gpg: g}
	}
	return l.KeyFingerprint, members
}

// entity is a post's inner MIME entity with protected headers naming the list.
func entity(from string) []byte {
	return []byte("Content-Type: text/plain; charset=utf-8\r\nFrom: " + from + "\r\nTo: " + team + "\r\n" +
		"Subject: e2e subject\r\n\r\nHello from " + from + ". " + canary + "\r\n")
}

// wrap puts an armored OpenPGP message into RFC 3156 multipart/encrypted.
func wrap(from string, armored []byte) []byte {
	ct, body := pgp.EncryptedBody(armored, "outer-boundary")
	return append([]byte("From: "+from+"\r\nTo: "+team+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
}

// TestEndToEndWithGnuPG: posts made by real gpg in both RFC 3156 shapes
// travel through the SMTP listener, and every member's copy decrypts in
// gpg with integrity and a valid signature by the list key.
func TestEndToEndWithGnuPG(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org", "carol@example.org")
	alice, bob := ms["alice@example.org"], ms["bob@example.org"]

	signEncrypt := alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	sig := bob.gpg.MustRun(entity(bob.addr), "--armor", "--detach-sign", "-u", bob.fpr).Stdout
	multipartSigned := "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n" +
		"--sig\r\n" + string(entity(bob.addr)) + "\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--sig--\r\n"
	signedInside := bob.gpg.MustRun([]byte(multipartSigned), "--armor", "--encrypt", "-r", listFpr).Stdout

	for _, tc := range []struct {
		name, from string
		armored    []byte
	}{
		{"gpg --sign --encrypt (RFC 3156 §6.2)", alice.addr, signEncrypt},
		{"multipart/signed inside multipart/encrypted (RFC 3156 §6.1)", bob.addr, signedInside},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.clearOutbox(t)
			if err := s.send(t, tc.from, []string{team}, wrap(tc.from, tc.armored)); err != nil {
				t.Fatalf("post refused: %v", err)
			}
			copies := s.outbox(t, len(ms))
			for _, c := range copies {
				to := deliveredTo(c)
				m := ms[to]
				if m == nil {
					t.Fatalf("copy for %q", to)
				}
				if bytes.Contains(c, []byte(canary)) {
					t.Fatalf("copy for %s carries the body in clear", to)
				}
				r := m.gpg.Run(c, "--decrypt")
				for _, st := range []string{"DECRYPTION_OKAY", "GOODMDC"} {
					if !r.HasStatus(st) {
						t.Errorf("%s: gpg status lacks %s:\n%s", to, st, r.Status)
					}
				}
				if !r.Verified(listFpr) {
					t.Errorf("%s: gpg does not verify the signature by %s:\n%s", to, listFpr, r.Report())
				}
				if !bytes.Contains(r.Stdout, []byte(canary)) || !bytes.Contains(r.Stdout, []byte("Subject: e2e subject")) {
					t.Errorf("%s: decrypted copy lacks the post:\n%s", to, r.Stdout)
				}
			}
		})
	}
}

// TestRefusedOverSMTP: what must not pass gets 5xx at end of DATA, and
// nothing but the owner's notice reaches the outbox.
func TestRefusedOverSMTP(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]

	noMDC := alice.gpg.Run(entity(alice.addr), "--armor", "--rfc2440", "--cipher-algo", "AES256", "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr)
	if noMDC.Err != nil {
		t.Fatalf("gpg --rfc2440: %v\n%s", noMDC.Err, noMDC.Stderr)
	}
	bin := alice.gpg.MustRun(entity(alice.addr), "--sign", "--encrypt", "-r", listFpr, "-u", alice.fpr).Stdout
	bin[len(bin)-30] ^= 0x20
	flipped := armorBytes(t, bin)
	outsider := gpgtest.New(t)
	outsiderFpr := outsider.GenKey("Mallory <mallory@example.org>")
	listKey, _ := s.app.Admin.ListKey(context.Background(), team)
	outsider.Import(listKey)
	nonMember := outsider.MustRun(entity("mallory@example.org"), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", outsiderFpr).Stdout
	unsigned := alice.gpg.MustRun(entity(alice.addr), "--armor", "--encrypt", "-r", listFpr).Stdout

	for _, tc := range []struct {
		name, from string
		armored    []byte
	}{
		{"no MDC (gpg --rfc2440)", alice.addr, noMDC.Stdout},
		{"one flipped ciphertext byte", alice.addr, flipped},
		{"non-member", "mallory@example.org", nonMember},
		{"unsigned", alice.addr, unsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.clearOutbox(t)
			err := s.send(t, tc.from, []string{team}, wrap(tc.from, tc.armored))
			if smtpCode(err) != 550 {
				t.Fatalf("reply = %v, want 550", err)
			}
			if strings.Contains(err.Error(), listFpr) || strings.Contains(err.Error(), "pgp") {
				t.Errorf("reply leaks internals: %v", err)
			}
			notes := s.outbox(t, 1)
			time.Sleep(100 * time.Millisecond) // anything else would have arrived by now
			notes = s.outbox(t, 1)
			if len(notes) != 1 || deliveredTo(notes[0]) != "owner@example.org" {
				t.Fatalf("outbox holds %d messages, want only the owner's notice", len(notes))
			}
			if bytes.Contains(notes[0], []byte(canary)) {
				t.Error("the owner's notice contains the post's body")
			}
		})
	}
}

// TestNotAnOpenRelay: DESIGN §4.9.
func TestNotAnOpenRelay(t *testing.T) {
	s := startServer(t)
	setupList(t, s)
	err := s.send(t, "x@example.org", []string{"someone@elsewhere.example"}, []byte("Subject: x\r\n\r\nx\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Errorf("RCPT to a foreign address: %v, want 550 5.1.1", err)
	}
	err = s.send(t, "x@example.org", []string{team, "team-owner@lists.example.org"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if smtpCode(err) != 452 {
		t.Errorf("second list address in one transaction: %v, want 452", err)
	}
}

func deliveredTo(msg []byte) string {
	for _, line := range strings.Split(string(msg), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Delivered-To: "); ok {
			return strings.Trim(v, "<>")
		}
		if line == "" {
			break
		}
	}
	return ""
}

func armorBytes(t *testing.T, bin []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	w.Close()
	return b.Bytes()
}

// rawStore is a connection of the test's own to server s's database,
// SQLite or PostgreSQL, for what the app must not be asked to do: damage
// a row, read what is stored.
func rawStore(t *testing.T, s *server) *sql.DB {
	t.Helper()
	driver, source := "sqlite", "file:"+filepath.Join(s.dir, app.DatabaseFile)+"?_pragma=busy_timeout(10000)"
	if url := s.app.Config.Database.URL; url != "" {
		driver, source = "pgx", url
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storedInClear returns the secrets that server s's database holds in
// clear: in the SQLite file or its log, or in PostgreSQL's dump of the
// database (as text, or in the hex of a BYTEA value).
func storedInClear(t *testing.T, s *server, secrets ...string) []string {
	t.Helper()
	var stored [][]byte
	if url := s.app.Config.Database.URL; url != "" {
		stored = append(stored, pgtest.Shared(t).Dump(t, url))
	} else {
		for _, f := range []string{app.DatabaseFile, app.DatabaseFile + "-wal"} {
			b, err := os.ReadFile(filepath.Join(s.dir, f))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			stored = append(stored, b)
		}
	}
	var found []string
	for _, secret := range secrets {
		for _, b := range stored {
			if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(secret)))) {
				found = append(found, secret)
				break
			}
		}
	}
	return found
}
