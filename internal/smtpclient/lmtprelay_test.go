package smtpclient_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// This file holds the peers for the LMTP and unix socket tests: a real
// go-smtp server, LMTP unless told otherwise, on 127.0.0.1 or a unix
// socket, whose listener keeps a transcript of what clients sent; and a
// scripted LMTP peer that hangs up halfway through its replies.

// lmtpSink is a sink that also answers the message data per recipient,
// through go-smtp's LMTPSession.
type lmtpSink struct {
	*sink
	dataErr map[string]*smtp.SMTPError // reply after the data for these recipients
}

func (s *lmtpSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess, err := s.sink.NewSession(c)
	if err != nil {
		return nil, err
	}
	return &lmtpSession{session: sess.(*session), dataErr: s.dataErr}, nil
}

// lmtpSession is a session whose LMTPData sets one status per recipient.
type lmtpSession struct {
	*session
	dataErr map[string]*smtp.SMTPError
}

// LMTPData records the message for the recipients it accepts, if any.
func (s *lmtpSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var accepted []string
	for _, rcpt := range s.rcpts {
		if reply, ok := s.dataErr[rcpt]; ok {
			status.SetStatus(rcpt, reply)
			continue
		}
		status.SetStatus(rcpt, nil)
		accepted = append(accepted, rcpt)
	}
	if len(accepted) == 0 {
		return nil
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	s.sink.msgs = append(s.sink.msgs, received{
		From: s.from, Rcpts: accepted, Data: b,
		TLS: isTLS, Helo: s.conn.Hostname(),
	})
	return nil
}

// endpointConfig says how serveEndpoint sets up the server.
type endpointConfig struct {
	unixPath string           // listen on this unix socket instead of 127.0.0.1
	smtp     bool             // speak SMTP instead of LMTP
	cert     *tls.Certificate // offer STARTTLS with this certificate
}

// serveEndpoint starts a go-smtp server for b as configured. addr is
// "host:port" on 127.0.0.1, or the socket's path.
func serveEndpoint(b smtp.Backend, cfg endpointConfig) (addr string, tr *transcript, stop func(), err error) {
	srv := smtp.NewServer(b)
	srv.LMTP = !cfg.smtp
	srv.Domain = "helpdesk.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cfg.cert}}
	}
	network, laddr := "tcp", "127.0.0.1:0"
	if cfg.unixPath != "" {
		network, laddr = "unix", cfg.unixPath
	}
	ln, err := net.Listen(network, laddr)
	if err != nil {
		return "", nil, nil, err
	}
	tr = &transcript{Listener: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tr)
	}()
	return ln.Addr().String(), tr, func() {
		srv.Close()
		// Close misses the listener if Serve has not registered it yet.
		ln.Close()
		<-done
	}, nil
}

// startEndpoint is serveEndpoint for a test; the server stops at cleanup.
func startEndpoint(t *testing.T, b smtp.Backend, cfg endpointConfig) (string, *transcript) {
	t.Helper()
	addr, tr, stop, err := serveEndpoint(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr, tr
}

// unixSocket returns a path for a unix socket in a fresh directory.
func unixSocket(t *testing.T) string {
	return filepath.Join(t.TempDir(), "lmtp.sock")
}

// transcript is a listener that records what its clients send.
type transcript struct {
	net.Listener

	mu    sync.Mutex
	conns int
	sent  bytes.Buffer
}

func (tr *transcript) Accept() (net.Conn, error) {
	conn, err := tr.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tr.conns++
	tr.mu.Unlock()
	return &recordingConn{Conn: conn, tr: tr}, nil
}

// connCount returns how many connections the listener accepted.
func (tr *transcript) connCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.conns
}

// commands returns the command lines clients sent, without the message
// data after DATA.
func (tr *transcript) commands() []string {
	tr.mu.Lock()
	sent := tr.sent.String()
	tr.mu.Unlock()
	var cmds []string
	inData := false
	for line := range strings.SplitSeq(sent, "\r\n") {
		switch {
		case inData:
			inData = line != "."
		case line != "":
			cmds = append(cmds, line)
			inData = strings.EqualFold(line, "DATA")
		}
	}
	return cmds
}

// recordingConn copies what it reads into its transcript.
type recordingConn struct {
	net.Conn
	tr *transcript
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.tr.mu.Lock()
	c.tr.sent.Write(b[:n])
	c.tr.mu.Unlock()
	return n, err
}

// startLostLMTP serves one LMTP session on 127.0.0.1 that accepts every
// command, answers the message data with replies, and hangs up without
// the replies it owes the other recipients.
func startLostLMTP(t *testing.T, replies []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		playLost(textproto.NewConn(conn), replies)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// playLost is startLostLMTP's side of the session.
func playLost(tc *textproto.Conn, replies []string) {
	tc.PrintfLine("220 lost.test LMTP")
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		if !strings.EqualFold(line, "DATA") {
			tc.PrintfLine("250 2.0.0 ok")
			continue
		}
		tc.PrintfLine("354 go ahead")
		if _, err := tc.ReadDotBytes(); err != nil {
			return
		}
		for _, r := range replies {
			tc.PrintfLine("%s", r)
		}
		return
	}
}
