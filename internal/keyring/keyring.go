// Package keyring decides which keys Sealpost may use for what: whether a
// member's key is fit to be pinned for an address (user ID or certificate
// address, expiry, revocation, encryption capability), and how a list's
// secret keys are sealed at rest under the master key and opened again
// (DESIGN §4.6).
//
// It works on the engine-neutral crypto.KeyInfo and does no I/O: reading
// the master key file is the caller's job.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// Reason says why a key is unfit.
type Reason int

// Reasons a key is refused.
const (
	NoAddress       Reason = iota + 1 // no user ID / certificate address for the member's address
	Revoked                           // the key is revoked
	Expired                           // the key has expired
	NoEncryptionKey                   // no currently valid encryption-capable (sub)key
)

// KeyError reports why a key cannot be pinned for an address. Its message
// is written for the person who ran the command.
type KeyError struct {
	Reason      Reason
	Engine      crypto.Engine
	Address     string
	Fingerprint string
	Detail      string
}

func (e *KeyError) Error() string {
	what := "key " + e.Fingerprint
	if e.Engine == crypto.SMIME {
		what = "certificate " + e.Fingerprint
	}
	switch {
	case e.Reason == NoAddress && e.Engine == crypto.SMIME:
		return fmt.Sprintf("%s is not issued for %s%s", what, e.Address, e.Detail)
	case e.Reason == NoAddress:
		return fmt.Sprintf("%s has no user ID for %s%s", what, e.Address, e.Detail)
	case e.Reason == Revoked:
		return what + " is revoked"
	case e.Reason == Expired:
		return fmt.Sprintf("%s expired on %s", what, e.Detail)
	case e.Reason == NoEncryptionKey && e.Engine == crypto.SMIME:
		return what + " cannot be used for email encryption (key usage or extended key usage forbids it)"
	case e.Reason == NoEncryptionKey && e.Detail != "":
		return fmt.Sprintf("%s uses %s, which Sealpost cannot use for encryption", what, e.Detail)
	case e.Reason == NoEncryptionKey:
		return what + " has no usable encryption-capable key (subkeys missing, expired or revoked)"
	}
	return fmt.Sprintf("%s is not usable for %s", what, e.Address)
}

// CheckMemberKey reports whether a key may be pinned for addr at now: it
// must name addr, be neither revoked nor expired, and be able to encrypt.
func CheckMemberKey(info crypto.KeyInfo, addr string, now time.Time) error {
	fail := func(r Reason, detail string) error {
		return &KeyError{Reason: r, Engine: info.Engine, Address: addr, Fingerprint: info.Fingerprint, Detail: detail}
	}
	switch {
	case info.Revoked:
		return fail(Revoked, "")
	case info.Expired(now):
		return fail(Expired, info.Expires.UTC().Format("2006-01-02"))
	case !(&crypto.Signer{Addresses: info.Addresses}).HasAddress(addr):
		detail := " (it has none)"
		if len(info.Addresses) > 0 {
			detail = " (it has " + strings.Join(info.Addresses, ", ") + ")"
		}
		return fail(NoAddress, detail)
	case !info.CanEncrypt:
		return fail(NoEncryptionKey, info.EncryptRefused)
	}
	return nil
}

// WeakBits is the key size under which an RSA, DSA or ElGamal key is
// flagged as weak: NIST SP 800-57 Part 1 (rev. 5, table 2) gives a
// 1024-bit key 80 bits of security, and SP 800-131A has disallowed such
// keys since 2013. Weak keys are flagged, not refused: members with old
// keys still take part.
const WeakBits = 2048

// Weakness says, in Request Tracker's manner, why a key is weak, e.g.
// "Weak key (1024 bits)"; "" when it is not.
func Weakness(info crypto.KeyInfo) string {
	if info.Bits == 0 || info.Bits >= WeakBits {
		return ""
	}
	return fmt.Sprintf("Weak key (%d bits)", info.Bits)
}

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

