package smtpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// oneConnListener hands out one connection, then waits until closed.
type oneConnListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// FuzzSession plays arbitrary client input against a server session: it
// must never panic, never answer with anything but well-formed reply
// lines, and never hand the backend a message for an address it refused.
func FuzzSession(f *testing.F) {
	f.Add("EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<list@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
	f.Add("HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n.\r\n")
	f.Add("EHLO x\r\nMAIL FROM:<a@example.org> SIZE=99999999999\r\nBDAT 5 LAST\r\nhello")
	f.Add("EHLO x\r\nMAIL FROM:<a@example.org>\r\nMAIL FROM:<b@example.org>\r\nRSET\r\nNOOP\r\nVRFY x\r\n")
	f.Fuzz(func(t *testing.T, input string) {
		rec := &recorder{serves: map[string]bool{"list@example.org": true}}
		srv := New(rec, Options{Logger: slog.New(slog.DiscardHandler), ReadTimeout: time.Second, WriteTimeout: time.Second, MaxMessageBytes: 1 << 16})
		client, server := net.Pipe()
		l := &oneConnListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
		l.conns <- server
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		replies := make(chan []string, 1)
		go func() {
			var lines []string
			r := bufio.NewReader(client)
			for {
				line, err := r.ReadString('\n')
				if line != "" {
					lines = append(lines, line)
				}
				if err != nil {
					replies <- lines
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(client, input)
		client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
		for _, line := range <-replies {
			// RFC 5321 §4.2: Reply-line = Reply-code [ SP / "-" text ] CRLF.
			if len(line) < 5 || !strings.HasSuffix(line, "\r\n") || line[0] < '2' || line[0] > '5' || (line[3] != ' ' && line[3] != '-') {
				t.Fatalf("malformed reply line %q", line)
			}
		}
		for _, d := range rec.delivered {
			for _, to := range d.env.To {
				if !rec.serves[to] {
					t.Fatalf("delivered for refused recipient %q", to)
				}
			}
		}
	})
}
