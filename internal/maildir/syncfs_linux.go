package maildir

import (
	"os"

	"golang.org/x/sys/unix"
)

// batchSync: DeliverAll makes its files durable with one syncfs(2).
const batchSync = true

// syncFS flushes all written data and metadata of the file system holding
// dir (syncfs(2)), which makes every file written there durable at once.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
