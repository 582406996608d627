package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/policy"
)

// TestActions: a list's action for a rule breach decides what happens to
// the post: accept distributes it, marked unauthenticated; hold keeps the
// ciphertext for the owner; discard drops it with a 250; reject refuses
// it. Each takes effect end to end through Process.
func TestActions(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	setActions := func(actions map[string]string) {
		t.Helper()
		l.rec.Settings.Actions = actions
		if err := f.db.UpdateList(ctx, l.rec); err != nil {
			t.Fatal(err)
		}
	}
	unsigned := func() []byte { return f.post(l, postSpec{from: "alice@example.org"}) }
	mallory := f.member("mallory@example.org") // a key, but no member's
	stranger := func() []byte { return f.post(l, postSpec{signer: mallory, from: "mallory@example.org"}) }

	for i, tc := range []struct {
		name    string
		actions map[string]string
		raw     func() []byte
		want    policy.Action
	}{
		{"unsigned, default", nil, unsigned, policy.Reject},
		{"unsigned, accept", map[string]string{"unsigned": "accept"}, unsigned, policy.Accept},
		{"unsigned, hold", map[string]string{"unsigned": "hold"}, unsigned, policy.Hold},
		{"unsigned, discard", map[string]string{"unsigned": "discard"}, unsigned, policy.Discard},
		{"unknown signer, accept", map[string]string{"unknown_signer": "accept"}, stranger, policy.Accept},
		{"unknown signer, hold", map[string]string{"unknown_signer": "hold"}, stranger, policy.Hold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setActions(tc.actions)
			ref := "act" + string(rune('a'+i))
			holdsBefore, _ := f.db.Holds(ctx, l.rec.ID)
			err := f.process(l, tc.raw(), ref)
			ds := f.deliveries(ref)
			holds, _ := f.db.Holds(ctx, l.rec.ID)
			var rej *pipeline.Rejection
			switch tc.want {
			case policy.Reject:
				if !errors.As(err, &rej) {
					t.Fatalf("Process = %v, want a rejection", err)
				}
			case policy.Accept:
				if err != nil || len(ds) != 2 {
					t.Fatalf("Process = %v, %d deliveries; want the post distributed", err, len(ds))
				}
				for _, d := range ds {
					_, inner := f.open(l, d)
					if v := inner.Header.Get(pipeline.VerifiedHeader); !strings.HasPrefix(v, "no;") {
						t.Errorf("%s: %s = %q, want it marked unauthenticated", d.To, pipeline.VerifiedHeader, v)
					}
				}
			case policy.Hold:
				if err != nil || len(holds) != len(holdsBefore)+1 {
					t.Fatalf("Process = %v, holds %d → %d; want it held", err, len(holdsBefore), len(holds))
				}
				if len(ds) != 1 || ds[0].To != "owner@example.org" || hasCanary(ds[0].Data) {
					t.Errorf("deliveries = %+v, want the owner's notice only", ds)
				}
				if hasCanary(holds[len(holds)-1].Raw) {
					t.Error("the hold keeps the post in clear")
				}
			case policy.Discard:
				if err != nil || len(ds) != 0 || len(holds) != len(holdsBefore) {
					t.Fatalf("Process = %v, %d deliveries, holds %d → %d; want it dropped silently", err, len(ds), len(holdsBefore), len(holds))
				}
			}
		})
	}
}

// TestListRules: announcement lists take posts from admins only, and a
// list can leave the sender out of their own post's copies.
func TestListRules(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	l.rec.Settings.AdminOnly, l.rec.Settings.NoSelfCopy = true, true
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	var rej *pipeline.Rejection
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "r1"); !errors.As(err, &rej) || rej.Reason != policy.NotAdmin {
		t.Fatalf("a member's post to an announcement list: %v", err)
	}
	l.rec.Settings.AdminOnly = false
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org"}), "r2"); err != nil {
		t.Fatal(err)
	}
	if ds := f.deliveries("r2"); len(ds) != 1 || ds[0].To != "bob@example.org" {
		t.Errorf("deliveries = %+v, want bob's copy only", ds)
	}
}

// TestUnencryptedPosts: a list with on_unencrypted=accept distributes a
// member's signed post that arrived in clear, encrypted to every member
// and marked as sent unencrypted; an unsigned one still meets the
// unsigned action, and a forged signature is not a member's. By default
// such posts are refused.
func TestUnencryptedPosts(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: alice@example.org\r\nTo: " + team + "\r\n" +
		"Subject: in clear\r\n\r\nHello list. " + canary + "\r\n"
	signedBy := func(k *pgp.Key) []byte {
		sig, err := pgp.DetachSign(k, []byte(inner), pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []byte("From: alice@example.org\r\nTo: " + team + "\r\nSubject: in clear\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/signed; micalg=" + pgp.MICAlg + "; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n" +
			"--s\r\n" + inner + "\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s--\r\n")
	}
	var rej *pipeline.Rejection
	if err := f.process(l, signedBy(f.member("alice@example.org")), "u0"); !errors.As(err, &rej) || rej.Reason != policy.NotEncrypted {
		t.Fatalf("default: %v, want refused as not encrypted", err)
	}
	l.rec.Settings.Actions = map[string]string{"unencrypted": "accept"}
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	if err := f.process(l, signedBy(f.member("alice@example.org")), "u1"); err != nil {
		t.Fatal(err)
	}
	ds := f.deliveries("u1")
	if len(ds) != 2 {
		t.Fatalf("%d copies", len(ds))
	}
	for _, d := range ds {
		if hasCanary(d.Data) {
			t.Errorf("%s's copy is not encrypted", d.To)
		}
		if _, in := f.open(l, d); !strings.HasSuffix(in.Header.Get(pipeline.VerifiedHeader), "; sent unencrypted") ||
			!strings.HasPrefix(in.Header.Get(pipeline.VerifiedHeader), "signed by alice@example.org") {
			t.Errorf("%s = %q", pipeline.VerifiedHeader, in.Header.Get(pipeline.VerifiedHeader))
		}
	}
	plain := []byte("From: alice@example.org\r\nTo: " + team + "\r\nSubject: x\r\n\r\nHello. " + canary + "\r\n")
	if err := f.process(l, plain, "u2"); !errors.As(err, &rej) || rej.Reason != policy.Unsigned {
		t.Errorf("unsigned, in clear: %v, want the unsigned action (reject)", err)
	}
	if err := f.process(l, signedBy(f.member("mallory@example.org")), "u3"); !errors.As(err, &rej) || rej.Reason != policy.UnknownSigner {
		t.Errorf("signed by a non-member, in clear: %v", err)
	}
}
