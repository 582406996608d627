package memtest

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// busy is a child that spends CPU time until it is killed.
func busy(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func cpuTime(t *testing.T, live bool) time.Duration {
	t.Helper()
	d, err := CPUTime(os.Getpid(), live)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCPUTime: a child's CPU time counts for its parent while it runs
// (live) and after it was waited for, and not before, without live. (It
// waits for the child to have run, however busy the machine is.)
func TestCPUTime(t *testing.T) {
	const spent = 200 * time.Millisecond
	before := cpuTime(t, false)
	cmd := busy(t)
	var child time.Duration
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		d, err := CPUTime(cmd.Process.Pid, false)
		if err != nil {
			t.Fatal(err)
		}
		if child = d; child >= spent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the busy child spent %v of CPU time in a minute", child)
		}
	}
	if got := cpuTime(t, true) - before; got < child {
		t.Errorf("with live children: %v more CPU time, want at least the child's %v", got, child)
	}
	if got := cpuTime(t, false) - before; got >= child {
		t.Errorf("without live children the running child counted: %v more (the child's %v)", got, child)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got := cpuTime(t, false) - before; got < child {
		t.Errorf("after waiting for the child: %v more CPU time, want at least the child's %v", got, child)
	}
	if _, err := CPUTime(1<<30, false); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
