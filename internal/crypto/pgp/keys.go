package pgp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mail"
)

// Limits on keys accepted for import (DESIGN §4.8).
const (
	maxKeyBytes       = 1 << 20 // one transferable key, armored
	maxUserIDs        = 100
	maxSubkeys        = 50
	maxSigsPerElement = 100
)

// Algorithm selects the kind of key GenerateKey makes.
type Algorithm string

// Key algorithms for list keys.
const (
	Ed25519 Algorithm = "ed25519" // EdDSA (legacy OID) primary + Cv25519 ECDH subkey, v4
	RSA3072 Algorithm = "rsa3072"
	RSA4096 Algorithm = "rsa4096"
	// PQ is Ed25519 with, besides its Cv25519 subkey, an RFC 9980
	// ML-KEM-768+X25519 encryption subkey, v4: members whose software
	// knows RFC 9980 encrypt to the post-quantum subkey, the others (GnuPG
	// 2.2 among them, which keeps the subkey it cannot use) to Cv25519.
	PQ Algorithm = "pq"
)

// AlgorithmHelp lists the --key-algo spellings for help texts.
const AlgorithmHelp = "ed25519, rsa3072, rsa4096 or pq (ed25519 plus a post-quantum ML-KEM-768+X25519 subkey, RFC 9980)"

// ParseAlgorithm accepts the --key-algo spellings.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToLower(s)); a {
	case Ed25519, RSA3072, RSA4096, PQ:
		return a, nil
	case "":
		return Ed25519, nil
	}
	return "", fmt.Errorf("pgp: unknown key algorithm %q (want ed25519, rsa3072, rsa4096 or pq)", s)
}

// Key is one OpenPGP transferable key: public, or with its secret parts.
type Key struct {
	e *openpgp.Entity
	// notes say what was dropped from the key as it was read (a LibrePGP
	// subkey), for Info.
	notes []string
}

// Fingerprint returns the primary key's fingerprint in upper-case hex.
func (k *Key) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(k.e.PrimaryKey.Fingerprint))
}

// HasSecret reports whether the key carries usable secret key material.
func (k *Key) HasSecret() bool { return k.e.PrivateKey != nil && !k.e.PrivateKey.Dummy() }

// GenerateKey makes a new v4 key for a list: name and addr form its only
// user ID, and it has a signing primary key and an encryption subkey (two
// for PQ: Cv25519, then ML-KEM-768+X25519).
func GenerateKey(name, addr string, algo Algorithm, opt Options) (*Key, error) {
	cfg := opt.config()
	cfg.V6Keys = false
	switch algo {
	case Ed25519, "":
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
	case PQ:
		return generatePQ(name, addr, cfg)
	case RSA3072, RSA4096:
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = 3072
		if algo == RSA4096 {
			cfg.RSABits = 4096
		}
	default:
		return nil, fmt.Errorf("pgp: generate: unknown algorithm %q", algo)
	}
	e, err := openpgp.NewEntity(name, "", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgp: generate: %w", err)
	}
	return &Key{e: e}, nil
}

// generatePQ makes the PQ layout: a legacy EdDSA Ed25519 primary key
// (algorithm 22) with an ECDH Cv25519 subkey (18), which GnuPG 2.2 uses,
// and an ML-KEM-768+X25519 subkey (35) added last, which RFC 9980 §4.2
// allows in a v4 key. RFC 9980 §9 (symmetric algorithms): a certificate
// with a post-quantum key should prefer AES-256 and advertise SEIPD v2
// with AES-256+OCB; GnuPG 2.2 imports the key all the same and keeps
// encrypting with SEIPD v1.
func generatePQ(name, addr string, cfg *packet.Config) (*Key, error) {
	cfg.Algorithm = packet.PubKeyAlgoEdDSA
	cfg.Curve = packet.Curve25519
	cfg.DefaultCipher = packet.CipherAES256
	cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	e, err := openpgp.NewEntity(name, "", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgp: generate: %w", err)
	}
	sub := *cfg
	sub.Algorithm = packet.PubKeyAlgoMlkem768X25519
	if err := e.AddEncryptionSubkey(&sub); err != nil {
		return nil, fmt.Errorf("pgp: generate: ML-KEM subkey: %w", err)
	}
	return &Key{e: e}, nil
}

