package cli

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
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

// TestPostQuantumDisplays: who is post-quantum, as the commands show it.
// On a pq list a member whose key has an ML-KEM subkey is "post-quantum"
// and a member with a key made by GnuPG 2.2 "classical", in member add,
// member list (text and JSON), key show and key check --post-quantum,
// which counts them; key check without the flag still prints nothing.
func TestPostQuantumDisplays(t *testing.T) {
	const team = "team@lists.example.org"
	dir := t.TempDir()
	run := runOK(t, dir)
	g := gpgtest.New(t)
	bobFpr := g.GenKey("Bob <bob@example.org>")
	bob := filepath.Join(t.TempDir(), "bob.asc")
	if err := os.WriteFile(bob, g.MustRun(nil, "--export", "--armor", bobFpr).Stdout, 0o600); err != nil {
		t.Fatal(err)
	}
	pq, err := pgp.GenerateKey("Pia", "pia@example.org", pgp.PQ, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pia := filepath.Join(t.TempDir(), "pia.asc")
	if err := os.WriteFile(pia, pq.Armored(), 0o600); err != nil {
		t.Fatal(err)
	}

	run("list", "create", team, "--key-algo", "pq")
	if out := run("member", "add", team, "pia@example.org", "--key", pia, "--no-welcome"); !strings.Contains(out, "post-quantum: yes") {
		t.Errorf("member add of an ML-KEM key:\n%s", out)
	}
	if out := run("member", "add", team, "bob@example.org", "--key", bob, "--no-welcome"); !strings.Contains(out, "post-quantum: no (classical encryption only)") {
		t.Errorf("member add of a gpg key:\n%s", out)
	}

	want := map[string]string{"pia@example.org": "post-quantum", "bob@example.org": "classical"}
	list := run("member", "list", team)
	for _, line := range strings.Split(list, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] != want[f[0]] {
			t.Errorf("member list: %q, want COPIES %s", line, want[f[0]])
		}
	}
	var ms []memberJSON
	if err := json.Unmarshal([]byte(run("member", "list", team, "--json")), &ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Copies != want[m.Email] || len(m.Keys) != 1 || m.Keys[0].PostQuantum != (m.Email == "pia@example.org") {
			t.Errorf("member list --json: %+v", m)
		}
	}

	var shown []keyShowJSON
	if err := json.Unmarshal([]byte(run("key", "show", pq.Fingerprint(), "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || !shown[0].PostQuantum || !strings.Contains(shown[0].Algorithm, "ML-KEM-768+X25519") {
		t.Errorf("key show --json of pia's key: %+v", shown)
	}
	if out := run("key", "show", bobFpr); !strings.Contains(out, "post-quantum:  no (classical encryption only)") {
		t.Errorf("key show of bob's key:\n%s", out)
	}

	report := run("key", "check", "--list", team, "--post-quantum")
	rows := map[string]string{}
	for _, line := range strings.Split(report, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == team {
			rows[f[1]] = strings.Join(f[2:], " ")
		}
	}
	listKey, err := pgp.ParseKey([]byte(run("list", "key", team)))
	if err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]string{"list": "openpgp " + listKey.Fingerprint() + " post-quantum",
		"pia@example.org": "openpgp " + pq.Fingerprint() + " post-quantum", "bob@example.org": "openpgp " + bobFpr + " classical"}
	if len(rows) != 3 || rows["list"] != wantRows["list"] || rows["pia@example.org"] != wantRows["pia@example.org"] ||
		rows["bob@example.org"] != wantRows["bob@example.org"] || !strings.Contains(report, team+": 1 of 2 members' copies are post-quantum") {
		t.Errorf("key check --post-quantum:\n%s\nwant rows %v and 1 of 2 counted", report, wantRows)
	}
	const desk = "desk@lists.example.org"
	run("list", "create", desk, "--smime-generate", "--smime-kem-generate")
	var smimeRows []string
	for _, line := range strings.Split(run("key", "check", "--list", desk, "--post-quantum"), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[1] == "list" && f[2] == "smime" {
			smimeRows = append(smimeRows, f[4])
		}
	}
	if strings.Join(smimeRows, " ") != "classical post-quantum" {
		t.Errorf("key check --post-quantum: the S/MIME certificates of a list with an ML-KEM one are %v, want classical and post-quantum", smimeRows)
	}
	if out := run("key", "check", "--list", team); out != "" {
		t.Errorf("key check without --post-quantum printed:\n%s", out)
	}
}

// TestKyberSubkeyNotes: a key with a GnuPG 2.5 "Kyber" subkey (LibrePGP
// v5, algorithm 8, framed here as GnuPG writes it: no GnuPG 2.5 on this
// machine) is added with its classical subkey, and both member add and,
// later, key show say the Kyber subkey was left unused, though the stored
// key no longer holds it.
func TestKyberSubkeyNotes(t *testing.T) {
	const team = "team@lists.example.org"
	run := runOK(t, t.TempDir())
	e, err := v1.NewEntity("Kim", "", "kim@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519})
	if err != nil {
		t.Fatal(err)
	}
	var key bytes.Buffer
	if err := e.Serialize(&key); err != nil {
		t.Fatal(err)
	}
	frame := func(tag byte, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0xc0 | tag, 255}, uint32(len(body))), body...)
	}
	kyber := binary.BigEndian.AppendUint32([]byte{5, 0x67, 0, 0, 0, 8}, 1227) // v5, created, algorithm 8, key material length
	key.Write(frame(14, append(kyber, make([]byte, 1227)...)))
	id := e.PrimaryKey.KeyId
	sig := &packet.Signature{Version: 4, SigType: packet.SigTypeSubkeyBinding, PubKeyAlgo: e.PrimaryKey.PubKeyAlgo,
		Hash: crypto.SHA256, CreationTime: time.Now(), IssuerKeyId: &id}
	if err := sig.Sign(sha256.New(), e.PrivateKey, nil); err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(&key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kim.gpg")
	if err := os.WriteFile(path, key.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	run("list", "create", team, "--key-algo", "pq")
	out := run("member", "add", team, "kim@example.org", "--key", path, "--no-welcome")
	if !strings.Contains(out, "  note: ") || !strings.Contains(out, `"Kyber"`) || !strings.Contains(out, "post-quantum: no") {
		t.Errorf("member add of a key with a Kyber subkey:\n%s", out)
	}
	fpr := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
	if out := run("key", "show", fpr); !strings.Contains(out, "note:") || !strings.Contains(out, `"Kyber"`) {
		t.Errorf("key show of the stored key does not say the Kyber subkey was dropped:\n%s", out)
	}
	var shown []keyShowJSON
	if err := json.Unmarshal([]byte(run("key", "show", fpr, "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || len(shown[0].Notes) != 1 || !slices.Contains(shown[0].Usage, "encrypt") {
		t.Errorf("key show --json: %+v, want one note and the classical subkey encrypting", shown)
	}
	if out := run("member", "list", team); !strings.Contains(out, "classical") {
		t.Errorf("member list: kim's copies are not classical:\n%s", out)
	}
}
