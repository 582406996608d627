package maildir_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost/internal/maildir"
)

func ExampleOutbox_Deliver() {
	data, err := os.MkdirTemp("", "sealpost-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(data)

	outbox, err := maildir.Open(filepath.Join(data, "outbox"), maildir.Options{})
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("Subject: hello\r\n\r\nHi Bob.\r\n")
	name, err := outbox.Deliver("team@lists.example.org", "bob@example.net", msg)
	if err != nil {
		log.Fatal(err)
	}

	stored, err := os.ReadFile(filepath.Join(outbox.Dir(), "new", name))
	if err != nil {
		log.Fatal(err)
	}
	// Print each line quoted, so that the CRLF endings show.
	for line := range strings.SplitAfterSeq(string(stored), "\r\n") {
		if line != "" {
			fmt.Printf("%q\n", line)
		}
	}
	// Output:
	// "Return-Path: <team@lists.example.org>\r\n"
	// "Delivered-To: <bob@example.net>\r\n"
	// "Subject: hello\r\n"
	// "\r\n"
	// "Hi Bob.\r\n"
}
