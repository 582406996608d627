package archtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// layer is one row of the table in DESIGN §2.
type layer struct {
	name string
	pkgs []string // paths relative to the module's internal/ directory
}

// layerTable lists the layers of DESIGN §2, highest first. A package may
// import packages of its own layer and of the layers after it, never those
// of a layer before it. A new internal package must be added here (or to
// testSupport) before this test passes: where it sits is a decision.
func layerTable() []layer {
	return []layer{
		{"entry", []string{"cli"}},
		{"composition", []string{"app"}},
		{"interface", []string{"api", "web", "auth"}},
		{"use cases", []string{"admin"}},
		{"flow", []string{"pipeline", "policy", "queue"}},
		{"crypto", []string{"crypto", "crypto/pgp", "crypto/smime", "keyring"}},
		{"message", []string{"mime", "mail", "notices"}},
		{"transport", []string{"smtpserver", "smtpclient", "maildir", "wkd"}},
		{"state", []string{"store", "store/sqlstore"}},
		{"foundation", []string{"obs", "hostcheck"}},
	}
}

// testSupport lists the internal packages that exist for tests only
// (relative to internal/). They sit outside the layers and may import
// anything, but only _test.go files may import them.
func testSupport() []string {
	return []string{"gpgtest", "openssltest", "clienttest", "memtest", "benchdir", "postfixtest", "pgtest", "otptest", "oidctest", "srctest", "archtest"}
}

// binaryMain is the command whose link set must not contain testing,
// relative to the module root.
const binaryMain = "cmd/sealpost"

// ban forbids a set of packages from importing another set. Patterns are
// full import paths; a trailing "/..." also matches every path below.
type ban struct {
	rule    string   // why; quoted in each failure
	on      []string // module packages the ban applies to
	except  []string // module packages exempt from it
	imports []string // forbidden imports
}

// bans lists the "bans worth a test" of DESIGN §2, plus DESIGN §6's
// "never x/crypto/openpgp". module is the module path.
func bans(module string) []ban {
	m := func(rel string) string { return module + "/" + rel }
	return []ban{{
		rule:    "only app and cli read config (DESIGN §2)",
		on:      []string{m("...")},
		except:  []string{m("internal/app"), m("internal/cli")},
		imports: []string{"github.com/BurntSushi/toml/..."},
	}, {
		// DESIGN names net, database/sql and os/exec; os (files,
		// environment), net/http and net/smtp are I/O too, and no package
		// under this ban uses them.
		rule: "crypto/..., policy, mime and keyring do no I/O (DESIGN §2)",
		on: []string{m("internal/crypto/..."), m("internal/policy"),
			m("internal/mime"), m("internal/keyring")},
		imports: []string{"net", "net/http/...", "net/smtp",
			"database/sql/...", "os/exec", "os"},
	}, {
		rule: "transports never import pipeline, store or crypto (DESIGN §2)",
		on: []string{m("internal/smtpserver"), m("internal/smtpclient"),
			m("internal/maildir")},
		imports: []string{m("internal/pipeline/..."), m("internal/store/..."),
			m("internal/crypto/...")},
	}, {
		rule:   "only store/sqlstore imports SQL drivers (DESIGN §2)",
		on:     []string{m("...")},
		except: []string{m("internal/store/sqlstore")},
		imports: []string{"modernc.org/sqlite/...", "github.com/jackc/pgx/...",
			"github.com/mattn/go-sqlite3", "github.com/lib/pq/..."},
	}, {
		rule:    "only crypto/pgp imports the OpenPGP library (DESIGN §2)",
		on:      []string{m("...")},
		except:  []string{m("internal/crypto/pgp")},
		imports: []string{"github.com/ProtonMail/go-crypto/..."},
	}, {
		rule:    "never golang.org/x/crypto/openpgp; use ProtonMail/go-crypto in crypto/pgp (DESIGN §6)",
		on:      []string{m("...")},
		imports: []string{"golang.org/x/crypto/openpgp/..."},
	}}
}

