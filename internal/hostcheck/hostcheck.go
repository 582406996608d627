// Package hostcheck inspects what an administrator sets up around
// Sealpost and commonly gets wrong: who owns the files of the data
// directory and who may read or write them, and whether a listen address
// is valid and free. Each check returns Findings, one line each for
// `sealpost check`: what was looked at, and, when it is wrong, what to do.
//
// It reads file metadata and the kernel's socket tables (/proc on Linux);
// it changes nothing, and reads no file's content.
package hostcheck

import (
	"os/user"
	"strconv"
)

// Level says how a Finding stands.
type Level int

const (
	// OK: nothing to do.
	OK Level = iota
	// Warn: works for the user who ran the check, but not as set up
	// (another user's files); counts as a problem.
	Warn
	// Fail: broken or unsafe; counts as a problem.
	Fail
)

// Finding is one line of a check.
type Finding struct {
	Level Level
	// Text says what was looked at and how it is.
	Text string
	// Fix says what to do; empty when Level is OK.
	Fix string
}

func ok(text string) Finding { return Finding{Level: OK, Text: text} }

// UserName names uid for people: its login name and number, or the
// number alone when the system does not know it (a systemd DynamicUser=
// that is not running).
func UserName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// LoginName is uid's login name for a command line (chown NAME:, sudo -u
// NAME), or its number.
func LoginName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username
	}
	return id
}
