package smtpserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpserver"
)

// listBackend serves one address and keeps messages in memory. A real
// Backend stores them durably before Deliver returns.
type listBackend struct {
	address string

	mu       sync.Mutex
	messages [][]byte
}

func (b *listBackend) Recipient(ctx context.Context, env *smtpserver.Envelope, rcpt string) error {
	if rcpt != b.address {
		return smtpserver.ErrNoSuchUser() // not an open relay
	}
	return nil
}

func (b *listBackend) Deliver(ctx context.Context, env *smtpserver.Envelope, raw []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.messages = append(b.messages, raw)
	return nil
}

func ExampleServer() {
	srv := smtpserver.New(&listBackend{address: "team@lists.example.org"}, smtpserver.Options{
		Domain: "lists.example.org",
		Logger: slog.New(slog.DiscardHandler),
		NewID:  func() string { return "4f2a9c1e7b30" },
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Mail("alice@example.org", nil); err != nil {
		panic(err)
	}
	fmt.Println(c.Rcpt("someone@elsewhere.example", nil))
	if err := c.Rcpt("team@lists.example.org", nil); err != nil {
		panic(err)
	}
	w, err := c.Data()
	if err != nil {
		panic(err)
	}
	fmt.Fprint(w, "Subject: hello\r\n\r\nHi team.\r\n")
	resp, err := w.CloseWithResponse()
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusText)
	// Output:
	// SMTP error 550: No such user here
	// 2.0.0 Ok: queued as 4f2a9c1e7b30
}
