package smtpclient_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpclient"
)

func TestSendLMTPDelivery(t *testing.T) {
	// The certificate is not trusted by the client: a STARTTLS attempt
	// would fail the delivery.
	cert, _ := selfSigned(t)
	tests := []struct {
		name string
		unix bool // over a unix socket rather than 127.0.0.1
		smtp bool // SMTP rather than LMTP
		cert bool // the server offers STARTTLS
		want []string
	}{
		{name: "LMTP over TCP", want: []string{"LHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"}},
		{name: "LMTP over a unix socket", unix: true, want: []string{"LHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"}},
		{name: "LMTP ignores STARTTLS", cert: true, want: []string{"LHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"}},
		{name: "SMTP over a unix socket ignores STARTTLS", unix: true, smtp: true, cert: true,
			want: []string{"EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := endpointConfig{smtp: tc.smtp}
			opt := smtpclient.Options{LMTP: !tc.smtp}
			if tc.unix {
				cfg.unixPath = unixSocket(t)
				opt.Network = "unix"
			}
			if tc.cert {
				cfg.cert = cert
			}
			s := &sink{}
			addr, tr := startEndpoint(t, &lmtpSink{sink: s}, cfg)
			c := newClient(addr, opt)

			rcpts := []string{"support@helpdesk.example", "sales@helpdesk.example"}
			msg := "From: a@example.org\r\nSubject: ticket\r\n\r\n.dotted\r\nplaintext\r\n"
			results, err := c.Send(t.Context(), "a@example.org", rcpts, []byte(msg))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkAccepted(t, results, rcpts)
			got := onlyMessage(t, s)
			if got.From != "a@example.org" || !slices.Equal(got.Rcpts, rcpts) || string(got.Data) != msg {
				t.Errorf("server got {%q %q %q}, want {%q %q %q}", got.From, got.Rcpts, got.Data, "a@example.org", rcpts, msg)
			}
			if got.TLS || got.Helo != heloName {
				t.Errorf("server saw TLS %v, hello name %q; want false, %q", got.TLS, got.Helo, heloName)
			}
			// RFC 2033 §4.1: the session opens with LHLO, never EHLO or
			// HELO; and no STARTTLS is tried.
			cmds := tr.commands()
			var verbs []string
			for _, cmd := range cmds {
				verb, _, _ := strings.Cut(cmd, " ")
				verbs = append(verbs, verb)
			}
			if !slices.Equal(verbs, tc.want) || cmds[0] != tc.want[0]+" "+heloName {
				t.Errorf("client sent %q, want commands %q", cmds, tc.want)
			}
		})
	}
}

// lmtpRcpt is a recipient in TestSendLMTPPerRecipient, and how the server
// answers it.
type lmtpRcpt struct {
	addr string
	cmd  string // the command whose reply refuses addr; "" to deliver
	code int
}

