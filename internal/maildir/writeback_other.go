//go:build !linux

package maildir

import "os"

// startWriteBack does nothing here: the fsync that follows writes the file.
func startWriteBack(*os.File) {}
