package app

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxCRLBytes bounds a fetched CRL (DESIGN §4.8).
const maxCRLBytes = 10 << 20

// crlFetcher fetches CRLs over HTTP(S) from distribution points and keeps
// each until its nextUpdate (at most a day, at least five minutes).
type crlFetcher struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	cache  map[string]cachedCRL
}

type cachedCRL struct {
	crl   *x509.RevocationList
	until time.Time
}

func newCRLFetcher() *crlFetcher {
	return &crlFetcher{client: &http.Client{Timeout: 10 * time.Second}, now: time.Now, cache: map[string]cachedCRL{}}
}

// Fetch returns the CRL at url, from the cache while it is current.
func (f *crlFetcher) Fetch(ctx context.Context, url string) (*x509.RevocationList, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("crl: %s: only http and https distribution points are fetched", url)
	}
	f.mu.Lock()
	c, ok := f.cache[url]
	f.mu.Unlock()
	if ok && f.now().Before(c.until) {
		return c.crl, nil
	}
	crl, err := f.get(ctx, url)
	if err != nil {
		return nil, err
	}
	until := crl.NextUpdate
	if now := f.now(); until.IsZero() || until.After(now.Add(24*time.Hour)) {
		until = now.Add(24 * time.Hour)
	} else if until.Before(now.Add(5 * time.Minute)) {
		until = now.Add(5 * time.Minute)
	}
	f.mu.Lock()
	f.cache[url] = cachedCRL{crl: crl, until: until}
	f.mu.Unlock()
	return crl, nil
}

func (f *crlFetcher) get(ctx context.Context, url string) (*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("crl: %s: HTTP %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLBytes+1))
	if err != nil {
		return nil, fmt.Errorf("crl: %s: %w", url, err)
	}
	if len(data) > maxCRLBytes {
		return nil, fmt.Errorf("crl: %s: larger than %d bytes", url, maxCRLBytes)
	}
	if block, _ := pem.Decode(data); block != nil {
		data = block.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("crl: %s: %w", url, err)
	}
	return crl, nil
}
