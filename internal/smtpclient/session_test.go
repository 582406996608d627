package smtpclient_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpclient"
)

// openSession opens a session to addr with opt, failing the test on error;
// it is closed at cleanup if the test did not close it.
func openSession(t *testing.T, addr string, opt smtpclient.Options) *smtpclient.Session {
	t.Helper()
	s, err := newClient(addr, opt).Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionBatch sends a batch over one session: one transaction per
// copy, several recipients in one transaction for identical copies, a
// copy whose every recipient is refused (RSET before the next), a copy
// refused for one recipient of two. Each result is exact, and the relay
// sees one connection that ends with QUIT.
func TestSessionBatch(t *testing.T) {
	s := &sink{rejectRcpt: map[string]*smtp.SMTPError{
		"gone@example.net": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"full@example.net": {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
	}}
	addr, tr := startEndpoint(t, s, endpointConfig{smtp: true})
	sess := openSession(t, addr, smtpclient.Options{})

	type copyResult struct {
		rcpt      string
		permanent bool // refused for good; otherwise temporary if refused
		refused   bool
	}
	batch := []struct {
		from  string
		rcpts []string
		msg   string
		want  []copyResult
	}{
		{"team-bounce@lists.example.org", []string{"alice@example.org"}, "Subject: 1\r\n\r\nfor alice\r\n",
			[]copyResult{{rcpt: "alice@example.org"}}},
		{"", []string{"owner1@example.org", "owner2@example.org", "owner3@example.org"}, "Subject: notice\r\n\r\nsame bytes\r\n",
			[]copyResult{{rcpt: "owner1@example.org"}, {rcpt: "owner2@example.org"}, {rcpt: "owner3@example.org"}}},
		{"team-bounce@lists.example.org", []string{"gone@example.net"}, "Subject: 3\r\n\r\nfor gone\r\n",
			[]copyResult{{rcpt: "gone@example.net", refused: true, permanent: true}}},
		{"team-bounce@lists.example.org", []string{"bob@example.org"}, "Subject: 4\r\n\r\nfor bob\r\n",
			[]copyResult{{rcpt: "bob@example.org"}}},
		{"", []string{"full@example.net", "carol@example.org"}, "Subject: 5\r\n\r\nnotice two\r\n",
			[]copyResult{{rcpt: "full@example.net", refused: true}, {rcpt: "carol@example.org"}}},
	}
	for i, b := range batch {
		results, err := sess.Send(t.Context(), b.from, b.rcpts, []byte(b.msg))
		allRefused := !slices.ContainsFunc(b.want, func(c copyResult) bool { return !c.refused })
		if (err != nil) != allRefused {
			t.Errorf("copy %d: Send error = %v", i, err)
		}
		for j, w := range b.want {
			r := results[j]
			switch {
			case r.Rcpt != w.rcpt:
				t.Errorf("copy %d result %d is for %q, want %q", i, j, r.Rcpt, w.rcpt)
			case (r.Err != nil) != w.refused:
				t.Errorf("copy %d %s: err %v, want refused %v", i, w.rcpt, r.Err, w.refused)
			case w.refused && smtpclient.Temporary(r.Err) == w.permanent:
				t.Errorf("copy %d %s: Temporary(%v) = %v, want %v", i, w.rcpt, r.Err, !w.permanent, !w.permanent)
			}
		}
	}
	if err := sess.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	msgs := s.messages()
	var got [][]string
	for _, m := range msgs {
		got = append(got, m.Rcpts)
	}
	want := [][]string{{"alice@example.org"}, {"owner1@example.org", "owner2@example.org", "owner3@example.org"},
		{"bob@example.org"}, {"carol@example.org"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("relay received messages for %q, want %q", got, want)
	}
	if n := tr.connCount(); n != 1 {
		t.Errorf("%d connections for a batch of %d copies, want 1", n, len(batch))
	}
	cmds := verbs(tr.commands())
	if n := count(cmds, "MAIL"); n != len(batch) {
		t.Errorf("%d MAIL commands for %d copies: %q", n, len(batch), cmds)
	}
	// RFC 5321 §4.1.1.5: the transaction whose every RCPT was refused is
	// reset before the next MAIL, and only that one.
	if n := count(cmds, "RSET"); n != 1 {
		t.Errorf("%d RSET, want 1: %q", n, cmds)
	}
	if i := slices.Index(cmds, "RSET"); i < 0 || cmds[i-1] != "RCPT" {
		t.Errorf("RSET is not right after the refused RCPT: %q", cmds)
	}
	if cmds[len(cmds)-1] != "QUIT" {
		t.Errorf("session does not end with QUIT: %q", cmds)
	}
}

// verbs returns the first word of each command line, upper-cased.
func verbs(cmds []string) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		v, _, _ := strings.Cut(c, " ")
		out[i] = strings.ToUpper(v)
	}
	return out
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestTLSLevels runs each level against a relay that offers STARTTLS
// with a self-signed certificate and one that offers no STARTTLS: a
// level that may go on does so on its one connection, in TLS exactly
// when it should; one that may not fails with a clear, temporary error
// and sends nothing.
func TestTLSLevels(t *testing.T) {
	cert, roots := selfSigned(t)
	other := certFor(t, "mx.example.invalid")
	tests := []struct {
		name      string
		cert      *tls.Certificate // offered with STARTTLS; nil offers none
		level     smtpclient.TLSLevel
		roots     *x509.CertPool
		localhost bool   // dial "localhost:port" instead of 127.0.0.1
		wantTLS   bool   // delivered, in TLS or not
		wantErr   string // instead: fails with this in the error
	}{
		{name: "none, STARTTLS offered", cert: cert, level: smtpclient.TLSNone},
		{name: "may, self-signed", cert: cert, level: smtpclient.TLSMay, wantTLS: true},
		{name: "may, certificate for another name", cert: other, level: smtpclient.TLSMay, wantTLS: true},
		{name: "may, no STARTTLS", level: smtpclient.TLSMay},
		{name: "encrypt, self-signed", cert: cert, level: smtpclient.TLSEncrypt, wantTLS: true},
		{name: "encrypt, no STARTTLS", level: smtpclient.TLSEncrypt,
			wantErr: "relay does not offer STARTTLS"},
		{name: "verify, trusted", cert: cert, level: smtpclient.TLSVerify, roots: roots, wantTLS: true},
		{name: "verify, self-signed", cert: cert, level: smtpclient.TLSVerify,
			wantErr: "the relay's certificate is not issued by an authority this system trusts (is it self-signed?)"},
		{name: "verify, certificate without the address", cert: other, level: smtpclient.TLSVerify,
			wantErr: "STARTTLS with 127.0.0.1:%s: the relay's certificate is not valid for 127.0.0.1 (it is for mx.example.invalid)"},
		{name: "verify, trusted but another name", cert: cert, level: smtpclient.TLSVerify, roots: roots, localhost: true,
			wantErr: "the relay's certificate is not valid for localhost (it is for relay.test, 127.0.0.1)"},
		{name: "verify, no STARTTLS", level: smtpclient.TLSVerify,
			wantErr: "relay does not offer STARTTLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			addr, tr := startEndpoint(t, s, endpointConfig{smtp: true, cert: tc.cert})
			_, port, _ := net.SplitHostPort(addr)
			if tc.localhost {
				addr = net.JoinHostPort("localhost", port)
			}
			c := newClient(addr, smtpclient.Options{TLS: tc.level, TLSConfig: &tls.Config{RootCAs: tc.roots}})
			results, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("Subject: x\r\n\r\ny\r\n"))
			if n := tr.connCount(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "%s", port)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Send error = %v, want it to say %q", err, want)
				}
				if !smtpclient.Temporary(err) || !smtpclient.Temporary(results[0].Err) {
					t.Error("Temporary = false for a TLS failure")
				}
				if n := len(s.messages()); n != 0 {
					t.Errorf("relay received %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := onlyMessage(t, s)
			if got.TLS != tc.wantTLS || got.Helo != heloName {
				t.Errorf("relay saw TLS %v, EHLO %q; want %v, %q", got.TLS, got.Helo, tc.wantTLS, heloName)
			}
		})
	}
}

// TestTLSErrorType: a verify failure is a *TLSError that keeps the
// certificate error for callers that branch on it.
func TestTLSErrorType(t *testing.T) {
	s := &sink{}
	addr, _ := startEndpoint(t, s, endpointConfig{smtp: true, cert: certFor(t, "mx.example.invalid")})
	_, err := newClient(addr, smtpclient.Options{TLS: smtpclient.TLSVerify}).Open(t.Context())
	te, ok := errors.AsType[*smtpclient.TLSError](err)
	if !ok || te.Level != smtpclient.TLSVerify || te.Addr != addr {
		t.Fatalf("Open error = %#v, want a *TLSError for %s at verify", err, addr)
	}
	if _, ok := errors.AsType[x509.HostnameError](err); !ok {
		t.Errorf("TLSError does not wrap the x509.HostnameError: %v", err)
	}
}

func TestParseTLSLevel(t *testing.T) {
	for _, name := range []string{"none", "may", "encrypt", "verify"} {
		l, err := smtpclient.ParseTLSLevel(name)
		if err != nil || l.String() != name {
			t.Errorf("ParseTLSLevel(%q) = %v, %v", name, l, err)
		}
	}
	var zero smtpclient.TLSLevel
	if zero != smtpclient.TLSMay {
		t.Errorf("zero TLSLevel is %v, want may", zero)
	}
	for _, bad := range []string{"", "Verify", "dane", "secure"} {
		if _, err := smtpclient.ParseTLSLevel(bad); err == nil {
			t.Errorf("ParseTLSLevel(%q) accepted", bad)
		}
	}
}

// TestSessionLost: the relay hangs up after taking the first copy's
// data, before its reply. That copy is a temporary failure; the session
// is broken, and the next copy fails at once with the same temporary
// error, without a new connection.
func TestSessionLost(t *testing.T) {
	addr, conns := startScripted(t, func(cmd string) (string, bool) {
		if cmd == "." {
			return "", true
		}
		return "", false
	})
	sess := openSession(t, addr, smtpclient.Options{})
	_, err := sess.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
	if err == nil || !smtpclient.Temporary(err) {
		t.Fatalf("Send on a lost connection = %v, want a temporary error", err)
	}
	if sess.Err() == nil {
		t.Fatal("session not broken after the connection was lost")
	}
	results, err2 := sess.Send(t.Context(), "a@example.org", []string{"c@example.org"}, []byte("\r\n"))
	if err2 != sess.Err() || !smtpclient.Temporary(results[0].Err) {
		t.Errorf("Send on a broken session = %v, want the session's error %v", err2, sess.Err())
	}
	if n := conns(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestSession421: a 421 reply (RFC 5321 §3.8: the relay closes) fails
// the copy as temporary and breaks the session.
func TestSession421(t *testing.T) {
	addr, _ := startScripted(t, func(cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "MAIL") {
			return "421 4.3.2 shutting down", true
		}
		return "", false
	})
	sess := openSession(t, addr, smtpclient.Options{})
	_, err := sess.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
	re, ok := errors.AsType[*smtpclient.ReplyError](err)
	if !ok || re.Code != 421 || !smtpclient.Temporary(err) {
		t.Fatalf("Send = %v, want a temporary 421", err)
	}
	if sess.Err() == nil {
		t.Error("session not broken after 421")
	}
}

// startScripted serves SMTP on 127.0.0.1 by hand: 250 (354 to DATA) to
// every command unless answer says otherwise; answer sees each command
// line and "." at the end of the data, and returns a reply ("" for the
// default) and whether to hang up after it. conns counts connections.
func startScripted(t *testing.T, answer func(cmd string) (reply string, hangup bool)) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go playScript(conn, answer)
		}
	}()
	return ln.Addr().String(), func() int { return len(accepted) }
}

func playScript(conn net.Conn, answer func(string) (string, bool)) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	tc := textproto.NewConn(conn)
	tc.PrintfLine("220 scripted.test ESMTP")
	inData := false
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		if inData && line != "." {
			continue
		}
		reply, hangup := answer(line)
		if hangup && reply == "" {
			return
		}
		switch {
		case reply != "":
		case inData:
			reply = "250 2.0.0 queued"
		case strings.HasPrefix(strings.ToUpper(line), "EHLO"):
			reply = "250-scripted.test\r\n250 8BITMIME"
		case strings.EqualFold(line, "DATA"):
			reply = "354 go on"
		case strings.EqualFold(line, "QUIT"):
			reply, hangup = "221 bye", true
		default:
			reply = "250 ok"
		}
		inData = strings.EqualFold(line, "DATA") && strings.HasPrefix(reply, "354")
		if _, err := tc.W.WriteString(reply + "\r\n"); err != nil || tc.W.Flush() != nil || hangup {
			return
		}
	}
}
