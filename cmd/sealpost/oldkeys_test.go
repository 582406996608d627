package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestOldKeys: member add takes GnuPG's default key until 2009 (a
// DSA-1024 primary key with an ElGamal-2048 subkey) and an RSA-1024 key;
// key show (text and --json) and key check flag both as weak; a key whose
// algorithm Sealpost cannot use is refused with that algorithm named.
func TestOldKeys(t *testing.T) {
	t.Parallel()
	g := gpgtest.New(t)
	data, dir := t.TempDir(), t.TempDir()
	const list = "team@lists.example.org"
	sealpost(t, data, nil, "list", "create", list, "--owner", "owner@example.org").want(t, exitOK)
	fprs := map[string]string{
		"old": g.GenKeyAlgo("Old <old@example.org>", "dsa1024", "elg2048"),
		"rsa": g.GenKeyAlgo("Rsa <rsa@example.org>", "rsa1024", "rsa1024"),
		"k1":  g.GenKeyAlgo("K1 <k1@example.org>", "secp256k1", "secp256k1"),
	}
	add := func(who string, code int) result {
		t.Helper()
		key := writeFile(t, dir, who+".asc", g.Export(fprs[who]))
		return sealpost(t, data, nil, "member", "add", list, who+"@example.org", "--key", key).want(t, code)
	}
	add("old", exitOK)
	add("rsa", exitOK)
	if r := add("k1", exitData); !strings.Contains(r.stderr, "uses secp256k1, which Sealpost cannot use for encryption") {
		t.Errorf("member add of a secp256k1 key does not name the algorithm:\n%s", r.stderr)
	}

	r := sealpost(t, data, nil, "key", "show", "old@example.org").want(t, exitOK)
	for _, want := range []string{"DSA-1024/ElGamal-2048", "Usable; Weak key (1024 bits)", "sign, encrypt"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("key show lacks %q:\n%s", want, r.stdout)
		}
	}
	r = sealpost(t, data, nil, "key", "show", "--json", fprs["rsa"]).want(t, exitOK)
	var shown []struct {
		Status string `json:"status"`
		Bits   int    `json:"bits"`
		Weak   string `json:"weak"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || len(shown) != 1 {
		t.Fatalf("key show --json: %v\n%s", err, r.stdout)
	}
	if s := shown[0]; s.Status != "Usable" || s.Bits != 1024 || s.Weak != "Weak key (1024 bits)" {
		t.Errorf("key show --json = %+v", s)
	}

	r = sealpost(t, data, nil, "key", "check", "--list", list, "--days", "0").want(t, exitOK)
	for _, who := range []string{"old", "rsa"} {
		if line := lineWith(r.stdout, fprs[who]); !strings.Contains(line, "Weak key (1024 bits)") {
			t.Errorf("key check does not flag %s's key as weak:\n%s", who, r.stdout)
		}
	}
}
