package app_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// TestSubscribeByMail: someone who is not a member sends X-SUBSCRIBE to
// LIST-request with their gpg key attached, encrypted to the list and
// signed with that key; the challenge comes back encrypted to it, and
// their answer by mail, signed with that key and quoting
// the code, makes them a member. The same request to a list
// that takes no subscriptions is refused like any stranger's.
func TestSubscribeByMail(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	listFpr, _ := setupList(t, s, "alice@example.org")
	// A stranger with their own gpg and the list's key.
	g := newStranger(t, s, "dave@example.org")
	key := string(g.gpg.Export(g.fpr))
	body := "Content-Type: multipart/mixed; boundary=\"k\"\r\n\r\n--k\r\nContent-Type: text/plain\r\n\r\nX-LIST-NAME: " + team +
		"\r\nX-SUBSCRIBE:\r\n\r\nPlease let me join.\r\n--k\r\nContent-Type: application/pgp-keys\r\n\r\n" + key + "\r\n--k--\r\n"
	msg := request(t, g, listFpr, g.fpr, requestEntity(g.addr, body))
	if err := s.send(t, g.addr, []string{teamRequest}, msg); err == nil {
		t.Fatal("a request to join a closed list was accepted")
	}
	if _, err := s.app.Admin.SetOptions(ctx, team, []string{"subscribe=confirm"}); err != nil {
		t.Fatal(err)
	}
	msg = request(t, g, listFpr, g.fpr, requestEntity(g.addr, body))
	if err := s.send(t, g.addr, []string{teamRequest}, msg); err != nil {
		t.Fatalf("the request to join was refused: %v", err)
	}
	challenge := s.waitFor(t, g.addr)
	res := g.gpg.Run(challenge, "--decrypt")
	if !res.Verified(listFpr) {
		t.Fatalf("the challenge does not open, signed by the list:\n%s", res.Report())
	}
	code := regexp.MustCompile(`Confirmation code: (SP-[A-Z2-7]+)`).FindSubmatch(res.Stdout)
	if code == nil {
		t.Fatalf("no code:\n%s", res.Stdout)
	}
	if _, err := s.app.Admin.Member(ctx, team, g.addr); err == nil {
		t.Fatal("dave is a member before answering")
	}
	// An answer with a wrong code, or signed by another key, does nothing.
	wrong := requestEntity(g.addr, "Content-Type: text/plain\r\n\r\nConfirmation code: SP-"+strings.Repeat("A", 32)+"\r\n")
	if err := s.send(t, g.addr, []string{teamRequest}, request(t, g, listFpr, g.fpr, wrong)); err == nil {
		t.Error("an answer with a wrong code was accepted")
	}
	otherFpr := g.gpg.GenKey("Dave Other <dave@example.org>")
	other := requestEntity(g.addr, "Content-Type: text/plain\r\n\r\nConfirmation code: "+string(code[1])+"\r\n")
	if err := s.send(t, g.addr, []string{teamRequest}, request(t, g, listFpr, otherFpr, other)); err == nil {
		t.Error("an answer signed by another key was accepted")
	}
	// The answer by mail, signed with the key offered, quoting the code.
	answer := requestEntity(g.addr, "Content-Type: text/plain\r\n\r\n> Confirmation code: "+string(code[1])+"\r\n")
	s.clearOutbox(t)
	if err := s.send(t, g.addr, []string{teamRequest}, request(t, g, listFpr, g.fpr, answer)); err != nil {
		t.Fatalf("the answer was refused: %v", err)
	}
	m, err := s.app.Admin.Member(ctx, team, g.addr)
	if err != nil || len(m.Keys) != 1 || m.Keys[0].Fingerprint != g.fpr {
		t.Fatalf("dave after answering: %+v, %v", m, err)
	}
	if !strings.Contains(string(res.Stdout), team) {
		t.Errorf("the challenge does not name the list:\n%s", res.Stdout)
	}
	// The new member gets the welcome, with the list's key.
	if w := g.gpg.Run(s.waitFor(t, g.addr), "--decrypt"); !w.Verified(listFpr) ||
		!strings.Contains(string(w.Stdout), "Welcome to the list "+team) || !strings.Contains(string(w.Stdout), "BEGIN PGP PUBLIC KEY BLOCK") {
		t.Errorf("dave's welcome:\n%s\n%s", w.Report(), w.Stdout)
	}
}

// newStranger is someone with their own gpg key who is not a member of
// the team list, holding the list's key.
func newStranger(t *testing.T, s *server, addr string) *member {
	t.Helper()
	listKey, err := s.app.Admin.ListKey(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr := g.GenKey(addr + " <" + addr + ">")
	g.Import(listKey)
	return &member{addr: addr, fpr: fpr, gpg: g}
}
