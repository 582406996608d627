package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestPostKeywords: a member's post resent to outsiders (encrypted to a
// key the keyring holds, in clear when asked, not at all when
// encryption was demanded and no key is known) and carrying the list's
// key; the members see where it went. A post with an unknown keyword is
// not distributed and its sender is told.
func TestPostKeywords(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org", "bob@example.org")
	ctx := context.Background()
	out := f.member("outsider@example.net") // a key for the outsider, in the keyring
	rec, _ := keyring.OpenPGPRecord(out, time.Now())
	if _, err := f.db.PutKeys(ctx, []store.Key{rec}); err != nil {
		t.Fatal(err)
	}
	kws := "X-LIST-NAME: " + team + "\r\nX-RESEND: outsider@example.net\r\nX-RESEND-UNENCRYPTED: plain@example.net\r\n" +
		"X-RESEND-ENCRYPTED-ONLY: nokey@example.net\r\nX-ATTACH-LISTKEY:\r\n\r\n"
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", bodyStart: kws}), "k1"); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Delivery{}
	for _, d := range f.deliveries("k1") {
		got[d.To] = d
	}
	if _, ok := got["nokey@example.net"]; ok || len(got) != 4 {
		t.Fatalf("deliveries to %v", keys(got))
	}
	_, inner := f.open(l, got["bob@example.org"])
	if r := inner.Header.Get(pipeline.ResentHeader); r != "outsider@example.net (encrypted), plain@example.net (unencrypted), nokey@example.net (not resent: no usable key)" {
		t.Errorf("%s = %q", pipeline.ResentHeader, r)
	}
	if inner.MediaType != "multipart/mixed" || !strings.Contains(string(inner.Body), "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Errorf("bob's copy lacks the list key")
	}
	if _, inner := f.open(l, got["outsider@example.net"]); !hasCanary(inner.Raw) {
		t.Error("the outsider's encrypted copy lacks the post")
	}
	if plain, _ := mime.Parse(got["plain@example.net"].Data, mime.Limits{}); plain.MediaType != "multipart/signed" || !hasCanary(plain.Raw) {
		t.Errorf("the unencrypted resend is %s", plain.MediaType)
	}

	// A post let through unauthenticated (the list accepts unknown
	// signers) cannot have itself resent: its keywords do nothing.
	l.rec.Settings.Actions = map[string]string{"unknown_signer": "accept"}
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}
	resend := "X-LIST-NAME: " + team + "\r\nX-RESEND-UNENCRYPTED: outsider@example.net\r\n\r\n"
	if err := f.process(l, f.post(l, postSpec{signer: f.member("mallory@example.org"), from: "mallory@example.org", bodyStart: resend}), "k3"); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.deliveries("k3") {
		if d.To == "outsider@example.net" {
			t.Fatal("an unauthenticated post was resent to an outsider")
		}
	}
	l.rec.Settings.Actions = nil
	if err := f.db.UpdateList(ctx, l.rec); err != nil {
		t.Fatal(err)
	}

	bad := "X-LIST-NAME: " + team + "\r\nX-FROBNICATE: x\r\n\r\n"
	if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", bodyStart: bad}), "k2"); err != nil {
		t.Fatal(err)
	}
	ds := f.deliveries("k2")
	if len(ds) != 1 || ds[0].To != "alice@example.org" {
		t.Fatalf("unknown keyword: deliveries to %d, want alice's notice only", len(ds))
	}
	if _, inner := f.open(l, ds[0]); !strings.Contains(string(inner.Body), "X-FROBNICATE is not a keyword") || hasCanary(inner.Raw) {
		t.Errorf("alice's notice:\n%s", inner.Body)
	}
}

func keys(m map[string]store.Delivery) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestResendCC: X-RESEND-CC sends one message to all its addresses,
// encrypted to every one of them when each has a key (each decrypts the
// same message), else in clear; the others are named in Cc.
func TestResendCC(t *testing.T) {
	f := newFixture(t)
	l := f.list(team, "alice@example.org")
	ctx := context.Background()
	for _, a := range []string{"x@example.net", "y@example.net"} {
		rec, _ := keyring.OpenPGPRecord(f.member(a), time.Now())
		if _, err := f.db.PutKeys(ctx, []store.Key{rec}); err != nil {
			t.Fatal(err)
		}
	}
	post := func(ref, addrs string) map[string]store.Delivery {
		t.Helper()
		kws := "X-LIST-NAME: " + team + "\r\nX-RESEND-CC: " + addrs + "\r\n\r\n"
		if err := f.process(l, f.post(l, postSpec{signer: f.member("alice@example.org"), from: "alice@example.org", bodyStart: kws}), ref); err != nil {
			t.Fatal(err)
		}
		got := map[string]store.Delivery{}
		for _, d := range f.deliveries(ref) {
			got[d.To] = d
		}
		return got
	}
	got := post("cc1", "x@example.net y@example.net")
	if string(got["x@example.net"].Data) != string(got["y@example.net"].Data) {
		t.Fatal("X-RESEND-CC sent different messages")
	}
	for _, a := range []string{"x@example.net", "y@example.net"} {
		outer, inner := f.open(l, got[a])
		if !hasCanary(inner.Raw) || outer.Header.Get("Cc") != "<y@example.net>" {
			t.Errorf("%s: Cc %q", a, outer.Header.Get("Cc"))
		}
	}
	got = post("cc2", "x@example.net nokey@example.net")
	if msg, _ := mime.Parse(got["nokey@example.net"].Data, mime.Limits{}); msg.MediaType != "multipart/signed" {
		t.Errorf("one address without a key: %s, want the message in clear, signed", msg.MediaType)
	}
}
