package hostcheck

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procRoot is where the kernel's process and socket tables are (Linux).
const procRoot = "/proc"

// listeners returns the programs with a listening TCP socket that holds
// addr (the same port, and the same address or a wildcard on either
// side), as far as /proc shows them to this user: all of them to root,
// a user's own otherwise. Elsewhere than Linux it returns none.
func listeners(addr string) []Program {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, table := range []string{"net/tcp", "net/tcp6"} {
		for _, inode := range listeningInodes(filepath.Join(procRoot, table), ta) {
			inodes[inode] = true
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	return socketOwners(inodes)
}

// listeningInodes reads a /proc/net/tcp table and returns the socket
// inodes in state LISTEN that hold ta.
func listeningInodes(path string, ta *net.TCPAddr) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // TCP_LISTEN
			continue
		}
		ip, port, ok := parseProcAddr(fields[1])
		if ok && port == ta.Port && sameOrWildcard(ip, ta.IP) {
			out = append(out, fields[9])
		}
	}
	return out
}

// parseProcAddr parses "0100007F:09C5": the address as 32-bit words in
// the kernel's byte order (little-endian on every platform Sealpost
// ships for), the port in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(h)
	port, perr := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(ip[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	return ip, int(port), true
}

func sameOrWildcard(a, b net.IP) bool {
	return a.IsUnspecified() || b == nil || b.IsUnspecified() || a.Equal(b)
}

// socketOwners finds the processes that have one of the socket inodes
// open.
func socketOwners(inodes map[string]bool) []Program {
	procs, _ := os.ReadDir(procRoot)
	var out []Program
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if holdsSocket(filepath.Join(procRoot, p.Name(), "fd"), inodes) {
			out = append(out, program(pid))
		}
	}
	return out
}

func holdsSocket(fdDir string, inodes map[string]bool) bool {
	fds, _ := os.ReadDir(fdDir)
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true
		}
	}
	return false
}

// program describes the process pid.
func program(pid int) Program {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	p := Program{PID: pid}
	if comm, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		p.Name = strings.TrimSpace(string(comm))
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		// An executable replaced since it started (an upgrade) reads
		// "PATH (deleted)".
		p.Exe = strings.TrimSuffix(exe, " (deleted)")
	}
	return p
}
