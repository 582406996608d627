package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// TestPasswordResets: a link is good until it expires, is used (once:
// every session of the account ends with it, and the account's other
// links go too) or the password changes by another route.
func TestPasswordResets(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t0 := time.UnixMilli(1_800_000_000_000).UTC()
	a := &store.Account{Email: "ann@example.org", Role: store.RoleOwner, PasswordHash: "old", CreatedAt: t0}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	hash := "old" // the account's password hash as the links are made
	add := func(token string, at time.Time) {
		t.Helper()
		r := store.PasswordReset{TokenHash: token, AccountID: a.ID, Stamp: store.PasswordStamp(hash), CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := db.AddPasswordReset(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	good := func(token string, at time.Time) bool {
		t.Helper()
		got, err := db.PasswordReset(ctx, token, at)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil && got.ID == a.ID
	}
	add("expired", t0)
	add("first", t0.Add(30*time.Minute))
	add("second", t0.Add(40*time.Minute))
	if !good("first", t0.Add(31*time.Minute)) || good("unknown", t0.Add(31*time.Minute)) {
		t.Error("a new link is not good, or an unknown one is")
	}
	if good("expired", t0.Add(time.Hour)) || good("first", t0.Add(90*time.Minute)) {
		t.Error("a link is good after its hour")
	}
	if err := db.CreateSession(ctx, &store.Session{Hash: "s", AccountID: a.ID, CSRF: "c", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UsePasswordReset(ctx, "expired", t0.Add(time.Hour), "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("using an expired link: %v", err)
	}
	got, err := db.UsePasswordReset(ctx, "first", t0.Add(45*time.Minute), "new")
	if err != nil || got.ID != a.ID {
		t.Fatalf("using a good link: %v, %v", got, err)
	}
	if b, _ := db.Account(ctx, a.Email); b.PasswordHash != "new" {
		t.Errorf("password hash %q after the reset", b.PasswordHash)
	}
	if _, err := db.Session(ctx, "s", t0.Add(45*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session outlived the reset: %v", err)
	}
	for _, tok := range []string{"first", "second"} {
		if _, err := db.UsePasswordReset(ctx, tok, t0.Add(46*time.Minute), "again"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("link %s used after a reset: %v", tok, err)
		}
	}
	// A link made before the password changed by another route is void.
	hash = "new"
	add("third", t0.Add(50*time.Minute))
	if !good("third", t0.Add(50*time.Minute)) {
		t.Error("a link made after a reset is not good")
	}
	a.PasswordHash, a.UpdatedAt = "changed", t0.Add(51*time.Minute)
	if err := db.UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if good("third", t0.Add(52*time.Minute)) {
		t.Error("a link is good after the password changed")
	}
	if _, err := db.UsePasswordReset(ctx, "third", t0.Add(52*time.Minute), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a link made void by a password change was used: %v", err)
	}
	// Removing the account removes its links.
	hash = "changed"
	add("fourth", t0.Add(55*time.Minute))
	if !good("fourth", t0.Add(55*time.Minute)) {
		t.Fatal("a new link is not good")
	}
	if err := db.DeleteAccount(ctx, a.Email); err != nil {
		t.Fatal(err)
	}
	if good("fourth", t0.Add(56*time.Minute)) {
		t.Error("a link outlived its account")
	}
}
