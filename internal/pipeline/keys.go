package pipeline

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"sync"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// The key cache's bounds: by entries and by the size of the stored
// bytes the entries were parsed from. A list of 10,000 members with an
// OpenPGP key and a certificate each fits, with room for its pending keys,
// trust anchors and the lists' own keys.
const (
	maxCachedKeys     = 32 << 10
	maxCachedKeyBytes = 128 << 20
)

// keyCache keeps parsed keys, certificates and identities so that a post
// to a large list does not parse and check every member's key again. An
// entry is found by what it was parsed as, the fingerprint it is stored
// under and a digest of the stored bytes: a key updated under the same
// fingerprint (a new subkey, a revocation, a later expiry) is parsed
// afresh, and its old entry ages out. Nothing that depends on the time is
// kept: whether a key is usable now is judged on every use.
//
// The cache is bounded (least recently used entries go first) and safe
// for concurrent use. What it returns is shared: callers must not change
// it (OpenPGP keys are checked before they are kept, so that judging them
// only reads them: pgp.Key.CheckSignatures).
type keyCache struct {
	maxEntries int
	maxBytes   int64

	mu      sync.Mutex
	entries map[cacheID]*list.Element // of *cacheEntry
	lru     list.List                 // front: most recently used
	bytes   int64                     // the stored size of what is cached
}

// cacheID names one cache entry.
type cacheID struct {
	kind        string // what the bytes are parsed as
	fingerprint string
	sum         [sha256.Size]byte // of the stored bytes
}

type cacheEntry struct {
	id    cacheID
	size  int64
	value any
}

func newKeyCache(maxEntries int, maxBytes int64) *keyCache {
	return &keyCache{maxEntries: maxEntries, maxBytes: maxBytes, entries: make(map[cacheID]*list.Element)}
}

// cached returns what parse makes of data, stored under fingerprint as
// kind, parsing it only when the cache does not hold it. Errors are not
// kept: bytes that do not parse are tried again next time.
func cached[T any](c *keyCache, kind, fingerprint string, data []byte, parse func() (T, error)) (T, error) {
	id := cacheID{kind: kind, fingerprint: fingerprint, sum: sha256.Sum256(data)}
	if v, ok := c.get(id).(T); ok {
		return v, nil
	}
	v, err := parse()
	if err != nil {
		return v, err
	}
	c.put(id, int64(len(data)), v)
	return v, nil
}

// get returns the value of entry id, or nil, and marks it used.
func (c *keyCache) get(id cacheID) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).value
}

// put keeps v as entry id, made from size stored bytes, and drops the
// least recently used entries past the bounds.
func (c *keyCache) put(id cacheID, size int64, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok { // parsed meanwhile by another post
		c.lru.MoveToFront(el)
		return
	}
	c.entries[id] = c.lru.PushFront(&cacheEntry{id: id, size: size, value: v})
	c.bytes += size
	for c.lru.Len() > 1 && (c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes) {
		e := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.entries, e.id)
		c.bytes -= e.size
	}
}

// len is the number of entries.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Kinds of cache entries.
const (
	cacheListKey      = "list key"
	cacheListIdentity = "list identity"
	cacheMemberKey    = "member key" // a public OpenPGP key, checked
	cacheCertificate  = "certificate"
	cacheRevocations  = "revocations" // a list's CRLs, checked against their issuers
)

// listKey returns the list's OpenPGP secret key, unsealed.
func (p *Pipeline) listKey(l *store.List) (*pgp.Key, error) {
	return cached(p.keys, cacheListKey, l.KeyFingerprint, l.SealedKey, func() (*pgp.Key, error) {
		return checked(p.sealer.OpenListKey(l))
	})
}

// checked returns k, its self-signatures checked, so that posts signing
// and decrypting with it at once only read it (pgp.Key.CheckSignatures).
func checked(k *pgp.Key, err error) (*pgp.Key, error) {
	if err != nil {
		return nil, err
	}
	k.CheckSignatures()
	return k, nil
}

