package pipeline

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// maxCachedKeys bounds the key cache; past it the cache starts over.
const maxCachedKeys = 10000

// keyCache keeps parsed keys, certificates and identities so that a post
// to a large list does not parse every member's key again. Entries are
// keyed by a digest of the stored bytes, so an updated key is parsed
// afresh.
type keyCache struct {
	mu   sync.Mutex
	keys map[[32]byte]any
}

func newKeyCache() *keyCache { return &keyCache{keys: make(map[[32]byte]any)} }

// cached returns what parse makes of data, parsing it once.
func cached[T any](c *keyCache, data []byte, parse func() (T, error)) (T, error) {
	id := sha256.Sum256(data)
	c.mu.Lock()
	v, ok := c.keys[id].(T)
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	k, err := parse()
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	if len(c.keys) >= maxCachedKeys {
		clear(c.keys)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k, nil
}

// listKey returns the list's OpenPGP secret key, unsealed.
func (p *Pipeline) listKey(l *store.List) (*pgp.Key, error) {
	return cached(p.keys, l.SealedKey, func() (*pgp.Key, error) { return p.sealer.OpenListKey(l) })
}

// retiredKeys returns the list's former OpenPGP keys whose grace period
// has not ended: they still decrypt. One that cannot be opened is
// skipped (and logged): the current key must still work.
func (p *Pipeline) retiredKeys(l *store.List) []*pgp.Key {
	var out []*pgp.Key
	for i := range l.Retired {
		r := &l.Retired[i]
		if !p.opt.Now().Before(r.DecryptUntil) {
			continue
		}
		k, err := cached(p.keys, r.SealedKey, func() (*pgp.Key, error) { return p.sealer.OpenRetiredKey(l, r) })
		if err != nil {
			p.opt.Logger.Error("retired list key unusable", "list", l.Address, "fingerprint", r.Fingerprint, "err", err)
			continue
		}
		out = append(out, k)
	}
	return out
}

// listIdentity returns the list's S/MIME identity, unsealed.
func (p *Pipeline) listIdentity(l *store.List) (*smime.Identity, error) {
	return cached(p.keys, l.SMIMESealed, func() (*smime.Identity, error) { return p.sealer.OpenListIdentity(l) })
}

// memberKey returns a member's OpenPGP public key.
func (p *Pipeline) memberKey(mk *store.MemberKey) (*pgp.Key, error) {
	return cached(p.keys, mk.Data, func() (*pgp.Key, error) {
		k, err := pgp.ParseKey(mk.Data)
		if err != nil {
			return nil, fmt.Errorf("pipeline: member key %s: %w", mk.Fingerprint, err)
		}
		return k, nil
	})
}

// memberCert returns a member's S/MIME certificate.
func (p *Pipeline) memberCert(mk *store.MemberKey) (*x509.Certificate, error) {
	return cached(p.keys, mk.Data, func() (*x509.Certificate, error) { return x509.ParseCertificate(mk.Data) })
}
