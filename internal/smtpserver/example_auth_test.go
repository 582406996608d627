package smtpserver_test

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpserver"
)

// A submission listener: a helpdesk on the same host authenticates before
// it may send. Elsewhere on the network it would have to use STARTTLS.
func ExampleOptions_authenticate() {
	srv := smtpserver.New(&listBackend{address: "team@lists.example.org"}, smtpserver.Options{
		Logger:      slog.New(slog.DiscardHandler),
		RequireAuth: true,
		Authenticate: func(ctx context.Context, username, password string) (string, error) {
			if username != "helpdesk" || subtle.ConstantTimeCompare([]byte(password), []byte("correct horse")) != 1 {
				return "", smtpserver.ErrAuthFailed
			}
			return "helpdesk@lists.example.org", nil // becomes Envelope.Auth
		},
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
	fmt.Println(c.Mail("helpdesk@lists.example.org", nil))
	fmt.Println(c.Auth(sasl.NewPlainClient("", "helpdesk", "correct horse")))
	fmt.Println(c.Mail("helpdesk@lists.example.org", nil))
	// Output:
	// SMTP error 530: Authentication required
	// <nil>
	// <nil>
}
