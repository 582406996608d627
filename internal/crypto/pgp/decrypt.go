package pgp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// Unwrapped is what Unwrap learned from a message that decrypted with
// valid integrity protection. Content is set only then: bytes that failed
// or skipped the integrity check never leave this package.
type Unwrapped struct {
	Protection spcrypto.Protection
	Status     spcrypto.Status
	Signer     *spcrypto.Signer // set when Status is StatusGood
	// Reason says, for logs and the owner's notice, why Status is not
	// StatusGood. It never contains message content.
	Reason string
	// SignatureDigest identifies the good signature for replay detection
	// (DESIGN §4.4): SHA-256 over the signature packet.
	SignatureDigest []byte
	// PartDigests are the digests of the separate signatures of an
	// inline-PGP message's parts, when there are several: each is a
	// replay mark too, so parts cannot be spliced into a new post.
	PartDigests   [][]byte
	SignatureTime time.Time
	// IssuerKeyID is the long key ID (16 upper-case hex digits) the
	// signature names as its issuer when Status is StatusUnknownSigner,
	// so that the caller can look the key up; "" when not known.
	IssuerKeyID string
	// IntendedRecipients are the fingerprints the signer named in RFC 9580
	// §5.2.3.36 Intended Recipient Fingerprint subpackets, upper-case hex.
	IntendedRecipients []string
	// Content is the authenticated MIME entity: the first part of a
	// multipart/signed entity inside the encryption (RFC 3156 §6.1), exact
	// bytes, the whole decrypted entity (RFC 3156 §6.2), or, for a
	// cleartext-signed text (RFC 9580 §7), a text/plain entity of the
	// signed text alone.
	Content []byte
}

// unverified is decrypted data whose integrity has not yet been
// established. It has its own type so it cannot be handed where
// authenticated content is expected (DESIGN §4.1).
type unverified []byte

// Unwrap decrypts a PGP/MIME message (RFC 3156 §4) with the list's secret
// key and checks the signature inside it against signers.
//
// The error is non-nil, and nothing decrypted is returned, when the message
// is not PGP/MIME encrypted, not encrypted to list, lacks or fails
// integrity protection, or decrypts to more than Options.MaxPlaintext.
// A missing or failing signature is not an error: it is Unwrapped.Status.
func Unwrap(msg *mime.Part, list *Key, signers []*Key, opt Options) (*Unwrapped, error) {
	armored, err := encryptedPayload(msg)
	if err != nil {
		return nil, err
	}
	bin, err := dearmor(armored, "PGP MESSAGE", opt.maxPlaintext()*2)
	if err != nil {
		return nil, err
	}
	prot, err := scanEncryption(bin)
	if err != nil {
		return nil, err
	}
	keyring := keyringFor(list, signers, opt)
	plain, md, err := decrypt(bin, keyring, opt)
	if err != nil {
		return nil, err
	}
	// Integrity is established: plain may now be used.
	u := &Unwrapped{Protection: prot}
	u.Protection.Cipher = cipherName(md.DecryptedWithAlgorithm)
	if md.IsSigned {
		u.Content = []byte(plain)
		u.fromSignature(md.Signature, md.SignedBy, md.SignatureError, opt.now())
		if u.Status == spcrypto.StatusUnknownSigner && len(md.SignatureCandidates) > 0 {
			u.IssuerKeyID = keyIDString(md.SignatureCandidates[0].IssuerKeyId)
		}
		return u, nil
	}
	u.verifyInner([]byte(plain), keyring, opt)
	return u, nil
}

