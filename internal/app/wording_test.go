package app_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// TestGatewayNoticeWording: what a gateway's owner and a customer are
// told reads as a gateway's, not a list's (issue 16 item 6): a message
// refused for require_encryption, one held because it cannot be read,
// and that hold rejected, which sends its sender to the gateway's own
// address (a gateway has no -owner address).
func TestGatewayNoticeWording(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if _, err := s.app.Admin.CreateGateway(ctx, support, "admin@example.org", "", pgp.Ed25519, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Admin.SetOptions(ctx, support, []string{"require_encryption=true"}); err != nil {
		t.Fatal(err)
	}
	plain := []byte("From: dave@example.com\r\nTo: " + support + "\r\nSubject: x\r\n\r\nhello\r\n")
	if err := s.send(t, "dave@example.com", []string{support}, plain); err == nil {
		t.Fatal("a message in clear was taken with require_encryption=true")
	}
	n := s.waitFor(t, "admin@example.org")
	for _, want := range []string{"A message to the gateway was rejected", "not handed to the helpdesk", "encrypted to the gateway's key"} {
		if !bytes.Contains(n, []byte(want)) {
			t.Errorf("owner's notice lacks %q:\n%s", want, n)
		}
	}
	s.clearOutbox(t)

	unreadable := []byte("From: dave@example.com\r\nTo: " + support + "\r\nSubject: x\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n")
	if err := s.send(t, "dave@example.com", []string{support}, unreadable); err != nil {
		t.Fatal(err)
	}
	n = s.waitFor(t, "admin@example.org")
	for _, want := range []string{"A message to the gateway was held", "cannot be released"} {
		if !bytes.Contains(n, []byte(want)) {
			t.Errorf("owner's notice lacks %q:\n%s", want, n)
		}
	}
	hs, err := s.app.Admin.Holds(ctx, support)
	if err != nil || len(hs) != 1 {
		t.Fatalf("holds = %d, %v", len(hs), err)
	}
	if err := s.app.Admin.RejectHold(ctx, support, hs[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	s.app.Queue.Notify()
	n = s.waitFor(t, "dave@example.com")
	for _, want := range []string{"was not handed to the helpdesk", "Write to " + support + " if"} {
		if !bytes.Contains(n, []byte(want)) {
			t.Errorf("sender's notice lacks %q:\n%s", want, n)
		}
	}
}
