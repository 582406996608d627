package pgp

// Post-quantum OpenPGP (RFC 9980): which subkey a copy is encrypted to,
// the classical-only export of a list key, and the LibrePGP "Kyber"
// subkeys of GnuPG 2.5 that Sealpost reads past.

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// isMLKEM reports whether algo is one of RFC 9980's ML-KEM composite
// encryption algorithms: ML-KEM-768+X25519 (35) or ML-KEM-1024+X448 (36).
func isMLKEM(algo packet.PublicKeyAlgorithm) bool {
	return algo == packet.PubKeyAlgoMlkem768X25519 || algo == packet.PubKeyAlgoMlkem1024X448
}

// encryptionKey is the (sub)key Sealpost encrypts to at now: a currently
// valid ML-KEM encryption subkey when the key has one, whatever its date,
// else the one go-crypto picks (the newest valid encryption subkey). RFC
// 9980 leaves the choice among subkeys to the sender; go-crypto alone
// takes the post-quantum one only when it is the newest, and a key whose
// Cv25519 subkey was renewed after its ML-KEM one would get classical
// copies. Every encryption and Info go through here.
func (k *Key) encryptionKey(now time.Time, cfg *packet.Config) (openpgp.Key, bool) {
	pq := *k.e
	pq.Subkeys = nil
	for _, s := range k.e.Subkeys {
		if isMLKEM(s.PublicKey.PubKeyAlgo) {
			pq.Subkeys = append(pq.Subkeys, s)
		}
	}
	if len(pq.Subkeys) > 0 {
		// A copy of the entity that holds only the ML-KEM subkeys: its
		// EncryptionKey judges them (binding, flags, expiry, revocation)
		// as it would in the whole key. It may fall back to the primary
		// key, which is no ML-KEM key: that does not count.
		if enc, ok := pq.EncryptionKey(now, cfg); ok && isMLKEM(enc.PublicKey.PubKeyAlgo) {
			return enc, true
		}
	}
	return k.e.EncryptionKey(now, cfg)
}

// ClassicArmored returns the ASCII-armored public key without its
// post-quantum encryption subkeys (RFC 9980 ML-KEM, and their binding
// signatures): the same key, same fingerprint, with only the classical
// subkeys, for OpenPGP software that refuses a whole key holding a subkey
// of an algorithm it does not know (Thunderbird builds whose RNP predates
// RFC 9980, rnp issue 2370). What is encrypted with it is not protected
// against a quantum computer.
func (k *Key) ClassicArmored() []byte {
	c := *k.e
	c.Subkeys = nil
	for _, s := range k.e.Subkeys {
		if !s.PublicKey.IsPQ() {
			c.Subkeys = append(c.Subkeys, s)
		}
	}
	var b bytes.Buffer
	if err := serializePublic(&b, &c); err != nil {
		panic("pgp: serialize public key: " + err.Error())
	}
	out, err := armorBlock(openpgp.PublicKeyType, b.Bytes())
	if err != nil {
		panic("pgp: armor public key: " + err.Error())
	}
	return out
}

// HasPQSubkey reports whether the key holds an ML-KEM encryption subkey,
// valid or not: whether ClassicArmored differs from Armored.
func (k *Key) HasPQSubkey() bool {
	for _, s := range k.e.Subkeys {
		if s.PublicKey.IsPQ() {
			return true
		}
	}
	return false
}

// hasPQKey reports whether the key's primary key or any subkey is of an
// RFC 9980 algorithm.
func (k *Key) hasPQKey() bool {
	return k.e.PrimaryKey.IsPQ() || k.HasPQSubkey()
}

