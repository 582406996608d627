package pgp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// Interop tests of ReadKeys and Merge against keys that gpg made.

// gpgListed is one key as gpg --with-colons --list-keys shows it.
type gpgListed struct {
	keyID   string
	subIDs  []string
	subFprs []string
}

// impGPGKeys lists the public keys of g by primary fingerprint (GnuPG
// doc/DETAILS: field 5 is the key ID, field 10 of "fpr" the fingerprint).
func impGPGKeys(t *testing.T, g *gpgtest.GPG) map[string]*gpgListed {
	t.Helper()
	out := map[string]*gpgListed{}
	var cur *gpgListed
	last := ""
	for _, line := range strings.Split(string(g.MustRun(nil, "--with-colons", "--list-keys").Stdout), "\n") {
		f := strings.Split(line, ":")
		switch {
		case f[0] == "pub":
			cur = &gpgListed{keyID: f[4]}
		case f[0] == "sub":
			cur.subIDs = append(cur.subIDs, f[4])
		case f[0] == "fpr" && last == "pub":
			out[f[9]] = cur
		case f[0] == "fpr" && last == "sub":
			cur.subFprs = append(cur.subFprs, f[9])
		}
		last = f[0]
	}
	return out
}

// impGPGGenKey runs gpg --quick-generate-key with extra options first and
// returns the new key's fingerprint.
func impGPGGenKey(t *testing.T, g *gpgtest.GPG, uid string, opts ...string) string {
	t.Helper()
	args := append(opts, "--quick-generate-key", uid, "future-default", "default", "never")
	r := g.MustRun(nil, args...)
	for _, line := range strings.Split(r.Status, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == "KEY_CREATED" {
			return f[3]
		}
	}
	t.Fatalf("no KEY_CREATED:\n%s", r.Status)
	return ""
}

// TestReadKeysGPGExport: gpg --export of three keys, binary and armored,
// and armored exports with text between them, read with the IDs gpg lists.
func TestReadKeysGPGExport(t *testing.T) {
	g := gpgtest.New(t)
	fprs := []string{g.GenKey("A <a@example.org>"), g.GenKey("B <b@example.org>"), g.GenKey("C <c@example.org>")}
	listed := impGPGKeys(t, g)
	for name, data := range map[string][]byte{
		"binary":  g.MustRun(nil, "--export").Stdout,
		"armored": g.MustRun(nil, "--export", "--armor").Stdout,
		"blocks":  []byte(string(g.Export(fprs[0])) + "\nand the second:\n\n" + string(g.Export(fprs[1])) + string(g.Export(fprs[2]))),
	} {
		imps, err := ReadKeys(data, ImportOptions{})
		if err != nil || len(imps) != 3 {
			t.Fatalf("%s: ReadKeys = %d keys, %v; want 3", name, len(imps), err)
		}
		for _, imp := range imps {
			want := listed[imp.Fingerprint]
			if imp.Err != nil || want == nil {
				t.Fatalf("%s: %s: %v (gpg lists %v)", name, imp.Fingerprint, imp.Err, listed)
			}
			k := imp.Key
			if k.KeyID() != want.keyID || !slices.Equal(k.SubkeyIDs(), want.subIDs) || !slices.Equal(k.SubkeyFingerprints(), want.subFprs) {
				t.Errorf("%s: %s: KeyID %s, subkeys %v %v; gpg lists %+v",
					name, imp.Fingerprint, k.KeyID(), k.SubkeyIDs(), k.SubkeyFingerprints(), *want)
			}
		}
	}
}

