package pgp

// Old and unusual but legitimate OpenPGP (issue 15 item 2): DSA keys with
// ElGamal subkeys, short keys, SHA-1 signatures, GnuPG's AEAD packet and
// a base64-encoded PGP/MIME control part. Keys and messages are made with
// gpg wherever gpg can make them.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/eax"
	"github.com/ProtonMail/go-crypto/ocb"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/mime"
)

// checkGoodBy fails t unless u is a good signature by fpr.
func checkGoodBy(t *testing.T, u *Unwrapped, fpr string) {
	t.Helper()
	if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != fpr || len(u.SignatureDigest) != 32 {
		t.Fatalf("Status = %v (%s), Signer = %+v; want good by %s", u.Status, u.Reason, u.Signer, fpr)
	}
}

// checkGPGCopy fails t unless gpg decrypts armored with integrity and a
// valid signature by signer, to want.
func checkGPGCopy(t *testing.T, g *gpgtest.GPG, armored []byte, signer, want string) {
	t.Helper()
	r := g.Run(armored, "--decrypt")
	for _, st := range []string{"DECRYPTION_OKAY", "GOODMDC"} {
		if !r.HasStatus(st) {
			t.Errorf("gpg status lacks %s:\n%s\n%s", st, r.Status, r.Stderr)
		}
	}
	if !r.HasStatus("VALIDSIG", signer) || r.Err != nil {
		t.Errorf("gpg status lacks VALIDSIG %s (exit %v):\n%s\n%s", signer, r.Err, r.Status, r.Stderr)
	}
	if string(r.Stdout) != want {
		t.Errorf("gpg decrypted %q, want %q", r.Stdout, want)
	}
}

