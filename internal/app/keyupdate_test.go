package app_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/gpgtest"
)

const teamRequest = "team-request@lists.example.org"

// request is a message to the list's -request address: content signed
// by the key signer of m, encrypted to the list's key.
func request(t *testing.T, m *member, listFpr, signer, content string) []byte {
	t.Helper()
	armored := m.gpg.MustRun([]byte(content), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", signer).Stdout
	return wrap(m.addr, armored)
}

func requestEntity(from, body string) string {
	return "From: " + from + "\r\nTo: " + teamRequest + "\r\nSubject: key\r\n" + body
}

// encryptionSubkey returns the key ID of the encryption subkey of fpr.
func encryptionSubkey(t *testing.T, g *gpgtest.GPG, fpr string) string {
	t.Helper()
	for _, line := range strings.Split(string(g.MustRun(nil, "--with-colons", "--list-keys", fpr).Stdout), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 11 && f[0] == "sub" && strings.Contains(f[11], "e") {
			return f[4]
		}
	}
	t.Fatalf("no encryption subkey for %s", fpr)
	return ""
}

// TestKeyUpdateByMail: a member sends a new key to LIST-request signed
// with their current key; Sealpost answers with a challenge encrypted to
// the new key, and the key becomes theirs only when they answer it with
// a reply signed by the new key and carrying the code (proof of
// possession). All of it made and read by the member's real gpg.
func TestKeyUpdateByMail(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org", "bob@example.org")
	alice := ms["alice@example.org"]
	newFpr := alice.gpg.GenKey("Alice New <alice@example.org>")
	newKey := string(alice.gpg.Export(newFpr))

	body := "Content-Type: multipart/mixed; boundary=\"k\"\r\n\r\n--k\r\nContent-Type: text/plain\r\n\r\nMy new key.\r\n" +
		"--k\r\nContent-Type: application/pgp-keys\r\n\r\n" + newKey + "\r\n--k--\r\n"
	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, alice.fpr, requestEntity(alice.addr, body))); err != nil {
		t.Fatalf("key request refused: %v", err)
	}
	challenge := s.waitFor(t, alice.addr)
	res := alice.gpg.Run(challenge, "--decrypt")
	if !res.HasStatus("ENC_TO", encryptionSubkey(t, alice.gpg, newFpr)) || !res.Verified(listFpr) {
		t.Fatalf("challenge not encrypted to the new key or not signed by the list:\n%s", res.Status)
	}
	if res.HasStatus("ENC_TO", encryptionSubkey(t, alice.gpg, alice.fpr)) {
		t.Fatalf("challenge also encrypted to the current key:\n%s", res.Status)
	}
	code := regexp.MustCompile(`Confirmation code: (SP-[A-Z2-7]+)`).FindSubmatch(res.Stdout)
	if code == nil {
		t.Fatalf("challenge carries no code:\n%s", res.Stdout)
	}
	s.clearOutbox(t)

	// Until it is confirmed, the new key does not make posts.
	postNew := wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", newFpr).Stdout)
	if err := s.send(t, alice.addr, []string{team}, postNew); smtpCode(err) != 550 {
		t.Fatalf("post signed with the unconfirmed key: %v, want 550", err)
	}
	s.clearOutbox(t)
	// An answer signed by the new key without the right code, and one
	// with the code signed by the old key, confirm nothing.
	wrong := requestEntity(alice.addr, "Content-Type: text/plain\r\n\r\nConfirmation code: SP-"+strings.Repeat("A", 32)+"\r\n")
	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, newFpr, wrong)); smtpCode(err) != 550 {
		t.Fatalf("answer with a wrong code: %v, want 550", err)
	}
	answer := requestEntity(alice.addr, "Content-Type: text/plain\r\n\r\n> Confirmation code: "+string(code[1])+"\r\n")
	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, alice.fpr, answer)); err == nil {
		if vs, _ := s.app.Admin.Members(context.Background(), team); hasKey(vs, alice.addr, newFpr) {
			t.Fatal("the code signed by the old key confirmed the new key")
		}
	}
	s.clearOutbox(t)

	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, newFpr, answer)); err != nil {
		t.Fatalf("answer to the challenge refused: %v", err)
	}
	confirm := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
	if !confirm.HasStatus("ENC_TO", encryptionSubkey(t, alice.gpg, newFpr)) || !strings.Contains(string(confirm.Stdout), "in use") {
		t.Fatalf("confirmation:\n%s\n%s", confirm.Status, confirm.Stdout)
	}
	vs, err := s.app.Admin.Members(context.Background(), team)
	if err != nil || !hasKey(vs, alice.addr, newFpr) {
		t.Fatalf("alice's keys after confirming: %+v, %v", vs, err)
	}
	s.clearOutbox(t)
	// Now posts signed with the new key are distributed, and alice's copy
	// is encrypted to it.
	if err := s.send(t, alice.addr, []string{team}, wrap(alice.addr, alice.gpg.MustRun(entity(alice.addr), "--armor", "--sign", "--encrypt", "-r", listFpr, "-u", newFpr).Stdout)); err != nil {
		t.Fatalf("post signed with the confirmed key: %v", err)
	}
	for _, c := range s.outbox(t, 2) {
		if deliveredTo(c) == alice.addr && !alice.gpg.Run(c, "--decrypt").HasStatus("ENC_TO", encryptionSubkey(t, alice.gpg, newFpr)) {
			t.Error("alice's copy is not encrypted to her new key")
		}
	}
}

