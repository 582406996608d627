package smtpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestDeliverExactBytes(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true, "ops@lists.example": true}}
	ts := start(t, rec, Options{})
	c := ts.dial(t)

	// RFC 5321 §4.5.2: the client stuffs every line starting with "." and
	// the server must remove exactly one dot again. CRLF stays CRLF.
	msg := "From: alice@example.org\r\n" +
		"Subject: dots\r\n" +
		"\r\n" +
		".leading dot\r\n" +
		"..two dots\r\n" +
		".\r\n" +
		"trailing space \r\n" +
		"\r\n" +
		"end\r\n"
	resp, err := send(c, "alice@example.org", []string{"team@lists.example", "ops@lists.example"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2.0.0 Ok: queued as id-1"; resp != want {
		t.Errorf("reply %q, want %q", resp, want)
	}
	got := rec.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	if string(got[0].raw) != msg {
		t.Errorf("delivered bytes differ:\n got %q\nwant %q", got[0].raw, msg)
	}
	env := got[0].env
	if env.ID != "id-1" || env.From != "alice@example.org" || env.Helo != "client.example" ||
		!strings.HasPrefix(env.RemoteAddr, "127.0.0.1:") ||
		strings.Join(env.To, ",") != "team@lists.example,ops@lists.example" {
		t.Errorf("envelope %+v", env)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

// A bare LF is not turned into CRLF: the Backend sees bytes as received.
func TestDeliverKeepsLineEndings(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{})
	tc := ts.raw(t)
	for _, cmd := range []string{"EHLO raw.example", "MAIL FROM:<>", "RCPT TO:<team@lists.example>"} {
		if code, msg := rawCmd(t, tc, "%s", cmd); code != 250 {
			t.Fatalf("%s: %d %s", cmd, code, msg)
		}
	}
	if code, _ := rawCmd(t, tc, "DATA"); code != 354 {
		t.Fatalf("DATA: %d", code)
	}
	body := "Subject: lf\r\n\r\nbare\nlf\r\n..dot\r\n"
	if _, err := tc.W.WriteString(body + ".\r\n"); err != nil {
		t.Fatal(err)
	}
	tc.W.Flush()
	if code, msg, err := tc.ReadResponse(250); err != nil {
		t.Fatalf("end of data: %d %s %v", code, msg, err)
	}
	got := rec.deliveries()
	if len(got) != 1 || string(got[0].raw) != "Subject: lf\r\n\r\nbare\nlf\r\n.dot\r\n" {
		t.Fatalf("deliveries %q", got)
	}
	if got[0].env.From != "" {
		t.Errorf("null sender became %q", got[0].env.From)
	}
}

func TestRecipientReplies(t *testing.T) {
	const internal = "dial tcp 10.0.0.7:5432: connection refused /var/lib/sealpost"
	cases := []struct {
		name     string
		rcpt     string
		code     int
		enhanced [3]int
		text     string // reply text must contain this
		asked    bool   // Recipient was called
	}{
		{"unknown user", "nobody@lists.example", 550, [3]int{5, 1, 1}, "No such user here", true},
		{"plain error", "broken@lists.example", 451, [3]int{4, 3, 0}, "Temporary failure, reference id-1", true},
		{"wrapped *Error", "policy@lists.example", 550, [3]int{5, 7, 1}, "Delivery not authorized", true},
		{"panic", "panic@lists.example", 451, [3]int{4, 3, 0}, "reference id-1", true},
		{"*Error with 2xx code", "bogus@lists.example", 451, [3]int{4, 3, 0}, "reference id-1", true},
		{"*Error with wrong class", "mixed@lists.example", 451, [3]int{4, 3, 0}, "reference id-1", true},
		{"reply injection", "inject@lists.example", 550, [3]int{5, 1, 1}, "bad  250 2.0.0 ok", true},
		{"bad syntax", "user@bad..example", 501, [3]int{5, 1, 3}, "Bad recipient address syntax", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{
				rcptPanic: "panic@lists.example",
				rcptErr: map[string]error{
					"broken@lists.example": errors.New(internal),
					"policy@lists.example": fmt.Errorf("pipeline: %w", ErrMessageRefused().WithCause(errors.New(internal))),
					"bogus@lists.example":  &Error{Code: 250, Enhanced: [3]int{2, 0, 0}, Message: "fine"},
					"mixed@lists.example":  &Error{Code: 550, Enhanced: [3]int{4, 1, 1}, Message: "mixed"},
					"inject@lists.example": &Error{Code: 550, Enhanced: [3]int{5, 1, 1}, Message: "bad\r\n250 2.0.0 ok"},
				},
			}
			ts := start(t, rec, Options{})
			c := ts.dial(t)
			if err := c.Mail("alice@example.org", nil); err != nil {
				t.Fatal(err)
			}
			se := wantReply(t, c.Rcpt(tc.rcpt, nil), tc.code, tc.enhanced)
			if !strings.Contains(se.Message, tc.text) {
				t.Errorf("reply %q lacks %q", se.Message, tc.text)
			}
			if strings.Contains(se.Message, "10.0.0.7") || strings.Contains(se.Message, "panic") {
				t.Errorf("reply %q leaks the internal cause", se.Message)
			}
			if asked := len(rec.recipientsAsked()) > 0; asked != tc.asked {
				t.Errorf("Recipient called: %v, want %v", asked, tc.asked)
			}
			// The connection stays usable and the rejected address was not added.
			wantReply(t, dataErr(c), 502, [3]int{5, 5, 1})
		})
	}
}

