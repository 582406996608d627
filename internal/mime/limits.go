package mime

import (
	"errors"
	"fmt"
)

// Names of the limits reported in LimitError.Limit.
const (
	LimitSize    = "size"    // Limits.MaxSize
	LimitDepth   = "depth"   // Limits.MaxDepth
	LimitParts   = "parts"   // Limits.MaxParts
	LimitHeader  = "header"  // Limits.MaxHeaderBytes
	LimitDecoded = "decoded" // the max argument of Part.Decoded
)

// Default limits, used for zero (or negative) fields of Limits.
const (
	DefaultMaxSize        = 32 << 20
	DefaultMaxDepth       = 16
	DefaultMaxParts       = 1000
	DefaultMaxHeaderBytes = 64 << 10
)

// Limits bound the work done on untrusted input. The zero value means
// defaults; any field that is zero or negative takes its default.
type Limits struct {
	MaxSize        int64 // whole message bytes; default 32 MiB
	MaxDepth       int   // multipart nesting; default 16
	MaxParts       int   // total parts in the tree, the root included; default 1000
	MaxHeaderBytes int   // per header block, terminating empty line included; default 64 KiB
}

// withDefaults returns l with every unset field replaced by its default.
func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// LimitError reports that input exceeded a limit. Limit is one of the
// Limit* constants and Max is the value of the limit that was exceeded.
type LimitError struct {
	Limit string
	Max   int64
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("mime: %s limit exceeded (max %d)", e.Limit, e.Max)
}

// ErrMalformed is wrapped by every error about a structurally broken
// message.
var ErrMalformed = errors.New("mime: malformed message")

// ErrUnknownEncoding is wrapped by Part.Decoded when the
// Content-Transfer-Encoding is not one this package decodes.
var ErrUnknownEncoding = errors.New("mime: unknown content-transfer-encoding")

// malformed returns an error wrapping ErrMalformed with detail.
func malformed(format string, args ...any) error {
	return fmt.Errorf("mime: "+format+": %w", append(args, ErrMalformed)...)
}