func hasKey(vs []admin.MemberView, email, fpr string) bool {
	for _, v := range vs {
		if v.Email != email {
			continue
		}
		for _, k := range v.Member.Keys {
			if k.Fingerprint == fpr {
				return true
			}
		}
	}
	return false
}

// waitFor waits until the outbox holds a message for rcpt and returns it.
func (s *server) waitFor(t *testing.T, rcpt string) []byte {
	t.Helper()
	for n := 1; ; n++ {
		for _, m := range s.outbox(t, n) {
			if deliveredTo(m) == rcpt {
				return m
			}
		}
	}
}

// TestOwnerChallengesKey: a key the owner does not vouch for (member key
// --challenge) becomes the member's only after the challenge round trip.
func TestOwnerChallengesKey(t *testing.T) {
	s := startServer(t)
	listFpr, ms := setupList(t, s, "alice@example.org")
	alice := ms["alice@example.org"]
	newFpr := alice.gpg.GenKey("Alice New <alice@example.org>")
	ctx := context.Background()
	if _, err := s.app.Admin.ChallengeMemberKey(ctx, team, alice.addr, alice.gpg.Export(newFpr)); err != nil {
		t.Fatal(err)
	}
	if vs, _ := s.app.Admin.Members(ctx, team); hasKey(vs, alice.addr, newFpr) {
		t.Fatal("the challenged key is in use before the answer")
	}
	s.app.Queue.Notify()
	res := alice.gpg.Run(s.waitFor(t, alice.addr), "--decrypt")
	code := regexp.MustCompile(`Confirmation code: (SP-[A-Z2-7]+)`).FindSubmatch(res.Stdout)
	if !res.HasStatus("ENC_TO", encryptionSubkey(t, alice.gpg, newFpr)) || code == nil {
		t.Fatalf("challenge:\n%s\n%s", res.Status, res.Stdout)
	}
	answer := requestEntity(alice.addr, "Content-Type: text/plain\r\n\r\nConfirmation code: "+string(code[1])+"\r\n")
	if err := s.send(t, alice.addr, []string{teamRequest}, request(t, alice, listFpr, newFpr, answer)); err != nil {
		t.Fatalf("answer refused: %v", err)
	}
	if vs, _ := s.app.Admin.Members(ctx, team); !hasKey(vs, alice.addr, newFpr) {
		t.Fatal("the answered key is not alice's")
	}
}