// ParseKey reads exactly one transferable key, armored or binary. Secret
// keys are returned with their secret parts; passphrase-protected secret
// keys are refused.
func ParseKey(data []byte) (*Key, error) {
	if len(data) > maxKeyBytes {
		return nil, fmt.Errorf("pgp: key is larger than %d bytes", maxKeyBytes)
	}
	var r io.Reader = bytes.NewReader(data)
	if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
		block, err := armor.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("pgp: key armor: %w", err)
		}
		if block.Type != openpgp.PublicKeyType && block.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("pgp: expected a key block, found %q", block.Type)
		}
		r = block.Body
	}
	bin, err := io.ReadAll(io.LimitReader(r, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("pgp: read key: %w", err)
	}
	// As ReadKeys does: go-crypto refuses a whole key for one subkey it
	// cannot read, and a member's GnuPG 2.5 key has one (LibrePGP Kyber).
	bin, librePGP, unknownAlgo := dropUnreadableSubkeys(bin)
	list, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("pgp: read key: %w", err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("pgp: expected one key, found %d", len(list))
	}
	e := list[0]
	if err := checkKeyLimits(e); err != nil {
		return nil, err
	}
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return nil, errors.New("pgp: secret key is protected by a passphrase; export it without one")
	}
	return &Key{e: e, notes: dropNotes(librePGP, unknownAlgo)}, nil
}

func checkKeyLimits(e *openpgp.Entity) error {
	if len(e.Identities) > maxUserIDs || len(e.Subkeys) > maxSubkeys {
		return fmt.Errorf("pgp: key has too many user IDs or subkeys (limits %d, %d)", maxUserIDs, maxSubkeys)
	}
	for _, id := range e.Identities {
		if len(id.SelfCertifications)+len(id.OtherCertifications)+len(id.Revocations) > maxSigsPerElement {
			return fmt.Errorf("pgp: user ID %q carries more than %d signatures", id.Name, maxSigsPerElement)
		}
	}
	return nil
}

// PublicBytes returns the binary transferable public key (RFC 9580 §10.1).
// The user IDs are written in a fixed order (by user ID), so the same key
// always serialises to the same bytes: the keyring tells an updated key
// from an unchanged one by comparing them.
func (k *Key) PublicBytes() []byte {
	var b bytes.Buffer
	if err := serializePublic(&b, k.e); err != nil {
		// Serialising writes to memory and fails only on a malformed
		// entity, which ParseKey and GenerateKey never return.
		panic("pgp: serialize public key: " + err.Error())
	}
	return b.Bytes()
}

// serializePublic is openpgp.Entity.Serialize, except that it does not
// take the user IDs in the random order of a map.
func serializePublic(w io.Writer, e *openpgp.Entity) error {
	if err := e.PrimaryKey.Serialize(w); err != nil {
		return err
	}
	for _, sigs := range [][]*packet.VerifiableSignature{e.Revocations, e.DirectSignatures} {
		for _, sig := range sigs {
			if err := sig.Packet.Serialize(w); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.Identities)) {
		if err := e.Identities[name].Serialize(w); err != nil {
			return err
		}
	}
	for i := range e.Subkeys {
		if err := e.Subkeys[i].Serialize(w, false); err != nil {
			return err
		}
	}
	return nil
}

// Armored returns the ASCII-armored public key.
func (k *Key) Armored() []byte {
	b, err := armorBlock(openpgp.PublicKeyType, k.PublicBytes())
	if err != nil {
		panic("pgp: armor public key: " + err.Error())
	}
	return b
}

// SecretBytes returns the binary transferable secret key, unprotected:
// the caller must seal it before it is stored (DESIGN §4.6).
func (k *Key) SecretBytes() ([]byte, error) {
	if !k.HasSecret() {
		return nil, errors.New("pgp: key has no secret part")
	}
	var b bytes.Buffer
	if err := k.e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		return nil, fmt.Errorf("pgp: serialize secret key: %w", err)
	}
	return b.Bytes(), nil
}

