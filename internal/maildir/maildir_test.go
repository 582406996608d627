package maildir_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/maildir"
	"github.com/sealpost/sealpost/internal/srctest"
)

// openTemp opens an Outbox in a fresh directory below t.TempDir.
func openTemp(t *testing.T, opt maildir.Options) *maildir.Outbox {
	t.Helper()
	o, err := maildir.Open(filepath.Join(t.TempDir(), "outbox"), opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return o
}

// names lists the file names in one Maildir subdirectory.
func names(t *testing.T, o *maildir.Outbox, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(o.Dir(), sub))
	if err != nil {
		t.Fatalf("ReadDir %s: %v", sub, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestOpenCreatesDirectories(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "outbox")
	o, err := maildir.Open(dir, maildir.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if o.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", o.Dir(), dir)
	}
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatalf("stat %q: %v", sub, err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%q: mode %v, want directory 0700", sub, fi.Mode())
		}
	}
	// Opening an existing Maildir again is fine.
	if _, err := maildir.Open(dir, maildir.Options{}); err != nil {
		t.Errorf("second Open: %v", err)
	}
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := maildir.Open("", maildir.Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestDeliverContent(t *testing.T) {
	tests := []struct {
		name, from, rcpt string
		msg              string
		want             string
	}{{
		name: "ordinary",
		from: "team@lists.example.org", rcpt: "bob@example.net",
		msg:  "Subject: hi\r\n\r\nhello\r\n",
		want: "Return-Path: <team@lists.example.org>\r\nDelivered-To: <bob@example.net>\r\nSubject: hi\r\n\r\nhello\r\n",
	}, {
		name: "null sender",
		from: "", rcpt: "owner@example.org",
		msg:  "Subject: bounce\r\n\r\nx\r\n",
		want: "Return-Path: <>\r\nDelivered-To: <owner@example.org>\r\nSubject: bounce\r\n\r\nx\r\n",
	}, {
		name: "bytes kept unchanged",
		from: "a@example.org", rcpt: "b@example.org",
		msg:  "Subject: raw\n\n.dot\r\nno final newline \xff",
		want: "Return-Path: <a@example.org>\r\nDelivered-To: <b@example.org>\r\nSubject: raw\n\n.dot\r\nno final newline \xff",
	}, {
		name: "quoted local part and UTF-8",
		from: `"john doe"@example.org`, rcpt: "jörg@example.de",
		msg:  "\r\n",
		want: "Return-Path: <\"john doe\"@example.org>\r\nDelivered-To: <jörg@example.de>\r\n\r\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := openTemp(t, maildir.Options{})
			name, err := o.Deliver(tc.from, tc.rcpt, []byte(tc.msg))
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			path := filepath.Join(o.Dir(), "new", name)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("content = %q, want %q", got, tc.want)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
			}
			if left := names(t, o, "tmp"); len(left) != 0 {
				t.Errorf("tmp/ not empty after delivery: %q", left)
			}
			if cur := names(t, o, "cur"); len(cur) != 0 {
				t.Errorf("cur/ not empty: %q", cur)
			}
		})
	}
}

func TestDeliverName(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	o := openTemp(t, maildir.Options{
		Now:      func() time.Time { return now },
		Hostname: "mx/1:a.example.org",
		Rand:     bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)),
	})
	want := []string{
		fmt.Sprintf(`1700000000.%d_1_abababababababab.mx\0571\072a.example.org`, os.Getpid()),
		fmt.Sprintf(`1700000000.%d_2_abababababababab.mx\0571\072a.example.org`, os.Getpid()),
	}
	for i, w := range want {
		got, err := o.Deliver("a@example.org", "b@example.org", []byte("\r\n"))
		if err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
		if got != w {
			t.Errorf("name %d = %q, want %q", i, got, w)
		}
	}
	// The random source is exhausted now: the error is reported and
	// nothing is left behind.
	if _, err := o.Deliver("a@example.org", "b@example.org", []byte("\r\n")); err == nil {
		t.Error("Deliver with exhausted Rand succeeded")
	}
	if left := names(t, o, "tmp"); len(left) != 0 {
		t.Errorf("tmp/ not empty: %q", left)
	}
}