// dataErr issues DATA and returns its error (nil if 354 came back).
func dataErr(c *smtp.Client) error {
	w, err := c.Data()
	if err == nil {
		w.Close()
	}
	return err
}

func TestRecipientErrorIsLoggedWithID(t *testing.T) {
	const internal = "lookup members: database is locked"
	rec := &recorder{rcptErr: map[string]error{"team@lists.example": errors.New(internal)}}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt("team@lists.example", nil), 451, [3]int{4, 3, 0})
	if len(logLines(ts.logs, `"msgid":"id-1"`, internal)) != 1 {
		t.Errorf("cause not logged once with msgid:\n%s", ts.logs)
	}
}

func TestDeliverReplies(t *testing.T) {
	const internal = "spool: fsync /var/spool/sealpost/tmp/x: no space left on device"
	cases := []struct {
		name     string
		rec      *recorder
		code     int
		enhanced [3]int
		text     string
	}{
		{"plain error", &recorder{deliverErr: errors.New(internal)},
			451, [3]int{4, 3, 0}, "Temporary failure, reference id-1"},
		{"*Error 550 5.7.1", &recorder{deliverErr: ErrMessageRefused().WithCause(errors.New(internal))},
			550, [3]int{5, 7, 1}, "Delivery not authorized, message refused"},
		{"wrapped temporary *Error", &recorder{deliverErr: fmt.Errorf("x: %w", &Error{Code: 452, Enhanced: [3]int{4, 3, 1}, Message: "Insufficient system storage"})},
			452, [3]int{4, 3, 1}, "Insufficient system storage"},
		{"panic", &recorder{panicOn: "hello"},
			451, [3]int{4, 3, 0}, "Temporary failure, reference id-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.serves = map[string]bool{"team@lists.example": true}
			ts := start(t, tc.rec, Options{})
			c := ts.dial(t)
			_, err := send(c, "alice@example.org", []string{"team@lists.example"}, testMsg)
			// go-smtp's default for an unknown error would be 554 with the
			// error's text; the reply must be exactly what the table says.
			se := wantReply(t, err, tc.code, tc.enhanced)
			if !strings.Contains(se.Message, tc.text) {
				t.Errorf("reply %q lacks %q", se.Message, tc.text)
			}
			if strings.Contains(se.Message, "spool") || strings.Contains(se.Message, "panic") {
				t.Errorf("reply %q leaks the internal cause", se.Message)
			}
			if len(tc.rec.deliveries()) != 0 {
				t.Error("a rejected message was recorded")
			}
			if len(logLines(ts.logs, `"msgid":"id-1"`, "DATA")) == 0 {
				t.Errorf("no log line for the DATA failure with msgid:\n%s", ts.logs)
			}
			// The connection survives: a new transaction is possible.
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
			if err := c.Mail("alice@example.org", nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDeliverPlainErrorLogsCause(t *testing.T) {
	const internal = "store: insert message: UNIQUE constraint failed"
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}, deliverErr: errors.New(internal)}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	_, err := send(c, "alice@example.org", []string{"team@lists.example"}, testMsg)
	se := wantReply(t, err, 451, [3]int{4, 3, 0})
	if se.Message != "Temporary failure, reference id-1" {
		t.Errorf("reply %q", se.Message)
	}
	if lines := logLines(ts.logs, `"msgid":"id-1"`, internal); len(lines) != 1 {
		t.Errorf("want the cause logged once with the reference, log:\n%s", ts.logs)
	}
}

func TestPanicKeepsServing(t *testing.T) {
	rec := &recorder{
		serves:    map[string]bool{"team@lists.example": true},
		rcptPanic: "boom@lists.example",
		panicOn:   "PANIC",
	}
	ts := start(t, rec, Options{})

	c1 := ts.dial(t)
	_, err := send(c1, "alice@example.org", []string{"team@lists.example"}, "Subject: PANIC\r\n\r\nx\r\n")
	wantReply(t, err, 451, [3]int{4, 3, 0})
	if lines := logLines(ts.logs, `"msgid":"id-1"`, "panic in backend", "deliberate panic in Deliver", "stack"); len(lines) != 1 {
		t.Errorf("panic not logged with msgid and stack:\n%s", ts.logs)
	}
	c1.Reset()
	if err := c1.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c1.Rcpt("boom@lists.example", nil), 451, [3]int{4, 3, 0})

	// The next connection is served normally.
	c2 := ts.dial(t)
	if _, err := send(c2, "alice@example.org", []string{"team@lists.example"}, testMsg); err != nil {
		t.Fatalf("after panic: %v", err)
	}
	if n := len(rec.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestOversizeMessage(t *testing.T) {
	const limit = 1024
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{MaxMessageBytes: limit})
	c := ts.dial(t)

	big := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 100)
	_, err := send(c, "alice@example.org", []string{"team@lists.example"}, big)
	wantReply(t, err, 552, [3]int{5, 3, 4})
	if len(rec.deliveries()) != 0 {
		t.Fatal("oversize message delivered")
	}

	// RFC 1870: a declared SIZE over the limit is refused at MAIL.
	wantReply(t, c.Mail("alice@example.org", &smtp.MailOptions{Size: limit + 1}), 552, [3]int{5, 3, 4})

	// Boundary (see package doc): limit-1 octets pass, limit octets do not.
	for _, tc := range []struct {
		size int
		ok   bool
	}{{limit - 1, true}, {limit, false}} {
		msg := "Subject: x\r\n\r\n" + strings.Repeat("a", tc.size-len("Subject: x\r\n\r\n")-2) + "\r\n"
		_, err := send(c, "alice@example.org", []string{"team@lists.example"}, msg)
		if tc.ok && err != nil {
			t.Errorf("size %d: %v", tc.size, err)
		}
		if !tc.ok {
			wantReply(t, err, 552, [3]int{5, 3, 4})
		}
		c.Reset()
	}
	if n := len(rec.deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

// BDAT (RFC 3030) chunks over the limit are refused before they reach the
// Backend.
func TestOversizeBDAT(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{MaxMessageBytes: 100})
	tc := ts.raw(t)
	for _, cmd := range []string{"EHLO raw.example", "MAIL FROM:<alice@example.org>", "RCPT TO:<team@lists.example>"} {
		if code, msg := rawCmd(t, tc, "%s", cmd); code != 250 {
			t.Fatalf("%s: %d %s", cmd, code, msg)
		}
	}
	chunk := strings.Repeat("x", 200)
	fmt.Fprintf(tc.W, "BDAT %d LAST\r\n%s", len(chunk), chunk)
	tc.W.Flush()
	code, msg, _ := tc.ReadResponse(0)
	if code != 552 || !strings.HasPrefix(msg, "5.3.4") {
		t.Errorf("BDAT over limit: %d %s", code, msg)
	}

	// A BDAT message within the limit is delivered with the queue ID.
	for _, cmd := range []string{"MAIL FROM:<alice@example.org>", "RCPT TO:<team@lists.example>"} {
		if code, msg := rawCmd(t, tc, "%s", cmd); code != 250 {
			t.Fatalf("%s: %d %s", cmd, code, msg)
		}
	}
	fmt.Fprintf(tc.W, "BDAT 4 LAST\r\nhi\r\n")
	tc.W.Flush()
	code, msg, _ = tc.ReadResponse(0)
	if code != 250 || !strings.Contains(msg, "Ok: queued as id-") {
		t.Errorf("BDAT within limit: %d %s", code, msg)
	}
	if got := rec.deliveries(); len(got) != 1 || string(got[0].raw) != "hi\r\n" {
		t.Errorf("deliveries %q", got)
	}
}

func TestLineTooLong(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{})
	tc := ts.raw(t)
	for _, cmd := range []string{"EHLO raw.example", "MAIL FROM:<alice@example.org>", "RCPT TO:<team@lists.example>"} {
		if code, msg := rawCmd(t, tc, "%s", cmd); code != 250 {
			t.Fatalf("%s: %d %s", cmd, code, msg)
		}
	}
	if code, _ := rawCmd(t, tc, "DATA"); code != 354 {
		t.Fatalf("DATA: %d", code)
	}
	fmt.Fprintf(tc.W, "Subject: long\r\n\r\n%s\r\n.\r\n", strings.Repeat("x", 5000))
	tc.W.Flush()
	code, msg, _ := tc.ReadResponse(0)
	if code != 500 || !strings.HasPrefix(msg, "5.5.2 Line too long") {
		t.Errorf("got %d %s, want 500 5.5.2", code, msg)
	}
	if len(rec.deliveries()) != 0 {
		t.Error("delivered")
	}
}

func TestTooManyRecipients(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"a@lists.example": true, "b@lists.example": true, "c@lists.example": true}}
	ts := start(t, rec, Options{MaxRecipients: 2})
	c := ts.dial(t)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a@lists.example", "b@lists.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantReply(t, c.Rcpt("c@lists.example", nil), 452, [3]int{4, 5, 3})
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(testMsg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := rec.deliveries()
	if len(got) != 1 || strings.Join(got[0].env.To, ",") != "a@lists.example,b@lists.example" {
		t.Errorf("deliveries %+v", got)
	}
}

