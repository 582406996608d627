package smtpclient_test

import (
	"context"
	"fmt"
	"log"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpclient"
)

func ExampleClient_Send() {
	// For the example, the relay is an in-process go-smtp server on
	// 127.0.0.1 that knows no "nobody".
	addr, stop, err := serveRelay(&sink{rejectRcpt: map[string]*smtp.SMTPError{
		"nobody@example.net": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	}}, relayConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	client := smtpclient.New(smtpclient.Options{Addr: addr, HeloName: "lists.example.org"})
	msg := []byte("From: team@lists.example.org\r\nSubject: hello\r\n\r\nHi.\r\n")
	results, err := client.Send(context.Background(), "team@lists.example.org",
		[]string{"bob@example.net", "nobody@example.net"}, msg)
	if err != nil {
		// Nothing was delivered; the queue retries or gives up.
		fmt.Println("failed, temporary:", smtpclient.Temporary(err))
		return
	}
	for _, r := range results {
		switch {
		case r.Err == nil:
			fmt.Printf("%s: delivered\n", r.Rcpt)
		case smtpclient.Temporary(r.Err):
			fmt.Printf("%s: retry later: %v\n", r.Rcpt, r.Err)
		default:
			fmt.Printf("%s: bounce: %v\n", r.Rcpt, r.Err)
		}
	}
	// Output:
	// bob@example.net: delivered
	// nobody@example.net: bounce: smtpclient: RCPT: 550 5.1.1 no such user
}

func ExampleClient_Open() {
	// For the example, the relay is an in-process go-smtp server on
	// 127.0.0.1 that offers no STARTTLS; at the default level (may) the
	// session goes on in plaintext, on the same connection.
	addr, stop, err := serveRelay(&sink{}, relayConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	client := smtpclient.New(smtpclient.Options{Addr: addr, HeloName: "lists.example.org"})
	session, err := client.Open(context.Background())
	if err != nil {
		// Nothing was sent: every copy waits for the next attempt.
		fmt.Println("relay unreachable, temporary:", smtpclient.Temporary(err))
		return
	}
	defer session.Close() // QUIT
	copies := []struct {
		from  string
		rcpts []string // several when the copies are the same bytes
		msg   string
	}{
		{"team-bounce@lists.example.org", []string{"bob@example.net"}, "Subject: for bob\r\n\r\n...\r\n"},
		{"", []string{"owner@example.org", "admin@example.org"}, "Subject: notice\r\n\r\n...\r\n"},
	}
	for _, c := range copies {
		results, _ := session.Send(context.Background(), c.from, c.rcpts, []byte(c.msg))
		for _, r := range results {
			fmt.Printf("%s: delivered %v\n", r.Rcpt, r.Err == nil)
		}
	}
	fmt.Println("in TLS:", session.TLS())
	// Output:
	// bob@example.net: delivered true
	// owner@example.org: delivered true
	// admin@example.org: delivered true
	// in TLS: false
}