// match reports whether path matches pattern: exactly, or, for a pattern
// ending in "/...", also any path below it.
func match(pattern, path string) bool {
	base, ok := strings.CutSuffix(pattern, "/...")
	if !ok {
		return path == pattern
	}
	return path == base || strings.HasPrefix(path, base+"/")
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// pkg is the part of a `go list -json` record this test reads.
type pkg struct {
	ImportPath string
	Imports    []string // non-test imports; TestImports are ignored on purpose
	Error      *struct{ Err string }
}

// graph is a loaded import graph: the module's packages and, with -deps,
// everything they import.
type graph struct {
	module string          // module path, from go.mod
	pkgs   map[string]*pkg // by import path
	own    []string        // the module's packages, sorted
}

func newGraph(module string, pkgs []*pkg) *graph {
	g := &graph{module: module, pkgs: make(map[string]*pkg, len(pkgs))}
	for _, p := range pkgs {
		g.pkgs[p.ImportPath] = p
		if match(module+"/...", p.ImportPath) {
			g.own = append(g.own, p.ImportPath)
		}
	}
	slices.Sort(g.own)
	return g
}

// rel returns path relative to the module root for the module's packages,
// and path unchanged for all others.
func (g *graph) rel(path string) string {
	if r, ok := strings.CutPrefix(path, g.module+"/"); ok {
		return r
	}
	return path
}

// internal returns path relative to the module's internal/ directory, and
// whether path is an internal package of the module.
func (g *graph) internal(path string) (string, bool) {
	return strings.CutPrefix(path, g.module+"/internal/")
}

// violation is one broken rule: from imports to, which rule forbids. An
// empty to means the package itself is at fault.
type violation struct {
	from, to string // as shown: relative to the module root when inside it
	rule     string
}

func (v violation) String() string {
	if v.to == "" {
		return v.from + ": " + v.rule
	}
	return v.from + " → " + v.to + ": " + v.rule
}

// check is one family of rules over a graph.
type check struct {
	name string
	run  func(*graph) []violation
}

func checks() []check {
	return []check{
		{"load", checkLoad},
		{"layers", checkLayers},
		{"edges", checkEdges},
		{"bans", checkBans},
		{"binary", checkBinary},
	}
}

// checkLoad reports packages that go list could not load: their imports
// are unknown, so no other check can vouch for them.
func checkLoad(g *graph) []violation {
	var vs []violation
	for path, p := range g.pkgs {
		if p.Error != nil {
			vs = append(vs, violation{from: g.rel(path),
				rule: "go list could not load it: " + p.Error.Err})
		}
	}
	return vs
}

// ranks maps each package of layerTable (relative to internal/) to its
// layer's index, 0 being the highest layer.
func ranks() map[string]int {
	r := make(map[string]int)
	for i, l := range layerTable() {
		for _, p := range l.pkgs {
			r[p] = i
		}
	}
	return r
}

// checkLayers enforces that arrows only point down (DESIGN §2), and that
// every internal package has been given a layer.
func checkLayers(g *graph) []violation {
	rank, layers := ranks(), layerTable()
	var vs []violation
	for _, path := range g.own {
		from, ok := g.internal(path)
		if !ok || slices.Contains(testSupport(), from) {
			continue
		}
		r, placed := rank[from]
		if !placed {
			vs = append(vs, violation{from: g.rel(path), rule: "internal package " +
				"not in the layer table: add it to layerTable (or testSupport) in " +
				"internal/archtest/archtest_test.go, in the layer DESIGN §2 gives it"})
			continue
		}
		for _, imp := range g.pkgs[path].Imports {
			to, _ := g.internal(imp)
			if ri, ok := rank[to]; ok && ri < r {
				vs = append(vs, violation{from: g.rel(path), to: g.rel(imp),
					rule: fmt.Sprintf("layering (DESIGN §2): layer %q may not import the "+
						"higher layer %q; arrows only point down", layers[r].name, layers[ri].name)})
			}
		}
	}
	return vs
}

// checkEdges enforces the single edges DESIGN §2 singles out: test support
// stays in tests, only cli imports app, only the command imports cli.
func checkEdges(g *graph) []violation {
	var vs []violation
	for _, path := range g.own {
		from := g.rel(path)
		for _, imp := range g.pkgs[path].Imports {
			to, ok := g.internal(imp)
			var rule string
			switch {
			case !ok:
				continue
			case slices.Contains(testSupport(), to) && !slices.Contains(testSupport(), strings.TrimPrefix(from, "internal/")):
				// Test-support packages may build on each other.
				rule = "test-support package imported by non-test code: only _test.go files may import it"
			case to == "app" && from != "internal/cli":
				rule = "only internal/cli may import internal/app (DESIGN §2: app composes everything, nothing imports it)"
			case to == "cli" && from != binaryMain:
				rule = "only " + binaryMain + " may import internal/cli (DESIGN §2)"
			default:
				continue
			}
			vs = append(vs, violation{from: from, to: g.rel(imp), rule: rule})
		}
	}
	return vs
}

// checkBans enforces bans(): direct, non-test imports only.
func checkBans(g *graph) []violation {
	var vs []violation
	for _, b := range bans(g.module) {
		for _, path := range g.own {
			if !matchAny(b.on, path) || matchAny(b.except, path) {
				continue
			}
			for _, imp := range g.pkgs[path].Imports {
				if matchAny(b.imports, imp) {
					vs = append(vs, violation{from: g.rel(path), to: g.rel(imp), rule: b.rule})
				}
			}
		}
	}
	return vs
}

// checkBinary walks the link set of binaryMain, the same set as
// `go list -deps ./cmd/sealpost`, and reports every testing package in it
// with the shortest import chain that pulls it in.
func checkBinary(g *graph) []violation {
	main := g.module + "/" + binaryMain
	if g.pkgs[main] == nil {
		return []violation{{from: binaryMain, rule: "binary package not found; " +
			"update binaryMain in internal/archtest/archtest_test.go if it moved"}}
	}
	parent := map[string]string{main: ""}
	for queue := []string{main}; len(queue) > 0; queue = queue[1:] {
		p := g.pkgs[queue[0]]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p.ImportPath
				queue = append(queue, imp)
			}
		}
	}
	var vs []violation
	for dep, via := range parent {
		if match("testing/...", dep) {
			vs = append(vs, violation{from: g.chain(parent, via), to: dep,
				rule: "nothing in the binary links testing (DESIGN §2)"})
		}
	}
	return vs
}

