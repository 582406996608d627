package admin

// Password hashing for admin-UI accounts: argon2id (RFC 9106) in the PHC
// string format (github.com/P-H-C/phc-string-format), the form the
// reference implementation's argon2 command and most libraries read and
// write:
//
//	$argon2id$v=19$m=47104,t=1,p=1$<salt>$<hash>
//
// with salt and hash in standard base64 without padding.

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// argon2Params are the cost parameters of an argon2id hash, all of which
// its PHC string records.
type argon2Params struct {
	memory  uint32 // m, KiB
	time    uint32 // t, passes
	threads uint8  // p, lanes
	saltLen int    // bytes
	keyLen  int    // bytes
}

// defaultArgon2 is what hashPassword uses: the first argon2id setting of
// the OWASP Password Storage Cheat Sheet, 46 MiB and one pass. Raising it
// makes passwordNeedsRehash report every older hash, so that each account
// is upgraded at its next successful login.
var defaultArgon2 = argon2Params{memory: 47104, time: 1, threads: 1, saltLen: 16, keyLen: 32}

// Bounds on what parseArgon2 accepts, so that a tampered database row
// cannot make a login allocate unbounded memory or run for minutes.
const (
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 16
	maxArgon2Threads = 16
	minArgon2Salt    = 8 // bytes; the reference implementation's minimum
	minArgon2Key     = 16
	maxArgon2Bytes   = 1024 // of salt or key
)

// errPasswordHash is wrapped by every error about a stored hash that
// cannot be read or whose parameters are out of bounds.
var errPasswordHash = errors.New("admin: malformed password hash")

// phcBase64 is the PHC format's base64: standard alphabet, no padding,
// and (Strict) no stray bits after the last byte.
var phcBase64 = base64.RawStdEncoding.Strict()

// argon2Slots bounds the argon2 computations running at once. Each holds
// its m KiB (46 MiB with defaultArgon2) until it ends, so a burst of
// logins waits here instead of exhausting memory.
var argon2Slots = make(chan struct{}, runtime.GOMAXPROCS(0))

// dummyPasswordHash is a hash of a fixed password with defaultArgon2. A
// login naming an unknown account is checked against it and then refused
// whatever the check says, so that a missing account takes as long as a
// wrong password and the answer time does not tell which accounts exist.
var dummyPasswordHash = sync.OnceValue(func() string {
	return hashArgon2(defaultArgon2, make([]byte, defaultArgon2.saltLen), "sealpost: no such account")
})

// hashPassword returns the PHC-encoded argon2id hash of password, salted
// from rnd.
func hashPassword(rnd io.Reader, password string) (string, error) {
	salt := make([]byte, defaultArgon2.saltLen)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", fmt.Errorf("admin: password salt: %w", err)
	}
	return hashArgon2(defaultArgon2, salt, password), nil
}

// checkPassword reports whether password matches encoded (a hashPassword
// result, or any valid argon2id PHC string with other parameters). It
// compares in constant time. A malformed encoded string is an error, not
// a false.
func checkPassword(encoded, password string) (bool, error) {
	h, err := parseArgon2(encoded)
	if err != nil {
		return false, err
	}
	key := argon2Key(h.params, h.salt, password)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// passwordNeedsRehash reports whether encoded was made with parameters
// other than defaultArgon2 (so a successful login can upgrade it). A
// malformed encoded string needs one too.
func passwordNeedsRehash(encoded string) bool {
	h, err := parseArgon2(encoded)
	return err != nil || h.params != defaultArgon2
}

// hashArgon2 returns the PHC string of password's argon2id key under p
// and salt.
func hashArgon2(p argon2Params, salt []byte, password string) string {
	key := argon2Key(p, salt, password)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.memory, p.time, p.threads, phcBase64.EncodeToString(salt), phcBase64.EncodeToString(key))
}

// argon2Key computes password's argon2id key of p.keyLen bytes, waiting
// for a free slot in argon2Slots first.
func argon2Key(p argon2Params, salt []byte, password string) []byte {
	argon2Slots <- struct{}{}
	defer func() { <-argon2Slots }()
	return argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(p.keyLen))
}

