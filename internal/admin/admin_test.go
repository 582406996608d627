package admin_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

func service(t *testing.T) *admin.Service {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{3}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	return admin.New(db, sealer, admin.Options{})
}

func TestCreateList(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	l, err := s.CreateList(ctx, "Team@Lists.Example.org", "Alice <alice@example.org>", "Team", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if l.Address != "team@lists.example.org" || l.Owner != "alice@example.org" || l.Name != "Team" {
		t.Errorf("list = %+v", l)
	}
	key, err := s.OpenListKey(l)
	if err != nil || key.Fingerprint() != l.KeyFingerprint || !key.HasSecret() {
		t.Fatalf("OpenListKey = %v, %v", key, err)
	}
	for _, tc := range []struct {
		addr, owner string
		want        error
	}{
		{"team@lists.example.org", "", admin.ErrExists},
		{"not an address", "", admin.ErrInvalid},
		{"team-owner@lists.example.org", "", admin.ErrInvalid},
		{"new@lists.example.org", "nobody", admin.ErrInvalid},
	} {
		if _, err := s.CreateList(ctx, tc.addr, tc.owner, "", pgp.Ed25519); !errors.Is(err, tc.want) {
			t.Errorf("CreateList(%q, %q) = %v, want %v", tc.addr, tc.owner, err, tc.want)
		}
	}
}

func TestAddMemberRefusals(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	bob, _ := pgp.GenerateKey("Bob", "bob@example.org", pgp.Ed25519, pgp.Options{})
	for _, tc := range []struct {
		name, email string
		key         []byte
		say         string
	}{
		{"key for another address", "carol@example.org", bob.Armored(), "no user ID for carol@example.org"},
		{"broken certificate", "bob@example.org", []byte("-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n"), "smime:"},
		{"garbage", "bob@example.org", []byte("hello"), "pgp:"},
		{"bad address", "bob", bob.Armored(), "not an email address"},
	} {
		_, _, err := s.AddMember(ctx, "team@lists.example.org", tc.email, tc.key, false)
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%s: err = %v, want ErrInvalid saying %q", tc.name, err, tc.say)
		}
	}
	if _, _, err := s.AddMember(ctx, "team@lists.example.org", "Bob@Example.org", bob.PublicBytes(), true); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Members(ctx, "team@lists.example.org")
	if err != nil || len(ms) != 1 || ms[0].Email != "bob@example.org" || !ms[0].Admin || !ms[0].Keys[0].CanEncrypt {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	if err := s.RemoveMember(ctx, "team@lists.example.org", "carol@example.org"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("RemoveMember(non-member) = %v", err)
	}
}

func TestSetOptions(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	_, err := s.SetOptions(ctx, "team@lists.example.org", []string{"nosuch=1", "allow_seipd_v2=maybe", "owner"})
	if !errors.Is(err, admin.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`unknown option "nosuch"`, "allow_seipd_v2: invalid value", `"owner" is not OPTION=VALUE`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q (all problems at once)", err, want)
		}
	}
	l, err := s.SetOptions(ctx, "team@lists.example.org", []string{"name=The Team", "allow_seipd_v2=true", "owner=o@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ = s.List(ctx, l.Address); l.Name != "The Team" || !l.Settings.AllowSEIPDv2 || l.Owner != "o@example.org" {
		t.Errorf("after set: %+v", l)
	}
}

// TestPolicyOptions: the on_OUTCOME actions, the receive_* switches over
// them and the posting rules, as `list set` and `list show` see them.
func TestPolicyOptions(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	value := func(l *store.List, name string) string {
		for _, o := range admin.ListOptions() {
			if o.Name == name {
				return o.Value(l)
			}
		}
		t.Fatalf("no option %s", name)
		return ""
	}
	l, _ := s.List(ctx, "team@lists.example.org")
	for name, want := range map[string]string{"on_unsigned": "reject", "receive_signed_only": "true", "receive_admin_only": "false",
		"signer_must_match_from": "true", "deliver_selfsent": "true", "max_message_size": "0", "on_duplicate": "reject"} {
		if got := value(l, name); got != want {
			t.Errorf("default %s = %s, want %s", name, got, want)
		}
	}
	_, err := s.SetOptions(ctx, l.Address, []string{"on_bad_signature=accept", "on_unsigned=bounce", "max_message_size=-1"})
	for _, want := range []string{`on_bad_signature: invalid value "accept": "accept" is not one of hold, reject, discard`,
		`on_unsigned: invalid value "bounce"`, "max_message_size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	l, err = s.SetOptions(ctx, l.Address, []string{"receive_signed_only=false", "on_unknown_signer=hold", "receive_admin_only=true",
		"signer_must_match_from=false", "deliver_selfsent=false", "max_message_size=100000"})
	if err != nil {
		t.Fatal(err)
	}
	l, _ = s.List(ctx, l.Address)
	if l.Settings.Actions["unsigned"] != "accept" || l.Settings.Actions["unknown_signer"] != "hold" || !l.Settings.AdminOnly ||
		!l.Settings.AllowFromMismatch || !l.Settings.NoSelfCopy || l.Settings.MaxMessageSize != 100000 {
		t.Errorf("settings = %+v", l.Settings)
	}
	if value(l, "on_unsigned") != "accept" || value(l, "receive_signed_only") != "false" || value(l, "receive_authenticated_only") != "true" {
		t.Error("the switches do not show the actions")
	}
	// Switching back restores the default, and a default is not stored.
	if l, err = s.SetOptions(ctx, l.Address, []string{"receive_signed_only=true", "on_unknown_signer=reject"}); err != nil {
		t.Fatal(err)
	}
	if len(l.Settings.Actions) != 0 {
		t.Errorf("actions after restoring the defaults: %v", l.Settings.Actions)
	}
}

