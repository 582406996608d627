package hostcheck

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Program is a running process, as the kernel names it.
type Program struct {
	PID int
	// Name is the process's command name (at most 15 bytes on Linux).
	Name string
	// Exe is the path of its executable; empty when this user may not
	// see it.
	Exe string
}

func (p Program) String() string {
	if p.Exe != "" {
		return fmt.Sprintf("%s (pid %d, %s)", p.Name, p.PID, p.Exe)
	}
	return fmt.Sprintf("%s (pid %d)", p.Name, p.PID)
}

// Listen checks the listen address addr of the setting key ("smtp.listen"):
// that it is a valid address of this host, and that it is free, or held
// by a running Sealpost (ours says which programs are). It listens for a
// moment to find out, and closes at once.
func Listen(key, addr string, ours func(Program) bool) Finding {
	fix := fmt.Sprintf("set %s in sealpost.toml to HOST:PORT of this host, e.g. 127.0.0.1:2525", key)
	if _, err := net.ResolveTCPAddr("tcp", addr); err != nil {
		return Finding{Level: Fail, Text: fmt.Sprintf("%s %q is not a valid address: %v", key, addr, err), Fix: fix}
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return ok(fmt.Sprintf("%s %s is free", key, addr))
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return inUse(key, addr, ours)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return Finding{Level: Fail, Text: fmt.Sprintf("%s %s is not an address of this host", key, addr),
			Fix: fmt.Sprintf("set %s to an address of this host ('ip address' lists them), 127.0.0.1 or 0.0.0.0 with the same port", key)}
	case errors.Is(err, syscall.EACCES):
		return Finding{Level: Fail, Text: fmt.Sprintf("%s %s: ports below 1024 need root or CAP_NET_BIND_SERVICE", key, addr),
			Fix: fmt.Sprintf("set %s to a port above 1023 (Postfix can hand mail to it), or give the service AmbientCapabilities=CAP_NET_BIND_SERVICE", key)}
	}
	return Finding{Level: Fail, Text: fmt.Sprintf("%s %s cannot be listened on: %v", key, addr, err), Fix: fix}
}

// inUse names who holds addr: a running Sealpost is fine (check runs
// beside serve), anything else keeps serve from starting.
func inUse(key, addr string, ours func(Program) bool) Finding {
	holders := listeners(addr)
	for _, p := range holders {
		if ours(p) {
			return ok(fmt.Sprintf("%s %s is held by a running sealpost, %s", key, addr, p))
		}
	}
	fix := fmt.Sprintf("stop that program, or set %s in sealpost.toml to a free address", key)
	if len(holders) == 0 {
		return Finding{Level: Fail, Text: fmt.Sprintf("%s %s is in use by a program this check cannot see (as root, it names it)", key, addr), Fix: fix}
	}
	return Finding{Level: Fail, Text: fmt.Sprintf("%s %s is in use by %s, not by sealpost: serve cannot start", key, addr, holders[0]), Fix: fix}
}
