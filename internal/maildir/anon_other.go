//go:build !linux

package maildir

import (
	"errors"
	"os"
)

// openAnon is not available here: messages are written under their name
// in tmp/ and renamed.
func openAnon(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnon(*os.File, string) error { return errors.ErrUnsupported }
