package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/sealpost/sealpost/internal/api"
)

// BenchmarkAPIMembers: one authenticated request for a list of 100
// members with their key badges, over a loopback socket: token lookup,
// authorisation, the members with their keys parsed, JSON.
func BenchmarkAPIMembers(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for i := range 100 {
		addr := fmt.Sprintf("m%03d@example.org", i)
		if _, _, err := f.svc.AddMember(ctx, "a@lists.example.org", addr, memberKey(b, addr), false); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if r := f.get("alice@example.org", api.Prefix+"/lists/a@lists.example.org/members"); r.status != http.StatusOK {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}

// BenchmarkAPIList: the cheapest authenticated request, one list.
func BenchmarkAPIList(b *testing.B) {
	f := newFixture(b)
	for b.Loop() {
		if r := f.get("alice@example.org", api.Prefix+"/lists/a@lists.example.org"); r.status != http.StatusOK {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}
