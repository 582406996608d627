// Package srctest reads the Go source of the package under test, for the
// tests that check a rule over every source file of a package (nothing
// but armorWriter writes armour, every write is synced, nothing flushes
// the whole file system), so that a new file cannot escape the rule.
// Test support: only _test.go files import it.
package srctest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Files parses the .go files of the current directory (a test's own
// package) that are not tests, for every platform.
func Files(t testing.TB) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("srctest: no source files in the package's directory")
	}
	return fset, files
}
