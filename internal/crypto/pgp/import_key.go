package pgp

// The key-level half of import: checks on a key once ReadKeys has built
// it from filtered packets, the IDs the key store shows, its secret part
// for export, and merging a refreshed copy into the stored one (RFC 9580
// §10.1: a transferable key is a set of packets, and two copies of one key
// merge by union).

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// vetKey checks a key read from filtered packets, drops what go-crypto would
// ignore anyway so that the admin is told, and unlocks secret parts.
func vetKey(e *openpgp.Entity, imp *Imported, opt ImportOptions) error {
	dropUnboundSubkeys(e, imp)
	if err := dropUncertifiedUserIDs(e, imp); err != nil {
		return err
	}
	noteValidity(e, imp, opt.now())
	return unlockSecrets(e, imp.Fingerprint, opt)
}

// dropUnboundSubkeys keeps only the binding signatures that verify and the
// subkeys left with one. RFC 9580 §5.2.1 (0x18): a signing subkey's binding
// must embed a primary key binding signature made by the subkey (a
// back-signature); without it anyone could claim someone else's signing
// key as their subkey.
func dropUnboundSubkeys(e *openpgp.Entity, imp *Imported) {
	kept := e.Subkeys[:0]
	for _, sub := range e.Subkeys {
		id := sub.PublicKey.KeyIdString()
		var valid []*packet.VerifiableSignature
		unbacked := false
		for _, b := range sub.Bindings {
			// VerifyKeySignature checks the back-signature when FlagSign is set.
			if err := e.PrimaryKey.VerifyKeySignature(sub.PublicKey, b.Packet); err == nil {
				valid = append(valid, b)
			} else if b.Packet.FlagSign {
				unbacked = true
			}
		}
		switch {
		case len(valid) > 0:
			if unbacked {
				imp.note("subkey %s: a binding that claims signing without a valid back-signature (cross-certification) was dropped", id)
			}
			sub.Bindings = valid
			kept = append(kept, sub)
		case unbacked:
			imp.note("subkey %s: signing subkey without a valid back-signature (cross-certification), dropped", id)
		default:
			imp.note("subkey %s: no valid binding signature, dropped", id)
		}
	}
	clear(e.Subkeys[len(kept):])
	e.Subkeys = kept
}

// dropUncertifiedUserIDs removes user IDs whose self-signatures do not
// verify and refuses a key left without one (v4: RFC 9580 §10.1.1).
func dropUncertifiedUserIDs(e *openpgp.Entity, imp *Imported) error {
	var lastErr error
	for name, id := range e.Identities {
		if _, err := id.LatestValidSelfCertification(time.Time{}, keyConfig()); err != nil {
			imp.note("user ID %q: no valid self-signature, dropped", name)
			delete(e.Identities, name)
			lastErr = err
		}
	}
	if e.PrimaryKey.Version == 6 {
		if _, err := e.LatestValidDirectSignature(time.Time{}, keyConfig()); err != nil {
			return fmt.Errorf("pgp: key %s has no valid direct-key self-signature: %w", imp.Fingerprint, err)
		}
		return nil
	}
	if len(e.Identities) == 0 {
		return fmt.Errorf("pgp: key %s has no user ID with a valid self-signature (%v)", imp.Fingerprint, lastErr)
	}
	return nil
}

// noteValidity reports a revoked or expired key and subkeys. They are kept:
// history needs them, and go-crypto never chooses them for use.
func noteValidity(e *openpgp.Entity, imp *Imported, now time.Time) {
	cfg := keyConfig()
	if _, err := e.VerifyPrimaryKey(now, cfg); errors.Is(err, pgperrors.ErrKeyRevoked) {
		imp.note("the key is revoked")
	} else if errors.Is(err, pgperrors.ErrKeyExpired) {
		imp.note("the key has expired")
	}
	for _, sub := range e.Subkeys {
		_, err := sub.Verify(now, cfg)
		switch {
		case errors.Is(err, pgperrors.ErrKeyRevoked):
			imp.note("subkey %s: revoked, kept but not used", sub.PublicKey.KeyIdString())
		case errors.Is(err, pgperrors.ErrKeyExpired):
			imp.note("subkey %s: expired, kept but not used", sub.PublicKey.KeyIdString())
		}
	}
}

// unlockSecrets decrypts passphrase-protected secret key material (RFC 9580
// §5.5.3) so that the Key holds it unprotected, for the caller to seal.
func unlockSecrets(e *openpgp.Entity, fpr string, opt ImportOptions) error {
	if !hasLockedSecrets(e) {
		return nil
	}
	if opt.Passphrase == nil {
		return &lockedError{"secret key " + fpr + " is protected by a passphrase; give it with --passphrase-file, SEALPOST_PASSPHRASE or a systemd credential"}
	}
	pass, err := opt.Passphrase(fpr)
	if err != nil {
		return fmt.Errorf("pgp: passphrase for secret key %s: %w", fpr, err)
	}
	if err := e.DecryptPrivateKeys(pass); err != nil {
		return &lockedError{"wrong passphrase for secret key " + fpr}
	}
	return nil
}

