package mime

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// corpusDir is the shared test corpus, relative to this package.
const corpusDir = "../../../shared/corpus"

// TestTreeGolden parses every .eml file of the shared corpus and compares
// its Tree (or parse error) with testdata/golden/<path>.tree.
func TestTreeGolden(t *testing.T) {
	files := corpusFiles(t)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(corpusDir, rel))
			if err != nil {
				t.Fatal(err)
			}
			got := treeOrError(raw)
			checkGolden(t, goldenPath(rel), got)
		})
	}
}

// corpusFiles returns the .eml files under corpusDir, relative to it, or
// skips the test when the corpus is absent.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".eml") {
			return err
		}
		rel, err := filepath.Rel(corpusDir, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("corpus has no .eml files")
	}
	return files
}

// treeOrError returns Tree of the parsed raw, or the parse error as text.
func treeOrError(raw []byte) string {
	p, err := Parse(raw, Limits{})
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return Tree(p)
}

// goldenPath maps a corpus path such as "a/b/c.eml" to
// "testdata/golden/a__b__c.tree".
func goldenPath(rel string) string {
	name := strings.ReplaceAll(strings.TrimSuffix(rel, ".eml"), "/", "__")
	return filepath.Join("testdata", "golden", name+".tree")
}

// checkGolden compares got with the golden file, rewriting it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("Tree mismatch for %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestTree(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "default text/plain",
			in:   "Subject: x\r\n\r\nhello\r\n",
			want: "text/plain cte=7bit len=7\n",
		},
		{
			name: "params sorted, boundary omitted",
			in: "Content-Type: multipart/signed; protocol=\"application/pgp-signature\";\r\n" +
				" micalg=pgp-sha256; boundary=b\r\n\r\n" +
				"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nhi\r\n" +
				"--b\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\nSIG\r\n--b--\r\n",
			want: "multipart/signed micalg=\"pgp-sha256\" protocol=\"application/pgp-signature\" cte=7bit len=179\n" +
				"  text/plain charset=\"utf-8\" cte=quoted-printable len=2\n" +
				"  application/pgp-signature name=\"signature.asc\" cte=7bit len=3\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := Tree(p); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
