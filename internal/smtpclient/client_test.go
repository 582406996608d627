package smtpclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpclient"
)

const heloName = "sealpost.example.org"

// newClient returns a Client for addr with a short timeout, so that a
// hanging test fails instead of waiting minutes.
func newClient(addr string, opt smtpclient.Options) *smtpclient.Client {
	opt.Addr = addr
	opt.HeloName = heloName
	if opt.Timeout == 0 {
		opt.Timeout = 30 * time.Second
	}
	return smtpclient.New(opt)
}

// checkAccepted fails unless every result is an acceptance.
func checkAccepted(t *testing.T, results []smtpclient.Result, rcpts []string) {
	t.Helper()
	if len(results) != len(rcpts) {
		t.Fatalf("%d results for %d recipients", len(results), len(rcpts))
	}
	for i, r := range results {
		if r.Rcpt != rcpts[i] || r.Err != nil {
			t.Errorf("result %d = {%q, %v}, want {%q, nil}", i, r.Rcpt, r.Err, rcpts[i])
		}
	}
}

// onlyMessage returns the single message the sink received.
func onlyMessage(t *testing.T, s *sink) received {
	t.Helper()
	msgs := s.messages()
	if len(msgs) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func TestSendPlaintextRelay(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		rcpts    []string
		msg      string
		wantData string // what the relay stores; "" means msg
	}{{
		name:  "one recipient",
		from:  "team@lists.example.org",
		rcpts: []string{"bob@example.net"},
		msg:   "From: team@lists.example.org\r\nSubject: hi\r\n\r\nhello\r\n",
	}, {
		name:  "null sender, two recipients",
		from:  "",
		rcpts: []string{"owner@example.org", "admin@example.org"},
		msg:   "Subject: notice\r\n\r\nx\r\n",
	}, {
		name:  "lines starting with dots survive dot-stuffing",
		from:  "a@example.org",
		rcpts: []string{"b@example.org"},
		msg:   "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nend.\r\n",
	}, {
		name:  "8-bit and long lines unchanged",
		from:  "a@example.org",
		rcpts: []string{"b@example.org"},
		msg:   "Subject: x\r\n\r\nGrüße \xff\r\n" + strings.Repeat("x", 998) + "\r\ntail\r\n",
	}, {
		name:     "unterminated last line gets CRLF",
		from:     "a@example.org",
		rcpts:    []string{"b@example.org"},
		msg:      "Subject: x\r\n\r\nno newline",
		wantData: "Subject: x\r\n\r\nno newline\r\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			c := newClient(startRelay(t, s, relayConfig{}), smtpclient.Options{})
			results, err := c.Send(t.Context(), tc.from, tc.rcpts, []byte(tc.msg))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkAccepted(t, results, tc.rcpts)
			got := onlyMessage(t, s)
			want := tc.wantData
			if want == "" {
				want = tc.msg
			}
			if got.From != tc.from || !slices.Equal(got.Rcpts, tc.rcpts) || string(got.Data) != want {
				t.Errorf("relay got {%q %q %q}, want {%q %q %q}", got.From, got.Rcpts, got.Data, tc.from, tc.rcpts, want)
			}
			if got.TLS {
				t.Error("relay without STARTTLS saw TLS")
			}
			if got.Helo != heloName {
				t.Errorf("EHLO name %q, want %q", got.Helo, heloName)
			}
		})
	}
}

func TestSendSTARTTLS(t *testing.T) {
	cert, roots := selfSigned(t)
	s := &sink{}
	addr := startRelay(t, s, relayConfig{cert: cert})
	tlsConfig := &tls.Config{RootCAs: roots}
	c := newClient(addr, smtpclient.Options{TLSConfig: tlsConfig, TLS: smtpclient.TLSVerify})

	rcpts := []string{"bob@example.net"}
	msg := "Subject: secret\r\n\r\nciphertext\r\n"
	results, err := c.Send(t.Context(), "team@lists.example.org", rcpts, []byte(msg))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkAccepted(t, results, rcpts)
	got := onlyMessage(t, s)
	if !got.TLS {
		t.Error("relay session was not in TLS")
	}
	if got.Helo != heloName {
		t.Errorf("EHLO name after TLS %q, want %q", got.Helo, heloName)
	}
	if string(got.Data) != msg {
		t.Errorf("data %q, want %q", got.Data, msg)
	}
	if tlsConfig.ServerName != "" {
		t.Errorf("caller's TLSConfig modified: ServerName %q", tlsConfig.ServerName)
	}
}