// Info summarises the key as it stands at now.
func (k *Key) Info(now time.Time) spcrypto.KeyInfo {
	e := k.e
	info := spcrypto.KeyInfo{
		Engine:      spcrypto.OpenPGP,
		Fingerprint: k.Fingerprint(),
		Algorithm:   algorithmName(e),
		Created:     e.PrimaryKey.CreationTime,
	}
	info.Addresses, info.Names = k.addresses(now)
	cfg := keyConfig()
	selfSig, err := e.VerifyPrimaryKey(now, cfg)
	switch {
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		info.Revoked = true
	case selfSig != nil && selfSig.KeyLifetimeSecs != nil && *selfSig.KeyLifetimeSecs != 0:
		info.Expires = e.PrimaryKey.CreationTime.Add(time.Duration(*selfSig.KeyLifetimeSecs) * time.Second)
	}
	if selfSig != nil {
		info.SEIPDv2 = selfSig.SEIPDv2
	}
	inUse := []*packet.PublicKey{e.PrimaryKey}
	enc, encOK := k.encryptionKey(now, cfg)
	info.PostQuantum = encOK && isMLKEM(enc.PublicKey.PubKeyAlgo)
	sign, signOK := e.SigningKey(now, cfg)
	info.CanEncrypt, info.CanSign = encOK, signOK
	// A key that could encrypt or sign but for its algorithm: name it.
	if !encOK {
		enc, encOK = e.EncryptionKey(now, anyAlgorithm())
		info.EncryptRefused = refusedName(enc, encOK)
	}
	if !signOK {
		sign, signOK = e.SigningKey(now, anyAlgorithm())
		info.SignRefused = refusedName(sign, signOK)
	}
	if encOK {
		inUse = append(inUse, enc.PublicKey)
	}
	if signOK {
		inUse = append(inUse, sign.PublicKey)
	}
	info.Bits = smallestBits(inUse)
	info.Notes = k.keyNotes(info.CanEncrypt)
	return info
}

// anyAlgorithm is a configuration that accepts every algorithm and key
// size go-crypto can read: what a key would use if Sealpost's algorithm
// policy allowed it.
func anyAlgorithm() *packet.Config {
	return &packet.Config{
		RejectPublicKeyAlgorithms: map[packet.PublicKeyAlgorithm]bool{},
		RejectCurves:              map[packet.Curve]bool{},
		MinRSABits:                1,
	}
}

// refusedName names the algorithm of k, found only by anyAlgorithm; ""
// when there is none either.
func refusedName(k openpgp.Key, ok bool) string {
	if !ok {
		return ""
	}
	return pubAlgoName(k.PublicKey)
}

// smallestBits is the size of the smallest RSA, DSA or ElGamal key among
// keys, 0 when there is none.
func smallestBits(keys []*packet.PublicKey) int {
	smallest := 0
	for _, pk := range keys {
		switch pk.PubKeyAlgo {
		case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoRSASignOnly,
			packet.PubKeyAlgoDSA, packet.PubKeyAlgoElGamal:
			bits, err := pk.BitLength()
			if err == nil && (smallest == 0 || int(bits) < smallest) {
				smallest = int(bits)
			}
		}
	}
	return smallest
}

// addresses returns the addr-specs of the user IDs that carry a valid,
// unrevoked self-certification at now, and the names those user IDs give
// them.
func (k *Key) addresses(now time.Time) ([]string, map[string]string) {
	var out []string
	var names map[string]string
	cfg := keyConfig()
	for _, id := range k.e.Identities {
		sig, err := id.Verify(now, cfg)
		if err != nil || id.Revoked(sig, now, cfg) {
			continue
		}
		email := id.UserId.Email
		if email == "" {
			// A bare addr-spec as the whole user ID, as Autocrypt writes them.
			email = id.UserId.Id
		}
		a, err := mail.Normalize(email)
		if err != nil {
			continue
		}
		out = append(out, a)
		if name := strings.TrimSpace(id.UserId.Name); name != "" && (names == nil || names[a] == "") {
			if names == nil {
				names = map[string]string{}
			}
			names[a] = name
		}
	}
	return out, names
}

