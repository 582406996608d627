package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestEmailCommands: members send Schleuder's keywords to LIST-request,
// encrypted and signed with gpg; the reply comes back encrypted to them.
// An admin adds a key and subscribes its holder, who gets the welcome; a
// member may not; a request with an unknown keyword or without
// X-LIST-NAME does nothing;
// X-GET-KEY and X-SIGN-THIS answer with attachments gpg reads; a replayed
// request is refused.
func TestEmailCommands(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org")
	alice := ms["alice@example.org"]
	ctx := context.Background()
	listKey, _ := s.app.Admin.ListKey(ctx, team)
	bob := &member{addr: "bob@example.org", gpg: gpgtest.New(t)}
	bob.fpr = bob.gpg.GenKey("Bob <bob@example.org>")
	bob.gpg.Import(listKey)
	if _, _, err := s.app.Admin.AddMemberWith(ctx, team, bob.addr, bob.gpg.Export(bob.fpr), quiet(true)); err != nil {
		t.Fatal(err)
	}
	carol := gpgtest.New(t)
	carolFpr := carol.GenKey("Carol <carol@example.org>")
	carol.Import(listKey)

	ask := func(m *member, lines string) string {
		t.Helper()
		s.clearOutbox(t)
		body := "Content-Type: text/plain; charset=utf-8\r\n\r\n" + lines
		if err := s.send(t, m.addr, []string{teamRequest}, request(t, m, listFpr, m.fpr, requestEntity(m.addr, body))); err != nil {
			t.Fatalf("request refused: %v", err)
		}
		res := m.gpg.Run(s.waitFor(t, m.addr), "--decrypt")
		if !res.HasStatus("DECRYPTION_OKAY") || !res.Verified(listFpr) {
			t.Fatalf("reply not encrypted to %s or not signed by the list:\n%s", m.addr, res.Status)
		}
		return string(res.Stdout)
	}
	head := "X-LIST-NAME: " + team + "\r\n"

	reply := ask(bob, head+"X-ADD-KEY:\r\nX-SUBSCRIBE: carol@example.org\r\nX-LIST-SUBSCRIPTIONS:\r\n\r\n"+string(carol.Export(carolFpr)))
	for _, want := range []string{"new: " + carolFpr, "Subscribed carol@example.org", "carol@example.org  " + carolFpr} {
		if !strings.Contains(reply, want) {
			t.Errorf("admin's reply lacks %q:\n%s", want, reply)
		}
	}
	// The member subscribed by mail gets the welcome, queued with the reply.
	if r := carol.Run(s.waitFor(t, "carol@example.org"), "--decrypt"); !r.HasStatus("DECRYPTION_OKAY") ||
		!r.Verified(listFpr) || !strings.Contains(string(r.Stdout), "Welcome to the list "+team) {
		t.Errorf("carol's welcome after X-SUBSCRIBE:\n%s\n%s", r.Report(), r.Stdout)
	}
	if reply := ask(alice, head+"X-SUBSCRIBE: dave@example.org\r\n"); !strings.Contains(reply, "Nothing was done") ||
		!strings.Contains(reply, "X-SUBSCRIBE is for the list's admins only") {
		t.Errorf("member subscribing someone:\n%s", reply)
	}
	if reply := ask(alice, head+"X-FROBNICATE:\r\nX-UNSUBSCRIBE:\r\n"); !strings.Contains(reply, "X-FROBNICATE is not a keyword") {
		t.Errorf("unknown keyword:\n%s", reply)
	}
	if reply := ask(alice, "X-UNSUBSCRIBE:\r\n"); !strings.Contains(reply, "does not name the list") {
		t.Errorf("no X-LIST-NAME:\n%s", reply)
	}
	if vs, _ := s.app.Admin.Members(ctx, team); len(vs) != 3 {
		t.Fatalf("members after refused requests: %d, want alice, bob and carol", len(vs))
	}

	// The admin vouches for a new key of carol's, and removes a key nobody uses.
	carolNew := carol.GenKey("Carol New <carol@example.org>")
	dave := gpgtest.New(t)
	daveFpr := dave.GenKey("Dave <dave@example.org>")
	reply = ask(bob, head+"X-ADD-KEY:\r\nX-SET-FINGERPRINT: carol@example.org "+carolNew+"\r\nX-DELETE-KEY: "+daveFpr+"\r\n\r\n"+
		string(carol.Export(carolNew))+string(dave.Export(daveFpr)))
	for _, want := range []string{"carol@example.org now has key", "Deleted key"} {
		if !strings.Contains(reply, want) {
			t.Errorf("admin's key changes: reply lacks %q:\n%s", want, reply)
		}
	}
	if vs, _ := s.app.Admin.Members(ctx, team); !hasKey(vs, "carol@example.org", carolNew) {
		t.Error("carol's new key is not hers")
	}
	if _, err := s.app.Admin.FindKey(ctx, daveFpr); err == nil {
		t.Error("dave's key is still in the keyring")
	}

	reply = ask(alice, head+"X-GET-KEY: carol@example.org\r\nX-SIGN-THIS:\r\nWe meet on Tuesday.\r\n")
	if !strings.Contains(reply, "-----BEGIN PGP PUBLIC KEY BLOCK-----") || !strings.Contains(reply, "-----BEGIN PGP SIGNED MESSAGE-----") {
		t.Fatalf("reply lacks the key or the signed text:\n%s", reply)
	}
	signed := reply[strings.Index(reply, "-----BEGIN PGP SIGNED MESSAGE-----"):]
	signed = signed[:strings.Index(signed, "-----END PGP SIGNATURE-----")+len("-----END PGP SIGNATURE-----")]
	if r := alice.gpg.Run([]byte(signed), "--decrypt"); !r.Verified(listFpr) || !strings.Contains(string(r.Stdout), "We meet on Tuesday.") {
		t.Errorf("X-SIGN-THIS:\n%s\n%s", r.Status, r.Stdout)
	}

	// The same request again, as a client that did not see the 250
	// sends it, is taken and answered once (a replay of its signature in
	// another message is refused: pipeline's TestReplay).
	raw := request(t, alice, listFpr, alice.fpr, requestEntity(alice.addr, "Content-Type: text/plain\r\n\r\n"+head+"X-LIST-KEYS:\r\n"))
	s.clearOutbox(t)
	if err := s.send(t, alice.addr, []string{teamRequest}, raw); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, alice.addr) // its reply, before the next request's
	queued := func() int {
		qs, err := s.app.Admin.Queue(ctx, team, nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(qs)
	}
	before := queued()
	if err := s.send(t, alice.addr, []string{teamRequest}, raw); err != nil {
		t.Errorf("the same request again: %v, want 250", err)
	}
	if n := queued(); n != before {
		t.Errorf("the same request again queued %d more messages, want none", n-before)
	}
	// A member leaves by themselves.
	if reply := ask(alice, head+"X-UNSUBSCRIBE:\r\n"); !strings.Contains(reply, "Unsubscribed alice@example.org") {
		t.Errorf("unsubscribe:\n%s", reply)
	}

	if vs, _ := s.app.Admin.Members(ctx, team); len(vs) != 2 {
		t.Errorf("members after alice left: %d", len(vs))
	}
}
