package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/web"
)

// publicUnlimited are the public forms that need no rate limit of their
// own, and why. Every other public form must refuse a client that keeps
// posting (429).
var publicUnlimited = map[string]string{
	"POST /login/code":   "reached only by a session halfway through sign-in; its codes are limited per account (TestTwoFactor)",
	"POST /login/cancel": "ends the caller's own half-made session; changes and sends nothing else",
	"POST /login/reset/{token}": "the link's secret (32 random bytes, sent by mail) is the authority; a link that does not work " +
		"costs one lookup, no password hashing (TestPasswordResetLimits limits asking for links)",
}

// TestRouteWalk walks every page and action the UI serves (web.Routes),
// so that a route added later cannot escape the rules: without a session
// each one that needs it sends the browser to the sign-in page and does
// nothing; each public form refuses a post from another site and, unless
// publicUnlimited says why not, a client that keeps posting.
func TestRouteWalk(t *testing.T) {
	f := newFixture(t)
	routes := web.Routes(web.Options{Admin: f.svc, Auth: f.auth})
	if len(routes) < 40 {
		t.Fatalf("only %d routes: the walk is not reading the table", len(routes))
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	fill := func(path string) string {
		return param.ReplaceAllStringFunc(path, func(p string) string {
			switch p {
			case "{list}":
				return listA
			case "{$}":
				return ""
			}
			return "1"
		})
	}
	cl := f.client()
	nofollow := cl.noFollow()
	public := 0
	for _, r := range routes {
		method, path, _ := strings.Cut(r.Pattern, " ")
		if method == "" || path == "" || !strings.HasPrefix(path, "/") {
			continue // the catch-all "/"
		}
		target := f.srv.URL + fill(path)
		if !r.Public {
			req, _ := http.NewRequest(method, target, strings.NewReader(url.Values{"email": {"x@example.org"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := nofollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("%s without a session: %d to %q, want 303 to the sign-in page", r.Pattern, resp.StatusCode, resp.Header.Get("Location"))
			}
			continue
		}
		public++
		if method != http.MethodPost {
			continue
		}
		form := url.Values{"list": {"nosuch@lists.example.org"}, "email": {"walker@example.org"}, "password": {"not the password"},
			"code": {"SP-AAAA"}, "action": {"leave"}}.Encode()
		req, _ := http.NewRequest(method, target, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := nofollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s from another site: %d, want 403", r.Pattern, resp.StatusCode)
		}
		if publicUnlimited[r.Pattern] != "" {
			continue
		}
		limited := false
		for i := 0; i < 40 && !limited; i++ {
			req, _ := http.NewRequest(method, target, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := nofollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			limited = resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != ""
		}
		if !limited {
			t.Errorf("%s: 40 posts from one client and no 429 with Retry-After (or say why in publicUnlimited)", r.Pattern)
		}
	}
	if public < 5 {
		t.Errorf("only %d public routes", public)
	}
}