// chain renders the import chain from the root of parent down to path.
func (g *graph) chain(parent map[string]string, path string) string {
	var links []string
	for p := path; p != ""; p = parent[p] {
		links = append(links, g.rel(p))
	}
	slices.Reverse(links)
	return strings.Join(links, " → ")
}

// report fails t once per violation, in a stable order.
func report(t *testing.T, vs []violation) {
	t.Helper()
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	slices.Sort(lines)
	for _, l := range slices.Compact(lines) {
		t.Error(l)
	}
}

// moduleRoot walks up from the working directory to the nearest go.mod and
// returns its directory and module path.
func moduleRoot() (dir, module string, err error) {
	dir, err = os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			module, err = modulePath(data)
			return dir, module, err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", err
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", "", errors.New("no go.mod in the working directory or above")
		}
		dir = up
	}
}

// modulePath returns the path on the module line of a go.mod file.
func modulePath(gomod []byte) (string, error) {
	for line := range strings.Lines(string(gomod)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "module" {
			continue
		}
		if p, err := strconv.Unquote(f[1]); err == nil {
			return p, nil
		}
		return f[1], nil
	}
	return "", errors.New("go.mod has no module line")
}

// load runs `go list -e -deps -json ./...` at the module root.
func load(t *testing.T) *graph {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping architecture checks: the go command is not on PATH (%v)", err)
	}
	root, module, err := moduleRoot()
	if err != nil {
		t.Fatalf("finding the module root: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "list", "-e", "-deps",
		"-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -e -deps -json ./... in %s: %v\n%s", root, err, stderr.Bytes())
	}
	pkgs, err := decode(out)
	if err != nil {
		t.Fatalf("reading go list output: %v", err)
	}
	g := newGraph(module, pkgs)
	if len(g.own) == 0 {
		t.Fatalf("go list found no packages of module %s in %s", module, root)
	}
	return g
}