func TestSMIMEMembersAndIdentity(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	carol := ca.Issue("carol@example.org", openssltest.P256, openssltest.LeafOptions{})
	for name, data := range map[string][]byte{"PEM": smime.CertsPEM(carol.Cert), "DER": carol.Cert.Raw} {
		m, info, err := s.AddMember(ctx, "team@lists.example.org", "carol@example.org", data, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Keys[0].Engine != store.EngineSMIME || info.Fingerprint != smime.Fingerprint(carol.Cert) {
			t.Errorf("%s: member %+v", name, m)
		}
		if err := s.RemoveMember(ctx, "team@lists.example.org", "carol@example.org"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		cert *openssltest.Leaf
		say  string
	}{
		{"another address", ca.Issue("dave@example.org", openssltest.RSA2048, openssltest.LeafOptions{}), "is not issued for carol@example.org"},
		{"no email protection", ca.Issue("carol@example.org", openssltest.RSA2048, openssltest.LeafOptions{NoEmailEKU: true}), "cannot be used for email encryption"},
		{"expired", ca.Issue("carol@example.org", openssltest.RSA2048, openssltest.LeafOptions{NotAfter: time.Now().Add(-time.Minute)}), "expired"},
	} {
		_, _, err := s.AddMember(ctx, "team@lists.example.org", "carol@example.org", tc.cert.Cert.Raw, false)
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.say)
		}
	}

	if _, err := s.ListCert(ctx, "team@lists.example.org"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("ListCert without identity: %v", err)
	}
	l, err := s.GenerateSMIMEIdentity(ctx, "team@lists.example.org")
	if err != nil {
		t.Fatal(err)
	}
	pemCert, err := s.ListCert(ctx, "team@lists.example.org")
	if err != nil || !strings.Contains(string(pemCert), "BEGIN CERTIFICATE") {
		t.Fatalf("ListCert = %s, %v", pemCert, err)
	}
	id, err := s.OpenSMIMEIdentity(l)
	if err != nil || !bytes.Equal(id.Cert.Raw, l.SMIMECert) {
		t.Fatalf("OpenSMIMEIdentity: %v", err)
	}
	wrong, _ := smime.GenerateIdentity("", "other@lists.example.org", time.Now(), nil)
	if _, err := s.SetSMIMEIdentity(ctx, "team@lists.example.org", wrong); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("an identity for another address was accepted: %v", err)
	}
}

