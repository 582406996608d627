package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// pgpMIME wraps an armored OpenPGP message in an RFC 3156 §4
// multipart/encrypted message from from to to, written by hand so that
// the test does not depend on Sealpost's own builder.
func pgpMIME(from, to string, armored []byte) []byte {
	const boundary = "sealpost-test-boundary-3156"
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: ...\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n", from, to)
	fmt.Fprintf(&b, "Message-ID: <%s@test.example.org>\r\n", rand.Text())
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString(`Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="` + boundary + "\"\r\n\r\n")
	b.WriteString("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n")
	b.WriteString("--" + boundary + "\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n")
	b.WriteString("--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(string(armored), "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// encryptedPayload checks that raw is an RFC 3156 §4 multipart/encrypted
// message (control part "Version: 1", then application/octet-stream) and
// returns the armored OpenPGP message of its second part.
func encryptedPayload(raw []byte) ([]byte, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("Content-Type: %w", err)
	}
	if mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		return nil, fmt.Errorf("Content-Type is %q protocol %q, want multipart/encrypted application/pgp-encrypted", mt, params["protocol"])
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts [][2]string // content type, body
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts = append(parts, [2]string{ct, string(body)})
	}
	if len(parts) != 2 || parts[0][0] != "application/pgp-encrypted" || !strings.Contains(parts[0][1], "Version: 1") ||
		parts[1][0] != "application/octet-stream" {
		return nil, fmt.Errorf("parts are not an RFC 3156 §4 control part and octet-stream part: %q", parts)
	}
	if !strings.Contains(parts[1][1], "-----BEGIN PGP MESSAGE-----") {
		return nil, fmt.Errorf("second part is not an armored PGP message:\n%s", parts[1][1])
	}
	return []byte(parts[1][1]), nil
}

// outboxFile is one message in the Maildir outbox.
type outboxFile struct {
	name        string
	returnPath  string // address in the first header, Return-Path
	deliveredTo string // address in the second header, Delivered-To
	raw         []byte
}

// readOutbox returns the messages in DATA/outbox/new, checking the
// contract's two leading header fields (DESIGN §3).
func readOutbox(t *testing.T, data string) []outboxFile {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(data, "outbox", "new", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var out []outboxFile
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f := outboxFile{name: filepath.Base(name), raw: raw}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		f.returnPath = headerAddr(t, sc, "Return-Path", name)
		f.deliveredTo = headerAddr(t, sc, "Delivered-To", name)
		out = append(out, f)
	}
	return out
}

// headerAddr reads the next line of sc, which must be the field name with
// an <addr-spec>, and returns the address.
func headerAddr(t *testing.T, sc *bufio.Scanner, name, file string) string {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("%s: ends before its %s header", file, name)
	}
	line := strings.TrimRight(sc.Text(), "\r")
	k, v, ok := strings.Cut(line, ":")
	v = strings.TrimSpace(v)
	if !ok || !strings.EqualFold(k, name) || !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, ">") {
		t.Fatalf("%s: line %q, want %s: <address>", file, line, name)
	}
	return strings.ToLower(v[1 : len(v)-1])
}

// newFiles returns the files of after that are not in before.
func newFiles(before, after []outboxFile) []outboxFile {
	seen := map[string]bool{}
	for _, f := range before {
		seen[f.name] = true
	}
	var out []outboxFile
	for _, f := range after {
		if !seen[f.name] {
			out = append(out, f)
		}
	}
	return out
}

// hangingRelay listens on loopback and accepts connections but never
// says anything: a delivery to it stays in flight. It returns the address
// and a count of the connections accepted so far.
func hangingRelay(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

// received is one message taken by the recording relay.
type received struct {
	from string
	to   []string
	data []byte
}

// recorder is a go-smtp backend that accepts every message and keeps it.
type recorder struct {
	mu     sync.Mutex
	msgs   []received
	delay  atomic.Int64 // nanoseconds each message's data waits before it is taken
	inData atomic.Int32 // messages waiting so now
}

func (r *recorder) NewSession(*smtp.Conn) (smtp.Session, error) { return &recordSession{r: r}, nil }

// messages returns a copy of what was received so far.
func (r *recorder) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

type recordSession struct {
	r    *recorder
	from string
	to   []string
}

func (s *recordSession) Reset()        { s.from, s.to = "", nil }
func (s *recordSession) Logout() error { return nil }

func (s *recordSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *recordSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *recordSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d := s.r.delay.Load(); d > 0 {
		s.r.inData.Add(1)
		time.Sleep(time.Duration(d))
		s.r.inData.Add(-1)
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.msgs = append(s.r.msgs, received{from: s.from, to: append([]string(nil), s.to...), data: data})
	return nil
}

// recordingRelay runs an in-process SMTP server on loopback that records
// every message, and returns its address.
func recordingRelay(t testing.TB) (string, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := smtp.NewServer(rec)
	srv.Domain = "relay.test"
	var logBuf syncBuffer
	srv.ErrorLog = log.New(&logBuf, "relay: ", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
		if t.Failed() && logBuf.String() != "" {
			t.Logf("recording relay log:\n%s", logBuf.String())
		}
	})
	return ln.Addr().String(), rec
}