// argon2Hash is a parsed PHC string.
type argon2Hash struct {
	params    argon2Params
	salt, key []byte
}

// parseArgon2 reads an argon2id PHC string and checks its parameters
// against the bounds above. It accepts exactly the form hashArgon2 writes:
// version 19 present, m, t and p in that order, no optional parameters.
func parseArgon2(encoded string) (argon2Hash, error) {
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return argon2Hash{}, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", errPasswordHash)
	}
	if fields[1] != "argon2id" {
		return argon2Hash{}, fmt.Errorf("%w: algorithm %q, want argon2id", errPasswordHash, fields[1])
	}
	if fields[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return argon2Hash{}, fmt.Errorf("%w: version %q, want v=%d", errPasswordHash, fields[2], argon2.Version)
	}
	p, err := parseArgon2Params(fields[3])
	if err != nil {
		return argon2Hash{}, err
	}
	h := argon2Hash{params: p}
	if h.salt, err = decodePHCBase64(fields[4], "salt"); err != nil {
		return argon2Hash{}, err
	}
	if h.key, err = decodePHCBase64(fields[5], "hash"); err != nil {
		return argon2Hash{}, err
	}
	h.params.saltLen, h.params.keyLen = len(h.salt), len(h.key)
	return h, checkArgon2Params(h.params)
}

// parseArgon2Params reads the "m=…,t=…,p=…" field of a PHC string.
func parseArgon2Params(field string) (argon2Params, error) {
	parts := strings.Split(field, ",")
	malformed := fmt.Errorf("%w: parameters %q, want m=…,t=…,p=…", errPasswordHash, field)
	if len(parts) != 3 {
		return argon2Params{}, malformed
	}
	var n [3]uint64
	for i, name := range [...]string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(parts[i], name)
		v, err := parsePHCDecimal(digits)
		if !ok || err != nil {
			return argon2Params{}, malformed
		}
		n[i] = v
	}
	if n[0] > maxArgon2Memory || n[1] > maxArgon2Time || n[2] > maxArgon2Threads {
		return argon2Params{}, fmt.Errorf("%w: parameters %q above m=%d,t=%d,p=%d",
			errPasswordHash, field, maxArgon2Memory, maxArgon2Time, maxArgon2Threads)
	}
	return argon2Params{memory: uint32(n[0]), time: uint32(n[1]), threads: uint8(n[2])}, nil
}

// parsePHCDecimal reads a PHC decimal: digits only, no sign, no leading
// zero.
func parsePHCDecimal(s string) (uint64, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	return strconv.ParseUint(s, 10, 32)
}

// decodePHCBase64 decodes the salt or hash field of a PHC string.
func decodePHCBase64(field, what string) ([]byte, error) {
	// The decoder skips CR and LF; a PHC string has none.
	b, err := phcBase64.DecodeString(field)
	if err != nil || strings.ContainsAny(field, "\r\n") {
		return nil, fmt.Errorf("%w: %s is not unpadded base64", errPasswordHash, what)
	}
	return b, nil
}

// checkArgon2Params checks p, as parsed from a stored hash, against the
// bounds above and RFC 9106's own.
func checkArgon2Params(p argon2Params) error {
	switch {
	case p.time == 0:
		return fmt.Errorf("%w: t=0", errPasswordHash)
	case p.threads == 0:
		return fmt.Errorf("%w: p=0", errPasswordHash)
	case p.memory < 8*uint32(p.threads):
		// RFC 9106 §3.1: m is "from 8*p to 2^(32)-1" KiB.
		return fmt.Errorf("%w: m=%d below 8*p", errPasswordHash, p.memory)
	case p.saltLen < minArgon2Salt || p.saltLen > maxArgon2Bytes:
		return fmt.Errorf("%w: %d-byte salt, want %d to %d", errPasswordHash, p.saltLen, minArgon2Salt, maxArgon2Bytes)
	case p.keyLen < minArgon2Key || p.keyLen > maxArgon2Bytes:
		return fmt.Errorf("%w: %d-byte hash, want %d to %d", errPasswordHash, p.keyLen, minArgon2Key, maxArgon2Bytes)
	}
	return nil
}
