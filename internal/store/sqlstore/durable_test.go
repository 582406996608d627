package sqlstore

import (
	"go/ast"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/srctest"
)

// TestEveryWriteIsSynced: the database commits without an fsync
// (synchronous=NORMAL) and a write is durable only through tx or exec,
// which wait for the group's fsync (DESIGN §5). Every non-test source
// file of the package is walked: a transaction begun or a statement run
// straight on the *sql.DB outside those two, or a query that writes
// (INSERT, UPDATE, DELETE, REPLACE, PRAGMA with a value) run through
// QueryRowContext or QueryContext on it, fails the test, as does such a
// query whose text is not a literal the test can read.
func TestEveryWriteIsSynced(t *testing.T) {
	fset, parsed := srctest.Files(t)
	values := map[string]ast.Expr{} // the package's string constants and variables
	for _, f := range parsed {
		for _, decl := range f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok {
				for _, spec := range g.Specs {
					if v, ok := spec.(*ast.ValueSpec); ok && len(v.Names) == len(v.Values) {
						for i, n := range v.Names {
							values[n.Name] = v.Values[i]
						}
					}
				}
			}
		}
	}
	// synced are the functions that run what they are given and then
	// wait for the fsync.
	synced := map[string]bool{"tx": true, "txAt": true, "exec": true, "writeRow": true}
	// helpers are the functions that run a query they are given: their
	// callers' queries are checked in their place.
	helpers := map[string]int{} // function name → index of its query parameter
	type site struct {
		at    token.Position
		fn    string
		query ast.Expr
		body  *ast.BlockStmt
	}
	var queries []site
	eachCall(parsed, func(fn *ast.FuncDecl, call *ast.CallExpr) {
		method, ok := onDB(call)
		if !ok {
			return
		}
		at := fset.Position(call.Pos())
		switch method {
		case "ExecContext", "Exec":
			if !synced[fn.Name.Name] {
				t.Errorf("%s: %s runs a statement on the database outside exec: not synced", at, fn.Name.Name)
			}
		case "BeginTx", "Begin", "Conn", "PrepareContext", "Prepare":
			// migrateLocked holds PostgreSQL's advisory lock on a
			// connection and migrates through tx; CopyTo reads its
			// source in one read-only transaction.
			if !synced[fn.Name.Name] && fn.Name.Name != "migrateLocked" && fn.Name.Name != "CopyTo" {
				t.Errorf("%s: %s calls %s on the database outside tx: not synced", at, fn.Name.Name, method)
			}
		case "QueryRowContext", "QueryContext", "QueryRow", "Query":
			if len(call.Args) < 2 {
				t.Errorf("%s: %s: a query without its text", at, fn.Name.Name)
				return
			}
			if synced[fn.Name.Name] {
				return
			}
			if id, ok := call.Args[1].(*ast.Ident); ok {
				if i := paramIndex(fn, id.Name); i >= 0 {
					helpers[fn.Name.Name] = i
					return
				}
			}
			queries = append(queries, site{at, fn.Name.Name, call.Args[1], fn.Body})
		}
	})
	// The queries the helpers are called with.
	eachCall(parsed, func(fn *ast.FuncDecl, call *ast.CallExpr) {
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return
		}
		if i, ok := helpers[sel.Sel.Name]; ok && i < len(call.Args) {
			queries = append(queries, site{fset.Position(call.Pos()), fn.Name.Name, call.Args[i], fn.Body})
		}
	})
	for _, q := range queries {
		texts, ok := texts(q.query, q.body, values)
		if !ok {
			t.Errorf("%s: %s: the query's text cannot be read; a write must go through tx or exec", q.at, q.fn)
		}
		for _, s := range texts {
			if writes(s) {
				t.Errorf("%s: %s writes outside tx and exec: not synced: %.60s", q.at, q.fn, s)
			}
		}
	}
}

// eachCall calls visit with every call in the files' function bodies and
// the function it is in.
func eachCall(files []*ast.File, visit func(fn *ast.FuncDecl, call *ast.CallExpr)) {
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					visit(fn, call)
				}
				return true
			})
		}
	}
}

// paramIndex is the index of fn's parameter name, or -1 (the receiver
// is not counted).
func paramIndex(fn *ast.FuncDecl, name string) int {
	i := 0
	for _, field := range fn.Type.Params.List {
		for _, n := range field.Names {
			if n.Name == name {
				return i
			}
			i++
		}
	}
	return -1
}

// texts are the texts a query expression can have: a local variable's
// every assignment (not its += additions, which only add clauses) in
// body, or the one text of anything else.
func texts(e ast.Expr, body *ast.BlockStmt, values map[string]ast.Expr) ([]string, bool) {
	if id, ok := e.(*ast.Ident); ok {
		if _, global := values[id.Name]; !global {
			var out []string
			all := true
			ast.Inspect(body, func(n ast.Node) bool {
				as, ok := n.(*ast.AssignStmt)
				if !ok || (as.Tok != token.DEFINE && as.Tok != token.ASSIGN) || len(as.Lhs) != len(as.Rhs) {
					return true
				}
				for i, l := range as.Lhs {
					if lid, ok := l.(*ast.Ident); ok && lid.Name == id.Name {
						s, ok := text(as.Rhs[i], values)
						all = all && ok
						out = append(out, s)
					}
				}
				return true
			})
			return out, all && len(out) > 0
		}
	}
	s, ok := text(e, values)
	return []string{s}, ok
}

// onDB returns the method of a call on s.db.
func onDB(call *ast.CallExpr) (string, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	recv, ok := sel.X.(*ast.SelectorExpr)
	if !ok || recv.Sel.Name != "db" {
		return "", false
	}
	return sel.Sel.Name, true
}

// text is the text of a query: a string literal, a package-level constant
// or variable, a concatenation or an fmt.Sprintf format of those. ok is
// false when its start cannot be read.
func text(e ast.Expr, values map[string]ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, e.Kind == token.STRING && err == nil
	case *ast.Ident:
		if v, ok := values[e.Name]; ok {
			return text(v, values)
		}
	case *ast.BinaryExpr:
		x, ok := text(e.X, values)
		if !ok {
			return "", false
		}
		y, _ := text(e.Y, values) // the rest may be built at run time
		return x + " " + y, true
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			return text(e.Args[0], values)
		}
	}
	return "", false
}

// writes reports whether an SQL statement changes the database.
func writes(q string) bool {
	q = strings.ToUpper(strings.TrimSpace(q))
	for _, w := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"} {
		if strings.HasPrefix(q, w) {
			return true
		}
	}
	return strings.HasPrefix(q, "PRAGMA") && strings.Contains(q, "=") || strings.Contains(q, "RETURNING")
}