// TestReadKeysGPGSecret: gpg secret keys, unprotected and protected by a
// passphrase (RFC 9580 §5.5.3).
func TestReadKeysGPGSecret(t *testing.T) {
	g := gpgtest.New(t)
	plain := g.GenKey("Plain <plain@example.org>")
	if imp := impReadOne(t, g.ExportSecret(plain), ImportOptions{}); !imp.Key.HasSecret() {
		t.Error("unprotected secret key read without its secret")
	}
	pass := []string{"--passphrase", "correct horse"}
	fpr := impGPGGenKey(t, g, "Locked <locked@example.org>", pass...)
	locked := g.MustRun(nil, append(pass, "--armor", "--export-secret-keys", fpr)...).Stdout
	give := func(p string) ImportOptions {
		return ImportOptions{Passphrase: func(f string) ([]byte, error) {
			if f != fpr {
				t.Errorf("passphrase asked for %s, want %s", f, fpr)
			}
			return []byte(p), nil
		}}
	}
	for name, c := range map[string]struct {
		opt  ImportOptions
		want string // in Err; "" for accepted
	}{
		"no passphrase":    {ImportOptions{}, "--passphrase-file"},
		"wrong passphrase": {give("wrong horse"), "wrong passphrase for secret key " + fpr},
		"right passphrase": {give("correct horse"), ""},
	} {
		imps, err := ReadKeys(locked, c.opt)
		if err != nil || len(imps) != 1 || imps[0].Fingerprint != fpr {
			t.Fatalf("%s: ReadKeys = %+v, %v", name, imps, err)
		}
		imp := imps[0]
		if c.want != "" {
			if !errors.Is(imp.Err, ErrLocked) || !strings.Contains(imp.Err.Error(), c.want) || imp.Key != nil {
				t.Errorf("%s: Err = %v, Key %v; want ErrLocked saying %q", name, imp.Err, imp.Key, c.want)
			}
			continue
		}
		if imp.Err != nil || !imp.Key.HasSecret() {
			t.Fatalf("%s: Err = %v", name, imp.Err)
		}
		signed, err := Sign(imp.Key, []byte(entity), Options{})
		if err != nil {
			t.Fatalf("%s: the unlocked key cannot sign: %v", name, err)
		}
		if r := g.Run(signed.packets, "--decrypt"); !r.Verified(fpr) {
			t.Errorf("%s: gpg does not verify the signature:\n%s", name, r.Status)
		}
	}
}