// ErrUnseal is returned when sealed data does not open under the master
// key: the wrong master key, or data that was altered.
var ErrUnseal = errors.New("keyring: sealed secret does not open with this master key")

// Sealer encrypts secret key material at rest with AES-256-GCM under the
// master key. The label (for example the list address and fingerprint) is
// bound as associated data, so a sealed key cannot be moved to another list.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
	// bounceKey keys the tags of VERP bounce addresses (BounceTag).
	bounceKey []byte
}

// NewSealer returns a Sealer for a MasterKeySize-byte master key. rand
// may be nil for crypto/rand.
func NewSealer(master []byte, rnd io.Reader) (*Sealer, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("keyring: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	// RFC 5869: a key of its own for the bounce tags, derived from the
	// master key with a label, so no further secret needs keeping and a
	// tag reveals nothing about the key that seals.
	bounceKey, err := hkdf.Key(sha256.New, master, nil, "sealpost bounce tag key", sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Sealer{aead: aead, rand: rnd, bounceKey: bounceKey}, nil
}

// BounceTag returns the tag that binds a VERP bounce address to one
// member of one list: HMAC-SHA256 (RFC 2104) of the two addresses under
// a key derived from the master key. Only the holder of the master key
// can make it, so a bounce that carries it answers a copy Sealpost sent.
func (s *Sealer) BounceTag(list, member string) []byte {
	mac := hmac.New(sha256.New, s.bounceKey)
	// Length-prefixed, so that no two (list, member) pairs share an input.
	mac.Write(binary.AppendUvarint(nil, uint64(len(list))))
	mac.Write([]byte(list))
	mac.Write([]byte(member))
	return mac.Sum(nil)
}

// sealVersion prefixes sealed blobs so the format can change later.
const sealVersion = 1

// Seal encrypts plain under the master key, bound to label.
func (s *Sealer) Seal(plain []byte, label string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("keyring: seal: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(label)), nil
}

// SealRoom is how many bytes SealInPlace needs in front of the plaintext
// (front) and after it (back).
func (s *Sealer) SealRoom() (front, back int) {
	return 1 + s.aead.NonceSize(), s.aead.Overhead()
}

// SealInPlace seals buf[front:] (SealRoom) like Seal, over buf itself:
// it returns what Seal would, in buf's array when its capacity has room
// for back more bytes. A large plaintext is not held twice.
func (s *Sealer) SealInPlace(buf []byte, label string) ([]byte, error) {
	front, _ := s.SealRoom()
	if len(buf) < front {
		return nil, fmt.Errorf("keyring: seal: no room in front of the plaintext")
	}
	buf[0] = sealVersion
	nonce := buf[1:front]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("keyring: seal: %w", err)
	}
	// The AEAD seals a plaintext over itself when dst is plaintext[:0].
	sealed := s.aead.Seal(buf[front:front], nonce, buf[front:], []byte(label))
	return buf[:front+len(sealed)], nil
}

// OpenInPlace is Open over sealed itself: the plaintext it returns is in
// sealed's array, which it overwrites (also when it fails). A large blob
// is not held twice.
func (s *Sealer) OpenInPlace(sealed []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	body := sealed[1+n:]
	plain, err := s.aead.Open(body[:0], sealed[1:1+n], body, []byte(label))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

// Open decrypts a blob made by Seal with the same label.
func (s *Sealer) Open(sealed []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(label))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

// DeliveryLabel is the label a plaintext delivery is sealed with in the
// queue (a gateway's mail for its helpdesk, a reply sent in clear).
func DeliveryLabel(ref, to string) string {
	return "sealpost delivery\x00" + ref + "\x00" + to
}

// SpoolLabel is the label a received message is sealed with in the
// inbound spool: bound to its list and its digest.
func SpoolLabel(listID int64, digest string) string {
	return "sealpost spool\x00" + strconv.FormatInt(listID, 10) + "\x00" + digest
}

// HoldLabel is the label of a held message: bound to its list and the
// reference of the message it holds.
func HoldLabel(listID int64, ref string) string {
	return "sealpost hold\x00" + strconv.FormatInt(listID, 10) + "\x00" + ref
}

// TOTPLabel is the label of an account's two-factor secret: bound to
// the account.
func TOTPLabel(accountID int64) string {
	return "sealpost totp\x00" + strconv.FormatInt(accountID, 10)
}

// OpenHold returns h with its message opened (Raw as received), for a
// moderator; a hold kept before holds were sealed is returned as it is.
func (s *Sealer) OpenHold(h *store.Hold) (*store.Hold, error) {
	if !h.Sealed {
		return h, nil
	}
	raw, err := s.Open(h.Raw, HoldLabel(h.ListID, h.Ref))
	if err != nil {
		return nil, fmt.Errorf("keyring: opening held message %d: %w", h.ID, err)
	}
	out := *h
	out.Raw, out.Sealed = raw, false
	return &out, nil
}

// ArchiveLabel is the label of a message in a gateway's archive: bound
// to the gateway, the message's reference and its direction.
func ArchiveLabel(gateway, ref, direction string) string {
	return "sealpost archive\x00" + gateway + "\x00" + ref + "\x00" + direction
}

// ListKeyLabel is the label a list's secret key is sealed with: it binds
// the sealed key to its list address and fingerprint.
func ListKeyLabel(list, fingerprint string) string {
	return "sealpost list key\x00" + list + "\x00" + fingerprint
}

// OpenListKey unseals a list's OpenPGP secret key.
func (s *Sealer) OpenListKey(l *store.List) (*pgp.Key, error) {
	secret, err := s.Open(l.SealedKey, ListKeyLabel(l.Address, l.KeyFingerprint))
	if err != nil {
		return nil, fmt.Errorf("keyring: OpenPGP key of %s: %w", l.Address, err)
	}
	k, err := pgp.ParseKey(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: OpenPGP key of %s: %w", l.Address, err)
	}
	return k, nil
}

// OpenRetiredKey unseals one of a list's retired OpenPGP keys.
func (s *Sealer) OpenRetiredKey(l *store.List, r *store.RetiredKey) (*pgp.Key, error) {
	secret, err := s.Open(r.SealedKey, ListKeyLabel(l.Address, r.Fingerprint))
	if err != nil {
		return nil, fmt.Errorf("keyring: retired key %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	k, err := pgp.ParseKey(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: retired key %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	return k, nil
}

// OpenRetiredIdentity unseals a retired S/MIME identity of l (r.Engine
// EngineSMIME).
func (s *Sealer) OpenRetiredIdentity(l *store.List, r *store.RetiredKey) (*smime.Identity, error) {
	secret, err := s.Open(r.SealedKey, ListKeyLabel(l.Address, r.Fingerprint))
	if err != nil {
		return nil, fmt.Errorf("keyring: retired S/MIME identity %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	id, err := smime.ParseSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: retired S/MIME identity %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	return id, nil
}

// OpenRetiredKEM unseals a retired ML-KEM certificate of l (r.Engine
// store.RetiredMLKEM): an identity that holds only it (Identity.KEM).
func (s *Sealer) OpenRetiredKEM(l *store.List, r *store.RetiredKey) (*smime.Identity, error) {
	secret, err := s.Open(r.SealedKey, ListKeyLabel(l.Address, r.Fingerprint))
	if err != nil {
		return nil, fmt.Errorf("keyring: retired ML-KEM certificate %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	defer clear(secret)
	k, err := smime.ParseKEMSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: retired ML-KEM certificate %s of %s: %w", r.Fingerprint, l.Address, err)
	}
	return &smime.Identity{KEM: k}, nil
}

// ErrNoIdentity is returned by OpenListIdentity for a list without an
// S/MIME identity.
var ErrNoIdentity = errors.New("keyring: list has no S/MIME identity")

// OpenListIdentity unseals a list's S/MIME identity, with its ML-KEM
// certificate and key (Identity.KEM) when it has them.
func (s *Sealer) OpenListIdentity(l *store.List) (*smime.Identity, error) {
	if len(l.SMIMECert) == 0 {
		return nil, ErrNoIdentity
	}
	cert, err := x509.ParseCertificate(l.SMIMECert)
	if err != nil {
		return nil, fmt.Errorf("keyring: S/MIME certificate of %s: %w", l.Address, err)
	}
	secret, err := s.Open(l.SMIMESealed, ListKeyLabel(l.Address, smime.Fingerprint(cert)))
	if err != nil {
		return nil, fmt.Errorf("keyring: S/MIME identity of %s: %w", l.Address, err)
	}
	id, err := smime.ParseSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: S/MIME identity of %s: %w", l.Address, err)
	}
	if id.KEM, err = s.openListKEM(l); err != nil {
		return nil, err
	}
	return id, nil
}

// openListKEM unseals a list's ML-KEM certificate and key; nil when it
// has none.
func (s *Sealer) openListKEM(l *store.List) (*smime.KEMIdentity, error) {
	if len(l.SMIMEKEMCert) == 0 {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(l.SMIMEKEMCert)
	if err != nil {
		return nil, fmt.Errorf("keyring: ML-KEM certificate of %s: %w", l.Address, err)
	}
	secret, err := s.Open(l.SMIMEKEMSealed, ListKeyLabel(l.Address, smime.Fingerprint(cert)))
	if err != nil {
		return nil, fmt.Errorf("keyring: ML-KEM key of %s: %w", l.Address, err)
	}
	defer clear(secret)
	k, err := smime.ParseKEMSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("keyring: ML-KEM key of %s: %w", l.Address, err)
	}
	return k, nil
}

// Status names why a key or certificate cannot be used, in the words of
// GnuPG's INV_RECP codes that Request Tracker shows its admins.
type Status int

// Key statuses. Usable is the zero value.
const (
	Usable Status = iota
	NotFound
	Ambiguous
	WrongKeyUsage
	KeyRevoked
	KeyExpired
	NoCRLKnown
	CRLTooOld
	PolicyMismatch
	NotSecretKey
	KeyNotTrusted
	NoSpecificReason
)

var statusText = [...]string{"Usable", "Not Found", "Ambiguous specification", "Wrong key usage", "Key revoked",
	"Key expired", "No CRL known", "CRL too old", "Policy mismatch", "Not a secret key", "Key not trusted", "No specific reason"}

func (s Status) String() string {
	if int(s) < len(statusText) {
		return statusText[s]
	}
	return statusText[NoSpecificReason]
}

// StatusOf maps an error from CheckMemberKey or smime.CheckCertificate
// (or nil) to a Status.
func StatusOf(err error) Status {
	var ke *KeyError
	var te *smime.TrustError
	switch {
	case err == nil:
		return Usable
	case errors.As(err, &ke):
		return [...]Status{NoSpecificReason, PolicyMismatch, KeyRevoked, KeyExpired, WrongKeyUsage}[min(int(ke.Reason), 4)]
	case errors.As(err, &te):
		switch te.Reason {
		case smime.Untrusted:
			return KeyNotTrusted
		case smime.Expired:
			return KeyExpired
		case smime.NoEmailEKU, smime.NotForSigning:
			return WrongKeyUsage
		case smime.AddressMismatch:
			return PolicyMismatch
		case smime.Revoked:
			return KeyRevoked
		case smime.CRLTooOld:
			return CRLTooOld
		case smime.NoCRL:
			return NoCRLKnown
		}
	}
	return NoSpecificReason
}

// PostBodyLabel is the label of a list post's body kept in the queue for
// its members' copies: bound to its list and the post's reference.
func PostBodyLabel(listID int64, ref string) string {
	return "sealpost post body\x00" + strconv.FormatInt(listID, 10) + "\x00" + ref
}
