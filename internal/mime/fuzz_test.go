package mime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// FuzzParse checks that Parse never panics and that every part of the
// resulting tree aliases the input exactly where the structure says.
func FuzzParse(f *testing.F) {
	seeds := []string{
		signedLF,
		crlf(signedLF),
		signedMixed,
		nested(4),
		"Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\nA\n--abcd\n--abc--x\n--abc\n\nB\n",
		"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: m\r\n\r\n--d--",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n",
		"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\na=3Db=\nc\n",
		"From - x\nSubject: y",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// Every message of the corpus is a seed too.
	for _, path := range corpusMessages() {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		p, err := Parse(in, Limits{MaxParts: 200, MaxDepth: 8})
		if !bytes.Equal(in, orig) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			return
		}
		checkTree(t, in, p)
		_ = Tree(p)
		walk(p, func(c *Part) {
			_, _ = c.Decoded(int64(len(c.Body)))
		})
	})
}

// walk calls fn for p and all its descendants, depth first.
func walk(p *Part, fn func(*Part)) {
	fn(p)
	for _, c := range p.Children {
		walk(c, fn)
	}
}

// offset returns where s starts inside in, or -1 when s is not a subslice
// of in. An empty s has no meaningful position and yields 0.
func offset(in, s []byte) int {
	if len(s) == 0 {
		return 0
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	ptr := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	if ptr < base || ptr+uintptr(len(s)) > base+uintptr(len(in)) {
		return -1
	}
	return int(ptr - base)
}

// checkTree checks that p, parsed from in, and its descendants alias in:
// Raw is RawHeader followed by Body, every slice is capped, children lie
// in order inside the parent's Body, each right after a delimiter line and
// right before the line break of the next delimiter.
func checkTree(t *testing.T, in []byte, p *Part) {
	t.Helper()
	if offset(in, p.Raw) < 0 {
		t.Fatalf("Raw %q is not a subslice of the input", p.Raw)
	}
	checkPart(t, in, p)
}

// checkPart checks one part and recurses into its children. An empty
// slice carries no position (Go keeps the base pointer when slicing to
// capacity 0), so only non-empty slices are located.
func checkPart(t *testing.T, in []byte, p *Part) {
	t.Helper()
	for _, s := range [][]byte{p.Raw, p.RawHeader, p.Body, p.Preamble, p.Epilogue} {
		if offset(in, s) < 0 || cap(s) != len(s) {
			t.Fatalf("slice %q is not a capped subslice of the input", s)
		}
	}
	if len(p.RawHeader)+len(p.Body) != len(p.Raw) ||
		!bytes.Equal(p.Raw, append(bytes.Clone(p.RawHeader), p.Body...)) {
		t.Fatalf("Raw %q is not RawHeader %q + Body %q", p.Raw, p.RawHeader, p.Body)
	}
	raw := offset(in, p.Raw)
	if len(p.RawHeader) > 0 && offset(in, p.RawHeader) != raw ||
		len(p.Body) > 0 && offset(in, p.Body) != raw+len(p.RawHeader) {
		t.Fatalf("RawHeader %q and Body %q do not alias Raw", p.RawHeader, p.Body)
	}
	if p.IsMultipart() != (p.Children != nil) || (p.IsMultipart() && len(p.Children) == 0) {
		t.Fatalf("%s has %d children", p.MediaType, len(p.Children))
	}
	checkChildren(t, in, p)
	for _, c := range p.Children {
		checkPart(t, in, c)
	}
}

// checkChildren checks where the non-empty children of multipart p lie in
// its Body.
func checkChildren(t *testing.T, in []byte, p *Part) {
	t.Helper()
	dash := []byte("--" + p.Params["boundary"])
	body := offset(in, p.Body)
	next := body
	for _, c := range p.Children {
		if len(c.Raw) == 0 {
			continue
		}
		start := offset(in, c.Raw)
		end := start + len(c.Raw)
		if start < next || end > body+len(p.Body) {
			t.Fatalf("child %q outside the parent body or out of order", c.Raw)
		}
		if in[start-1] != '\n' {
			t.Fatalf("child %q does not start after a line break", c.Raw)
		}
		after := in[end : body+len(p.Body)]
		atDelim := bytes.HasPrefix(after, append([]byte("\n"), dash...)) ||
			bytes.HasPrefix(after, append([]byte("\r\n"), dash...))
		if !atDelim && len(after) != 0 {
			t.Fatalf("child %q is followed by %q, not a delimiter", c.Raw, after)
		}
		next = end
	}
}

// readCorpus reads a file of the shared corpus.
func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// corpusMessages lists the .eml files of ../shared/corpus (none when it
// is absent).
func corpusMessages() []string {
	var out []string
	filepath.WalkDir(filepath.Join("..", "..", "..", "shared", "corpus"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".eml" {
			out = append(out, path)
		}
		return nil
	})
	return out
}