func TestDeliverDefaultName(t *testing.T) {
	o := openTemp(t, maildir.Options{})
	name, err := o.Deliver("a@example.org", "b@example.org", []byte("\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(fmt.Sprintf(`^\d{10,}\.%d_1_[0-9a-f]{16}\.[^/:]+$`, os.Getpid()))
	if !re.MatchString(name) {
		t.Errorf("name %q does not match %v", name, re)
	}
}

func TestDeliverRefusesInjection(t *testing.T) {
	tests := []struct {
		name, from, rcpt string
	}{
		{"CRLF in sender", "a@example.org>\r\nBcc: x@evil.example", "b@example.org"},
		{"LF in sender", "a@example.org\nX: y", "b@example.org"},
		{"CR in recipient", "a@example.org", "b@example.org\rX: y"},
		{"CRLF in recipient", "a@example.org", "b@example.org>\r\nSubject: pwned"},
		{"> in sender", "a@example.org> x", "b@example.org"},
		{"> in recipient", "a@example.org", "b>@example.org"},
		{"< in recipient", "a@example.org", "<b@example.org"},
		{"NUL in recipient", "a@example.org", "b\x00@example.org"},
		{"empty recipient", "a@example.org", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := openTemp(t, maildir.Options{})
			name, err := o.Deliver(tc.from, tc.rcpt, []byte("Subject: x\r\n\r\n"))
			if !errors.Is(err, maildir.ErrInvalidAddress) {
				t.Fatalf("Deliver = %q, %v; want ErrInvalidAddress", name, err)
			}
			for _, sub := range []string{"tmp", "new", "cur"} {
				if left := names(t, o, sub); len(left) != 0 {
					t.Errorf("%s/ not empty: %q", sub, left)
				}
			}
		})
	}
}

func TestDeliverConcurrent(t *testing.T) {
	const workers, each = 16, 25
	dir := filepath.Join(t.TempDir(), "outbox")
	// Two Outboxes on one directory stand in for two processes; both get
	// the same clock so that only the unique part tells names apart.
	now := func() time.Time { return time.Unix(1700000000, 0) }
	var boxes [2]*maildir.Outbox
	for i := range boxes {
		o, err := maildir.Open(dir, maildir.Options{Now: now, Hostname: "host"})
		if err != nil {
			t.Fatal(err)
		}
		boxes[i] = o
	}

	var (
		mu   sync.Mutex
		seen = map[string]string{} // name -> recipient
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			o := boxes[w%len(boxes)]
			for i := range each {
				rcpt := fmt.Sprintf("m%d-%d@example.org", w, i)
				name, err := o.Deliver("list@example.org", rcpt, []byte("Subject: x\r\n\r\n"+rcpt+"\r\n"))
				if err != nil {
					t.Errorf("Deliver: %v", err)
					return
				}
				mu.Lock()
				if prev, dup := seen[name]; dup {
					t.Errorf("name %q returned for %s and %s", name, prev, rcpt)
				}
				seen[name] = rcpt
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	files := names(t, boxes[0], "new")
	if len(files) != workers*each || len(seen) != workers*each {
		t.Fatalf("new/ holds %d files, %d names returned; want %d", len(files), len(seen), workers*each)
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, "new", name))
		if err != nil {
			t.Fatal(err)
		}
		rcpt := seen[name]
		if !bytes.Contains(b, []byte("Delivered-To: <"+rcpt+">\r\n")) || !bytes.HasSuffix(b, []byte(rcpt+"\r\n")) {
			t.Errorf("%s: content does not belong to %s: %q", name, rcpt, b)
		}
	}
	if left := names(t, boxes[0], "tmp"); len(left) != 0 {
		t.Errorf("tmp/ not empty: %q", left)
	}
}

// TestDeliverAll: a batch lands complete in new/, each file with its own
// envelope, nothing left in tmp/.
func TestDeliverAll(t *testing.T) {
	dir := t.TempDir()
	o, err := maildir.Open(dir, maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := []maildir.Message{
		{From: "list-bounce@x.org", Rcpt: "a@x.org", Data: []byte("Subject: a\r\n\r\na\r\n")},
		{From: "list-bounce@x.org", Rcpt: "bad\r\nInjected: yes", Data: []byte("x")},
		{From: "", Rcpt: "b@x.org", Data: []byte("Subject: b\r\n\r\nb\r\n")},
	}
	errs := o.DeliverAll(msgs)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], maildir.ErrInvalidAddress) {
		t.Fatalf("errs = %v", errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	if len(files) != 2 {
		t.Fatalf("new/ has %d files, want 2", len(files))
	}
	var got []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		got = append(got, string(b))
	}
	sort.Strings(got)
	want := []string{
		"Return-Path: <>\r\nDelivered-To: <b@x.org>\r\nSubject: b\r\n\r\nb\r\n",
		"Return-Path: <list-bounce@x.org>\r\nDelivered-To: <a@x.org>\r\nSubject: a\r\n\r\na\r\n",
	}
	sort.Strings(want)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("file %d = %q, want %q", i, got[i], want[i])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
}

// TestNoFileSystemSync: issue 17. The outbox makes its files durable with
// fsyncs of its own files and directories, never with syncfs(2) or
// sync(2), which flush the whole file system: their cost would depend on
// what other programs write. Every source file of the package, for every
// platform, is checked.
func TestNoFileSystemSync(t *testing.T) {
	fset, files := srctest.Files(t)
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "unix" || pkg.Name == "syscall") &&
					(sel.Sel.Name == "Syncfs" || sel.Sel.Name == "Sync") {
					t.Errorf("%s: %s.%s flushes the whole file system", fset.Position(call.Pos()), pkg.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}

// TestDeliverAllWrite: a message written by its Write lands like one
// given whole; a Write that fails fails that message only, with its own
// error (errors.Is finds it), and leaves no file behind in tmp/ or new/.
func TestDeliverAllWrite(t *testing.T) {
	dir := t.TempDir()
	o, err := maildir.Open(dir, maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("the copy cannot be made")
	msgs := []maildir.Message{
		{From: "list-bounce@x.org", Rcpt: "a@x.org", Write: func(w io.Writer) error {
			for _, s := range []string{"Subject: a\r\n", "\r\n", "a\r\n"} {
				if _, err := io.WriteString(w, s); err != nil {
					return err
				}
			}
			return nil
		}},
		{From: "list-bounce@x.org", Rcpt: "b@x.org", Write: func(w io.Writer) error {
			io.WriteString(w, "Subject: half")
			return refused
		}},
	}
	errs := o.DeliverAll(msgs)
	if errs[0] != nil || !errors.Is(errs[1], refused) {
		t.Fatalf("errs = %v", errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	if len(files) != 1 {
		t.Fatalf("new/ has %d files, want 1", len(files))
	}
	b, _ := os.ReadFile(files[0])
	if want := "Return-Path: <list-bounce@x.org>\r\nDelivered-To: <a@x.org>\r\nSubject: a\r\n\r\na\r\n"; string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
}