func hasLockedSecrets(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, sub := range e.Subkeys {
		if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

func (imp *Imported) note(format string, args ...any) {
	imp.Notes = append(imp.Notes, fmt.Sprintf(format, args...))
}

// KeyID returns the primary key's long key ID, 16 upper-case hex digits.
func (k *Key) KeyID() string { return k.e.PrimaryKey.KeyIdString() }

// SubkeyIDs returns the long key IDs of all subkeys, in key order.
func (k *Key) SubkeyIDs() []string {
	out := make([]string, len(k.e.Subkeys))
	for i, s := range k.e.Subkeys {
		out[i] = s.PublicKey.KeyIdString()
	}
	return out
}

// SubkeyFingerprints returns the fingerprints of all subkeys, in key order,
// in upper-case hex.
func (k *Key) SubkeyFingerprints() []string {
	out := make([]string, len(k.e.Subkeys))
	for i, s := range k.e.Subkeys {
		out[i] = fmt.Sprintf("%X", s.PublicKey.Fingerprint)
	}
	return out
}

// ArmoredSecret returns the ASCII-armored transferable secret key,
// unprotected, for "key export --secret".
func (k *Key) ArmoredSecret() ([]byte, error) {
	bin, err := k.SecretBytes()
	if err != nil {
		return nil, err
	}
	return armorBlock(openpgp.PrivateKeyType, bin)
}

// Merge returns the union of two copies of one key: user IDs by their
// text, subkeys by fingerprint, and the self-signatures and revocations of
// each, deduplicated by their bytes. Secret parts are kept when either
// copy has them. changed reports whether fresh added anything to old, as
// a refreshed expiry, a new subkey or a revocation do. Copies of two
// different keys are not merged: Merge returns old, false. Neither
// argument is modified.
//
// Being a union, merging an older copy into a newer one can report a
// change: gpg exports only the newest self-signature of a user ID, and
// Merge adds the superseded one back (go-crypto uses the newest). The
// import limits are not applied again to the union.
func Merge(old, fresh *Key) (merged *Key, changed bool) {
	if old.Fingerprint() != fresh.Fingerprint() {
		return old, false
	}
	m := &merger{}
	e := &openpgp.Entity{
		PrimaryKey: old.e.PrimaryKey,
		Identities: map[string]*openpgp.Identity{},
	}
	for i, src := range []*openpgp.Entity{old.e, fresh.e} {
		m.fresh = i == 1
		e.PrivateKey = m.secret(e.PrivateKey, src.PrivateKey)
		e.Revocations = m.sigs(e.Revocations, src.Revocations)
		e.DirectSignatures = m.sigs(e.DirectSignatures, src.DirectSignatures)
		m.identities(e, src)
		m.subkeys(e, src)
	}
	return &Key{e: e}, m.changed
}

// merger adds one copy after the other to a merged entity and records
// whether the fresh copy added anything.
type merger struct {
	fresh   bool // adding the fresh copy
	changed bool
}

func (m *merger) added() { m.changed = m.changed || m.fresh }

// secret returns have, or add when only add carries secret material.
func (m *merger) secret(have, add *packet.PrivateKey) *packet.PrivateKey {
	if usableSecret(have) || !usableSecret(add) {
		return have
	}
	m.added()
	return add
}

func usableSecret(k *packet.PrivateKey) bool { return k != nil && !k.Dummy() }

// sigs returns have followed by the signatures of add not in have. The
// signatures added are new VerifiableSignatures: their verification cache
// belongs to the merged key.
func (m *merger) sigs(have, add []*packet.VerifiableSignature) []*packet.VerifiableSignature {
	seen := map[string]bool{}
	for _, s := range have {
		seen[sigBytes(s.Packet)] = true
	}
	for _, s := range add {
		b := sigBytes(s.Packet)
		if b != "" && seen[b] {
			continue
		}
		seen[b] = true
		have = append(have, packet.NewVerifiableSig(s.Packet))
		m.added()
	}
	return have
}

// sigBytes is a signature's serialisation, "" if it has none.
func sigBytes(s *packet.Signature) string {
	var b bytes.Buffer
	if err := s.Serialize(&b); err != nil {
		return ""
	}
	return b.String()
}

// identities adds the user IDs of src to e, by their text.
func (m *merger) identities(e, src *openpgp.Entity) {
	for name, id := range src.Identities {
		have := e.Identities[name]
		if have == nil {
			have = &openpgp.Identity{Primary: e, Name: name, UserId: id.UserId}
			e.Identities[name] = have
			m.added()
		}
		have.SelfCertifications = m.sigs(have.SelfCertifications, id.SelfCertifications)
		have.OtherCertifications = m.sigs(have.OtherCertifications, id.OtherCertifications)
		have.Revocations = m.sigs(have.Revocations, id.Revocations)
	}
}

// subkeys adds the subkeys of src to e, by fingerprint, in key order.
func (m *merger) subkeys(e, src *openpgp.Entity) {
	for _, sub := range src.Subkeys {
		i := slices.IndexFunc(e.Subkeys, func(s openpgp.Subkey) bool {
			return bytes.Equal(s.PublicKey.Fingerprint, sub.PublicKey.Fingerprint)
		})
		if i < 0 {
			i = len(e.Subkeys)
			e.Subkeys = append(e.Subkeys, openpgp.Subkey{Primary: e, PublicKey: sub.PublicKey})
			m.added()
		}
		have := &e.Subkeys[i]
		have.PrivateKey = m.secret(have.PrivateKey, sub.PrivateKey)
		have.Bindings = m.sigs(have.Bindings, sub.Bindings)
		have.Revocations = m.sigs(have.Revocations, sub.Revocations)
	}
}
