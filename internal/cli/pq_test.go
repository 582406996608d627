package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// TestListKeyAlgoPQ: `list create --key-algo pq` gives the list a key
// with a post-quantum subkey, `list key` prints it whole and `list key
// --classic` without that subkey (same fingerprint), `list rotate-key
// --key-algo pq` makes a new one, and the help texts name pq.
func TestListKeyAlgoPQ(t *testing.T) {
	const team = "team@lists.example.org"
	run := runOK(t, t.TempDir())
	key := func(args ...string) *pgp.Key {
		t.Helper()
		k, err := pgp.ParseKey([]byte(run(append([]string{"list", "key", team}, args...)...)))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	run("list", "create", team, "--key-algo", "pq")
	full, classic := key(), key("--classic")
	if info := full.Info(time.Now()); !info.PostQuantum || info.Algorithm != "Ed25519/Cv25519/ML-KEM-768+X25519" {
		t.Errorf("list key: %+v", info)
	}
	if info := classic.Info(time.Now()); info.PostQuantum || info.Algorithm != "Ed25519/Cv25519" || classic.Fingerprint() != full.Fingerprint() {
		t.Errorf("list key --classic: %s %+v, want %s without the ML-KEM subkey", classic.Fingerprint(), info, full.Fingerprint())
	}
	run("list", "rotate-key", team, "--key-algo", "pq")
	if rotated := key(); rotated.Fingerprint() == full.Fingerprint() || !rotated.Info(time.Now()).PostQuantum {
		t.Errorf("after rotate-key --key-algo pq: %s %+v", rotated.Fingerprint(), rotated.Info(time.Now()))
	}
	for _, cmd := range [][]string{{"list", "create"}, {"list", "rotate-key"}, {"gateway", "create"}} {
		if help := run(append(cmd, "--help")...); !strings.Contains(help, "pq") {
			t.Errorf("%s --help does not name pq:\n%s", strings.Join(cmd, " "), help)
		}
	}
	if help := run("list", "key", "--help"); !strings.Contains(help, "--classic") || !strings.Contains(help, "Thunderbird") {
		t.Errorf("list key --help does not tell of --classic:\n%s", help)
	}
}