func TestAddMemberKey(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	enc := ca.Issue("alice@example.org", openssltest.RSA2048, openssltest.LeafOptions{Usage: x509.KeyUsageKeyEncipherment})
	sign := ca.Issue("alice@example.org", openssltest.P256, openssltest.LeafOptions{Usage: x509.KeyUsageDigitalSignature})
	if _, _, err := s.AddMember(ctx, "team@lists.example.org", "alice@example.org", sign.Cert.Raw, false); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("a signing-only certificate as a member's only key: %v, want refusal", err)
	}
	if _, _, err := s.AddMember(ctx, "team@lists.example.org", "alice@example.org", enc.Cert.Raw, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMemberKey(ctx, "team@lists.example.org", "alice@example.org", sign.Cert.Raw); err != nil {
		t.Fatalf("signing certificate beside the encryption one: %v", err)
	}
	other := ca.Issue("bob@example.org", openssltest.P256, openssltest.LeafOptions{})
	if _, err := s.AddMemberKey(ctx, "team@lists.example.org", "alice@example.org", other.Cert.Raw); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("bob's certificate for alice: %v", err)
	}
	if _, err := s.AddMemberKey(ctx, "team@lists.example.org", "carol@example.org", enc.Cert.Raw); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("key for a non-member: %v", err)
	}
	ms, _ := s.Members(ctx, "team@lists.example.org")
	if len(ms) != 1 || len(ms[0].Member.Keys) != 2 {
		t.Errorf("alice's keys: %+v", ms)
	}
}

// TestSetMemberSMIMEEncryption: smime_cipher and smime_keytransport are
// the member's own settings, kept apart from what their client announced
// (which their next signed post rewrites), and auto forgets them.
func TestSetMemberSMIMEEncryption(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	const list = "team@lists.example.org"
	if _, err := s.CreateList(ctx, list, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	carol := ca.Issue("carol@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	if _, _, err := s.AddMember(ctx, list, "carol@example.org", carol.Cert.Raw, false); err != nil {
		t.Fatal(err)
	}
	carolNow := func() store.Member {
		ms, _ := s.Members(ctx, list)
		return ms[0].Member
	}
	if err := s.SetMemberCipher(ctx, list, "carol@example.org", "aes256-gcm"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMemberKeyTransport(ctx, list, "carol@example.org", "rsa-oaep-sha256"); err != nil {
		t.Fatal(err)
	}
	if m := carolNow(); m.SMIMECipher != "aes256-gcm" || m.SMIMEKeyTransport != "rsa-oaep-sha256" || m.Keys[0].Capabilities != "" {
		t.Fatalf("set: cipher %q, key transport %q, capabilities %q", m.SMIMECipher, m.SMIMEKeyTransport, m.Keys[0].Capabilities)
	}
	if err := s.SetMemberKeyTransport(ctx, list, "carol@example.org", "auto"); err != nil {
		t.Fatal(err)
	}
	if m := carolNow(); m.SMIMECipher != "aes256-gcm" || m.SMIMEKeyTransport != "" {
		t.Fatalf("auto key transport: cipher %q, key transport %q", m.SMIMECipher, m.SMIMEKeyTransport)
	}
	if err := s.SetMemberCipher(ctx, list, "carol@example.org", "auto"); err != nil || carolNow().SMIMECipher != "" {
		t.Fatalf("auto cipher: %v, %q", err, carolNow().SMIMECipher)
	}
	for _, bad := range []struct{ name, value string }{{"smime_cipher", "3des"}, {"smime_keytransport", "rsa-kem"}, {"smime_keytransport", "aes256-cbc"}} {
		set := s.SetMemberCipher
		if bad.name == "smime_keytransport" {
			set = s.SetMemberKeyTransport
		}
		if err := set(ctx, list, "carol@example.org", bad.value); !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), bad.name) {
			t.Errorf("%s=%s: %v", bad.name, bad.value, err)
		}
	}
	if err := s.SetMemberKeyTransport(ctx, list, "dave@example.org", "auto"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("non-member: %v", err)
	}
	// The list's defaults: list set smime_cipher=, smime_keytransport=.
	l, err := s.SetOptions(ctx, list, []string{"smime_cipher=aes128-gcm", "smime_keytransport=rsa-oaep-sha256"})
	if err != nil || l.Settings.SMIMECipher != "aes128-gcm" || l.Settings.SMIMEKeyTransport != "rsa-oaep-sha256" {
		t.Fatalf("list set: %v, %+v", err, l)
	}
	if _, err := s.SetOptions(ctx, list, []string{"smime_keytransport=rsa-pkcs1"}); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("list set smime_keytransport=rsa-pkcs1: %v", err)
	}
	if l, err = s.SetOptions(ctx, list, []string{"smime_cipher=auto"}); err != nil || l.Settings.SMIMECipher != "" {
		t.Errorf("list set smime_cipher=auto: %v, %q", err, l.Settings.SMIMECipher)
	}
}