// retiredKeys returns the list's former OpenPGP keys whose grace period
// has not ended: they still decrypt. One that cannot be opened is
// skipped (and logged): the current key must still work.
func (p *Pipeline) retiredKeys(l *store.List) []*pgp.Key {
	var out []*pgp.Key
	for i := range l.Retired {
		r := &l.Retired[i]
		if r.Engine == store.EngineSMIME || r.Engine == store.RetiredMLKEM || !p.opt.Now().Before(r.DecryptUntil) {
			continue
		}
		k, err := cached(p.keys, cacheListKey, r.Fingerprint, r.SealedKey, func() (*pgp.Key, error) {
			return checked(p.sealer.OpenRetiredKey(l, r))
		})
		if err != nil {
			p.opt.Logger.Error("retired list key unusable", "list", l.Address, "fingerprint", r.Fingerprint, "err", err)
			continue
		}
		out = append(out, k)
	}
	return out
}

// retiredIdentities returns the list's former S/MIME identities and
// ML-KEM certificates (as identities holding only Identity.KEM) whose
// grace period has not ended, newest first: they still decrypt. One that
// cannot be opened is skipped (and logged).
func (p *Pipeline) retiredIdentities(l *store.List) []*smime.Identity {
	var out []*smime.Identity
	for i := range l.Retired {
		r := &l.Retired[i]
		if r.Engine != store.EngineSMIME && r.Engine != store.RetiredMLKEM || !p.opt.Now().Before(r.DecryptUntil) {
			continue
		}
		id, err := cached(p.keys, cacheListIdentity, r.Fingerprint, r.SealedKey, func() (*smime.Identity, error) {
			if r.Engine == store.RetiredMLKEM {
				return p.sealer.OpenRetiredKEM(l, r)
			}
			return p.sealer.OpenRetiredIdentity(l, r)
		})
		if err != nil {
			p.opt.Logger.Error("retired S/MIME identity unusable", "list", l.Address, "fingerprint", r.Fingerprint, "err", err)
			continue
		}
		out = append(out, id)
	}
	return out
}

// listIdentity returns the list's S/MIME identity, unsealed, with its
// ML-KEM certificate when it has one (both sealed secrets key the cache).
func (p *Pipeline) listIdentity(l *store.List) (*smime.Identity, error) {
	sealed := l.SMIMESealed
	if len(l.SMIMEKEMSealed) > 0 {
		sealed = append(slices.Clip(l.SMIMESealed), l.SMIMEKEMSealed...)
	}
	return cached(p.keys, cacheListIdentity, l.Address, sealed, func() (*smime.Identity, error) { return p.sealer.OpenListIdentity(l) })
}

// memberKey returns a member's OpenPGP public key, parsed and checked.
func (p *Pipeline) memberKey(mk *store.MemberKey) (*pgp.Key, error) {
	return p.publicKey(mk.Fingerprint, mk.Data)
}

// publicKey returns the OpenPGP public key stored as data under
// fingerprint, parsed and its self-signatures checked, once.
func (p *Pipeline) publicKey(fingerprint string, data []byte) (*pgp.Key, error) {
	return cached(p.keys, cacheMemberKey, fingerprint, data, func() (*pgp.Key, error) {
		k, err := pgp.ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("pipeline: member key %s: %w", fingerprint, err)
		}
		k.CheckSignatures()
		return k, nil
	})
}

// memberCert returns a member's S/MIME certificate.
func (p *Pipeline) memberCert(mk *store.MemberKey) (*x509.Certificate, error) {
	return p.certificate(mk.Fingerprint, mk.Data)
}

// certificate returns the X.509 certificate stored as der under
// fingerprint, parsed once.
func (p *Pipeline) certificate(fingerprint string, der []byte) (*x509.Certificate, error) {
	return cached(p.keys, cacheCertificate, fingerprint, der, func() (*x509.Certificate, error) { return x509.ParseCertificate(der) })
}
