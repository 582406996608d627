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
