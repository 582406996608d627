package pgp

import (
	"bytes"
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/srctest"
)

// crcLine is the armor checksum line (RFC 9580 §6.1) right before an
// armor tail line.
var crcLine = regexp.MustCompile(`(?m)^=[A-Za-z0-9+/]{4}\r?\n-----END PGP `)

// TestArmoredOutputsReadInGPG: every kind of armor the engine writes
// carries the CRC24 line and is read by GnuPG 2.2 with exit status 0 —
// not only with a VALIDSIG, which gpg prints before failing with NODATA
// on a block without the line.
func TestArmoredOutputsReadInGPG(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	bob := mustParse(t, g.Export(g.GenKey("Bob <bob@example.org>")))
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fpr := list.Fingerprint()
	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Each output is made several times: whether GnuPG 2.2 misreads a
	// block without the line depends on the length of its data.
	for i := range 4 {
		ent := []byte(entity + strings.Repeat("x", i) + "\r\n")
		sig, err := DetachSign(list, ent, Options{})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := ClearSign(list, ent, Options{})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := signed.EncryptTo(bob, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			armor []byte
			r     gpgtest.Result
		}{
			{"detached signature", sig, g.Run(nil, "--verify", write("sig.asc", sig), write("data", mime.Canonicalize(ent)))},
			{"cleartext signature", cs, g.Run(cs, "--verify")},
			{"encrypted copy", enc, g.Run(enc, "--decrypt")},
		} {
			if !crcLine.Match(c.armor) {
				t.Errorf("%s %d: no CRC24 line:\n%s", c.name, i, c.armor)
			}
			if !c.r.Verified(fpr) {
				t.Errorf("%s %d: %s", c.name, i, c.r.Report())
			}
		}
	}
	secret, err := list.ArmoredSecret()
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string][]byte{"public key": list.Armored(), "secret key": secret} {
		if !crcLine.Match(key) {
			t.Errorf("%s: no CRC24 line", name)
		}
		if r := g.Run(key, "--import"); r.ExitCode() != 0 {
			t.Errorf("%s: %s", name, r.Report())
		}
	}
}

// TestClearSignText: the cleartext signature shows the text as it was
// signed: dash-escaped, trailing whitespace dropped (RFC 9580 §7.2),
// line ends kept, the last one too. gpg and the engine's own inline
// reader both verify it and give the text back.
func TestClearSignText(t *testing.T) {
	g := gpgtest.New(t)
	k := newListKey(t)
	g.Import(k.Armored())
	for _, c := range []struct{ in, want string }{
		{"Sign this, please.\n- and this dash line\n", "Sign this, please.\n- and this dash line\n"},
		{"trailing \t\r\n-----BEGIN PGP MESSAGE-----\r\n", "trailing\n-----BEGIN PGP MESSAGE-----\n"},
		{"no final line end", "no final line end"},
		{"Grüße, ünïcödé\n", "Grüße, ünïcödé\n"},
	} {
		signed, err := ClearSign(k, []byte(c.in), Options{})
		if err != nil {
			t.Fatal(err)
		}
		// gpg prints the line end before the signature block too.
		r := g.Run(signed, "--decrypt")
		if !r.Verified(k.Fingerprint()) || string(r.Stdout) != c.want+"\n" {
			t.Errorf("%q: gpg gives %q\n%s", c.in, r.Stdout, r.Report())
		}
		text, u := clearSigned(signed, keyringFor(k, nil, Options{}), Options{})
		if u == nil || u.Signer == nil || u.Signer.Fingerprint != k.Fingerprint() {
			t.Errorf("%q: the engine does not verify it: %+v", c.in, u)
		}
		if want := strings.ReplaceAll(c.want, "\n", "\r\n") + "\r\n"; string(text) != want {
			t.Errorf("%q: the engine reads %q, want %q", c.in, text, want)
		}
	}
}

// TestOneArmorWriter: nothing in the engine writes armor but
// armorWriter, so no output can be written without the CRC24 line that
// GnuPG 2.2 needs. A new writer (ArmoredDetachSign, clearsign.Encode,
// armor.Encode...) fails here.
func TestOneArmorWriter(t *testing.T) {
	writers := map[string][]string{
		"armor":     {"Encode"},
		"clearsign": {"Encode"},
		"openpgp":   {"Armored"},
	}
	fset, files := srctest.Files(t)
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if fn, ok := n.(*ast.FuncDecl); ok && fn.Name.Name == "armorWriter" {
				return false
			}
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok {
				for _, prefix := range writers[pkg.Name] {
					if strings.HasPrefix(sel.Sel.Name, prefix) {
						t.Errorf("%s: %s.%s writes armor; only armorWriter may", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
}

// TestArmorWriterMatchesLibrary: armorWriter writes the bytes of the
// library's armor encoder with the checksum, for every length around the
// line and base64 group boundaries, however the data is cut into writes.
func TestArmorWriterMatchesLibrary(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	lengths := []int{0, 1, 2, 3, 4, 47, 48, 49, 95, 96, 97, 143, 144, 145, 1000, 5000}
	for _, n := range lengths {
		var want bytes.Buffer
		lw, err := armor.EncodeWithChecksumOption(&want, "PGP MESSAGE", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		lw.Write(data[:n])
		lw.Close()
		for _, cut := range []int{1, 5, 48, 64, 1000} {
			var got bytes.Buffer
			w, err := armorWriter(&got, "PGP MESSAGE")
			if err != nil {
				t.Fatal(err)
			}
			for rest := data[:n]; len(rest) > 0; {
				k := min(cut, len(rest))
				if _, err := w.Write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("%d bytes in writes of %d:\n%s\nwant\n%s", n, cut, got.Bytes(), want.Bytes())
			}
		}
	}
}

// TestCRC24: the table-driven checksum, eight bytes at a time, equals
// RFC 9580 §6.1's bit-by-bit definition for every length up to a few
// times the stride and however the data is split.
func TestCRC24(t *testing.T) {
	bitwise := func(d []byte) uint32 {
		crc := uint32(crc24Init)
		for _, b := range d {
			crc ^= uint32(b) << 16
			for range 8 {
				crc <<= 1
				if crc&0x1000000 != 0 {
					crc ^= crc24Poly
				}
			}
		}
		return crc & 0xffffff
	}
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*131 + i/7)
	}
	for n := range len(data) {
		want := bitwise(data[:n])
		if got := crc24(crc24Init, data[:n]); got != want {
			t.Fatalf("%d bytes: crc24 = %06x, want %06x", n, got, want)
		}
		for cut := range n {
			if got := crc24(crc24(crc24Init, data[:cut]), data[cut:n]); got != want {
				t.Fatalf("%d bytes split at %d: crc24 = %06x, want %06x", n, cut, got, want)
			}
		}
	}
}
