package maildir

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteBack asks the kernel to start writing f's data to the disk now
// (sync_file_range(2) with SYNC_FILE_RANGE_WRITE: it waits for nothing and
// makes nothing durable), so that the fsync that follows finds it written.
// A failure is left for that fsync to report.
func startWriteBack(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