func TestSendLMTPPerRecipient(t *testing.T) {
	tests := []struct {
		name          string
		rcpts         []lmtpRcpt
		wantErr       bool // Send fails as a whole
		wantTemporary bool // ... with a temporary error
	}{{
		name:  "one accepted, one refused after data",
		rcpts: []lmtpRcpt{{"bob@example.net", "", 0}, {"nobody@example.net", "DATA", 550}},
	}, {
		name:  "one accepted, one deferred after data",
		rcpts: []lmtpRcpt{{"bob@example.net", "", 0}, {"full@example.net", "DATA", 452}},
	}, {
		name: "refusals at RCPT and after data",
		rcpts: []lmtpRcpt{{"gone@example.net", "RCPT", 550}, {"bob@example.net", "", 0},
			{"busy@example.net", "DATA", 451}, {"nobody@example.net", "DATA", 550}, {"carol@example.net", "", 0}},
	}, {
		name:  "repeated recipient gets one RCPT",
		rcpts: []lmtpRcpt{{"bob@example.net", "", 0}, {"nobody@example.net", "DATA", 550}, {"bob@example.net", "", 0}, {"nobody@example.net", "DATA", 550}},
	}, {
		name:          "none accepted, one deferred",
		rcpts:         []lmtpRcpt{{"nobody@example.net", "DATA", 550}, {"busy@example.net", "DATA", 451}},
		wantErr:       true,
		wantTemporary: true,
	}, {
		name:    "none accepted, all refused",
		rcpts:   []lmtpRcpt{{"nobody@example.net", "DATA", 550}, {"spam@example.net", "DATA", 554}},
		wantErr: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &lmtpSink{sink: &sink{rejectRcpt: map[string]*smtp.SMTPError{}}, dataErr: map[string]*smtp.SMTPError{}}
			var rcpts, delivered []string
			for _, r := range tc.rcpts {
				rcpts = append(rcpts, r.addr)
				reply := &smtp.SMTPError{Code: r.code, EnhancedCode: smtp.EnhancedCode{r.code / 100, 0, 0}, Message: "no"}
				switch r.cmd {
				case smtpclient.CmdRCPT:
					s.rejectRcpt[r.addr] = reply
				case smtpclient.CmdDATA:
					s.dataErr[r.addr] = reply
				default:
					if !slices.Contains(delivered, r.addr) {
						delivered = append(delivered, r.addr)
					}
				}
			}
			addr, tr := startEndpoint(t, s, endpointConfig{})
			c := newClient(addr, smtpclient.Options{LMTP: true})
			results, err := c.Send(t.Context(), "a@example.org", rcpts, []byte("Subject: x\r\n\r\n"))
			if (err != nil) != tc.wantErr || smtpclient.Temporary(err) != tc.wantTemporary {
				t.Fatalf("Send error = %v (temporary %v), want error %v (temporary %v)",
					err, smtpclient.Temporary(err), tc.wantErr, tc.wantTemporary)
			}
			checkLMTPResults(t, results, tc.rcpts)
			if n, want := countRCPT(tr.commands()), len(slices.Compact(slices.Sorted(slices.Values(rcpts)))); n != want {
				t.Errorf("client sent %d RCPT, want %d", n, want)
			}
			if delivered == nil {
				if n := len(s.messages()); n != 0 {
					t.Errorf("server delivered %d messages", n)
				}
			} else if got := onlyMessage(t, s.sink); !slices.Equal(got.Rcpts, delivered) {
				t.Errorf("server delivered to %q, want %q", got.Rcpts, delivered)
			}
		})
	}
}

// checkLMTPResults checks that each result carries its recipient's own
// reply.
func checkLMTPResults(t *testing.T, results []smtpclient.Result, want []lmtpRcpt) {
	t.Helper()
	if len(results) != len(want) {
		t.Fatalf("%d results for %d recipients", len(results), len(want))
	}
	for i, w := range want {
		r := results[i]
		if r.Rcpt != w.addr {
			t.Errorf("result %d for %q, want %q", i, r.Rcpt, w.addr)
		}
		if w.code == 0 {
			if r.Err != nil {
				t.Errorf("%s: %v, want delivered", r.Rcpt, r.Err)
			}
			continue
		}
		re, ok := errors.AsType[*smtpclient.ReplyError](r.Err)
		if !ok || re.Command != w.cmd || re.Code != w.code {
			t.Errorf("%s: %v, want %s reply %d", r.Rcpt, r.Err, w.cmd, w.code)
			continue
		}
		if got, want := smtpclient.Temporary(r.Err), w.code/100 == 4; got != want {
			t.Errorf("%s: Temporary = %v, want %v", r.Rcpt, got, want)
		}
	}
}

// countRCPT returns how many of cmds are RCPT commands.
func countRCPT(cmds []string) int {
	n := 0
	for _, cmd := range cmds {
		if strings.HasPrefix(strings.ToUpper(cmd), "RCPT ") {
			n++
		}
	}
	return n
}