// TestDSAElGamal: GnuPG's default key until 2009 (a DSA primary key
// with an ElGamal encryption subkey), made by gpg, serves as a member's
// key (posts signed with DSA verify, copies encrypted to ElGamal decrypt
// in gpg) and as a list's key (posts encrypted to its ElGamal subkey
// decrypt, what it signs with DSA verifies in gpg).
func TestDSAElGamal(t *testing.T) {
	old := gpgtest.New(t)
	fpr := old.GenKeyAlgo("Old <old@example.org>", "dsa2048", "elg2048")
	oldPub, oldSecret := mustParse(t, old.Export(fpr)), mustParse(t, old.ExportSecret(fpr))
	info := oldPub.Info(time.Now())
	if !info.CanSign || !info.CanEncrypt || info.Algorithm != "DSA-2048/ElGamal-2048" || info.Bits != 2048 {
		t.Errorf("Info = %+v, want a usable DSA-2048/ElGamal-2048 key", info)
	}

	t.Run("member", func(t *testing.T) {
		list := newListKey(t)
		old.Import(list.Armored())
		ct := old.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", list.Fingerprint(), "-u", fpr).Stdout
		u, err := Unwrap(pgpMIME(t, ct), list, []*Key{oldPub}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkGoodBy(t, u, fpr)
		signed, err := Sign(list, []byte(entity), Options{})
		if err != nil {
			t.Fatal(err)
		}
		armored, err := signed.EncryptTo(oldPub, false)
		if err != nil {
			t.Fatal(err)
		}
		checkGPGCopy(t, old, armored, list.Fingerprint(), entity)
	})

	t.Run("list key", func(t *testing.T) {
		if !oldSecret.HasSecret() || oldSecret.Fingerprint() != fpr {
			t.Fatalf("secret key not read: %s", oldSecret.Fingerprint())
		}
		g := gpgtest.New(t)
		g.Import(oldPub.Armored())
		alice := g.GenKey("Alice <alice@example.org>")
		aliceKey := mustParse(t, g.Export(alice))
		ct := g.MustRun([]byte(entity), "--armor", "--sign", "--encrypt", "-r", fpr, "-u", alice).Stdout
		u, err := Unwrap(pgpMIME(t, ct), oldSecret, []*Key{aliceKey}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkGood(t, u, alice)
		signed, err := Sign(oldSecret, []byte(entity), Options{})
		if err != nil {
			t.Fatal(err)
		}
		armored, err := signed.EncryptTo(aliceKey, false)
		if err != nil {
			t.Fatal(err)
		}
		checkGPGCopy(t, g, armored, fpr, entity)
		sig, err := DetachSign(oldSecret, []byte(entity), Options{})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		data, sigFile := filepath.Join(dir, "entity"), filepath.Join(dir, "entity.asc")
		if err := os.WriteFile(data, []byte(entity), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
			t.Fatal(err)
		}
		// Only VALIDSIG: the exit status is issue 15 item 5's (armor checksum).
		if r := g.Run(nil, "--verify", sigFile, data); !r.HasStatus("VALIDSIG", fpr) {
			t.Errorf("gpg --verify of the DSA detached signature:\n%s\n%s", r.Status, r.Stderr)
		}
	})
}

// TestShortAndRefusedKeys: keys under 2048 bits are usable and their size
// is reported (keyring flags them as weak); a key whose algorithm
// Sealpost cannot use says which algorithm that is.
func TestShortAndRefusedKeys(t *testing.T) {
	g := gpgtest.New(t)
	tests := []struct {
		name, algo, encrypt string
		bits                int
		usable              bool
		encRefused, sigRef  string
	}{
		{"GnuPG's default until 2009", "dsa1024", "elg2048", 1024, true, "", ""},
		{"RSA-1024", "rsa1024", "rsa1024", 1024, true, "", ""},
		{"ElGamal-1024 subkey", "rsa2048", "elg1024", 1024, true, "", ""},
		{"Ed25519", "ed25519", "cv25519", 0, true, "", ""},
		{"secp256k1", "secp256k1", "secp256k1", 0, false, "secp256k1", "ECDSA-secp256k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fpr := g.GenKeyAlgo(tt.name+" <"+tt.algo+"@example.org>", tt.algo, tt.encrypt)
			info := mustParse(t, g.Export(fpr)).Info(time.Now())
			if info.CanEncrypt != tt.usable || info.CanSign != tt.usable || info.Bits != tt.bits {
				t.Errorf("Info = %+v; want usable %v, %d bits", info, tt.usable, tt.bits)
			}
			if info.EncryptRefused != tt.encRefused || info.SignRefused != tt.sigRef {
				t.Errorf("refused algorithms %q, %q; want %q, %q", info.EncryptRefused, info.SignRefused, tt.encRefused, tt.sigRef)
			}
		})
	}
}

// TestSHA1Signatures: RFC 9580 §9.5, SHA-1 message signatures are refused,
// but as what they are (StatusWeak), not as altered content; an altered
// message signed with SHA-1 is still StatusBad.
func TestSHA1Signatures(t *testing.T) {
	e := newInlineEnv(t)
	sha1 := []string{"--digest-algo", "SHA1", "-u", e.fpr}
	checkWeak := func(t *testing.T, u *Unwrapped) {
		t.Helper()
		if u.Status != spcrypto.StatusWeak || u.Signer != nil || !strings.Contains(u.Reason, "SHA-1") {
			t.Errorf("Status = %v (%s), Signer %v; want weak, naming SHA-1", u.Status, u.Reason, u.Signer)
		}
	}
	unwrap := func(t *testing.T, plain []byte, args ...string) *Unwrapped {
		t.Helper()
		ct := e.encrypt(t, plain, append([]string{"--armor"}, args...)...)
		u, err := Unwrap(pgpMIME(t, ct), e.list, e.members, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	multipartSigned := func(first string, sig []byte) []byte {
		return []byte("Content-Type: multipart/signed; micalg=pgp-sha1; protocol=\"application/pgp-signature\"; boundary=\"s1\"\r\n\r\n" +
			"--s1\r\n" + first + "\r\n--s1\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s1--\r\n")
	}
	sig := e.g.MustRun([]byte(entity), append([]string{"--armor", "--detach-sign"}, sha1...)...).Stdout

	t.Run("gpg --sign --encrypt (RFC 3156 §6.2)", func(t *testing.T) {
		checkWeak(t, unwrap(t, []byte(entity), append([]string{"--sign"}, sha1...)...))
	})
	t.Run("multipart/signed inside (RFC 3156 §6.1)", func(t *testing.T) {
		checkWeak(t, unwrap(t, multipartSigned(entity, sig)))
	})
	t.Run("clear-signed inline", func(t *testing.T) {
		clear := e.g.MustRun([]byte(inlineText), append([]string{"--clearsign"}, sha1...)...).Stdout
		u := mustUnwrapInline(t, inlineMsg(t, textEntity("utf-8", e.encrypt(t, clear, "--armor"))), e.list, e.members, Options{})
		checkWeak(t, u)
	})
	t.Run("altered, signed with SHA-1", func(t *testing.T) {
		u := unwrap(t, multipartSigned(strings.Replace(entity, "Hello", "Jello", 1), sig))
		if u.Status != spcrypto.StatusBad {
			t.Errorf("Status = %v (%s), want bad", u.Status, u.Reason)
		}
	})
	t.Run("DSA-1024 with SHA-256", func(t *testing.T) {
		// gpg signs with SHA-1 for a DSA-1024 key unless told otherwise;
		// a longer hash is truncated to the key's 160-bit q (FIPS 186-4).
		fpr := e.g.GenKeyAlgo("Alice <alice@example.org>", "dsa1024", "cv25519")
		dsa := mustParse(t, e.g.Export(fpr))
		ct := e.encrypt(t, []byte(entity), "--armor", "--sign", "--digest-algo", "SHA256", "-u", fpr)
		u, err := Unwrap(pgpMIME(t, ct), e.list, []*Key{dsa}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkGoodBy(t, u, fpr)
		ct = e.encrypt(t, []byte(entity), "--armor", "--sign", "-u", fpr)
		if u, err = Unwrap(pgpMIME(t, ct), e.list, []*Key{dsa}, Options{}); err != nil {
			t.Fatal(err)
		}
		checkWeak(t, u)
	})
}

// aeadLength writes an OpenPGP new-format packet length (RFC 4880 §4.2.2).
func aeadLength(n int) []byte {
	switch {
	case n < 192:
		return []byte{byte(n)}
	case n < 8384:
		n -= 192
		return []byte{byte(n>>8) + 192, byte(n)}
	}
	return []byte{0xff, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// aeadPacket builds the AEAD Encrypted Data packet (tag 20) that GnuPG 2.3
// and later write, from its specification (RFC 4880bis-10 §5.16, the
// LibrePGP "OCB Encrypted Data Packet"): version 1, cipher, AEAD mode
// (OCB with a 15-byte IV, EAX with a 16-byte one), chunk size octet c
// (chunks of 2^(c+6) bytes), the IV, each chunk's ciphertext and tag, and
// a final tag over the total length. Nonces are the IV with the chunk
// index XORed into its last 8 bytes; the associated data is the packet
// tag octet 0xD4, the 4 header octets and the chunk index. go-crypto
// writes this packet only in its own tests, and the installed gpg (2.2)
// not at all, so it is built here with go-crypto's OCB and EAX.
func aeadPacket(t testing.TB, key, iv []byte, chunkByte byte, plain []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var aead cipher.AEAD
	mode := byte(packet.AEADModeOCB)
	if len(iv) == 16 {
		aead, err = eax.NewEAX(block)
		mode = byte(packet.AEADModeEAX)
	} else {
		aead, err = ocb.NewOCB(block)
	}
	if err != nil {
		t.Fatal(err)
	}
	cipherID := map[int]packet.CipherFunction{16: packet.CipherAES128, 24: packet.CipherAES192, 32: packet.CipherAES256}[len(key)]
	prefix := []byte{0xd4, 1, byte(cipherID), mode, chunkByte}
	nonce := func(i uint64) []byte {
		n := bytes.Clone(iv)
		idx := binary.BigEndian.AppendUint64(nil, i)
		for j := range 8 {
			n[len(n)-8+j] ^= idx[j]
		}
		return n
	}
	body := append(bytes.Clone(prefix[1:]), iv...)
	chunk := 1 << (int(chunkByte) + 6)
	var i uint64
	for off := 0; off < len(plain); off += chunk {
		body = aead.Seal(body, nonce(i), plain[off:min(off+chunk, len(plain))], binary.BigEndian.AppendUint64(bytes.Clone(prefix), i))
		i++
	}
	final := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(bytes.Clone(prefix), i), uint64(len(plain)))
	body = aead.Seal(body, nonce(i), nil, final)
	return append(append([]byte{0xd4}, aeadLength(len(body))...), body...)
}

// partialLengths re-frames a packet built by aeadPacket with partial body
// lengths of 512 bytes (RFC 4880 §4.2.2.4), as GnuPG streams it.
func partialLengths(pkt []byte) []byte {
	body := pkt[2:]
	switch {
	case pkt[1] == 0xff:
		body = pkt[6:]
	case pkt[1] >= 192:
		body = pkt[3:]
	}
	out := []byte{pkt[0]}
	for len(body) > 512 {
		out = append(append(out, 0xe0|9), body[:512]...)
		body = body[512:]
	}
	return append(append(out, aeadLength(len(body))...), body...)
}

// TestAEADPacketBuilder checks aeadPacket against the OCB sample of RFC
// 4880bis-10 §A.5, so that the fixtures below are what the specification
// (and GnuPG) write, not merely what go-crypto reads.
func TestAEADPacketBuilder(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got := aeadPacket(t, h("d1f01ba30e130aa7d2582c16e050ae44"), h("5ed2bc1e470abe8f1d644c7a6c8a56"), 14,
		h("cb1462000000000048656c6c6f2c20776f726c64210a"))
	want := h("d4490107020e5ed2bc1e470abe8f1d644c7a6c8a567b0f7701196611a154ba9c2574cd056284a8ef68035c" +
		"623d93cc708a43211bb6eaf2b27f7c18d571bcd83b20add3a08b73af15b9a098")
	if !bytes.Equal(got, want) {
		t.Fatalf("aeadPacket = %x\nwant        %x", got, want)
	}
}

// gnupgAEAD is what GnuPG 2.4 sends to a key that advertises AEAD: a v3
// PKESK to list's encryption subkey, then an AEAD Encrypted Data packet
// with partial lengths around inner (a gpg-made signed message).
func gnupgAEAD(t testing.TB, list *Key, cipher packet.CipherFunction, ivLen int, chunkByte byte, inner []byte) []byte {
	t.Helper()
	enc, ok := list.e.EncryptionKey(time.Now(), keyConfig())
	if !ok {
		t.Fatal("list key cannot encrypt")
	}
	key, iv := bytes.Repeat([]byte{0x5a}, cipher.KeySize()), bytes.Repeat([]byte{0xa5}, ivLen)
	var b bytes.Buffer
	if err := packet.SerializeEncryptedKeyAEAD(&b, enc.PublicKey, cipher, false, key, nil); err != nil {
		t.Fatal(err)
	}
	b.Write(partialLengths(aeadPacket(t, key, iv, chunkByte, inner)))
	return b.Bytes()
}

// TestUnwrapAEADPacket: GnuPG's AEAD packet is integrity-protected and
// accepted, with OCB (what GnuPG uses) and EAX, one chunk or many; a
// flipped byte fails its tag. SEIPD v2 (RFC 9580 §5.13.2) is accepted too.
func TestUnwrapAEADPacket(t *testing.T) {
	e := newInlineEnv(t)
	// 38 KiB, uncompressed: many 64-byte chunks, several 512-byte partial lengths.
	signed := e.g.MustRun(bytes.Repeat([]byte(entity), 400), "--sign", "-z", "0", "-u", e.fpr).Stdout
	for _, tc := range []struct {
		name      string
		cipher    packet.CipherFunction
		ivLen     int
		chunkByte byte
	}{
		{"OCB, AES-256, 4 MiB chunks (GnuPG's default)", packet.CipherAES256, 15, 16},
		{"OCB, AES-128, 64-byte chunks", packet.CipherAES128, 15, 0},
		{"EAX, AES-256", packet.CipherAES256, 16, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := gnupgAEAD(t, e.list, tc.cipher, tc.ivLen, tc.chunkByte, signed)
			u, err := Unwrap(pgpMIME(t, armorMessage(t, bin)), e.list, e.members, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkGood(t, u, e.fpr)
			if u.Protection.Integrity != "aead" || !bytes.Equal(u.Content, bytes.Repeat([]byte(entity), 400)) {
				t.Errorf("Protection %+v, %d bytes of content", u.Protection, len(u.Content))
			}
			bin[len(bin)-100] ^= 0x01
			if u, err := Unwrap(pgpMIME(t, armorMessage(t, bin)), e.list, e.members, Options{}); !errors.Is(err, ErrIntegrity) || u != nil {
				t.Errorf("flipped byte: %v, %v; want ErrIntegrity and nothing", u, err)
			}
		})
	}
	t.Run("SEIPD v2", func(t *testing.T) {
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, AEADConfig: &packet.AEADConfig{}}
		ent, err := openpgp.NewEntity("Team", "", listAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		v2list := &Key{e: ent}
		s, err := Sign(v2list, []byte(entity), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ct, err := s.EncryptTo(v2list, true)
		if err != nil {
			t.Fatal(err)
		}
		u, err := Unwrap(pgpMIME(t, ct), v2list, []*Key{v2list}, Options{})
		if err != nil || u.Protection.Integrity != "aead" || u.Status != spcrypto.StatusGood {
			t.Fatalf("Unwrap = %+v, %v; want a good signature under SEIPD v2", u, err)
		}
	})
}

// TestBase64ControlPart: RFC 3156 §4 asks the control part to contain
// "Version: 1", whatever its transfer encoding; Outlook.com sends it
// base64-encoded.
func TestBase64ControlPart(t *testing.T) {
	e := newInlineEnv(t)
	ct := e.ciphertext(t, entity)
	_, body := EncryptedBody(ct, "b1")
	body = bytes.Replace(body, []byte("Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n"),
		[]byte("Content-Transfer-Encoding: base64\r\n\r\nVmVyc2lvbjogMQ0K\r\n"), 1)
	raw := "From: alice@example.org\r\nTo: " + listAddr + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n" + string(body)
	if !strings.Contains(raw, "VmVyc2lvbjogMQ0K") {
		t.Fatal("control part not replaced")
	}
	msg, err := mime.Parse([]byte(raw), mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := Unwrap(msg, e.list, e.members, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGood(t, u, e.fpr)

	broken := strings.Replace(raw, "VmVyc2lvbjogMQ0K", "VmVyc2lvbjogMg0K", 1) // "Version: 2"
	if msg, err = mime.Parse([]byte(broken), mime.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Unwrap(msg, e.list, e.members, Options{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("control part saying Version: 2: %v, want ErrMalformed", err)
	}
}
