// Package pgp is Sealpost's OpenPGP engine: PGP/MIME (RFC 3156) over
// OpenPGP messages (RFC 9580, RFC 4880), built on ProtonMail's go-crypto
// openpgp/v2 API. It is the only package that imports an OpenPGP library.
//
// Inbound, Unwrap decrypts a multipart/encrypted message with a list's
// secret key, requires integrity protection (SEIPD v1 with MDC, SEIPD v2,
// or GnuPG's AEAD packet), reads the plaintext to EOF into a bounded
// buffer and only then checks the signature, which may be inside the
// OpenPGP message (RFC 3156 §6.2), a multipart/signed entity inside the
// encryption (RFC 3156 §6.1), or a cleartext-signed text (RFC 9580 §7).
// SHA-1 signatures are refused with a status of their own (StatusWeak),
// never as altered content.
//
// Keys may be RSA (1024 bits and more), DSA with ElGamal (GnuPG's
// default until 2009), or elliptic-curve keys; Key.Info reports their
// size, and names an algorithm Sealpost cannot use.
//
// Outbound, Sign makes one signed OpenPGP message of an entity with the
// list's key and Signed.EncryptTo wraps that same signed message for each
// recipient: the expensive signature is made once per post, and each
// recipient costs one public-key encryption of a session key. SignText
// signs the text of an inline copy as UTF-8 text ('u', RFC 9580 §5.9),
// which readers turn into their own line ends. Everything written in
// ASCII armor goes through one writer (armor.go), which writes the CRC24
// line GnuPG 2.2 needs to accept a signature.
//
// Keys Sealpost writes are v4 keys (Ed25519 legacy EdDSA with Cv25519 ECDH,
// with an RFC 9980 ML-KEM-768+X25519 subkey besides for PQ, or RSA) and
// messages are SEIPD v1 unless a recipient key advertises v2 and the
// caller allows it: GnuPG 2.2 reads neither v6 keys nor SEIPD v2. A copy
// goes to the recipient's ML-KEM subkey when it has a valid one (pq.go),
// and a member's RFC 9980 v6 key (ML-DSA-65+Ed25519) signs and is
// verified like any other.
//
// UnwrapInline does the same for inline PGP: text bodies that are one
// armored message (possibly a cleartext-signed text inside), *.pgp, *.gpg
// and *.asc attachments, and *.sig detached signatures; content partly in
// clear is refused (ErrPartial, EFAIL).
//
// Not done here: Autocrypt headers (package mail) and symmetric
// (passphrase) encryption, which is refused.
package pgp

import (
	"crypto"
	"crypto/rand"
	"errors"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Options carry the engine's environment. The zero value is usable.
type Options struct {
	Now  func() time.Time // default time.Now
	Rand io.Reader        // default crypto/rand.Reader
	// MaxPlaintext bounds the decrypted (and decompressed) size of an
	// inbound message; default 32 MiB (DESIGN §4.8).
	MaxPlaintext int64
	// Retired are the list's former keys, still accepted for decryption
	// during their grace period after a key rotation.
	Retired []*Key
	// NoSaltNotation leaves out the random "salt@notations.openpgpjs.org"
	// notation that the OpenPGP library puts on v4 signatures by default
	// (against fault attacks on EdDSA). GnuPG writes none, and mutt and
	// NeoMutt show its binary value, control characters included, under
	// every signature; Sealpost's own signatures on what members read
	// leave it out.
	NoSaltNotation bool
}

// DefaultMaxPlaintext is the plaintext bound used when Options.MaxPlaintext is zero.
const DefaultMaxPlaintext = 32 << 20

// Errors returned by the engine. The pipeline answers all of them with the
// same generic reply (DESIGN §4.3); they differ only for logs and for the
// owner's notice.
var (
	ErrNotEncrypted = errors.New("pgp: message is not PGP/MIME encrypted")
	ErrMalformed    = errors.New("pgp: malformed PGP/MIME structure")
	ErrNoKey        = errors.New("pgp: message is not encrypted to this key")
	ErrIntegrity    = errors.New("pgp: message integrity protection missing or broken")
	ErrTooLarge     = errors.New("pgp: decrypted message exceeds the size limit")
	ErrSymmetric    = errors.New("pgp: passphrase-encrypted messages are not accepted")
)

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

func (o Options) maxPlaintext() int64 {
	if o.MaxPlaintext > 0 {
		return o.MaxPlaintext
	}
	return DefaultMaxPlaintext
}

// config returns the go-crypto configuration for one operation.
func (o Options) config() *packet.Config {
	// RFC 9580 §5.6: decompression bombs are bounded by the reader, a
	// little above MaxPlaintext: the inflated stream is the literal data
	// packet with its headers, and the plaintext reader (decrypt) is to
	// meet the limit first, to refuse the message as too large. go-crypto
	// reports its own limit, once the data is decrypted, as a parsing
	// error like any other.
	inflated := o.maxPlaintext() + o.maxPlaintext()/64 + 64<<10
	strict, salted := true, !o.NoSaltNotation
	return withAlgorithmPolicy(&packet.Config{
		Rand:                                  o.rand(),
		Time:                                  o.Now,
		DefaultHash:                           crypto.SHA512,
		DefaultCipher:                         packet.CipherAES256,
		MaxDecompressedMessageSize:            &inflated,
		CheckPacketSequence:                   &strict,
		DefaultCompressionAlgo:                packet.CompressionNone,
		NonDeterministicSignaturesViaNotation: &salted,
	})
}

// minRSABits is the shortest RSA key Sealpost uses: Go's crypto/rsa
// refuses anything shorter. Keys under 2048 bits are used, and flagged as
// weak by the keyring.
const minRSABits = 1024

// withAlgorithmPolicy sets which public-key and hash algorithms cfg
// accepts, and returns cfg. Every key judgement and every operation uses
// it, so that what Info says a key can do is what Sealpost then does.
func withAlgorithmPolicy(cfg *packet.Config) *packet.Config {
	// RFC 4880 §9.1 made DSA and ElGamal the algorithms every
	// implementation must have, and GnuPG's default keys until 2009
	// used them (a DSA primary key with an ElGamal encryption subkey);
	// such keys are still in use. RFC 9580 §12.5 and §12.6 deprecate
	// both for new keys. go-crypto refuses them unless told otherwise.
	cfg.RejectPublicKeyAlgorithms = map[packet.PublicKeyAlgorithm]bool{}
	cfg.MinRSABits = minRSABits
	// RFC 9580 §9.5: SHA-1 message signatures must not be accepted. They
	// are verified all the same, and refused afterwards with a reason of
	// their own (see fromSignature), so that a valid SHA-1 signature is
	// not mistaken for an altered message. MD5 and RIPEMD-160 stay
	// refused outright, as go-crypto does.
	cfg.RejectMessageHashAlgorithms = map[crypto.Hash]bool{crypto.MD5: true, crypto.RIPEMD160: true}
	return cfg
}

// keyConfig is the configuration that judges keys: the algorithm policy
// and nothing else.
func keyConfig() *packet.Config { return withAlgorithmPolicy(&packet.Config{}) }
