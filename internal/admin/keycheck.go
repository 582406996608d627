package admin

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
)

// KeyFinding is a key or certificate that is unusable or expires soon.
type KeyFinding struct {
	List        string
	Holder      string // "list" for the list's own keys, else the member's address
	Engine      crypto.Engine
	Fingerprint string
	Status      keyring.Status
	Expires     time.Time // zero when it does not expire
	// Weak is keyring.Weakness of the key ("Weak key (1024 bits)"), or "".
	Weak string
}

// CheckKeys reports every list key, list certificate and member key of
// list (or of every list when list is empty) that is unusable now
// (revoked by a loaded CRL too) or expires within the next days days.
// A reported key's weakness is in KeyFinding.Weak.
func (s *Service) CheckKeys(ctx context.Context, list string, days int) ([]KeyFinding, error) {
	return s.checkKeys(ctx, list, days, false)
}

// CheckKeysWeak is CheckKeys that also reports the keys that are usable
// but weak (keyring.Weakness), as "key check" shows them.
func (s *Service) CheckKeysWeak(ctx context.Context, list string, days int) ([]KeyFinding, error) {
	return s.checkKeys(ctx, list, days, true)
}

func (s *Service) checkKeys(ctx context.Context, list string, days int, weak bool) ([]KeyFinding, error) {
	lists, err := s.scope(ctx, list)
	if err != nil {
		return nil, err
	}
	now := s.now()
	soon := now.AddDate(0, 0, days)
	var out []KeyFinding
	report := func(f KeyFinding, info crypto.KeyInfo) {
		f.Weak = keyring.Weakness(info)
		if f.Status != keyring.Usable || weak && f.Weak != "" || (!f.Expires.IsZero() && f.Expires.Before(soon)) {
			out = append(out, f)
		}
	}
	for _, l := range lists {
		anchors, err := s.anchorsOf(ctx, &l)
		if err != nil {
			return nil, err
		}
		rev, err := s.revocations(ctx, anchors, nil)
		if err != nil {
			return nil, err
		}
		if info, err := s.KeyInfo(&l); err == nil {
			report(KeyFinding{List: l.Address, Holder: "list", Engine: crypto.OpenPGP, Fingerprint: info.Fingerprint,
				Status: listKeyStatus(info, now), Expires: info.Expires}, info)
		}
		if c, err := x509.ParseCertificate(l.SMIMECert); err == nil {
			info := smime.CertInfo(c)
			markRevoked(rev, c.Raw, &info)
			report(KeyFinding{List: l.Address, Holder: "list", Engine: crypto.SMIME, Fingerprint: info.Fingerprint,
				Status: listKeyStatus(info, now), Expires: info.Expires}, info)
		}
		ms, err := s.st.Members(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range s.memberViews(ms, rev) {
			for i, mk := range m.Member.Keys {
				info := m.Keys[i]
				report(KeyFinding{List: l.Address, Holder: m.Email, Engine: crypto.Engine(mk.Engine), Fingerprint: mk.Fingerprint,
					Status: keyring.StatusOf(keyring.CheckMemberKey(info, m.Email, now)), Expires: info.Expires}, info)
			}
		}
	}
	return out, nil
}

// listKeyStatus judges one of the list's own keys, which must sign.
func listKeyStatus(info crypto.KeyInfo, now time.Time) keyring.Status {
	return standaloneStatus(info, now, info.CanSign)
}

// standaloneStatus judges a key on its own, without an address to match:
// revoked, expired, or able to do what it is for (usable) or not.
func standaloneStatus(info crypto.KeyInfo, now time.Time, usable bool) keyring.Status {
	switch {
	case info.Revoked:
		return keyring.KeyRevoked
	case info.Expired(now):
		return keyring.KeyExpired
	case !usable:
		return keyring.WrongKeyUsage
	}
	return keyring.Usable
}

// Key badges: how a member's keys stand, in one word, for the admin UI
// and the API.
const (
	BadgeValid    = "valid"    // a key to encrypt to, good for more than ExpiringWithin
	BadgeExpiring = "expiring" // the best key expires within ExpiringWithin
	BadgeExpired  = "expired"
	BadgeRevoked  = "revoked"
	BadgeMissing  = "missing" // no key to encrypt to at all
	// BadgeUnusable is a list's own key that cannot sign.
	BadgeUnusable = "unusable"
)

// ExpiringWithin is how close to its expiry a key is badged expiring.
const ExpiringWithin = 30 * 24 * time.Hour

// KeyBadge judges one key of a member with address email at now.
func KeyBadge(info crypto.KeyInfo, email string, now time.Time) string {
	return badgeOf(keyring.StatusOf(keyring.CheckMemberKey(info, email, now)), info, now)
}

// ListKeyBadge judges a list's own key, which must sign.
func ListKeyBadge(info crypto.KeyInfo, now time.Time) string {
	st := listKeyStatus(info, now)
	if st == keyring.WrongKeyUsage {
		return BadgeUnusable
	}
	return badgeOf(st, info, now)
}

// badgeOf is the badge of a key with status st.
func badgeOf(st keyring.Status, info crypto.KeyInfo, now time.Time) string {
	switch st {
	case keyring.Usable:
		if !info.Expires.IsZero() && info.Expires.Before(now.Add(ExpiringWithin)) {
			return BadgeExpiring
		}
		return BadgeValid
	case keyring.KeyRevoked:
		return BadgeRevoked
	case keyring.KeyExpired:
		return BadgeExpired
	}
	return BadgeMissing
}

// Badge judges a member by their best key: valid beats expiring beats
// expired beats revoked; a member with no key to encrypt to is missing.
func (v MemberView) Badge(now time.Time) string {
	rank := map[string]int{BadgeValid: 4, BadgeExpiring: 3, BadgeExpired: 2, BadgeRevoked: 1, BadgeMissing: 0}
	best := BadgeMissing
	for _, info := range v.Keys {
		if b := KeyBadge(info, v.Email, now); rank[b] > rank[best] {
			best = b
		}
	}
	return best
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }
