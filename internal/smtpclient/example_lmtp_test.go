package smtpclient_test

import (
	"context"
	"fmt"
	"log"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/smtpclient"
)

func ExampleOptions_lmtp() {
	// For the example, the helpdesk is an in-process go-smtp LMTP server
	// on 127.0.0.1 whose "full" mailbox is over quota. A real one is
	// often a unix socket: Options{Network: "unix", Addr:
	// "/run/helpdesk/lmtp.sock", LMTP: true}.
	addr, _, stop, err := serveEndpoint(&lmtpSink{sink: &sink{}, dataErr: map[string]*smtp.SMTPError{
		"full@helpdesk.example": {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
	}}, endpointConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	client := smtpclient.New(smtpclient.Options{Addr: addr, LMTP: true, HeloName: "lists.example.org"})
	msg := []byte("From: team@lists.example.org\r\nSubject: hello\r\n\r\nHi.\r\n")
	results, err := client.Send(context.Background(), "team@lists.example.org",
		[]string{"support@helpdesk.example", "full@helpdesk.example"}, msg)
	if err != nil {
		fmt.Println("failed, temporary:", smtpclient.Temporary(err))
		return
	}
	// With LMTP each recipient has its own verdict on the message.
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
	// support@helpdesk.example: delivered
	// full@helpdesk.example: retry later: smtpclient: DATA: 452 4.2.2 <full@helpdesk.example> mailbox full
}