// decode reads a stream of `go list -json` records.
func decode(out []byte) ([]*pkg, error) {
	var pkgs []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		err := dec.Decode(p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// TestArchitecture enforces DESIGN §2 on the module as it is now.
func TestArchitecture(t *testing.T) {
	g := load(t)
	t.Logf("%d packages of %s checked, %d packages in the graph", len(g.own), g.module, len(g.pkgs))
	for _, c := range checks() {
		t.Run(c.name, func(t *testing.T) { report(t, c.run(g)) })
	}
}

// fakeGraph builds a lawful module graph shaped like Sealpost's, then adds
// the edge from → imp (both relative to the module root unless they are
// outside it; an empty imp adds only the package from).
func fakeGraph(module, from, imp string) *graph {
	full := func(p string) string {
		if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") {
			return module + "/" + p
		}
		return p
	}
	imports := map[string][]string{
		full(binaryMain):       {full("internal/cli"), "os"},
		full("internal/cli"):   {full("internal/app"), full("internal/admin")},
		full("internal/app"):   {full("internal/pipeline"), full("internal/smtpserver"), "github.com/BurntSushi/toml"},
		full("internal/admin"): {full("internal/keyring"), full("internal/store")},
		full("internal/pipeline"): {full("internal/crypto/pgp"), full("internal/policy"),
			full("internal/store"), "net/mail"},
		full("internal/crypto/pgp"):     {full("internal/crypto"), full("internal/mime"), "github.com/ProtonMail/go-crypto/openpgp/v2"},
		full("internal/store/sqlstore"): {full("internal/store"), "database/sql", "modernc.org/sqlite"},
		full("internal/smtpserver"):     {full("internal/obs"), "net"},
		full("internal/gpgtest"):        {"os/exec", "testing"},
	}
	for _, l := range layerTable() {
		for _, p := range l.pkgs {
			imports[full("internal/"+p)] = imports[full("internal/"+p)] // every row exists
		}
	}
	imports[full(from)] = append(imports[full(from)], full(imp))
	var pkgs []*pkg
	for path, imps := range imports {
		imps = slices.DeleteFunc(imps, func(s string) bool { return s == "" })
		pkgs = append(pkgs, &pkg{ImportPath: path, Imports: imps})
	}
	return newGraph(module, pkgs)
}

// runAll returns the violations of every check on g.
func runAll(g *graph) []violation {
	var vs []violation
	for _, c := range checks() {
		vs = append(vs, c.run(g)...)
	}
	return vs
}

// TestChecksCatch makes sure each rule fires when broken, so that a check
// that silently stopped working does not pass as "no violations".
func TestChecksCatch(t *testing.T) {
	const module = "example.org/m"
	if vs := runAll(fakeGraph(module, "internal/obs", "")); len(vs) != 0 {
		t.Fatalf("lawful graph reported violations: %v", vs)
	}
	tests := []struct {
		name, from, imp, want string
	}{
		{"arrow up", "internal/keyring", "internal/pipeline", `layer "crypto" may not import the higher layer "flow"`},
		{"arrow up to interface", "internal/admin", "internal/web", "arrows only point down"},
		{"unplaced package", "internal/util", "", "not in the layer table"},
		{"test support in code", "internal/mime", "internal/gpgtest", "test-support package imported by non-test code"},
		{"test support in cmd", binaryMain, "internal/archtest", "test-support package imported by non-test code"},
		{"app imported", "internal/api", "internal/app", "only internal/cli may import internal/app"},
		{"cli imported", "internal/app", "internal/cli", "only cmd/sealpost may import internal/cli"},
		{"config outside app", "internal/pipeline", "github.com/BurntSushi/toml", "only app and cli read config"},
		{"os in policy", "internal/policy", "os", "do no I/O"},
		{"net in smime", "internal/crypto/smime", "net", "do no I/O"},
		{"http in mime", "internal/mime", "net/http/httputil", "do no I/O"},
		{"sql in keyring", "internal/keyring", "database/sql", "do no I/O"},
		{"exec in crypto", "internal/crypto", "os/exec", "do no I/O"},
		{"transport to pipeline", "internal/smtpserver", "internal/pipeline", "transports never import"},
		{"transport to sqlstore", "internal/maildir", "internal/store/sqlstore", "transports never import"},
		{"transport to crypto", "internal/smtpclient", "internal/crypto/pgp", "transports never import"},
		{"sqlite outside sqlstore", "internal/store", "modernc.org/sqlite", "only store/sqlstore imports SQL drivers"},
		{"pgx outside sqlstore", "internal/app", "github.com/jackc/pgx/v5/stdlib", "only store/sqlstore imports SQL drivers"},
		{"openpgp outside pgp", "internal/keyring", "github.com/ProtonMail/go-crypto/openpgp/v2", "only crypto/pgp imports the OpenPGP library"},
		{"x/crypto/openpgp", "internal/crypto/pgp", "golang.org/x/crypto/openpgp/packet", "never golang.org/x/crypto/openpgp"},
		{"testing in binary", "internal/obs", "testing", "nothing in the binary links testing"},
		{"testing/fstest in binary", "internal/cli", "testing/fstest", "nothing in the binary links testing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := runAll(fakeGraph(module, tc.from, tc.imp))
			found := slices.ContainsFunc(vs, func(v violation) bool {
				return strings.Contains(v.rule, tc.want)
			})
			if !found {
				t.Errorf("%s → %s: want a violation %q, got %v", tc.from, tc.imp, tc.want, vs)
			}
		})
	}
}