// DATA with no accepted recipient never reaches the Backend. go-smtp's
// reply is pinned here (see the package doc's known divergences).
func TestNoValidRecipients(t *testing.T) {
	rec := &recorder{}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt("nobody@lists.example", nil), 550, [3]int{5, 1, 1})
	se := wantReply(t, dataErr(c), 502, [3]int{5, 5, 1})
	if se.Message != "Missing RCPT TO command." {
		t.Errorf("reply text %q", se.Message)
	}
	if len(rec.deliveries()) != 0 {
		t.Error("delivered")
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("RSET after refused DATA: %v", err)
	}
}

func TestMailFrom(t *testing.T) {
	cases := []struct {
		from string
		code int // 0: accepted
	}{
		{"", 0}, // null reverse-path, RFC 5321 §4.5.5
		{"alice@example.org", 0},
		{"alice@[192.0.2.1]", 0},
		{"bounce+x=y@mail_out.example.org", 0}, // QUIRK(senders): underscore
		{"alice@bad..example", 501},
		{"alice@-bad.example", 501},
		{strings.Repeat("a", 65) + "@example.org", 501},
		{"alice@" + strings.Repeat("a", 64) + ".example", 501},
	}
	rec := &recorder{}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	for _, tc := range cases {
		err := c.Mail(tc.from, nil)
		if tc.code == 0 {
			if err != nil {
				t.Errorf("MAIL FROM:<%s>: %v", tc.from, err)
			}
			c.Reset()
			continue
		}
		wantReply(t, err, 501, [3]int{5, 1, 7})
	}
}

