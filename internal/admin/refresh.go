package admin

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// ErrNoKeyPublished is what a KeyFetcher returns when the address
// publishes no key.
var ErrNoKeyPublished = errors.New("no key published")

// KeyFetcher fetches the OpenPGP key published for an address, for
// example from its Web Key Directory.
type KeyFetcher func(ctx context.Context, addr string) ([]byte, error)

// Refresh reports one RefreshMemberKeys pass.
type Refresh struct {
	Checked   int      // addresses asked
	Updated   []string // fingerprints of keys that changed (new expiry, subkeys, revocations)
	Failed    int      // fetches that failed (network, HTTP, unreadable key)
	Different []string // addresses that publish a key other than the member's
}

// RefreshMemberKeys asks fetch for the key of every member address with
// an OpenPGP key, in random order, calling pause(n) before each fetch
// (n addresses in this pass) so that the fetches can be spread out. What
// is published for a member's own key (same fingerprint) is read with
// the import filters and merged into the keyring: a new expiry date,
// new subkeys, a revocation. A different key is never taken: a member's
// key changes only through the owner or with proof of possession. A
// server job: only an admin (the operator) may run it.
func (s *Service) RefreshMemberKeys(ctx context.Context, fetch KeyFetcher, pause func(ctx context.Context, n int) error) (Refresh, error) {
	var r Refresh
	if err := s.requireAdmin("refresh every member's key"); err != nil {
		return r, err
	}
	owned, err := s.memberOpenPGPKeys(ctx)
	if err != nil {
		return r, err
	}
	addrs := make([]string, 0, len(owned))
	for a := range owned {
		addrs = append(addrs, a)
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	for _, addr := range addrs {
		if pause != nil {
			if err := pause(ctx, len(addrs)); err != nil {
				return r, err
			}
		}
		r.Checked++
		data, err := fetch(ctx, addr)
		if errors.Is(err, ErrNoKeyPublished) {
			continue
		}
		if err != nil {
			r.Failed++
			continue
		}
		found, err := pgp.ReadKeys(data, pgp.ImportOptions{Now: s.now()})
		if err != nil {
			r.Failed++
			continue
		}
		other := false
		for _, f := range found {
			if f.Key == nil || f.Key.HasSecret() {
				continue
			}
			if !owned[addr][f.Key.Fingerprint()] {
				other = true
				continue
			}
			changed, err := s.mergeKey(ctx, f.Key)
			if err != nil {
				return r, err
			}
			if changed {
				r.Updated = append(r.Updated, f.Key.Fingerprint())
			}
		}
		if other {
			r.Different = append(r.Different, addr)
		}
	}
	return r, nil
}

// memberOpenPGPKeys maps each member address to the fingerprints of its
// OpenPGP keys, over all lists.
func (s *Service) memberOpenPGPKeys(ctx context.Context) (map[string]map[string]bool, error) {
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for _, l := range lists {
		ms, err := s.st.Members(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			for _, k := range m.Keys {
				if k.Engine != store.EngineOpenPGP {
					continue
				}
				if out[m.Email] == nil {
					out[m.Email] = map[string]bool{}
				}
				out[m.Email][k.Fingerprint] = true
			}
		}
	}
	return out, nil
}

// mergeKey merges k into the keyring's copy of the same key and reports
// whether that changed it.
func (s *Service) mergeKey(ctx context.Context, k *pgp.Key) (bool, error) {
	old, err := s.st.Key(ctx, k.Fingerprint())
	if err != nil {
		return false, err
	}
	prev, err := pgp.ParseKey(old.Data)
	if err != nil {
		return false, err
	}
	merged, changed := pgp.Merge(prev, k)
	if !changed {
		return false, nil
	}
	rec, _ := keyring.OpenPGPRecord(merged, s.now())
	res, err := s.st.PutKeys(ctx, []store.Key{rec})
	return err == nil && res[0] == store.KeyUpdated, err
}
