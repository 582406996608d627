package store

import "time"

// Statuses a keyring listing filters by (KeyFilter.Status).
const (
	KeyStatusValid    = "valid"    // neither revoked nor expired
	KeyStatusExpiring = "expiring" // not revoked, expires within KeyFilter.Within of Now
	KeyStatusExpired  = "expired"  // not revoked, expired before Now
	KeyStatusRevoked  = "revoked"  // revoked by its holder
	KeyStatusWeak     = "weak"     // under the size a key should have
)

// MaxKeysPage is the most keys one page of a keyring listing holds.
const MaxKeysPage = 100

// KeyFilter selects and pages the keys of a keyring listing. The zero
// value lists the first page of every key.
type KeyFilter struct {
	Address string // a substring of one of the key's addresses (case-insensitive); "" any
	Engine  string // EngineOpenPGP, EngineSMIME, or "" both
	Status  string // one of the KeyStatus values, or "" any
	// ListIDs, when not nil, keeps the keys one of these lists uses:
	// its own key (or a replaced one it still decrypts with) or a
	// member's. Empty: no key.
	ListIDs []int64
	// Now and Within judge expiry: expired is before Now, expiring is
	// from Now to Now+Within.
	Now    time.Time
	Within time.Duration
	// Offset skips that many keys (ordered by fingerprint); Limit is the
	// page size, at most MaxKeysPage (0 or more: MaxKeysPage).
	Offset, Limit int
}

// KeyPage is one page of a keyring listing.
type KeyPage struct {
	Keys []Key
	// Total is how many keys match the filter, on every page.
	Total int
}

// TrustAnchor is a certification authority the installation trusts for
// every list's S/MIME members (the keys page's anchors, beside the
// configuration's and each list's own).
type TrustAnchor struct {
	Fingerprint string // SHA-256 of Cert, upper-case hex
	Cert        []byte // DER
	CreatedAt   time.Time
}

// CRL is a certificate revocation list an admin added: the newest of
// its issuer.
type CRL struct {
	IssuerHash string // SHA-256 of the issuer's DER Name, upper-case hex
	Issuer     string // the issuer's name, for people
	ThisUpdate time.Time
	NextUpdate time.Time // zero: none given
	Data       []byte    // DER
	CreatedAt  time.Time
}

// ListAnchor is one of a list's own trust anchors, with the list.
type ListAnchor struct {
	List string // the list's address
	Cert []byte // DER
}
