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
// (live) and after it was waited for.
func TestCPUTime(t *testing.T) {
	before := cpuTime(t, false)
	cmd := busy(t)
	time.Sleep(500 * time.Millisecond)
	withLive := cpuTime(t, true)
	if withLive-before < 200*time.Millisecond {
		t.Errorf("with a busy child running for 500 ms: %v more CPU time, want at least 200 ms", withLive-before)
	}
	if got := cpuTime(t, false); got-before >= 200*time.Millisecond {
		t.Errorf("without live children the running child counted: %v more", got-before)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got := cpuTime(t, false); got-before < 200*time.Millisecond {
		t.Errorf("after waiting for the child: %v more CPU time, want at least 200 ms", got-before)
	}
	if _, err := CPUTime(1<<30, false); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
