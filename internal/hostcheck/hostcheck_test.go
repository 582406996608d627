package hostcheck

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nobody is the foreign owner of the ownership tests.
const nobody = 65534

// layout makes a data directory as Sealpost makes it (modes as a fresh
// start leaves them) and returns it with its paths.
func layout(t *testing.T) (string, []Path) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "data")
	mk := func(p string, mode os.FileMode, dir bool) {
		var err error
		if dir {
			err = os.Mkdir(p, mode)
		} else {
			err = os.WriteFile(p, []byte("x"), mode)
		}
		if err == nil {
			err = os.Chmod(p, mode) // past the umask
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(root, 0o700, true)
	mk(filepath.Join(root, "secrets"), 0o700, true)
	mk(filepath.Join(root, "secrets", "master.key"), 0o600, false)
	mk(filepath.Join(root, "sealpost.db"), 0o600, false)
	mk(filepath.Join(root, "sealpost.toml"), 0o644, false)
	mk(filepath.Join(root, "credentials"), 0o500, true)
	mk(filepath.Join(root, "credentials", "sealpost-master-key"), 0o400, false)
	return root, []Path{
		{filepath.Join(root, "credentials", "sealpost-master-key"), Secret, true},
		{filepath.Join(root, "sealpost.toml"), Config, true}, // as app.HostPaths: root may own it
		{filepath.Join(root, "sealpost.db"), Private, false},
		{filepath.Join(root, "sealpost.db-wal"), Private, false}, // absent: skipped
		{filepath.Join(root, "secrets"), SecretDir, false},
		{filepath.Join(root, "secrets", "master.key"), Secret, false},
	}
}

func problems(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Level != OK {
			out = append(out, f)
		}
	}
	return out
}

func show(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %d %s | %s\n", f.Level, f.Text, f.Fix)
	}
	return b.String()
}

// TestFiles: start from the layout Sealpost makes (no problem), break one
// thing, and the check names it with the command that mends it.
func TestFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the cases chown files to nobody")
	}
	tests := []struct {
		name   string
		break_ func(root string) error
		level  Level
		text   []string // in the one problem's Text
		fix    string   // the one problem's Fix, with ROOT for the data directory
	}{
		{"as made", func(string) error { return nil }, OK, nil, ""},
		{"master key readable by group", func(r string) error { return os.Chmod(filepath.Join(r, "secrets/master.key"), 0o640) },
			Fail, []string{"master key", "0640", "0600 or stricter"}, "chmod 600 ROOT/secrets/master.key"},
		{"master key readable by others", func(r string) error { return os.Chmod(filepath.Join(r, "secrets/master.key"), 0o644) },
			Fail, []string{"0644"}, "chmod 600 ROOT/secrets/master.key"},
		{"secrets open to others", func(r string) error { return os.Chmod(filepath.Join(r, "secrets"), 0o755) },
			Fail, []string{"secrets directory", "0755"}, "chmod 700 ROOT/secrets"},
		{"data directory writable by everyone", func(r string) error { return os.Chmod(r, 0o777) },
			Fail, []string{"writable by its group and everyone", "0777"}, "chmod go-w ROOT"},
		{"data directory writable by its group", func(r string) error { return os.Chmod(r, 0o770) },
			Fail, []string{"writable by its group (mode 0770)"}, "chmod go-w ROOT"},
		{"config writable by everyone", func(r string) error { return os.Chmod(filepath.Join(r, "sealpost.toml"), 0o666) },
			Fail, []string{"sealpost.toml is writable by its group and everyone"}, "chmod go-w ROOT/sealpost.toml"},
		{"database readable by others who may enter", func(r string) error {
			if err := os.Chmod(r, 0o755); err != nil {
				return err
			}
			return os.Chmod(filepath.Join(r, "sealpost.db"), 0o644)
		}, Fail, []string{"sealpost.db can be read by every user", "0644"}, "chmod 600 ROOT/sealpost.db"},
		// A database that SQLite made 0644 in the 0700 directory Sealpost
		// makes is out of others' reach: no alarm.
		{"database 0644 behind a closed directory", func(r string) error { return os.Chmod(filepath.Join(r, "sealpost.db"), 0o644) }, OK, nil, ""},
		{"files left by another user", func(r string) error {
			for _, p := range []string{"sealpost.db", "secrets/master.key"} {
				if err := os.Chown(filepath.Join(r, p), nobody, nobody); err != nil {
					return err
				}
			}
			return nil
		}, Fail, []string{"sealpost.db, secrets/master.key in", " belong to " + UserName(nobody), "not to " + UserName(0) + " who owns the data directory and runs this check"},
			"chown -R root: ROOT, and run every sealpost command as root"},
		// A systemd credential belongs to the service manager's choice
		// of owner; only its mode counts.
		{"credential of another owner", func(r string) error {
			return os.Chown(filepath.Join(r, "credentials", "sealpost-master-key"), nobody, nobody)
		}, OK, nil, ""},
		{"credential readable by others", func(r string) error {
			return os.Chmod(filepath.Join(r, "credentials", "sealpost-master-key"), 0o644)
		}, Fail, []string{"master key", "credentials/sealpost-master-key has mode 0644"}, "chmod 600 ROOT/credentials/sealpost-master-key"},
		// The Debian package's conffile, linked from the data
		// directory: root's, and only read.
		{"configuration of root in nobody's directory", func(r string) error {
			if err := os.Remove(filepath.Join(r, "sealpost.toml")); err != nil {
				return err
			}
			conf := filepath.Join(filepath.Dir(r), "etc-sealpost.toml")
			if err := os.WriteFile(conf, nil, 0o644); err != nil {
				return err
			}
			if err := os.Symlink(conf, filepath.Join(r, "sealpost.toml")); err != nil {
				return err
			}
			return filepath.Walk(r, func(p string, fi os.FileInfo, err error) error {
				if err != nil || fi.Mode()&os.ModeSymlink != 0 {
					return err
				}
				return os.Chown(p, nobody, nobody)
			})
		}, Warn, []string{"belongs to " + UserName(nobody)}, "run every sealpost command as nobody (sudo -u nobody sealpost ...); or, if root is the user who runs Sealpost (the pipe's user= or the service's User=), chown -R root: ROOT"},
		{"data directory of another user", func(r string) error {
			return filepath.Walk(r, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Chown(p, nobody, nobody)
			})
		}, Warn, []string{"belongs to " + UserName(nobody), "this check runs as " + UserName(0)},
			"run every sealpost command as nobody (sudo -u nobody sealpost ...); or, if root is the user who runs Sealpost (the pipe's user= or the service's User=), chown -R root: ROOT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, paths := layout(t)
			if err := tc.break_(root); err != nil {
				t.Fatal(err)
			}
			got := Files(root, paths, 0)
			ps := problems(got)
			if tc.level == OK {
				if len(ps) != 0 || len(got) != 2 {
					t.Fatalf("want two ok lines (owner, modes), got:\n%s", show(got))
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want one problem, got:\n%s", show(got))
			}
			p := ps[0]
			if p.Level != tc.level {
				t.Errorf("level %d, want %d", p.Level, tc.level)
			}
			for _, s := range tc.text {
				if !strings.Contains(p.Text, s) {
					t.Errorf("text does not say %q:\n%s", s, p.Text)
				}
			}
			if want := strings.ReplaceAll(tc.fix, "ROOT", root); p.Fix != want {
				t.Errorf("fix:\n  %s\nwant\n  %s", p.Fix, want)
			}
		})
	}
}