// dropUnreadableSubkeys removes from a binary transferable key the subkeys
// go-crypto cannot read, with the signatures that follow each: GnuPG
// 2.5's LibrePGP "Kyber" subkeys (version 5) and subkeys of an algorithm
// it does not know; go-crypto would refuse the whole key for one of them.
// It returns data itself when there is none, and how many of each kind
// were dropped. Framing it cannot follow is left for go-crypto to report.
func dropUnreadableSubkeys(data []byte) (out []byte, librePGP, unknownAlgo int) {
	skipping := false
	var kept []byte
	for off := 0; off < len(data); {
		p, n, err := splitKeyPacket(data[off:])
		if err != nil {
			if kept == nil {
				return data, 0, 0
			}
			return append(kept, data[off:]...), librePGP, unknownAlgo
		}
		switch {
		case p.tag == ptPublicSubkey || p.tag == ptSecretSubkey:
			lib, unk := unreadableSubkey(p)
			skipping = lib || unk
			if lib {
				librePGP++
			} else if unk {
				unknownAlgo++
			}
			if skipping && kept == nil {
				kept = append(make([]byte, 0, len(data)), data[:off]...)
			}
		case p.tag != ptSignature:
			skipping = false
		}
		if !skipping && kept != nil {
			kept = append(kept, p.raw...)
		}
		off += n
	}
	if kept == nil {
		return data, 0, 0
	}
	return kept, librePGP, unknownAlgo
}

// unreadableSubkey tells a LibrePGP subkey packet, and one of an
// algorithm go-crypto does not know, from one it reads.
func unreadableSubkey(p keyPacket) (librePGP, unknownAlgo bool) {
	if p.version() == librePGPKeyVersion {
		return true, false
	}
	_, err := packet.Read(bytes.NewReader(p.raw))
	var unsupported pgperrors.UnsupportedError
	return false, errors.As(err, &unsupported)
}

// Notes on what was dropped from a key, for the person who added it.
const (
	noteLibrePGP = "its GnuPG 2.5 \"Kyber\" subkey is in LibrePGP's format, not the OpenPGP post-quantum " +
		"standard (RFC 9980), and Sealpost does not use it: copies are encrypted to the key's classical subkey"
	noteLibrePGPOnly = "its only encryption subkey is a GnuPG 2.5 \"Kyber\" subkey in LibrePGP's format, " +
		"not the OpenPGP post-quantum standard (RFC 9980), which Sealpost does not use, so nothing can be " +
		"encrypted to this key; add a classical encryption subkey (gpg --quick-add-key FINGERPRINT cv25519 encr) " +
		"or make an RFC 9980 key (gpg --allow-9980)"
	noteUnknownAlgo = "a subkey of an algorithm Sealpost does not know is left unused"
)

// dropNotes words the counts of dropUnreadableSubkeys as Key notes.
func dropNotes(librePGP, unknownAlgo int) []string {
	var notes []string
	if librePGP > 0 {
		notes = append(notes, noteLibrePGP)
	}
	if unknownAlgo > 0 {
		notes = append(notes, noteUnknownAlgo)
	}
	return notes
}

// keyNotes are k's notes as they stand at now: a key left without any
// encryption key by a dropped LibrePGP subkey says so instead.
func (k *Key) keyNotes(canEncrypt bool) []string {
	var out []string
	for _, n := range k.notes {
		if n == noteLibrePGP && !canEncrypt {
			n = noteLibrePGPOnly
		}
		out = append(out, n)
	}
	return out
}

// algorithmName names the key's algorithms, the primary key's first and
// then each subkey's algorithm not named yet, in key order, e.g.
// "Ed25519/Cv25519/ML-KEM-768+X25519".
func algorithmName(e *openpgp.Entity) string {
	names := []string{pubAlgoName(e.PrimaryKey)}
	for _, s := range e.Subkeys {
		if n := pubAlgoName(s.PublicKey); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, "/")
}

// pqAlgoNames are RFC 9980's algorithms (§11, the OpenPGP Public Key
// Algorithms registry, 30 to 36), as key listings write them.
var pqAlgoNames = map[packet.PublicKeyAlgorithm]string{
	packet.PubKeyAlgoMldsa65Ed25519:  "ML-DSA-65+Ed25519",
	packet.PubKeyAlgoMldsa87Ed448:    "ML-DSA-87+Ed448",
	packet.PubKeyAlgoSlhdsaShake128s: "SLH-DSA-SHAKE-128s",
	packet.PubKeyAlgoSlhdsaShake128f: "SLH-DSA-SHAKE-128f",
	packet.PubKeyAlgoSlhdsaShake256s: "SLH-DSA-SHAKE-256s",
	packet.PubKeyAlgoMlkem768X25519:  "ML-KEM-768+X25519",
	packet.PubKeyAlgoMlkem1024X448:   "ML-KEM-1024+X448",
}