func pubAlgoName(pk *packet.PublicKey) string {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoRSASignOnly:
		bits, _ := pk.BitLength()
		return fmt.Sprintf("RSA-%d", bits)
	case packet.PubKeyAlgoDSA:
		bits, _ := pk.BitLength()
		return fmt.Sprintf("DSA-%d", bits)
	case packet.PubKeyAlgoElGamal:
		bits, _ := pk.BitLength()
		return fmt.Sprintf("ElGamal-%d", bits)
	case packet.PubKeyAlgoEd25519:
		return "Ed25519"
	case packet.PubKeyAlgoX25519:
		return "Cv25519"
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoECDH:
		curve, err := pk.Curve()
		switch {
		case err != nil:
		case curve == packet.Curve25519 && pk.PubKeyAlgo == packet.PubKeyAlgoEdDSA:
			return "Ed25519"
		case curve == packet.Curve25519:
			return "Cv25519"
		case curve == packet.CurveSecP256k1:
			return "secp256k1" // as gpg names it
		default:
			return string(curve)
		}
	case packet.PubKeyAlgoEd448:
		return "Ed448"
	case packet.PubKeyAlgoX448:
		return "X448"
	case packet.PubKeyAlgoECDSA:
		curve, err := pk.Curve()
		switch {
		case err != nil:
			return "ECDSA"
		case curve == packet.CurveSecP256k1:
			return "ECDSA-secp256k1"
		}
		return "ECDSA-" + string(curve)
	}
	if name, ok := pqAlgoNames[pk.PubKeyAlgo]; ok {
		return name
	}
	return fmt.Sprintf("algo-%d", pk.PubKeyAlgo)
}

// CheckSignatures verifies every self-signature of the key (user ID
// certifications and revocations, subkey bindings and revocations, key
// revocations and direct-key signatures) once, without regard to time,
// and keeps each result in the key. go-crypto otherwise verifies them
// lazily and writes the results into the key as it judges it; after
// CheckSignatures every judgement (Info, encryption, verification) at any
// time only reads the key, so one Key may be shared between goroutines,
// and no signature is verified twice. Whether a signature has expired at
// a given time is still decided at that time.
func (k *Key) CheckSignatures() {
	e, cfg := k.e, keyConfig()
	pk := e.PrimaryKey
	for _, s := range e.Revocations {
		check(s, func() error { return pk.VerifyRevocationSignature(s.Packet) })
	}
	for _, s := range e.DirectSignatures {
		check(s, func() error { return sigDetails(s.Packet, pk.VerifyDirectKeySignature(s.Packet), cfg) })
	}
	for _, id := range e.Identities {
		for _, s := range slices.Concat(id.SelfCertifications, id.Revocations) {
			check(s, func() error { return sigDetails(s.Packet, pk.VerifyUserIdSignature(id.Name, pk, s.Packet), cfg) })
		}
	}
	for i := range e.Subkeys {
		sk := &e.Subkeys[i]
		for _, s := range sk.Bindings {
			check(s, func() error { return sigDetails(s.Packet, pk.VerifyKeySignature(sk.PublicKey, s.Packet), cfg) })
		}
		for _, s := range sk.Revocations {
			check(s, func() error { return pk.VerifySubkeyRevocationSignature(s.Packet, sk.PublicKey) })
		}
	}
}

// check verifies s with verify and records the outcome in s, unless it
// was recorded already.
func check(s *packet.VerifiableSignature, verify func() error) {
	if s.Valid == nil {
		valid := verify() == nil
		s.Valid = &valid
	}
}

// sigDetails is go-crypto's check of a self-signature's metadata without
// the time (checkSignatureDetails with a zero date): a hash the algorithm
// policy refuses, or a critical notation it does not know, invalidates it.
func sigDetails(sig *packet.Signature, err error, cfg *packet.Config) error {
	if err != nil {
		return err
	}
	if cfg.RejectHashAlgorithm(sig.Hash) {
		return pgperrors.SignatureError("insecure hash algorithm: " + sig.Hash.String())
	}
	for _, n := range sig.Notations {
		if n.IsCritical && !cfg.KnownNotation(n.Name) {
			return pgperrors.SignatureError("unknown critical notation: " + n.Name)
		}
	}
	return nil
}
