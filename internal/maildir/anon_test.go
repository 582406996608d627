package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeliverAllBothWays: DeliverAll delivers the same files whether it
// makes them unnamed and links them into new/ (O_TMPFILE, Linux) or
// names them in tmp/ and renames them; either way tmp/ is left empty and
// every file has mode 0600. On Linux the unnamed way is the one used.
func TestDeliverAllBothWays(t *testing.T) {
	for _, anon := range []bool{true, false} {
		t.Run(fmt.Sprint("anon=", anon), func(t *testing.T) {
			o, err := Open(filepath.Join(t.TempDir(), "outbox"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !anon {
				o.anonOnce.Do(func() {}) // as where O_TMPFILE is missing
			} else if !o.canOpenAnon() {
				if runtime.GOOS == "linux" {
					t.Fatal("no unnamed files on Linux")
				}
				t.Skip("no O_TMPFILE here")
			}
			var msgs []Message
			for i := range 20 {
				msgs = append(msgs, Message{From: "b@x.org", Rcpt: fmt.Sprintf("m%d@x.org", i), Data: []byte(fmt.Sprintf("Subject: %d\r\n\r\n", i))})
			}
			for i, err := range o.DeliverAll(msgs) {
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			files, _ := filepath.Glob(filepath.Join(o.dir, "new", "*"))
			if len(files) != len(msgs) {
				t.Fatalf("new/ has %d files, want %d", len(files), len(msgs))
			}
			seen := map[string]bool{}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				fi, _ := os.Stat(f)
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", f, fi.Mode().Perm())
				}
				for _, m := range msgs {
					if strings.Contains(string(b), "<"+m.Rcpt+">") && strings.HasSuffix(string(b), string(m.Data)) {
						seen[m.Rcpt] = true
					}
				}
			}
			if len(seen) != len(msgs) {
				t.Errorf("%d of %d messages found whole", len(seen), len(msgs))
			}
			if left, _ := os.ReadDir(filepath.Join(o.dir, "tmp")); len(left) != 0 {
				t.Errorf("tmp/ not empty: %d entries", len(left))
			}
		})
	}
}
