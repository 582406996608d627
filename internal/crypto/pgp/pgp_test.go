package pgp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
)

const listAddr = "team@lists.example.org"

// entity is the inner MIME entity of a post, with a protected To header
// and a canary that must never leak.
const entity = "Content-Type: text/plain; charset=utf-8\r\n" +
	"To: team@lists.example.org\r\n" +
	"Subject: the real subject\r\n\r\n" +
	"Hello list. CANARY-7f3a\r\n"

func newListKey(t *testing.T) *Key {
	t.Helper()
	k, err := GenerateKey("Team", listAddr, Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParse(t *testing.T, data []byte) *Key {
	t.Helper()
	k, err := ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pgpMIME wraps an armored OpenPGP message in RFC 3156 §4 multipart/encrypted.
func pgpMIME(t *testing.T, armored []byte) *mime.Part {
	t.Helper()
	ct, body := EncryptedBody(armored, "b1")
	raw := "From: alice@example.org\r\nTo: " + listAddr + "\r\nSubject: ...\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n" + string(body)
	p, err := mime.Parse([]byte(raw), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGeneratedKeyImportsIntoGPG(t *testing.T) {
	g := gpgtest.New(t)
	for _, algo := range []Algorithm{Ed25519, RSA3072} {
		k, err := GenerateKey("Team", listAddr, algo, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g.Import(k.Armored())
		r := g.MustRun(nil, "--with-colons", "--list-keys", k.Fingerprint())
		if !strings.Contains(string(r.Stdout), "fpr:::::::::"+k.Fingerprint()) {
			t.Errorf("%s: gpg does not list the key:\n%s", algo, r.Stdout)
		}
		info := k.Info(time.Now())
		if !info.CanEncrypt || !info.CanSign || len(info.Addresses) != 1 || info.Addresses[0] != listAddr {
			t.Errorf("%s: Info = %+v", algo, info)
		}
	}
}

// TestSignedCopyVerifiesInGPG: a copy made by Sign+EncryptTo decrypts in
// gpg with integrity and a valid signature by the list key.
func TestSignedCopyVerifiesInGPG(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	fpr := g.GenKey("Bob <bob@example.org>")
	bob := mustParse(t, g.Export(fpr))
	g.Import(list.Armored())

	signed, err := Sign(list, []byte(strings.ReplaceAll(entity, "\r\n", "\n")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptTo(bob, false)
	if err != nil {
		t.Fatal(err)
	}
	r := g.MustRun(armored, "--decrypt")
	for _, st := range []string{"DECRYPTION_OKAY", "GOODMDC"} {
		if !r.HasStatus(st) {
			t.Errorf("gpg status lacks %s:\n%s", st, r.Status)
		}
	}
	if !r.Verified(list.Fingerprint()) {
		t.Errorf("gpg does not verify the signature by %s:\n%s", list.Fingerprint(), r.Report())
	}
	if string(r.Stdout) != entity {
		t.Errorf("decrypted entity = %q, want the CRLF-canonical entity", r.Stdout)
	}
}

// TestUnwrapGPGPosts: both RFC 3156 shapes made by gpg are accepted with a
// good signature by the member.
func TestUnwrapGPGPosts(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	fpr := g.GenKey("Alice <alice@example.org>")
	alice := mustParse(t, g.Export(fpr))

	t.Run("sign+encrypt §6.2", func(t *testing.T) {
		ct := g.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", list.Fingerprint(), "-u", fpr).Stdout
		u, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkGood(t, u, fpr)
		if string(u.Content) != entity {
			t.Errorf("Content = %q", u.Content)
		}
	})
	t.Run("multipart/signed inside §6.1", func(t *testing.T) {
		sig := g.MustRun([]byte(entity), "--armor", "--detach-sign", "-u", fpr).Stdout
		inner := "Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"s1\"\r\n\r\n" +
			"--s1\r\n" + entity + "\r\n--s1\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s1--\r\n"
		ct := g.MustRun([]byte(inner), "--armor", "--encrypt", "-r", list.Fingerprint()).Stdout
		u, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkGood(t, u, fpr)
		if string(u.Content) != entity {
			t.Errorf("Content = %q, want the signed part's exact bytes", u.Content)
		}
	})
	t.Run("unknown signer", func(t *testing.T) {
		ct := g.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", list.Fingerprint(), "-u", fpr).Stdout
		u, err := Unwrap(pgpMIME(t, ct), list, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != spcrypto.StatusUnknownSigner || u.Signer != nil {
			t.Errorf("Status = %v, Signer = %v; want unknown-signer", u.Status, u.Signer)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		ct := g.MustRun([]byte(entity), "--armor", "--encrypt", "-r", list.Fingerprint()).Stdout
		u, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != spcrypto.StatusUnsigned {
			t.Errorf("Status = %v, want unsigned", u.Status)
		}
	})
}

func checkGood(t *testing.T, u *Unwrapped, fpr string) {
	t.Helper()
	if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != fpr {
		t.Fatalf("Status = %v (%s), Signer = %+v; want good by %s", u.Status, u.Reason, u.Signer, fpr)
	}
	if !u.Signer.HasAddress("alice@example.org") || len(u.SignatureDigest) != 32 {
		t.Errorf("Signer = %+v, digest %x", u.Signer, u.SignatureDigest)
	}
	if u.Protection.Integrity != "mdc" && u.Protection.Integrity != "aead" {
		t.Errorf("Protection = %+v", u.Protection)
	}
}

// TestUnwrapRejectsWithoutIntegrity: DESIGN §4.1, no plaintext without a
// valid MDC/AEAD.
func TestUnwrapRejectsWithoutIntegrity(t *testing.T) {
	g := gpgtest.New(t)
	list := newListKey(t)
	g.Import(list.Armored())
	fpr := g.GenKey("Alice <alice@example.org>")
	alice := mustParse(t, g.Export(fpr))

	t.Run("no MDC (--rfc2440)", func(t *testing.T) {
		r := g.Run([]byte(entity), "--armor", "--rfc2440", "--cipher-algo", "AES256", "--sign", "--encrypt",
			"-r", list.Fingerprint(), "-u", fpr)
		if r.Err != nil {
			t.Fatalf("gpg --rfc2440: %v\n%s", r.Err, r.Stderr)
		}
		u, err := Unwrap(pgpMIME(t, r.Stdout), list, []*Key{alice}, Options{})
		if !errors.Is(err, ErrIntegrity) || u != nil {
			t.Fatalf("Unwrap(no MDC) = %v, %v; want ErrIntegrity and nothing", u, err)
		}
	})
	t.Run("flipped ciphertext byte", func(t *testing.T) {
		bin := g.MustRun([]byte(entity), "--sign", "--encrypt", "-r", list.Fingerprint(), "-u", fpr).Stdout
		bin[len(bin)-40] ^= 0x01
		armored := armorMessage(t, bin)
		u, err := Unwrap(pgpMIME(t, armored), list, []*Key{alice}, Options{})
		if err == nil || u != nil {
			t.Fatalf("Unwrap(tampered) = %+v, %v; want an error and nothing", u, err)
		}
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("Unwrap(tampered) err = %v", err)
		}
	})
	t.Run("not to the list key", func(t *testing.T) {
		ct := g.MustRun([]byte(entity), "--armor", "--encrypt", "-r", fpr).Stdout
		if _, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{}); !errors.Is(err, ErrNoKey) {
			t.Errorf("err = %v, want ErrNoKey", err)
		}
	})
	t.Run("symmetric", func(t *testing.T) {
		ct := g.MustRun([]byte(entity), "--armor", "--symmetric", "--passphrase", "x").Stdout
		if _, err := Unwrap(pgpMIME(t, ct), list, []*Key{alice}, Options{}); !errors.Is(err, ErrSymmetric) {
			t.Errorf("err = %v, want ErrSymmetric", err)
		}
	})
}

func armorMessage(t *testing.T, bin []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armorWriter(&b, "PGP MESSAGE")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	w.Close()
	return b.Bytes()
}

func TestUnwrapPlaintextSizeBound(t *testing.T) {
	list := newListKey(t)
	signed, err := Sign(list, bytes.Repeat([]byte("x"), 4096), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := signed.EncryptTo(list, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unwrap(pgpMIME(t, ct), list, nil, Options{MaxPlaintext: 1024}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	u, err := Unwrap(pgpMIME(t, ct), list, []*Key{list}, Options{})
	if err != nil || u.Status != spcrypto.StatusGood {
		t.Fatalf("round trip: %v, %+v", err, u)
	}
}

// TestDetachSignWithGPG: a multipart/signed entity made with DetachSign
// verifies in gpg, with the micalg the constant names.
func TestDetachSignWithGPG(t *testing.T) {
	g := gpgtest.New(t)
	k, err := GenerateKey("List", "team@lists.example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Import(k.Armored())
	ent := []byte("Content-Type: text/plain\n\nHello\n")
	sig, err := DetachSign(k, ent, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, sigFile := filepath.Join(dir, "data"), filepath.Join(dir, "data.asc")
	os.WriteFile(data, mime.Canonicalize(ent), 0o600)
	os.WriteFile(sigFile, sig, 0o600)
	r := g.Run(nil, "--verify", sigFile, data)
	if !r.Verified(k.Fingerprint()) {
		t.Fatalf("gpg --verify:\n%s", r.Status)
	}
	// RFC 4880 §9.4 hash 10 is SHA-512, which MICAlg names.
	for _, line := range strings.Split(r.Status, "\n") {
		if f := strings.Fields(line); len(f) > 9 && f[1] == "VALIDSIG" && (f[9] != "10" || MICAlg != "pgp-sha512") {
			t.Errorf("signature hash %s, micalg %s", f[9], MICAlg)
		}
	}
}

// TestClearSignWithGPG: gpg verifies a cleartext signature by the list key.
func TestClearSignWithGPG(t *testing.T) {
	g := gpgtest.New(t)
	k, err := GenerateKey("List", "team@lists.example.org", Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.Import(k.Armored())
	signed, err := ClearSign(k, []byte("Sign this, please.\r\n- and this dash line\r\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := g.Run(signed, "--decrypt")
	if !r.Verified(k.Fingerprint()) || !strings.Contains(string(r.Stdout), "- and this dash line") {
		t.Errorf("gpg:\n%s\n%s", r.Status, r.Stdout)
	}
}

// TestEncryptToAllWithGPG: one message encrypted to two people; each
// decrypts it with their own gpg.
func TestEncryptToAllWithGPG(t *testing.T) {
	list, err := GenerateKey("List", listAddr, Ed25519, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var homes []*gpgtest.GPG
	var keys []*Key
	for _, uid := range []string{"A <a@example.org>", "B <b@example.org>"} {
		g := gpgtest.New(t)
		fpr := g.GenKey(uid)
		g.Import(list.Armored())
		k, err := ParseKey(g.Export(fpr))
		if err != nil {
			t.Fatal(err)
		}
		homes, keys = append(homes, g), append(keys, k)
	}
	signed, err := Sign(list, []byte(entity), Options{})
	if err != nil {
		t.Fatal(err)
	}
	armored, err := signed.EncryptToAll(keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range homes {
		r := g.Run(armored, "--decrypt")
		if !r.HasStatus("DECRYPTION_OKAY") || !r.Verified(list.Fingerprint()) || !strings.Contains(string(r.Stdout), "CANARY") {
			t.Errorf("recipient %d:\n%s", i, r.Status)
		}
	}
}
