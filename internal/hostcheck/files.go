package hostcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Kind says what a path holds, and so who may read and write it.
type Kind int

const (
	// Dir is a directory: not writable by its group or by others.
	Dir Kind = iota
	// SecretDir is a directory of secrets: also closed to others.
	SecretDir
	// Secret is a key file: mode 0600 or stricter.
	Secret
	// Private is a file others must not read (the database): not
	// readable by others where they can reach it (every directory on
	// the way from the data directory lets them through).
	Private
	// Config is a file that says what Sealpost does: not writable by
	// its group or by others.
	Config
)

// Path is one path of the data directory to inspect.
type Path struct {
	// Path is the file's path, inside the data directory (or not: a
	// systemd credential).
	Path string
	Kind Kind
	// AnyOwner skips the owner check: another party owns the file (the
	// service manager, a credential).
	AnyOwner bool
}

// stat is what Files needs to know about one path.
type stat struct {
	Path
	mode fs.FileMode
	uid  int
}

// Files checks the data directory root and those of paths that exist:
// that they belong to the user uid who runs the check (the pipe's user or
// the service's), and that their modes keep others out. A path that does
// not exist is skipped (a write-ahead log comes and goes).
func Files(root string, paths []Path, uid int) []Finding {
	top, err := statPath(Path{Path: root, Kind: Dir})
	if err != nil {
		return []Finding{{Level: Fail, Text: fmt.Sprintf("data directory %s cannot be inspected: %v", root, err),
			Fix: "make it readable by the user who runs Sealpost"}}
	}
	all := []stat{top}
	for _, p := range paths {
		s, err := statPath(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return append(ownership(root, all, uid), Finding{Level: Fail, Text: fmt.Sprintf("%s cannot be inspected: %v", p.Path, err),
				Fix: fmt.Sprintf("chown -R %s: %s", LoginName(uid), root)})
		}
		all = append(all, s)
	}
	return append(ownership(root, all, uid), modes(root, all)...)
}

func statPath(p Path) (stat, error) {
	fi, err := os.Stat(p.Path)
	if err != nil {
		return stat{}, err
	}
	uid := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid = int(st.Uid)
	}
	return stat{Path: p, mode: fi.Mode().Perm(), uid: uid}, nil
}

// ownership checks that the data directory belongs to uid, and every file
// in it to the directory's owner.
func ownership(root string, all []stat, uid int) []Finding {
	owner := all[0].uid
	var out []Finding
	if owner != uid {
		out = append(out, Finding{Level: Warn,
			Text: fmt.Sprintf("data directory %s belongs to %s, but this check runs as %s: files a command run as %s creates there are not %s's, and Sealpost running as %s may not open them",
				root, UserName(owner), UserName(uid), LoginName(uid), LoginName(owner), LoginName(owner)),
			Fix: fmt.Sprintf("run every sealpost command as %s (sudo -u %s sealpost ...); or, if %s is the user who runs Sealpost (the pipe's user= or the service's User=), chown -R %s: %s",
				LoginName(owner), LoginName(owner), LoginName(uid), LoginName(uid), root)})
	}
	byOwner := map[int][]string{}
	var owners []int
	for _, s := range all[1:] {
		if s.uid == owner || s.AnyOwner {
			continue
		}
		if byOwner[s.uid] == nil {
			owners = append(owners, s.uid)
		}
		byOwner[s.uid] = append(byOwner[s.uid], rel(root, s.Path.Path))
	}
	for _, o := range owners {
		runs := ""
		if owner == uid {
			runs = " and runs this check"
		}
		verb, them := "belong", "them"
		if len(byOwner[o]) == 1 {
			verb, them = "belongs", "it"
		}
		out = append(out, Finding{Level: Fail,
			Text: fmt.Sprintf("%s in %s %s to %s, not to %s who owns the data directory%s: a command run as %s made %s, and Sealpost running as %s may be unable to write %s",
				strings.Join(byOwner[o], ", "), root, verb, UserName(o), UserName(owner), runs, LoginName(o), them, LoginName(owner), them),
			Fix: fmt.Sprintf("chown -R %s: %s, and run every sealpost command as %s", LoginName(owner), root, LoginName(owner))})
	}
	if len(out) == 0 {
		out = append(out, ok(fmt.Sprintf("data directory %s and its files belong to %s, who runs this check", root, UserName(uid))))
	}
	return out
}

// modes checks each path's permissions against its kind.
func modes(root string, all []stat) []Finding {
	var out []Finding
	for _, s := range all {
		if f, bad := mode(root, s); bad {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		out = append(out, ok(fmt.Sprintf("data directory %s: not writable by other users, the master key is 0600 or stricter, the database is private", root)))
	}
	return out
}

func mode(root string, s stat) (Finding, bool) {
	name := s.Path.Path
	switch {
	case (s.Kind == Dir || s.Kind == SecretDir || s.Kind == Config) && s.mode&0o022 != 0:
		return Finding{Level: Fail, Text: fmt.Sprintf("%s is writable by %s (mode %04o)", name, whoWrites(s.mode), s.mode),
			Fix: "chmod go-w " + name}, true
	case s.Kind == SecretDir && s.mode&0o007 != 0:
		return Finding{Level: Fail, Text: fmt.Sprintf("secrets directory %s is open to every user of this host (mode %04o)", name, s.mode),
			Fix: "chmod 700 " + name}, true
	case s.Kind == Secret && s.mode&0o077 != 0:
		return Finding{Level: Fail, Text: fmt.Sprintf("master key %s has mode %04o: it must be 0600 or stricter", name, s.mode),
			Fix: "chmod 600 " + name}, true
	case s.Kind == Private && s.mode&0o004 != 0 && reachable(root, name):
		return Finding{Level: Fail, Text: fmt.Sprintf("%s can be read by every user of this host (mode %04o, in directories anyone may enter)", name, s.mode),
			Fix: "chmod 600 " + name}, true
	}
	return Finding{}, false
}

func whoWrites(m fs.FileMode) string {
	switch {
	case m&0o020 != 0 && m&0o002 != 0:
		return "its group and everyone"
	case m&0o002 != 0:
		return "everyone"
	}
	return "its group"
}

// reachable reports whether others may pass every directory from root
// down to the one holding name.
func reachable(root, name string) bool {
	for dir := filepath.Dir(name); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == root || dir == filepath.Dir(dir) || !strings.HasPrefix(dir, root) {
			return true
		}
	}
}

// rel names path relative to root when it is inside.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