func TestCheckKeys(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sealer, _ := keyring.NewSealer(bytes.Repeat([]byte{3}, keyring.MasterKeySize), nil)
	now := time.Now()
	s := admin.New(db, sealer, admin.Options{Now: func() time.Time { return now }})
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	soon := ca.Issue("soon@example.org", openssltest.P256, openssltest.LeafOptions{NotAfter: now.AddDate(0, 0, 5)})
	later := ca.Issue("later@example.org", openssltest.P256, openssltest.LeafOptions{})
	for addr, c := range map[string]*openssltest.Leaf{"soon@example.org": soon, "later@example.org": later} {
		if _, _, err := s.AddMember(ctx, "team@lists.example.org", addr, c.Cert.Raw, false); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := s.CheckKeys(ctx, "", 14)
	if err != nil || len(fs) != 1 || fs[0].Holder != "soon@example.org" || fs[0].Status != keyring.Usable {
		t.Fatalf("within 14 days: %+v, %v", fs, err)
	}
	now = now.AddDate(0, 0, 10) // soon's certificate has expired by then
	fs, err = s.CheckKeys(ctx, "team@lists.example.org", 0)
	if err != nil || len(fs) != 1 || fs[0].Status != keyring.KeyExpired {
		t.Fatalf("ten days later: %+v, %v", fs, err)
	}
}

func TestTemplates(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTemplate(ctx, "team@lists.example.org", "", "member-missed", "Subject: x\n\n{{.Nope}}\n"); !errors.Is(err, admin.ErrInvalid) ||
		!strings.Contains(err.Error(), "{{.Fingerprint}}") {
		t.Errorf("broken template: %v", err)
	}
	if err := s.SetTemplate(ctx, "team@lists.example.org", "", "no-such-template", "Subject: x\n\nx\n"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("unknown template: %v", err)
	}
	own := "Subject: [{{.List}}] missed\n\nYou missed one ({{.Ref}}).\n"
	if err := s.SetTemplate(ctx, "team@lists.example.org", "", "member-missed", own); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Template(ctx, "team@lists.example.org", "", "member-missed"); got != own {
		t.Errorf("Template = %q", got)
	}
	if ts, _ := s.Templates(ctx, "team@lists.example.org"); !slices.ContainsFunc(ts, func(t admin.TemplateInfo) bool { return t.Name == "member-missed" && t.Custom }) {
		t.Errorf("Templates = %+v", ts)
	}
	if err := s.ResetTemplate(ctx, "team@lists.example.org", "", "member-missed"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Template(ctx, "team@lists.example.org", "de", "member-missed"); !strings.Contains(got, "Ein Beitrag") {
		t.Errorf("German shipped template = %q", got)
	}
	if _, err := s.SetOptions(ctx, "team@lists.example.org", []string{"language=fr"}); err == nil {
		t.Error("language=fr accepted")
	}
}