func TestSendSTARTTLSUntrusted(t *testing.T) {
	cert, _ := selfSigned(t)
	s := &sink{}
	addr := startRelay(t, s, relayConfig{cert: cert})
	// The relay offers STARTTLS with a certificate the client does not
	// trust, and the level is verify: no fallback to plaintext, a
	// temporary failure.
	c := newClient(addr, smtpclient.Options{TLS: smtpclient.TLSVerify})
	results, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Fatalf("Send error = %v, want a certificate verification error", err)
	}
	if !smtpclient.Temporary(err) {
		t.Error("Temporary = false for a TLS failure")
	}
	if results[0].Err == nil {
		t.Error("result accepted despite failure")
	}
	if n := len(s.messages()); n != 0 {
		t.Errorf("relay received %d messages", n)
	}
}

func TestSendTLSRequiredButUnavailable(t *testing.T) {
	tests := []struct {
		name string
		opt  smtpclient.Options
	}{
		{"TLS encrypt", smtpclient.Options{TLS: smtpclient.TLSEncrypt}},
		{"TLS verify", smtpclient.Options{TLS: smtpclient.TLSVerify}},
		{"Auth implies TLS", smtpclient.Options{Auth: sasl.NewPlainClient("", "list", "secret")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{user: "list", pass: "secret"}
			c := newClient(startRelay(t, s, relayConfig{}), tc.opt)
			results, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
			if !errors.Is(err, smtpclient.ErrTLSUnavailable) {
				t.Fatalf("Send error = %v, want ErrTLSUnavailable", err)
			}
			if !smtpclient.Temporary(err) || !smtpclient.Temporary(results[0].Err) {
				t.Error("Temporary = false, want true")
			}
			if len(s.messages()) != 0 || s.sawAuth() {
				t.Error("relay received a message or credentials")
			}
		})
	}
}

func TestSendAuth(t *testing.T) {
	cert, roots := selfSigned(t)
	tests := []struct {
		name     string
		pass     string
		wantUser string
		wantCode int // 0: success
	}{
		{"good credentials", "secret", "list", 0},
		{"bad credentials", "wrong", "", 535},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{user: "list", pass: "secret"}
			addr := startRelay(t, s, relayConfig{cert: cert})
			c := newClient(addr, smtpclient.Options{
				TLSConfig: &tls.Config{RootCAs: roots},
				Auth:      sasl.NewPlainClient("", "list", tc.pass),
			})
			_, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if got := onlyMessage(t, s); got.User != tc.wantUser || !got.TLS {
					t.Errorf("relay saw user %q, TLS %v; want %q, true", got.User, got.TLS, tc.wantUser)
				}
				return
			}
			re, ok := errors.AsType[*smtpclient.ReplyError](err)
			if !ok || re.Command != smtpclient.CmdAUTH || re.Code != tc.wantCode {
				t.Fatalf("Send error = %v, want AUTH reply %d", err, tc.wantCode)
			}
			// A rejected login is the relay configuration's fault, not
			// the message's: retry rather than bounce.
			if !smtpclient.Temporary(err) {
				t.Error("Temporary = false for a failed AUTH")
			}
		})
	}
}