// encryptedPayload checks the RFC 3156 §4 structure and returns the
// armored OpenPGP message from its second part.
func encryptedPayload(msg *mime.Part) ([]byte, error) {
	if msg.MediaType != "multipart/encrypted" {
		return nil, ErrNotEncrypted
	}
	// RFC 3156 §4: protocol="application/pgp-encrypted", two body parts.
	if !strings.EqualFold(msg.Params["protocol"], "application/pgp-encrypted") {
		return nil, fmt.Errorf("%w: multipart/encrypted protocol %q", ErrNotEncrypted, msg.Params["protocol"])
	}
	if len(msg.Children) != 2 {
		return nil, fmt.Errorf("%w: multipart/encrypted has %d parts, want 2", ErrMalformed, len(msg.Children))
	}
	control, payload := msg.Children[0], msg.Children[1]
	if control.MediaType != "application/pgp-encrypted" || payload.MediaType != "application/octet-stream" {
		return nil, fmt.Errorf("%w: parts are %s and %s", ErrMalformed, control.MediaType, payload.MediaType)
	}
	// RFC 3156 §4: the control part MUST contain "Version: 1". Its
	// transfer encoding does not matter: Outlook.com sends it base64.
	version, err := control.Decoded(int64(len(control.Body)) + 1)
	if err != nil || !bytes.Contains(version, []byte("Version: 1")) {
		return nil, fmt.Errorf("%w: control part lacks Version: 1", ErrMalformed)
	}
	body, err := payload.DecodedShared(int64(len(payload.Body)) + 1) // only dearmored
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return body, nil
}

// dearmor decodes one armored block of the given type.
func dearmor(data []byte, blockType string, max int64) ([]byte, error) {
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
	}
	if block.Type != blockType {
		return nil, fmt.Errorf("%w: armor block %q, want %q", ErrMalformed, block.Type, blockType)
	}
	// Base64 is 3 bytes in every 4 characters.
	bin, err := readAll(block.Body, max, int64(len(data))/4*3)
	if err != nil {
		return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
	}
	if int64(len(bin)) > max {
		return nil, ErrTooLarge
	}
	return bin, nil
}

// readAll reads r to EOF, or to one byte more than max, into a buffer
// made for about hint bytes. What goes past the hint (a compressed
// message, whose size nothing tells) is read in chunks and joined once at
// the end: the result is one allocation of exactly its size, and while it
// is read the message is held at most twice, never in a buffer doubled
// again and again (which holds up to three times its size while it
// grows, and keeps up to twice its size after).
func readAll(r io.Reader, max, hint int64) ([]byte, error) {
	r = io.LimitReader(r, max+1)
	first, full, err := readFull(r, make([]byte, 0, min(hint, max)+1))
	if err != nil || !full {
		return first, err
	}
	chunks, total := [][]byte{first}, len(first)
	for full {
		var c []byte
		if c, full, err = readFull(r, make([]byte, 0, readChunk)); err != nil {
			return nil, err
		}
		chunks, total = append(chunks, c), total+len(c)
	}
	if total == len(first) {
		return first, nil // it just fitted
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// readChunk is the size of the chunks readAll reads past its hint.
const readChunk = 1 << 20

// readFull reads from r into b up to its capacity; full reports that it
// filled it, and EOF is not an error.
func readFull(r io.Reader, b []byte) (_ []byte, full bool, err error) {
	for len(b) < cap(b) {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return b, false, err
		}
	}
	return b, true, nil
}

// scanEncryption walks the packets in front of the encrypted data and
// reports the protection without decrypting anything.
func scanEncryption(bin []byte) (spcrypto.Protection, error) {
	prot := spcrypto.Protection{Encrypted: true}
	r := packet.NewReader(bytes.NewReader(bin))
	sawPublicKey := false
	for {
		p, err := r.Next()
		if err != nil {
			return prot, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			sawPublicKey = true
		case *packet.SymmetricKeyEncrypted:
			// Passphrase-encrypted session keys are skipped; a message
			// that has only those is refused below.
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected {
				// RFC 9580 §5.7: the SED packet is deprecated and has no
				// integrity protection; such plaintext is never used.
				return prot, fmt.Errorf("%w: symmetrically encrypted data without MDC", ErrIntegrity)
			}
			prot.Integrity = "mdc"
			if p.Version == 2 {
				prot.Integrity = "aead"
			}
			return prot, checkRecipients(sawPublicKey)
		case *packet.AEADEncrypted:
			prot.Integrity = "aead"
			return prot, checkRecipients(sawPublicKey)
		default:
			return prot, fmt.Errorf("%w: OpenPGP message is not encrypted", ErrNotEncrypted)
		}
	}
}

func checkRecipients(sawPublicKey bool) error {
	if !sawPublicKey {
		return ErrSymmetric
	}
	return nil
}

// decrypt reads the whole message to EOF into a bounded buffer. Only a
// nil error establishes integrity (MDC or AEAD tag checked at EOF).
func decrypt(bin []byte, keyring openpgp.EntityList, opt Options) (unverified, *openpgp.MessageDetails, error) {
	md, err := openpgp.ReadMessage(bytes.NewReader(bin), keyring, nil, opt.config())
	if err != nil {
		return nil, nil, classifyReadError(err)
	}
	if !md.IsEncrypted {
		return nil, nil, ErrNotEncrypted
	}
	max := opt.maxPlaintext()
	// Uncompressed, the plaintext is a little smaller than the message;
	// compressed, it grows from there.
	plain, err := readAll(md.UnverifiedBody, max, int64(len(bin)))
	if errors.Is(err, pgperrors.ErrMessageTooLarge) {
		return nil, nil, ErrTooLarge
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrIntegrity, err)
	}
	if int64(len(plain)) > max {
		return nil, nil, ErrTooLarge
	}
	return unverified(plain), md, nil
}

