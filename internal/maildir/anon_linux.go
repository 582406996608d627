package maildir

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openAnon creates an unnamed file in the directory dir (open(2)
// O_TMPFILE), mode 0600, which linkAnon names once it is complete: no
// directory entry is made or removed for it in dir, and a crash before
// it is named leaves nothing behind. File systems without O_TMPFILE
// fail it.
func openAnon(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// linkAnon gives the unnamed file f the name path; it fails when path
// exists.
func linkAnon(f *os.File, path string) error {
	// open(2): linking through /proc/self/fd with AT_SYMLINK_FOLLOW is
	// how an O_TMPFILE file gets a name without CAP_DAC_READ_SEARCH.
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: err}
	}
	return nil
}