func TestSendPerRecipient(t *testing.T) {
	s := &sink{rejectRcpt: map[string]*smtp.SMTPError{
		"nobody@example.net": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"full@example.net":   {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
	}}
	c := newClient(startRelay(t, s, relayConfig{}), smtpclient.Options{})
	rcpts := []string{"bob@example.net", "nobody@example.net", "full@example.net", "carol@example.net"}
	results, err := c.Send(t.Context(), "team@lists.example.org", rcpts, []byte("Subject: x\r\n\r\n"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []struct {
		code      int
		enhanced  [3]int
		temporary bool
	}{{}, {550, [3]int{5, 1, 1}, false}, {452, [3]int{4, 2, 2}, true}, {}}
	for i, w := range want {
		r := results[i]
		if r.Rcpt != rcpts[i] {
			t.Errorf("result %d for %q, want %q", i, r.Rcpt, rcpts[i])
		}
		if w.code == 0 {
			if r.Err != nil {
				t.Errorf("%s: %v, want accepted", r.Rcpt, r.Err)
			}
			continue
		}
		re, ok := errors.AsType[*smtpclient.ReplyError](r.Err)
		if !ok || re.Command != smtpclient.CmdRCPT || re.Code != w.code || re.EnhancedCode != w.enhanced {
			t.Errorf("%s: %#v, want RCPT %d %v", r.Rcpt, r.Err, w.code, w.enhanced)
			continue
		}
		if got := smtpclient.Temporary(r.Err); got != w.temporary {
			t.Errorf("%s: Temporary = %v, want %v", r.Rcpt, got, w.temporary)
		}
	}
	if got := onlyMessage(t, s); !slices.Equal(got.Rcpts, []string{"bob@example.net", "carol@example.net"}) {
		t.Errorf("relay delivered to %q", got.Rcpts)
	}
}

func TestSendAllRecipientsRejected(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int
		temporary bool
	}{
		{"all permanent", []int{550, 551}, false},
		{"one temporary", []int{550, 450}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{rejectRcpt: map[string]*smtp.SMTPError{}}
			var rcpts []string
			for i, code := range tc.codes {
				rcpt := fmt.Sprintf("r%d@example.net", i)
				rcpts = append(rcpts, rcpt)
				s.rejectRcpt[rcpt] = &smtp.SMTPError{Code: code, Message: "no"}
			}
			c := newClient(startRelay(t, s, relayConfig{}), smtpclient.Options{})
			results, err := c.Send(t.Context(), "a@example.org", rcpts, []byte("\r\n"))
			if err == nil {
				t.Fatal("Send succeeded with every recipient rejected")
			}
			if got := smtpclient.Temporary(err); got != tc.temporary {
				t.Errorf("Temporary(%v) = %v, want %v", err, got, tc.temporary)
			}
			for i, r := range results {
				if re, ok := errors.AsType[*smtpclient.ReplyError](r.Err); !ok || re.Code != tc.codes[i] {
					t.Errorf("%s: %v, want RCPT reply %d", r.Rcpt, r.Err, tc.codes[i])
				}
			}
			if n := len(s.messages()); n != 0 {
				t.Errorf("relay received %d messages", n)
			}
		})
	}
}

func TestSendDataReply(t *testing.T) {
	tests := []struct {
		name      string
		reply     *smtp.SMTPError
		enhanced  [3]int
		text      string
		temporary bool
	}{
		{"451 temporary", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"},
			[3]int{4, 3, 0}, "smtpclient: DATA: 451 4.3.0 try later", true},
		{"554 permanent", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content rejected"},
			[3]int{5, 6, 0}, "smtpclient: DATA: 554 5.6.0 content rejected", false},
		{"554 without enhanced code", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.NoEnhancedCode, Message: "no"},
			[3]int{}, "smtpclient: DATA: 554 no", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{dataErr: tc.reply}
			c := newClient(startRelay(t, s, relayConfig{}), smtpclient.Options{})
			rcpts := []string{"b@example.org", "c@example.org"}
			results, err := c.Send(t.Context(), "a@example.org", rcpts, []byte("Subject: x\r\n\r\n"))
			re, ok := errors.AsType[*smtpclient.ReplyError](err)
			if !ok {
				t.Fatalf("Send error = %v, want a *ReplyError", err)
			}
			if re.Command != smtpclient.CmdDATA || re.Code != tc.reply.Code || re.EnhancedCode != tc.enhanced || err.Error() != tc.text {
				t.Errorf("error %#v (%q), want DATA %d %v (%q)", re, err, tc.reply.Code, tc.enhanced, tc.text)
			}
			if got := smtpclient.Temporary(err); got != tc.temporary {
				t.Errorf("Temporary = %v, want %v", got, tc.temporary)
			}
			if se, ok := errors.AsType[*smtp.SMTPError](err); !ok || se.Code != tc.reply.Code {
				t.Errorf("go-smtp error not reachable through Unwrap: %v", se)
			}
			for _, r := range results {
				if !errors.Is(r.Err, err) {
					t.Errorf("%s: %v, want the DATA reply", r.Rcpt, r.Err)
				}
			}
		})
	}
}

func TestSendContextEnds(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // Options.Timeout
		cancel  bool          // cancel the caller's context while the relay holds DATA
		want    error
	}{
		{"caller cancels", 0, true, context.Canceled},
		{"Timeout expires", 200 * time.Millisecond, false, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			addr := startRelay(t, s, relayConfig{})
			entered := holdData(t, s)
			c := newClient(addr, smtpclient.Options{Timeout: tc.timeout})

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				go func() {
					<-entered
					cancel()
				}()
			}
			results, err := c.Send(ctx, "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Send error = %v, want %v", err, tc.want)
			}
			if !smtpclient.Temporary(err) {
				t.Error("Temporary = false, want true")
			}
			if !errors.Is(results[0].Err, tc.want) {
				t.Errorf("result error = %v, want %v", results[0].Err, tc.want)
			}
		})
	}
}