func TestSendLMTPSessionLost(t *testing.T) {
	tests := []struct {
		name    string
		reply   string // the only reply after the data, for the first recipient
		code    int    // its code; 0: delivered
		wantErr bool   // Send fails as a whole (temporarily)
	}{
		{"first delivered", "250 2.1.5 <a@example.net> delivered", 0, false},
		{"first refused", "550 5.1.1 <a@example.net> no such user", 550, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(startLostLMTP(t, []string{tc.reply}), smtpclient.Options{LMTP: true})
			rcpts := []string{"a@example.net", "b@example.net"}
			results, err := c.Send(t.Context(), "x@example.org", rcpts, []byte("\r\n"))
			if (err != nil) != tc.wantErr || (tc.wantErr && !smtpclient.Temporary(err)) {
				t.Fatalf("Send error = %v, want error %v (temporary)", err, tc.wantErr)
			}
			re, isReply := errors.AsType[*smtpclient.ReplyError](results[0].Err)
			if tc.code == 0 && results[0].Err != nil || tc.code != 0 && (!isReply || re.Code != tc.code) {
				t.Errorf("%s: %v, want reply %d", results[0].Rcpt, results[0].Err, tc.code)
			}
			// The session ended before b's reply: b's fate is unknown,
			// which RFC 5321 §3.8 treats as temporary.
			if _, isReply := errors.AsType[*smtpclient.ReplyError](results[1].Err); isReply || !smtpclient.Temporary(results[1].Err) {
				t.Errorf("%s: %v, want a temporary session error", results[1].Rcpt, results[1].Err)
			}
		})
	}
}

func TestSendInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		unix bool               // the server listens on a unix socket
		addr string             // Addr instead of the server's
		opt  smtpclient.Options // Addr filled in
		want string             // in the error text
	}{
		{name: "LMTP TLS verify over a unix socket", unix: true,
			opt:  smtpclient.Options{Network: "unix", LMTP: true, TLS: smtpclient.TLSVerify},
			want: "TLS verify with the unix socket %s: a unix socket is local and has no host name to verify a certificate for"},
		{name: "SMTP TLS encrypt over a unix socket", unix: true,
			opt:  smtpclient.Options{Network: "unix", TLS: smtpclient.TLSEncrypt},
			want: "TLS encrypt with the unix socket %s: a unix socket is local"},
		{name: "Auth over a unix socket", unix: true,
			opt:  smtpclient.Options{Network: "unix", Auth: sasl.NewPlainClient("", "u", "p")},
			want: "Auth (sent only inside TLS) with the unix socket %s: a unix socket is local"},
		{name: "LMTP TLS encrypt over TCP",
			opt:  smtpclient.Options{LMTP: true, TLS: smtpclient.TLSEncrypt},
			want: "TLS encrypt with LMTP: the go-smtp LMTP client cannot use STARTTLS"},
		{name: "Auth with TLS none",
			opt:  smtpclient.Options{TLS: smtpclient.TLSNone, Auth: sasl.NewPlainClient("", "u", "p")},
			want: "Auth with TLS none: credentials are sent only inside TLS"},
		{name: "unknown TLS level",
			opt:  smtpclient.Options{TLS: smtpclient.TLSLevel(9)},
			want: "TLSLevel(9)"},
		{name: "LMTP Auth over TCP",
			opt:  smtpclient.Options{LMTP: true, Auth: sasl.NewPlainClient("", "u", "p")},
			want: "Auth (sent only inside TLS) with LMTP"},
		{name: "LMTP to a non-loopback address", addr: "192.0.2.1:24",
			opt:  smtpclient.Options{LMTP: true},
			want: "LMTP to 192.0.2.1:24: the go-smtp LMTP client cannot use STARTTLS, so LMTP goes only over a unix socket or to a loopback address"},
		{name: "unknown network",
			opt:  smtpclient.Options{Network: "udp"},
			want: `Network "udp": want "tcp" or "unix"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg endpointConfig
			if tc.unix {
				cfg.unixPath = unixSocket(t)
			}
			s := &sink{}
			addr, tr := startEndpoint(t, &lmtpSink{sink: s}, cfg)
			if tc.addr != "" {
				addr = tc.addr
			}
			c := newClient(addr, tc.opt)
			results, err := c.Send(t.Context(), "a@example.org", []string{"b@example.org"}, []byte("\r\n"))
			if !errors.Is(err, smtpclient.ErrInvalidOptions) {
				t.Fatalf("Send error = %v, want ErrInvalidOptions", err)
			}
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, addr)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Send error = %q, want it to say %q", err, want)
			}
			// A configuration problem: retry once it is fixed, never bounce.
			if !smtpclient.Temporary(err) || !errors.Is(results[0].Err, smtpclient.ErrInvalidOptions) {
				t.Errorf("Temporary = %v, result %v; want true, ErrInvalidOptions", smtpclient.Temporary(err), results[0].Err)
			}
			if n := tr.connCount(); n != 0 {
				t.Errorf("client connected %d times", n)
			}
		})
	}
}
