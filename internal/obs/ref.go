package obs

import (
	"crypto/rand"
	"encoding/hex"
)

// Ref makes a reference for an error that a person sees only as this
// reference, while the log has the details under it.
func Ref() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