// TestFilesMissingRoot: a data directory that is not there is a failure,
// not a pass.
func TestFilesMissingRoot(t *testing.T) {
	got := Files(filepath.Join(t.TempDir(), "none"), nil, os.Geteuid())
	if len(got) != 1 || got[0].Level != Fail {
		t.Fatalf("got:\n%s", show(got))
	}
}

// TestListen: free, held by us (a running Sealpost), held by another
// program (named with its pid), not an address of this host, not an
// address at all.
func TestListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := l.Addr().String()
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l2.Addr().String()
	l2.Close()
	defer l.Close()
	me := os.Getpid()
	isMe := func(p Program) bool { return p.PID == me }
	never := func(Program) bool { return false }
	_, port, _ := net.SplitHostPort(held)

	tests := []struct {
		name, addr string
		ours       func(Program) bool
		level      Level
		text       string
	}{
		{"free", free, never, OK, "smtp.listen " + free + " is free"},
		{"held by sealpost", held, isMe, OK, fmt.Sprintf("is held by a running sealpost, %s (pid %d", program(me).Name, me)},
		{"held by another program", held, never, Fail, fmt.Sprintf("is in use by %s (pid %d", program(me).Name, me)},
		// The wildcard address is held too by a listener on loopback.
		{"wildcard of a held port", "0.0.0.0:" + port, never, Fail, fmt.Sprintf("(pid %d", me)},
		// RFC 5737 TEST-NET-1: never an address of this host.
		{"not this host's", "192.0.2.1:2525", never, Fail, "192.0.2.1:2525 is not an address of this host"},
		{"no port", "127.0.0.1:99999", never, Fail, `"127.0.0.1:99999" is not a valid address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Listen("smtp.listen", tc.addr, tc.ours)
			if f.Level != tc.level || !strings.Contains(f.Text, tc.text) {
				t.Fatalf("got %d %q, want %d with %q", f.Level, f.Text, tc.level, tc.text)
			}
			if (f.Level == OK) != (f.Fix == "") {
				t.Errorf("fix %q for level %d", f.Fix, f.Level)
			}
		})
	}
	// Still listening: the check only looked.
	if c, err := net.Dial("tcp", held); err != nil {
		t.Errorf("the held listener stopped answering: %v", err)
	} else {
		c.Close()
	}
}

// TestParseProcAddr: the kernel's little-endian words, both families.
func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:09C5", "127.0.0.1", 2501},
		{"00000000:0019", "0.0.0.0", 25},
		{"00000000000000000000000001000000:1F90", "::1", 8080},
		{"0000000000000000FFFF00000100007F:0050", "127.0.0.1", 80},
	} {
		ip, port, ok := parseProcAddr(tc.in)
		if !ok || !ip.Equal(net.ParseIP(tc.ip)) || port != tc.port {
			t.Errorf("%s: got %v %d %v, want %s %d", tc.in, ip, port, ok, tc.ip, tc.port)
		}
	}
	if _, _, ok := parseProcAddr("zz:1"); ok {
		t.Error("garbage parsed")
	}
}
