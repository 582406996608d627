package admin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	encoded, err := hashPassword(rand.Reader, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=47104,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Errorf("hash %q does not start with %q", encoded, want)
	}
	h, err := parseArgon2(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if h.params != defaultArgon2 {
		t.Errorf("parsed parameters %+v, want %+v", h.params, defaultArgon2)
	}
	for _, v := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"", false},
	} {
		ok, err := checkPassword(encoded, v.password)
		if err != nil || ok != v.want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", v.password, ok, err, v.want)
		}
	}
}

func TestPasswordSalted(t *testing.T) {
	salts := bytes.NewReader(append(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)...))
	a, err := hashPassword(salts, "same")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hashPassword(salts, "same")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
	if _, err := hashPassword(salts, "same"); err == nil {
		t.Error("hashPassword with an exhausted salt source succeeded")
	}
}

// TestPasswordKnownAnswers checks hashArgon2 and checkPassword against
// the reference implementation (github.com/P-H-C/phc-winner-argon2). The
// first vector was made with its command-line tool (Debian package
// argon2, 0~20171227):
//
//	echo -n password | argon2 somesalt -id -t 1 -m 16 -p 1 -l 32 -e
//
// The others are argon2id vectors of its src/test.c, which the same tool
// reproduces (-t 2 -m 8 -p 1, and -p 2). Memory is kept small (64 MiB at
// most) so that the test stays fast.
func TestPasswordKnownAnswers(t *testing.T) {
	for _, v := range []struct {
		params  argon2Params
		encoded string
	}{{
		argon2Params{memory: 65536, time: 1, threads: 1, keyLen: 32},
		"$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg",
	}, {
		argon2Params{memory: 256, time: 2, threads: 1, keyLen: 32},
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
	}, {
		argon2Params{memory: 256, time: 2, threads: 2, keyLen: 32},
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
	}} {
		if got := hashArgon2(v.params, []byte("somesalt"), "password"); got != v.encoded {
			t.Errorf("hashArgon2(%+v) = %q, want %q", v.params, got, v.encoded)
		}
		for pw, want := range map[string]bool{"password": true, "passwore": false} {
			ok, err := checkPassword(v.encoded, pw)
			if err != nil || ok != want {
				t.Errorf("checkPassword(%q, %q) = %v, %v; want %v", v.encoded, pw, ok, err, want)
			}
		}
	}
}

func TestPasswordMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"
		key  = "9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"
	)
	for name, encoded := range map[string]string{
		"empty":          "",
		"argon2i":        "$argon2i$v=19$m=65536,t=1,p=1$" + salt + "$" + key,
		"argon2d":        "$argon2d$v=19$m=65536,t=1,p=1$" + salt + "$" + key,
		"v=16":           "$argon2id$v=16$m=65536,t=1,p=1$" + salt + "$" + key,
		"no version":     "$argon2id$m=65536,t=1,p=1$" + salt + "$" + key,
		"no hash":        "$argon2id$v=19$m=65536,t=1,p=1$" + salt,
		"empty hash":     "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$",
		"no p":           "$argon2id$v=19$m=65536,t=1$" + salt + "$" + key,
		"extra param":    "$argon2id$v=19$m=65536,t=1,p=1,keyid=AA$" + salt + "$" + key,
		"order":          "$argon2id$v=19$t=1,m=65536,p=1$" + salt + "$" + key,
		"leading zero":   "$argon2id$v=19$m=065536,t=1,p=1$" + salt + "$" + key,
		"sign":           "$argon2id$v=19$m=+65536,t=1,p=1$" + salt + "$" + key,
		"trailing $":     "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key + "$",
		"m too large":    "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key,
		"m overflow":     "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"m below 8p":     "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key,
		"t=0":            "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key,
		"t too large":    "$argon2id$v=19$m=65536,t=17,p=1$" + salt + "$" + key,
		"p=0":            "$argon2id$v=19$m=65536,t=1,p=0$" + salt + "$" + key,
		"p too large":    "$argon2id$v=19$m=65536,t=1,p=17$" + salt + "$" + key,
		"bad base64":     "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key[:10] + "!" + key[11:],
		"padded base64":  "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key + "=",
		"newline":        "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key[:10] + "\n" + key[10:],
		"short salt":     "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbA$" + key,
		"short hash":     "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key[:20],
		"url base64":     "$argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_"),
		"no leading $":   "argon2id$v=19$m=65536,t=1,p=1$" + salt + "$" + key,
		"only algorithm": "$argon2id",
	} {
		ok, err := checkPassword(encoded, "password")
		if ok || !errors.Is(err, errPasswordHash) {
			t.Errorf("%s: checkPassword(%q) = %v, %v; want errPasswordHash", name, encoded, ok, err)
		}
	}
}

func TestPasswordNeedsRehash(t *testing.T) {
	own, err := hashPassword(rand.Reader, "password")
	if err != nil {
		t.Fatal(err)
	}
	const otherKey = "9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"
	for _, v := range []struct {
		name, encoded string
		want          bool
	}{
		{"own", own, false},
		{"dummy", dummyPasswordHash(), false},
		{"m=65536", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHRzYWx0c2FsdA$" + otherKey, true},
		{"t=2", "$argon2id$v=19$m=47104,t=2,p=1$c29tZXNhbHRzYWx0c2FsdA$" + otherKey, true},
		{"8-byte salt", "$argon2id$v=19$m=47104,t=1,p=1$c29tZXNhbHQ$" + otherKey, true},
		{"malformed", "not a hash", true},
	} {
		if got := passwordNeedsRehash(v.encoded); got != v.want {
			t.Errorf("%s: passwordNeedsRehash(%q) = %v, want %v", v.name, v.encoded, got, v.want)
		}
	}
}

func TestDummyPasswordHash(t *testing.T) {
	if dummyPasswordHash() != dummyPasswordHash() {
		t.Error("dummyPasswordHash changes between calls")
	}
	if ok, err := checkPassword(dummyPasswordHash(), "password"); ok || err != nil {
		t.Errorf("checkPassword(dummy) = %v, %v; want false, nil", ok, err)
	}
}

// BenchmarkHashPassword: one argon2id hash at the default parameters,
// which is what a sign-in costs.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := hashPassword(rand.Reader, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