func TestSendContextAlreadyDone(t *testing.T) {
	s := &sink{}
	c := newClient(startRelay(t, s, relayConfig{}), smtpclient.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Send(ctx, "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send error = %v, want context.Canceled", err)
	}
	if n := len(s.messages()); n != 0 {
		t.Errorf("relay received %d messages", n)
	}
}

func TestSendInvalidEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		rcpts    []string
		smtputf8 bool // the relay offers SMTPUTF8
		wantErr  bool // Send fails as a whole with ErrInvalidEnvelope
		accepted []string
	}{
		{name: "CRLF in sender", from: "a@example.org>\r\nRCPT TO:<x@evil.example", rcpts: []string{"b@example.org"}, wantErr: true},
		{name: "> in sender", from: "a@example.org> SIZE=1", rcpts: []string{"b@example.org"}, wantErr: true},
		{name: "no recipients", from: "a@example.org", wantErr: true},
		{name: "only bad recipients", from: "a@example.org", rcpts: []string{"", "b@example.org\r\nDATA"}, wantErr: true},
		{name: "one bad recipient", from: "a@example.org", rcpts: []string{"<b@example.org>", "c@example.org"}, accepted: []string{"c@example.org"}},
		{name: "UTF-8 sender, no SMTPUTF8", from: "jörg@example.de", rcpts: []string{"b@example.org"}, wantErr: true},
		{name: "UTF-8 recipient, no SMTPUTF8", from: "a@example.org", rcpts: []string{"jörg@example.de", "c@example.org"}, accepted: []string{"c@example.org"}},
		{name: "UTF-8 with SMTPUTF8", from: "jörg@example.de", rcpts: []string{"zoë@example.fr"}, smtputf8: true, accepted: []string{"zoë@example.fr"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			c := newClient(startRelay(t, s, relayConfig{smtputf8: tc.smtputf8}), smtpclient.Options{})
			results, err := c.Send(t.Context(), tc.from, tc.rcpts, []byte("\r\n"))
			if tc.wantErr {
				if !errors.Is(err, smtpclient.ErrInvalidEnvelope) || smtpclient.Temporary(err) {
					t.Fatalf("Send error = %v (temporary %v), want permanent ErrInvalidEnvelope", err, smtpclient.Temporary(err))
				}
				if n := len(s.messages()); n != 0 {
					t.Errorf("relay received %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			for _, r := range results {
				ok := slices.Contains(tc.accepted, r.Rcpt)
				if ok != (r.Err == nil) || (!ok && !errors.Is(r.Err, smtpclient.ErrInvalidEnvelope)) {
					t.Errorf("%q: %v, accepted want %v", r.Rcpt, r.Err, ok)
				}
			}
			if got := onlyMessage(t, s); !slices.Equal(got.Rcpts, tc.accepted) {
				t.Errorf("relay delivered to %q, want %q", got.Rcpts, tc.accepted)
			}
		})
	}
}

func TestSendRelayDown(t *testing.T) {
	c := newClient(closedAddr(t), smtpclient.Options{})
	results, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
	if _, ok := errors.AsType[*net.OpError](err); !ok {
		t.Fatalf("Send error = %v, want a *net.OpError", err)
	}
	if !smtpclient.Temporary(err) || !smtpclient.Temporary(results[0].Err) {
		t.Error("Temporary = false for a refused connection")
	}
}

func TestTemporary(t *testing.T) {
	reply := func(cmd string, code int) error {
		return &smtpclient.ReplyError{Command: cmd, Code: code}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"RCPT 450", reply(smtpclient.CmdRCPT, 450), true},
		{"RCPT 550", reply(smtpclient.CmdRCPT, 550), false},
		{"MAIL 421", reply(smtpclient.CmdMAIL, 421), true},
		{"MAIL 553", reply(smtpclient.CmdMAIL, 553), false},
		{"DATA 554 wrapped", fmt.Errorf("queue: %w", reply(smtpclient.CmdDATA, 554)), false},
		{"DATA odd code", reply(smtpclient.CmdDATA, 250), true},
		{"AUTH 535", reply(smtpclient.CmdAUTH, 535), true},
		{"greeting 554", reply(smtpclient.CmdEHLO, 554), true},
		{"bare go-smtp 452", &smtp.SMTPError{Code: 452}, true},
		{"bare go-smtp 552", &smtp.SMTPError{Code: 552}, false},
		{"TLS unavailable", smtpclient.ErrTLSUnavailable, true},
		{"invalid envelope", fmt.Errorf("%w: x", smtpclient.ErrInvalidEnvelope), false},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled", context.Canceled, true},
		{"unknown", errors.New("something odd"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := smtpclient.Temporary(tc.err); got != tc.want {
				t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
