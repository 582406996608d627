package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// recorder is the test Backend: a fake as data. The configuration fields
// are set before the server starts; the recorded fields are read through
// its methods.
type recorder struct {
	serves     map[string]bool  // addresses Recipient accepts; others: ErrNoSuchUser
	rcptErr    map[string]error // Recipient's error for an address
	rcptPanic  string           // Recipient panics for this address
	deliverErr error            // Deliver's error
	panicOn    string           // Deliver panics for a message containing this
	entered    chan struct{}    // if set, Deliver signals here on entry
	block      chan struct{}    // if set, Deliver waits until it is closed (or ctx)
	aborted    chan error       // if set, Deliver sends ctx.Err() here when ctx ends first

	mu        sync.Mutex
	asked     []string
	delivered []delivery
}

type delivery struct {
	env Envelope
	raw []byte
}

func (r *recorder) Recipient(ctx context.Context, env *Envelope, rcpt string) error {
	r.mu.Lock()
	r.asked = append(r.asked, rcpt)
	r.mu.Unlock()
	if rcpt == r.rcptPanic {
		panic("recorder: deliberate panic in Recipient")
	}
	if err, ok := r.rcptErr[rcpt]; ok {
		return err
	}
	if !r.serves[rcpt] {
		return ErrNoSuchUser()
	}
	return nil
}

func (r *recorder) Deliver(ctx context.Context, env *Envelope, raw []byte) error {
	if r.entered != nil {
		r.entered <- struct{}{}
	}
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			if r.aborted != nil {
				r.aborted <- ctx.Err()
			}
			return ctx.Err()
		}
	}
	if r.panicOn != "" && bytes.Contains(raw, []byte(r.panicOn)) {
		panic("recorder: deliberate panic in Deliver")
	}
	if r.deliverErr != nil {
		return r.deliverErr
	}
	r.mu.Lock()
	r.delivered = append(r.delivered, delivery{env: *env, raw: raw})
	r.mu.Unlock()
	return nil
}

func (r *recorder) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.delivered...)
}

func (r *recorder) recipientsAsked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a Server on 127.0.0.1 with its log captured.
type testServer struct {
	srv    *Server
	addr   string
	logs   *lockedBuffer
	served chan error // Serve's result
}

// seqIDs returns an Options.NewID giving "id-1", "id-2", ...
func seqIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("id-%d", n.Add(1)) }
}

// start runs a Server for b on 127.0.0.1 until the test ends.
func start(t *testing.T, b Backend, opt Options) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, b, opt, l)
}

// serveOn runs a Server for b on l until the test ends.
func serveOn(t *testing.T, b Backend, opt Options, l net.Listener) *testServer {
	t.Helper()
	ts := &testServer{logs: &lockedBuffer{}, served: make(chan error, 1)}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opt.NewID == nil {
		opt.NewID = seqIDs()
	}
	ts.srv = New(b, opt)
	ts.addr = l.Addr().String()
	go func() { ts.served <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// dial connects a go-smtp client and says EHLO.
func (ts *testServer) dial(t *testing.T) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

// raw connects without a client library, for commands go-smtp's client
// will not send; it reads the greeting.
func (ts *testServer) raw(t *testing.T) *textproto.Conn {
	t.Helper()
	tc, err := textproto.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	if _, _, err := tc.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return tc
}

// rawCmd sends one command line and returns the reply code and text.
func rawCmd(t *testing.T, tc *textproto.Conn, format string, args ...any) (int, string) {
	t.Helper()
	if err := tc.PrintfLine(format, args...); err != nil {
		t.Fatal(err)
	}
	code, msg, err := tc.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) {
			t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
		}
	}
	return code, msg
}

// send runs one transaction and returns the reply text to the end of data.
func send(c *smtp.Client, from string, to []string, msg string) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

// wantReply checks that err is the SMTP reply code/enhanced.
func wantReply(t *testing.T, err error, code int, enhanced [3]int) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP reply %d", err, code)
	}
	if se.Code != code || se.EnhancedCode != smtp.EnhancedCode(enhanced) {
		t.Fatalf("got %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enhanced)
	}
	return se
}

// logLines returns the captured log lines that contain all of subs.
func logLines(logs *lockedBuffer, subs ...string) []string {
	var out []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

const testMsg = "From: alice@example.org\r\nTo: team@lists.example\r\nSubject: hi\r\n\r\nhello\r\n"
