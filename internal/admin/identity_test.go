package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestMemberKeyWarnings: issue 15 item 8. A certificate given to a member
// of a list without an S/MIME identity is kept, with a warning that says
// what the member gets meanwhile and names the command that gives the
// list one; an OpenPGP key, or a certificate once the list has its own,
// draws none.
func TestMemberKeyWarnings(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	const list = "team@lists.example.org"
	if _, err := s.CreateList(ctx, list, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	cert := func(addr string) []byte {
		return smime.CertsPEM(ca.Issue(addr, openssltest.RSA2048, openssltest.LeafOptions{}).Cert)
	}
	bob, _ := pgp.GenerateKey("Bob", "bob@example.org", pgp.Ed25519, pgp.Options{})

	_, info, err := s.AddMember(ctx, list, "bob@example.org", bob.Armored(), false)
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := s.MemberKeyWarnings(ctx, list, "bob@example.org", info); err != nil || len(ws) != 0 {
		t.Errorf("an OpenPGP key: warnings %q, %v", ws, err)
	}
	info, err = s.AddMemberKey(ctx, list, "bob@example.org", cert("bob@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := s.MemberKeyWarnings(ctx, list, "bob@example.org", info)
	if err != nil || len(ws) != 1 || !strings.Contains(ws[0], "bob@example.org's copies stay OpenPGP") ||
		!strings.Contains(ws[0], admin.IdentityCommand(list)) {
		t.Errorf("a certificate beside a usable OpenPGP key: warnings %q, %v", ws, err)
	}
	_, info, err = s.AddMember(ctx, list, "carol@example.org", cert("carol@example.org"), false)
	if err != nil {
		t.Fatal(err)
	}
	ws, err = s.MemberKeyWarnings(ctx, list, "carol@example.org", info)
	if err != nil || len(ws) != 1 || !strings.Contains(ws[0], "carol@example.org gets a notice instead of each post") {
		t.Errorf("a certificate alone: warnings %q, %v", ws, err)
	}

	if _, err := s.GenerateSMIMEIdentity(ctx, list); err != nil {
		t.Fatal(err)
	}
	if ws, err := s.MemberKeyWarnings(ctx, list, "carol@example.org", info); err != nil || len(ws) != 0 {
		t.Errorf("a certificate on a list with its own: warnings %q, %v", ws, err)
	}
}

// TestCheckListIdentity: issue 15 item 8. A PKCS#12 identity for another
// address is refused before anything is made, naming the address it is
// for; the right one passes.
func TestCheckListIdentity(t *testing.T) {
	s := service(t)
	id, err := smime.GenerateIdentity("Other", "other@lists.example.org", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.CheckListIdentity("Team@Lists.Example.org", id)
	if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), "is for other@lists.example.org, not for team@lists.example.org") {
		t.Errorf("an identity for another address: %v", err)
	}
	if err := s.CheckListIdentity("other@lists.example.org", id); err != nil {
		t.Errorf("the right identity: %v", err)
	}
}