// RFC 5321 §4.1.4: a second MAIL inside a transaction is out of sequence.
func TestNestedMail(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("team@lists.example", nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Mail("mallory@example.org", nil), 503, [3]int{5, 5, 1})
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(testMsg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.deliveries(); len(got) != 1 || got[0].env.From != "alice@example.org" {
		t.Errorf("deliveries %+v", got)
	}
}

func TestNoAuthOffered(t *testing.T) {
	ts := start(t, &recorder{}, Options{})
	c := ts.dial(t)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH advertised")
	}
	tc := ts.raw(t)
	rawCmd(t, tc, "EHLO raw.example")
	if code, _ := rawCmd(t, tc, "AUTH PLAIN AGFsaWNlAHNlY3JldA=="); code/100 != 5 {
		t.Errorf("AUTH answered %d", code)
	}
}

func TestConcurrentClients(t *testing.T) {
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := smtp.Dial(ts.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			msg := fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)
			if _, err := send(c, "alice@example.org", []string{"team@lists.example"}, msg); err != nil {
				errs <- err
			}
			c.Quit()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := rec.deliveries()
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.env.ID] = true
	}
	if len(got) != n || len(ids) != n {
		t.Errorf("%d deliveries with %d distinct IDs, want %d", len(got), len(ids), n)
	}
}

