package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

// TestListKeyAlgoPQ: key_algo "pq" makes a list whose key has a
// post-quantum subkey; GET .../key serves it whole and ?classic=true the
// same key without that subkey, as LIST.classic.asc.
func TestListKeyAlgoPQ(t *testing.T) {
	f := newFixture(t)
	const adm, pq = "admin@example.org", "pq@lists.example.org"
	if r := f.sendJSON(adm, "POST", api.Prefix+"/lists", map[string]string{"address": pq, "key_algo": "pq"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	key := func(query string) (*pgp.Key, response) {
		t.Helper()
		r := f.get(adm, api.Prefix+"/lists/"+pq+"/key"+query)
		if r.status != http.StatusOK {
			t.Fatalf("key%s: %d %s", query, r.status, r.body)
		}
		k, err := pgp.ParseKey(r.body)
		if err != nil {
			t.Fatal(err)
		}
		return k, r
	}
	full, _ := key("")
	classic, r := key("?classic=true")
	if !full.Info(time.Now()).PostQuantum || classic.Info(time.Now()).PostQuantum || classic.Fingerprint() != full.Fingerprint() {
		t.Errorf("key %+v, classic %+v", full.Info(time.Now()), classic.Info(time.Now()))
	}
	if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, pq+".classic.asc") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r := f.get(adm, api.Prefix+"/lists/"+pq+"/key?classic=maybe"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("classic=maybe: %d, want 422", r.status)
	}
}
