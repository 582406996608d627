package smtpserver

import (
	"context"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// waitClosing waits until Shutdown has begun.
func waitClosing(s *Server) {
	for !s.isClosing() {
		time.Sleep(time.Millisecond)
	}
}

// sendAsync runs send in a goroutine and returns its result channel.
func sendAsync(c *smtp.Client, msg string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := send(c, "alice@example.org", []string{"team@lists.example"}, msg)
		done <- err
	}()
	return done
}

func TestShutdownWaitsForDeliver(t *testing.T) {
	rec := &recorder{
		serves:  map[string]bool{"team@lists.example": true},
		entered: make(chan struct{}, 1),
		block:   make(chan struct{}),
	}
	ts := start(t, rec, Options{})
	busy := ts.dial(t)
	idle := ts.dial(t)
	replied := sendAsync(busy, testMsg)
	<-rec.entered // Deliver is in flight

	shutdown := make(chan error, 1)
	go func() { shutdown <- ts.srv.Shutdown(context.Background()) }()
	waitClosing(ts.srv)

	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while Deliver was in flight", err)
	default:
	}
	// A connection that starts a new transaction now is told to go away.
	wantReply(t, idle.Mail("alice@example.org", nil), 421, [3]int{4, 3, 2})
	// A new connection is refused, or told to go away.
	if c, err := smtp.Dial(ts.addr); err == nil {
		wantReply(t, c.Hello("late.example"), 421, [3]int{4, 3, 2})
		c.Close()
	}

	close(rec.block)
	if err := <-replied; err != nil {
		t.Fatalf("in-flight message: %v, want 250", err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-ts.served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	ts.served <- nil // for the cleanup in start
	if n := len(rec.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	// After Shutdown, the idle connection is closed.
	if err := idle.Noop(); err == nil {
		t.Error("idle connection still open after Shutdown")
	}
}

// When Shutdown's context ends first, it returns the context's error and
// the Backend's context is cancelled.
func TestShutdownGivesUp(t *testing.T) {
	rec := &recorder{
		serves:  map[string]bool{"team@lists.example": true},
		entered: make(chan struct{}, 1),
		block:   make(chan struct{}), // never closed
		aborted: make(chan error, 1),
	}
	ts := start(t, rec, Options{})
	replied := sendAsync(ts.dial(t), testMsg)
	<-rec.entered

	ctx, cancel := context.WithCancel(context.Background())
	shutdown := make(chan error, 1)
	go func() { shutdown <- ts.srv.Shutdown(ctx) }()
	waitClosing(ts.srv)
	cancel()
	if err := <-shutdown; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v, want context.Canceled", err)
	}
	if err := <-replied; err == nil {
		t.Error("message accepted although Shutdown gave up")
	}
	if err := <-rec.aborted; !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver's context: %v, want context.Canceled", err)
	}
}

// A session that begins while Shutdown is running (accepted just before
// the listener closed) gets 421 4.3.2 on EHLO.
func TestSessionAfterShutdownBegan(t *testing.T) {
	rec := &recorder{
		serves:  map[string]bool{"team@lists.example": true},
		entered: make(chan struct{}, 1),
		block:   make(chan struct{}),
	}
	ts := start(t, rec, Options{})
	replied := sendAsync(ts.dial(t), testMsg)
	<-rec.entered
	// Connected (greeted) before Shutdown, EHLO after it began.
	tc, err := textproto.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, _, err := tc.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	shutdown := make(chan error, 1)
	go func() { shutdown <- ts.srv.Shutdown(context.Background()) }()
	waitClosing(ts.srv)
	code, msg := rawCmd(t, tc, "EHLO late.example")
	if code != 421 || !strings.HasPrefix(msg, "4.3.2 Service shutting down") {
		t.Errorf("EHLO during shutdown: %d %s", code, msg)
	}
	close(rec.block)
	if err := <-replied; err != nil {
		t.Error(err)
	}
	if err := <-shutdown; err != nil {
		t.Error(err)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := New(&recorder{}, Options{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepting")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
