package memtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Sealpost runs on).
const userHZ = 100

// CPUTime is the CPU time (user and system) process pid has used, with
// that of the children it has waited for; with live, also that of its
// children still running (one level, as PostgreSQL's backends are of its
// postmaster). Read twice, it says what a run of a benchmark cost the
// process, wherever in its children the work was done.
func CPUTime(pid int, live bool) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After "(comm)": state ppid ... utime(12) stime(13) cutime(14) cstime(15), from 0.
	ticks := sumFields(f, 11, 12, 13, 14)
	if live {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			child, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cf, err := statFields(child)
			if err != nil || len(cf) < 2 || cf[1] != strconv.Itoa(pid) {
				continue // gone, or not pid's child
			}
			ticks += sumFields(cf, 11, 12)
		}
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statFields are the fields of /proc/PID/stat after the command's name
// (which may hold spaces): state, ppid, ...
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:]), nil
}

func sumFields(f []string, idx ...int) int64 {
	var n int64
	for _, i := range idx {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
	}
	return n
}