// TestReadKeysGPGSubkeyValidity: an expired and a revoked encryption
// subkey are kept and noted, and never chosen for encryption.
func TestReadKeysGPGSubkeyValidity(t *testing.T) {
	g := gpgtest.New(t)
	past := []string{"--faked-system-time", "20200101T000000!"}
	fpr := impGPGGenKey(t, g, "Sub <sub@example.org>", past...)
	g.MustRun(nil, append(past, "--quick-add-key", fpr, "cv25519", "encr", "1d")...)
	g.MustRun(nil, "--quick-add-key", fpr, "cv25519", "encr", "never")
	// The newest subkey, the one go-crypto would prefer, is revoked.
	g.MustRun([]byte("key 3\nrevkey\ny\n0\n\ny\nsave\n"), "--command-fd", "0", "--edit-key", fpr)
	subs := impGPGKeys(t, g)[fpr].subIDs
	if len(subs) != 3 {
		t.Fatalf("gpg lists subkeys %v, want 3", subs)
	}
	valid, expired, revoked := subs[0], subs[1], subs[2]

	imp := impReadOne(t, g.Export(fpr), ImportOptions{})
	notes := strings.Join(imp.Notes, "\n")
	if !strings.Contains(notes, expired+": expired") || !strings.Contains(notes, revoked+": revoked") {
		t.Errorf("Notes = %q, want %s expired and %s revoked", imp.Notes, expired, revoked)
	}
	if !slices.Equal(imp.Key.SubkeyIDs(), subs) {
		t.Errorf("SubkeyIDs = %v, want all of %v kept", imp.Key.SubkeyIDs(), subs)
	}
	now := time.Now()
	enc, ok := imp.Key.e.EncryptionKey(now, &packet.Config{})
	if !imp.Key.Info(now).CanEncrypt || !ok || enc.PublicKey.KeyIdString() != valid {
		t.Fatalf("encryption key %s, want %s", enc.PublicKey.KeyIdString(), valid)
	}
	signed, err := Sign(newListKey(t), []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := signed.EncryptBinaryTo(imp.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Run(ct, "--decrypt"); !r.HasStatus("ENC_TO", valid) || !r.HasStatus("DECRYPTION_OKAY") {
		t.Errorf("gpg: want ENC_TO %s:\n%s", valid, r.Status)
	}
}

// TestReadKeysGPGFlooded: the SKS certificate-flooding attack on a gpg
// key: 5,000 third-party certifications are dropped, and what is left is
// the key with its self-signatures, which gpg imports.
func TestReadKeysGPGFlooded(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Victim <victim@example.org>")
	victim := impReadOne(t, g.Export(fpr), ImportOptions{}).Key
	flooded := impFlood(t, victim.e, 10, 500)

	imp := impReadOne(t, flooded, ImportOptions{})
	if imp.DroppedThirdParty != 5000 || imp.DroppedSelfSigs != 0 {
		t.Errorf("dropped %d third-party, %d self; want 5000, 0", imp.DroppedThirdParty, imp.DroppedSelfSigs)
	}
	out := imp.Key.PublicBytes()
	for _, issuer := range impIssuers(t, out) {
		if issuer != victim.e.PrimaryKey.KeyId {
			t.Fatalf("a signature by %016X survived", issuer)
		}
	}
	if again := impReadOne(t, out, ImportOptions{}); again.DroppedThirdParty != 0 || !bytes.Equal(again.Key.PublicBytes(), out) {
		t.Error("the filtered key does not round-trip")
	}
	other := gpgtest.New(t)
	if r := other.MustRun(out, "--import"); !r.HasStatus("IMPORT_OK") {
		t.Errorf("gpg did not import the filtered key:\n%s", r.Status)
	}
}

// TestMergeGPG: a refreshed expiry and a revocation, made by gpg, are
// merged into the stored copy; merging the same copy changes nothing.
func TestMergeGPG(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Merge <merge@example.org>")
	old := impReadOne(t, g.Export(fpr), ImportOptions{}).Key
	// A minute ahead, so that the new self-signature is the newest.
	later := time.Now().UTC().Add(time.Minute)
	g.MustRun(nil, "--faked-system-time", later.Format("20060102T150405")+"!", "--quick-set-expire", fpr, "2y")
	fresh := impReadOne(t, g.Export(fpr), ImportOptions{}).Key

	at := later.Add(time.Hour)
	merged, changed := Merge(old, fresh)
	expires := merged.Info(at).Expires
	if !changed || expires.Before(later.AddDate(2, 0, -2)) || expires.After(later.AddDate(2, 0, 2)) {
		t.Errorf("Merge(old, refreshed): changed %v, expires %v; want true, in 2 years", changed, expires)
	}
	if _, changed := Merge(merged, fresh); changed {
		t.Error("Merge(merged, refreshed) reports a change")
	}

	cert, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	// gpg writes a colon before the armor so that the file is not imported by accident.
	cert = bytes.Replace(cert, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1)
	if _, err := ReadKeys(cert, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "revocation certificate") {
		t.Errorf("ReadKeys(revocation certificate) = %v, want a hint", err)
	}
	g.Import(cert)
	revoked := impReadOne(t, g.Export(fpr), ImportOptions{Now: at})
	merged, changed = Merge(merged, revoked.Key)
	if !changed || !merged.Info(at).Revoked {
		t.Errorf("Merge(key, revoked): changed %v, revoked %v; want both", changed, merged.Info(at).Revoked)
	}
	if !slices.Contains(revoked.Notes, "the key is revoked") {
		t.Errorf("Notes = %q, want the revocation noted", revoked.Notes)
	}
}
