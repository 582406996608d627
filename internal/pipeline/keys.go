package pipeline

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// maxCachedKeys bounds the key cache; past it the cache starts over.
const maxCachedKeys = 10000

// keyCache keeps parsed keys so that a post to a large list does not parse
// every member's key again. Entries are keyed by a digest of the stored
// bytes, so an updated key is parsed afresh.
type keyCache struct {
	mu   sync.Mutex
	keys map[[32]byte]*pgp.Key
}

func newKeyCache() *keyCache { return &keyCache{keys: make(map[[32]byte]*pgp.Key)} }

func (c *keyCache) get(data []byte, parse func() (*pgp.Key, error)) (*pgp.Key, error) {
	id := sha256.Sum256(data)
	c.mu.Lock()
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := parse()
	if err != nil {
		return nil, err
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
	return p.keys.get(l.SealedKey, func() (*pgp.Key, error) { return p.sealer.OpenListKey(l) })
}

// memberKey returns a member's OpenPGP public key.
func (p *Pipeline) memberKey(m *store.Member) (*pgp.Key, error) {
	mk := m.Key(store.EngineOpenPGP)
	if mk == nil {
		return nil, fmt.Errorf("pipeline: member %s has no OpenPGP key", m.Email)
	}
	return p.keys.get(mk.Data, func() (*pgp.Key, error) {
		k, err := pgp.ParseKey(mk.Data)
		if err != nil {
			return nil, fmt.Errorf("pipeline: key of member %s: %w", m.Email, err)
		}
		return k, nil
	})
}
