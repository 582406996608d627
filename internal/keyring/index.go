package keyring

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// IndexVersion identifies how Record indexes keys. Keys indexed by an
// older version are indexed again when Sealpost starts. Version 2 flags
// weak keys (store.Key.Weak), which the keyring listing filters by.
const IndexVersion = 2

// IsCertificate tells an X.509 certificate (PEM, or DER: a SEQUENCE)
// from an OpenPGP key (armored, or binary packets, whose first byte has
// the high bit set and is never 0x30).
func IsCertificate(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) || (len(data) > 0 && data[0] == 0x30)
}

// Describe parses one OpenPGP public key (armored or binary) or X.509
// certificate (PEM or DER) and returns its keyring record and what it is
// fit for at now.
func Describe(data []byte, now time.Time) (store.Key, crypto.KeyInfo, error) {
	if IsCertificate(data) {
		cert, _, err := smime.ParseCertificate(data)
		if err != nil {
			return store.Key{}, crypto.KeyInfo{}, err
		}
		rec, info := CertificateRecord(cert)
		return rec, info, nil
	}
	k, err := pgp.ParseKey(data)
	if err != nil {
		return store.Key{}, crypto.KeyInfo{}, err
	}
	rec, info := OpenPGPRecord(k, now)
	return rec, info, nil
}

// OpenPGPRecord is the keyring record of an OpenPGP key: its public part,
// indexed by key IDs, subkey fingerprints and user ID addresses.
func OpenPGPRecord(k *pgp.Key, now time.Time) (store.Key, crypto.KeyInfo) {
	info := k.Info(now)
	idx := []store.IndexEntry{{Kind: store.IndexKeyID, Value: k.KeyID()}}
	for _, id := range k.SubkeyIDs() {
		idx = append(idx, store.IndexEntry{Kind: store.IndexKeyID, Value: id})
	}
	for _, fpr := range k.SubkeyFingerprints() {
		idx = append(idx, store.IndexEntry{Kind: store.IndexSubkey, Value: fpr})
	}
	idx = appendEmails(idx, info.Addresses)
	return store.Key{Fingerprint: info.Fingerprint, Engine: store.EngineOpenPGP, Data: k.PublicBytes(), Index: idx,
		IndexVersion: IndexVersion, KeyCreated: info.Created, Expires: info.Expires, Revoked: info.Revoked, Weak: Weakness(info) != "",
		Notes: info.Notes}, info
}

// CertificateRecord is the keyring record of an X.509 certificate,
// indexed by issuer and serial number, subject key identifier and
// addresses: the ways CMS names a recipient or signer (RFC 5652 §5.3).
func CertificateRecord(c *x509.Certificate) (store.Key, crypto.KeyInfo) {
	info := smime.CertInfo(c)
	idx := []store.IndexEntry{{Kind: store.IndexIssuerSerial, Value: IssuerSerial(c.RawIssuer, c.SerialNumber)}}
	if len(c.SubjectKeyId) > 0 {
		idx = append(idx, store.IndexEntry{Kind: store.IndexSKI, Value: strings.ToUpper(hex.EncodeToString(c.SubjectKeyId))})
	}
	idx = appendEmails(idx, info.Addresses)
	return store.Key{Fingerprint: info.Fingerprint, Engine: store.EngineSMIME, Data: c.Raw, Index: idx,
		IndexVersion: IndexVersion, KeyCreated: c.NotBefore, Expires: c.NotAfter, Revoked: info.Revoked, Weak: Weakness(info) != ""}, info
}

// IssuerSerial is the index value of a certificate's issuer (its DER
// Name) and serial number.
func IssuerSerial(rawIssuer []byte, serial *big.Int) string {
	sum := sha256.Sum256(rawIssuer)
	return fmt.Sprintf("%X:%X", sum[:], serial)
}

func appendEmails(idx []store.IndexEntry, addrs []string) []store.IndexEntry {
	seen := map[string]bool{}
	for _, a := range addrs {
		if a = strings.ToLower(a); !seen[a] {
			seen[a] = true
			idx = append(idx, store.IndexEntry{Kind: store.IndexEmail, Value: a})
		}
	}
	return idx
}

// Reindex returns the record of a stored key as the current indexer makes
// it; the key's data, fingerprint and times other than expiry stay.
func Reindex(k store.Key, now time.Time) (store.Key, error) {
	rec, _, err := Describe(k.Data, now)
	if err != nil {
		return k, fmt.Errorf("keyring: key %s: %w", k.Fingerprint, err)
	}
	if rec.Fingerprint != k.Fingerprint {
		return k, fmt.Errorf("keyring: key %s: stored data has fingerprint %s", k.Fingerprint, rec.Fingerprint)
	}
	rec.Data, rec.AddedAt, rec.UpdatedAt = k.Data, k.AddedAt, k.UpdatedAt
	rec.Notes = JoinNotes(k.Notes, rec.Notes) // what was dropped before the data were stored
	return rec, nil
}

// JoinNotes returns the notes of a, then those of b that a lacks.
func JoinNotes(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