// Every log line carries the attribute msgid (DESIGN, STYLE §12).
func TestLogLinesCarryMsgID(t *testing.T) {
	rec := &recorder{
		serves:  map[string]bool{"team@lists.example": true},
		rcptErr: map[string]error{"broken@lists.example": errors.New("boom")},
		panicOn: "PANIC",
	}
	ts := start(t, rec, Options{})
	c := ts.dial(t)
	send(c, "alice@example.org", []string{"team@lists.example"}, testMsg)
	send(c, "alice@example.org", []string{"nobody@lists.example"}, testMsg)
	c.Reset()
	send(c, "alice@example.org", []string{"broken@lists.example"}, testMsg)
	c.Reset()
	send(c, "alice@example.org", []string{"team@lists.example"}, "PANIC\r\n")
	c.Reset()
	c.Mail("bad@bad..example", nil)
	c.Quit()

	lines := logLines(ts.logs)
	if len(lines) < 5 {
		t.Fatalf("only %d log lines:\n%s", len(lines), ts.logs)
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if id, ok := m["msgid"].(string); !ok || id == "" {
			t.Errorf("line without msgid: %s", line)
		}
	}
}

// ReadTimeout bounds each pause in the data, not the whole message
// (RFC 5321 §4.5.3.2). The pauses are well below the timeout; their sum is
// well above it.
func TestReadTimeoutPerDataBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const timeout = time.Second
	rec := &recorder{serves: map[string]bool{"team@lists.example": true}}
	ts := start(t, rec, Options{ReadTimeout: timeout})
	c := ts.dial(t)
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("team@lists.example", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	piece := strings.Repeat(strings.Repeat("x", 98)+"\r\n", 50) // > blockSize
	var want strings.Builder
	for range 4 {
		if _, err := io.WriteString(w, piece); err != nil {
			t.Fatal(err)
		}
		want.WriteString(piece)
		time.Sleep(timeout * 2 / 5)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("slow but steady client: %v", err)
	}
	if got := rec.deliveries(); len(got) != 1 || string(got[0].raw) != want.String() {
		t.Errorf("delivered %d messages", len(got))
	}
}