func classifyReadError(err error) error {
	var (
		unsupported pgperrors.UnsupportedError
		sessionErr  pgperrors.DecryptWithSessionKeyError
	)
	switch {
	case errors.Is(err, pgperrors.ErrKeyIncorrect):
		return fmt.Errorf("%w (%v)", ErrNoKey, err)
	case errors.As(err, &unsupported) && strings.Contains(string(unsupported), "integrity"),
		// The session key opened the data, but what came out does not
		// parse or authenticate: altered ciphertext.
		errors.As(err, &sessionErr):
		return fmt.Errorf("%w: %v", ErrIntegrity, err)
	case errors.Is(err, pgperrors.ErrMessageTooLarge):
		return ErrTooLarge
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// verifyInner handles content that is not one signed OpenPGP message: a
// multipart/signed entity (RFC 3156 §6.1), whose detached signature is
// checked over the first part's exact bytes, or a text/plain entity (or
// bare text) that is one cleartext-signed message (RFC 9580 §7). Anything
// else is unsigned.
func (u *Unwrapped) verifyInner(plain []byte, keyring openpgp.EntityList, opt Options) {
	u.Content = plain
	u.Status = spcrypto.StatusUnsigned
	if bytes.HasPrefix(trimWS(plain), []byte(signedBegin)) {
		// Clear-signed text encrypted as it is, with no MIME header
		// (gpg --clearsign, then gpg --encrypt).
		u.verifyClearText(plain, "", keyring, opt)
		return
	}
	inner, err := mime.Parse(plain, mime.Limits{MaxSize: opt.maxPlaintext()})
	if err != nil {
		// Bare text again: it may still hold a clear-signed message,
		// which must not pass with unsigned text before it.
		if !u.verifyClearText(plain, "", keyring, opt) {
			u.Reason = "decrypted content is not a MIME entity"
		}
		return
	}
	switch {
	case inner.MediaType == "text/plain" && !inner.IsMultipart():
		if text, err := inner.Decoded(int64(len(inner.Body)) + 1); err == nil {
			u.verifyClearText(text, inner.Params["charset"], keyring, opt)
		}
	case inner.MediaType == "multipart/signed" &&
		strings.EqualFold(inner.Params["protocol"], "application/pgp-signature"):
		u.verifyDetached(inner, keyring, opt)
	}
}

// verifyDetached checks a PGP/MIME multipart/signed entity (RFC 3156 §5).
func (u *Unwrapped) verifyDetached(inner *mime.Part, keyring openpgp.EntityList, opt Options) {
	// RFC 3156 §5: exactly two parts, the second application/pgp-signature.
	if len(inner.Children) != 2 || inner.Children[1].MediaType != "application/pgp-signature" {
		u.Status, u.Reason = spcrypto.StatusBad, "multipart/signed does not have the RFC 3156 shape"
		return
	}
	signed, sigPart := inner.Children[0], inner.Children[1]
	armored, err := sigPart.Decoded(int64(len(sigPart.Body)) + 1)
	if err != nil {
		u.Status, u.Reason = spcrypto.StatusBad, "signature part cannot be decoded"
		return
	}
	sigBin, err := dearmor(armored, "PGP SIGNATURE", 1<<20)
	if err != nil {
		u.Status, u.Reason = spcrypto.StatusBad, "signature part is not an armored OpenPGP signature"
		return
	}
	u.Content = signed.Raw
	// RFC 3156 §5: the signed data is the first part with CRLF line endings.
	sig, signer, verr := openpgp.VerifyDetachedSignature(keyring,
		bytes.NewReader(mime.Canonicalize(signed.Raw)), bytes.NewReader(sigBin), opt.config())
	u.fromSignature(sig, keyOf(signer), verr, opt.now())
	if u.Status == spcrypto.StatusUnknownSigner {
		u.IssuerKeyID = issuerOf(sigBin)
	}
}

// keyIDString writes a long key ID as the keyring indexes it.
func keyIDString(id uint64) string { return fmt.Sprintf("%016X", id) }

// fromSignature records the outcome of one signature check.
func (u *Unwrapped) fromSignature(sig *packet.Signature, signedBy *openpgp.Key, verr error, now time.Time) {
	var weak pgperrors.WeakAlgorithmError
	switch {
	case verr == nil && sig != nil && signedBy != nil && weakHash(sig.Hash):
		// RFC 9580 §9.5: a SHA-1 signature over a message is not
		// accepted (a collision lets others forge it). It verified, so
		// nothing says the message was altered: it gets a status of its own.
		u.Status, u.Reason = spcrypto.StatusWeak, "signed with "+sig.Hash.String()+", which is no longer accepted"
	case verr == nil && sig != nil && signedBy != nil:
		u.Status = spcrypto.StatusGood
	case errors.As(verr, &weak):
		u.Status, u.Reason = spcrypto.StatusWeak, "signed with a key Sealpost cannot use: "+verr.Error()
	case errors.Is(verr, pgperrors.ErrUnknownIssuer):
		u.Status, u.Reason = spcrypto.StatusUnknownSigner, "signed by a key that is not on file"
	case errors.Is(verr, pgperrors.ErrKeyExpired), errors.Is(verr, pgperrors.ErrKeyRevoked),
		errors.Is(verr, pgperrors.ErrSignatureExpired):
		u.Status, u.Reason = spcrypto.StatusKeyInvalid, "signing key is expired or revoked: "+verr.Error()
	default:
		u.Status, u.Reason = spcrypto.StatusBad, "signature does not verify"
	}
	if sig == nil {
		return
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err == nil {
		d := sha256.Sum256(b.Bytes())
		u.SignatureDigest = d[:]
	}
	u.SignatureTime = sig.CreationTime
	for _, r := range sig.IntendedRecipients {
		u.IntendedRecipients = append(u.IntendedRecipients, strings.ToUpper(hex.EncodeToString(r.Fingerprint)))
	}
	if u.Status != spcrypto.StatusGood {
		return
	}
	k := &Key{e: signedBy.Entity}
	info := k.Info(now)
	if info.Revoked || info.Expired(now) {
		// DESIGN §4.2: the signing key must be valid now, not only when it signed.
		u.Status, u.Reason = spcrypto.StatusKeyInvalid, "signing key is expired or revoked"
		return
	}
	u.Signer = &spcrypto.Signer{Fingerprint: k.Fingerprint(), Addresses: info.Addresses, Names: info.Names}
}

// weakHash reports whether a message signature made with h is refused
// (RFC 9580 §9.5: MD5, SHA-1 and RIPEMD-160 must not be accepted).
func weakHash(h crypto.Hash) bool {
	return h == crypto.SHA1 || h == crypto.MD5 || h == crypto.RIPEMD160
}

func cipherName(c packet.CipherFunction) string {
	switch c {
	case packet.CipherAES128:
		return "AES128"
	case packet.CipherAES192:
		return "AES192"
	case packet.CipherAES256:
		return "AES256"
	case packet.Cipher3DES:
		return "3DES"
	case packet.CipherCAST5:
		return "CAST5"
	}
	return fmt.Sprintf("cipher-%d", c)
}
