// Package wkd is the OpenPGP Web Key Directory (draft-koch-openpgp-webkey-
// service): the hashed local part that names a key, a client that fetches
// a key by address (advanced method first, then direct), and an HTTP
// handler that publishes keys. It does not know where keys come from: the
// caller gives the handler a lookup function.
package wkd

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// zbase32 is the z-base-32 alphabet (draft-koch-openpgp-webkey-service §3.1).
const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// Hash returns the WKD name of a local part: the z-base-32 encoded SHA-1
// of its lower-cased form (§3.1).
func Hash(local string) string {
	sum := sha1.Sum([]byte(strings.ToLower(local)))
	var b strings.Builder
	var acc uint64
	bits := 0
	for _, c := range sum {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			b.WriteByte(zbase32[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		b.WriteByte(zbase32[(acc<<uint(5-bits))&31])
	}
	return b.String()
}

// URLs returns the advanced and the direct lookup URL for addr (§3.1).
func URLs(addr string) (advanced, direct string, err error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", fmt.Errorf("wkd: %q is not an email address", addr)
	}
	local, domain := addr[:at], strings.ToLower(addr[at+1:])
	q := "?l=" + url.QueryEscape(local)
	h := Hash(local)
	advanced = "https://openpgpkey." + domain + "/.well-known/openpgpkey/" + domain + "/hu/" + h + q
	direct = "https://" + domain + "/.well-known/openpgpkey/hu/" + h + q
	return advanced, direct, nil
}

// ErrNotFound is returned when neither method has a key for the address.
var ErrNotFound = errors.New("wkd: no key published for this address")

// maxKeyBytes bounds a fetched key (a WKD key should be one minimal key).
const maxKeyBytes = 1 << 20

// Client fetches keys from Web Key Directories.
type Client struct {
	HTTP *http.Client // nil: a client with a 10 s timeout
}

// Fetch returns the binary key published for addr, trying the advanced
// method and then the direct one (§3.1).
func (c *Client) Fetch(ctx context.Context, addr string) ([]byte, error) {
	advanced, direct, err := URLs(addr)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	var last error
	for _, u := range []string{advanced, direct} {
		key, err := get(ctx, hc, u)
		if err == nil {
			return key, nil
		}
		last = err
	}
	if errors.Is(last, ErrNotFound) {
		return nil, ErrNotFound
	}
	return nil, fmt.Errorf("wkd: %s: %w", addr, last)
}

func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	key, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(key) > maxKeyBytes || len(key) == 0 {
		return nil, fmt.Errorf("key of %d bytes", len(key))
	}
	return key, nil
}

// Lookup returns the binary key published for a domain and a hashed local
// part, if any.
type Lookup func(ctx context.Context, domain, hash string) ([]byte, bool)

// Handler serves /.well-known/openpgpkey/ for both methods: the advanced
// path names the domain, the direct one takes it from the Host header
// (§3.1), and each domain's "policy" file is served empty (§4.5).
func Handler(lookup Lookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/.well-known/openpgpkey/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		domain := strings.ToLower(strings.TrimPrefix(hostOnly(r.Host), "openpgpkey."))
		parts := strings.Split(rest, "/")
		if len(parts) == 3 { // advanced: DOMAIN/hu/HASH or DOMAIN/policy
			domain, parts = strings.ToLower(parts[0]), parts[1:]
		}
		switch {
		case len(parts) == 1 && parts[0] == "policy":
			w.Header().Set("Content-Type", "text/plain")
		case len(parts) == 2 && parts[0] == "hu":
			key, found := lookup(r.Context(), domain, parts[1])
			if !found {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Access-Control-Allow-Origin", "*") // §3.1: browsers may fetch
			w.Write(key)
		default:
			http.NotFound(w, r)
		}
	})
}

func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}
