package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestChangeListKeys: from the list page an owner gives the list a new
// OpenPGP key with their grace days, and a new S/MIME certificate twice,
// the first one kept for its grace days; a grace out of bounds and
// another owner are refused.
func TestChangeListKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.signedIn("alice@example.org")
	before, _ := f.svc.List(ctx, listA)
	if p := alice.post("/lists/"+listA+"/key/rotate", url.Values{"key_algo": {"ed25519"}, "grace_days": {"400"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("400 grace days: %d, want 422", p.status)
	}
	p := alice.post("/lists/"+listA+"/key/rotate", url.Values{"key_algo": {"ed25519"}, "grace_days": {"10"}})
	after, _ := f.svc.List(ctx, listA)
	if p.status != http.StatusOK || !strings.Contains(p.body, "The list has a new key") || after.KeyFingerprint == before.KeyFingerprint {
		t.Fatalf("rotation: %d, fingerprint %s → %s\n%s", p.status, before.KeyFingerprint, after.KeyFingerprint, p.body)
	}
	if len(after.Retired) != 1 || after.Retired[0].Fingerprint != before.KeyFingerprint ||
		after.Retired[0].DecryptUntil.Sub(time.Now().Add(10*24*time.Hour)).Abs() > time.Hour {
		t.Errorf("the old key is kept as %+v, want it decrypting for 10 days", after.Retired)
	}
	for range 2 {
		p := alice.postFiles("/lists/"+listA+"/certificate", map[string]string{"smime": "generate", "grace_days": "5"}, nil)
		if p.status != http.StatusOK || !strings.Contains(p.body, "S/MIME certificate is now") {
			t.Fatalf("a made certificate: %d\n%s", p.status, p.body)
		}
	}
	l, _ := f.svc.List(ctx, listA)
	var smime []store.RetiredKey
	for _, r := range l.Retired {
		if r.Engine == store.EngineSMIME {
			smime = append(smime, r)
		}
	}
	if len(smime) != 1 || smime[0].DecryptUntil.Sub(time.Now().Add(5*24*time.Hour)).Abs() > time.Hour {
		t.Errorf("the replaced certificate is kept as %+v, want it decrypting for 5 days", smime)
	}
	bob := f.signedIn("bob@example.org")
	if p := bob.post("/lists/"+listA+"/key/rotate", url.Values{"key_algo": {"ed25519"}}); p.status != http.StatusForbidden {
		t.Errorf("bob rotates alice's list key: %d, want 403", p.status)
	}
}
