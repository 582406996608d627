package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClientIP: X-Forwarded-For counts only from a proxy on the same host
// (a loopback peer), and then its last hop; anyone else's is ignored, so
// that a client cannot pick the address its sign-in failures count
// against.
func TestClientIP(t *testing.T) {
	for _, c := range []struct {
		peer, xff, want string
	}{
		{"192.0.2.7:4000", "", "192.0.2.7"},
		{"192.0.2.7:4000", "198.51.100.1", "192.0.2.7"},
		{"127.0.0.1:4000", "", "127.0.0.1"},
		{"127.0.0.1:4000", "198.51.100.1", "198.51.100.1"},
		{"127.0.0.1:4000", "203.0.113.9, 198.51.100.1", "198.51.100.1"},
		{"[::1]:4000", "2001:db8::5", "2001:db8::5"},
		{"127.0.0.1:4000", "not an address", "127.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestSecureCookie: the session cookie is Secure over HTTPS, behind a
// same-host proxy that says HTTPS, or when configured; and always
// HttpOnly and SameSite=Strict.
func TestSecureCookie(t *testing.T) {
	for _, c := range []struct {
		peer, proto string
		always      bool
		want        bool
	}{
		{"192.0.2.7:4000", "", false, false},
		{"192.0.2.7:4000", "https", false, false}, // not from a proxy of ours
		{"127.0.0.1:4000", "https", false, true},
		{"127.0.0.1:4000", "", true, true},
	} {
		a := &Auth{opt: Options{SecureCookies: c.always}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		ck := a.cookie(r, "v", time.Hour)
		if ck.Secure != c.want || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("%+v: cookie %+v", c, ck)
		}
	}
	if got := Wait(14*time.Minute + 20*time.Second); got != "14 minutes" {
		t.Errorf("Wait: %q", got)
	}
}
