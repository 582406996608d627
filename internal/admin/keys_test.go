package admin_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

const (
	teamList   = "team@lists.example.org"
	teamPass   = "correct horse"
	teamUserID = "Team <" + teamList + ">"
)

// keyService is service with its store, for tests that write the
// keyring directly.
func keyService(t *testing.T) (*admin.Service, *sqlstore.DB) {
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
	return admin.New(db, sealer, admin.Options{}), db
}

// genKey makes an Ed25519/Cv25519 key for uid in g, protected by pass
// ("" for none), dated an hour ago so that any self-signature gpg makes
// later is newer than the first even within the same second.
func genKey(t *testing.T, g *gpgtest.GPG, uid, pass string) string {
	t.Helper()
	past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	r := g.MustRun(nil, "--passphrase", pass, "--faked-system-time", past,
		"--quick-generate-key", uid, "future-default", "default", "never")
	for _, line := range strings.Split(r.Status, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == "KEY_CREATED" {
			return f[3]
		}
	}
	t.Fatalf("gpg --quick-generate-key printed no KEY_CREATED:\n%s", r.Status)
	return ""
}

// colons returns the --with-colons records of kind (pub, sub, sec, sig,
// fpr, ...) that gpg prints for args, split into fields.
func colons(t *testing.T, g *gpgtest.GPG, kind string, args ...string) [][]string {
	t.Helper()
	r := g.MustRun(nil, append([]string{"--with-colons"}, args...)...)
	var out [][]string
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if f := strings.Split(line, ":"); f[0] == kind {
			out = append(out, f)
		}
	}
	return out
}

// importOne imports data and fails unless it yields exactly one result.
func importOne(t *testing.T, s *admin.Service, name string, data []byte, opt admin.ImportOptions) admin.ImportResult {
	t.Helper()
	rs, err := s.ImportKeys(context.Background(), name, data, opt)
	if err != nil {
		t.Fatalf("ImportKeys(%s): %v", name, err)
	}
	if len(rs) != 1 {
		t.Fatalf("ImportKeys(%s) = %d results, want 1: %+v", name, len(rs), rs)
	}
	return rs[0]
}

// findOne looks query up and fails unless it finds exactly the key fpr.
func findOne(t *testing.T, s *admin.Service, query, fpr string) admin.KeyDetails {
	t.Helper()
	ds, err := s.FindKey(context.Background(), query)
	if err != nil {
		t.Fatalf("FindKey(%s): %v", query, err)
	}
	if len(ds) != 1 || ds[0].Fingerprint != fpr {
		t.Fatalf("FindKey(%s) found %d keys (%v), want %s", query, len(ds), ds, fpr)
	}
	return ds[0]
}

func hasNote(r admin.ImportResult, part string) bool {
	return slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, part) })
}

// near reports whether got is within a minute of want.
func near(got, want time.Time) bool { return got.Sub(want).Abs() < time.Minute }

// TestImportGPGExport: a binary gpg --export of three keys imports as
// three new keys, again as unchanged, and a refreshed expiry as updated;
// the keys are found by address, key ID, subkey ID and fingerprint.
func TestImportGPGExport(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	g := gpgtest.New(t)
	people := []string{"alice@example.org", "bob@example.org", "carol@example.org"}
	fprs := map[string]string{} // address → fingerprint
	for _, who := range people {
		fprs[who] = genKey(t, g, "Someone <"+who+">", "")
	}
	export := func() []byte {
		return g.MustRun(nil, "--export", fprs[people[0]], fprs[people[1]], fprs[people[2]]).Stdout
	}
	outcomes := func(data []byte) map[string]admin.Outcome {
		t.Helper()
		var stored int
		rs, err := s.ImportKeys(ctx, "people.pgp", data, admin.ImportOptions{Progress: func(n int) { stored = n }})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 3 || stored != 3 {
			t.Fatalf("%d results, %d reported stored; want 3 and 3: %+v", len(rs), stored, rs)
		}
		out := map[string]admin.Outcome{}
		for _, r := range rs {
			if len(r.Addresses) != 1 || fprs[r.Addresses[0]] != r.Fingerprint || r.File != "people.pgp" || r.Engine != "openpgp" {
				t.Errorf("result %+v does not match a generated key", r)
				continue
			}
			out[r.Addresses[0]] = r.Outcome
		}
		return out
	}
	all := func(o admin.Outcome) map[string]admin.Outcome {
		return map[string]admin.Outcome{people[0]: o, people[1]: o, people[2]: o}
	}

	data := export()
	if data[0]&0x80 == 0 {
		t.Fatal("gpg --export did not write binary packets")
	}
	if got := outcomes(data); !maps.Equal(got, all(admin.Imported)) {
		t.Errorf("first import: %v, want all new", got)
	}
	if got := outcomes(data); !maps.Equal(got, all(admin.Unchanged)) {
		t.Errorf("same file again: %v, want all unchanged", got)
	}
	bob := fprs["bob@example.org"]
	g.MustRun(nil, "--quick-set-expire", bob, "2y")
	want := all(admin.Unchanged)
	want["bob@example.org"] = admin.Updated
	if got := outcomes(export()); !maps.Equal(got, want) {
		t.Errorf("after bob's expiry changed: %v, want %v", got, want)
	}
	d := findOne(t, s, "bob@example.org", bob)
	if in2y := time.Now().Add(2 * 365 * 24 * time.Hour); !near(d.Expires, in2y) || !near(d.Info.Expires, in2y) {
		t.Errorf("bob's key expires %v (info %v), want about %v", d.Expires, d.Info.Expires, in2y)
	}

	pub := colons(t, g, "pub", "--list-keys", bob)
	sub := colons(t, g, "sub", "--list-keys", bob)
	if len(pub) != 1 || len(sub) != 1 {
		t.Fatalf("gpg lists %d primary keys and %d subkeys for bob", len(pub), len(sub))
	}
	for name, q := range map[string]string{
		"email, mixed case": "Bob@Example.ORG",
		"primary key ID":    pub[0][4],
		"0x key ID":         "0x" + strings.ToLower(pub[0][4]),
		"subkey ID":         sub[0][4],
		"fingerprint":       bob,
		"grouped":           crypto.FormatFingerprint(bob),
	} {
		t.Run(name, func(t *testing.T) { findOne(t, s, q, bob) })
	}
	for _, q := range []string{"dave@example.org", "0123456789ABCDEF", strings.Repeat("AB", 20)} {
		if _, err := s.FindKey(ctx, q); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("FindKey(%s) = %v, want ErrNotFound", q, err)
		}
	}
	if _, err := s.FindKey(ctx, "not-a-key"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("FindKey(not-a-key) = %v, want ErrInvalid", err)
	}
}

// TestImportSecretKeyWithoutList: a secret key given without --list
// leaves only its public part; no secret key can be exported for it.
func TestImportSecretKeyWithoutList(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	g := gpgtest.New(t)
	fpr := genKey(t, g, "Alice <alice@example.org>", "")
	r := importOne(t, s, "alice-secret.asc", g.ExportSecret(fpr), admin.ImportOptions{})
	if r.Outcome != admin.Imported || r.Fingerprint != fpr || !hasNote(r, "secret part not kept") {
		t.Errorf("result %+v; want new %s with a note that the secret part was not kept", r, fpr)
	}
	d := findOne(t, s, "alice@example.org", fpr)
	if k, err := pgp.ParseKey(d.Data); err != nil || k.HasSecret() {
		t.Errorf("stored key: secret %v, err %v; want the public part only", k != nil && k.HasSecret(), err)
	}
	if _, err := s.ExportKey(ctx, fpr, true); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("ExportKey(secret) = %v, want ErrNotFound", err)
	}
}

// TestImportListKey: a passphrase-protected secret key for a list's
// address becomes the list's key with --list and its passphrase; the old
// key is retired for the grace period; the secret key exports to gpg.
func TestImportListKey(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	l, err := s.CreateList(ctx, teamList, "", "Team", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	old := l.KeyFingerprint
	g := gpgtest.New(t)
	fpr := genKey(t, g, teamUserID, teamPass)
	secret := g.MustRun(nil, "--passphrase", teamPass, "--armor", "--export-secret-keys", fpr).Stdout
	passphrase := func(p string) func(string) ([]byte, error) {
		return func(what string) ([]byte, error) {
			if what != fpr {
				t.Errorf("passphrase asked for %q, want the key's fingerprint %s", what, fpr)
			}
			return []byte(p), nil
		}
	}
	for _, tc := range []struct {
		name string
		pass func(string) ([]byte, error)
		say  string
	}{
		{"no passphrase", nil, "protected by a passphrase"},
		{"wrong passphrase", passphrase("wrong horse"), "wrong passphrase"},
	} {
		r := importOne(t, s, "team.asc", secret, admin.ImportOptions{List: teamList, Passphrase: tc.pass})
		if r.Outcome != admin.Refused || r.Fingerprint != fpr || !strings.Contains(r.Reason, tc.say) {
			t.Errorf("%s: result %+v, want refused saying %q", tc.name, r, tc.say)
		}
		if l, _ := s.List(ctx, teamList); l.KeyFingerprint != old {
			t.Errorf("%s: the list's key changed to %s", tc.name, l.KeyFingerprint)
		}
	}

	r := importOne(t, s, "team.asc", secret, admin.ImportOptions{List: teamList, Passphrase: passphrase(teamPass)})
	if r.Outcome != admin.Imported || r.Fingerprint != fpr || !hasNote(r, "now the OpenPGP key of "+teamList) {
		t.Errorf("result %+v; want new %s, now the list's key", r, fpr)
	}
	l, err = s.List(ctx, teamList)
	if err != nil {
		t.Fatal(err)
	}
	if l.KeyFingerprint != fpr {
		t.Fatalf("list key %s, want the imported %s", l.KeyFingerprint, fpr)
	}
	if len(l.Retired) != 1 || l.Retired[0].Fingerprint != old || !near(l.Retired[0].DecryptUntil, time.Now().Add(admin.DefaultGrace)) {
		t.Errorf("retired keys %+v; want %s decrypting for 30 more days", l.Retired, old)
	}
	if d := findOne(t, s, fpr, fpr); !slices.Equal(d.Users, []string{"list " + teamList}) {
		t.Errorf("key users %q, want the list", d.Users)
	}
	r = importOne(t, s, "team.asc", secret, admin.ImportOptions{List: teamList, Passphrase: passphrase(teamPass)})
	if r.Outcome != admin.Unchanged || !hasNote(r, "already the key of") {
		t.Errorf("second import: %+v, want unchanged, already the list's key", r)
	}

	armored, err := s.ExportKey(ctx, fpr, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(armored, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		t.Fatalf("ExportKey(secret) is not an armored secret key:\n%s", armored)
	}
	fresh := gpgtest.New(t)
	fresh.MustRun(armored, "--import")
	if secs := colons(t, fresh, "fpr", "--list-secret-keys", fpr); len(secs) == 0 || secs[0][9] != fpr {
		t.Errorf("gpg --list-secret-keys after importing the export: %v, want %s", secs, fpr)
	}
}

// TestImportListKeyKeepsRevocation: a secret key exported before its key
// was revoked does not become a list's key once the keyring holds the
// revocation, and the keyring keeps the revocation.
func TestImportListKeyKeepsRevocation(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	l, err := s.CreateList(ctx, teamList, "", "Team", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr := genKey(t, g, teamUserID, "")
	secret := g.ExportSecret(fpr)
	rev, err := os.ReadFile(filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	// gpg writes the certificate with a colon before its armor line, so
	// that it is not imported by accident.
	g.Import(bytes.ReplaceAll(rev, []byte(":-----BEGIN"), []byte("-----BEGIN")))
	r := importOne(t, s, "team-revoked.asc", g.Export(fpr), admin.ImportOptions{})
	if r.Outcome != admin.Imported || !hasNote(r, "revoked") {
		t.Fatalf("revoked public key: %+v, want new, noted as revoked", r)
	}
	r = importOne(t, s, "team-secret.asc", secret, admin.ImportOptions{List: teamList})
	if r.Outcome != admin.Refused || !strings.Contains(r.Reason, "cannot be the key of") {
		t.Errorf("secret key of a revoked key with --list: %+v, want refused", r)
	}
	if now, _ := s.List(ctx, teamList); now.KeyFingerprint != l.KeyFingerprint {
		t.Errorf("the list's key became the revoked %s", now.KeyFingerprint)
	}
	if d := findOne(t, s, fpr, fpr); !d.Revoked || d.Status != keyring.KeyRevoked {
		t.Errorf("keyring holds %s as revoked=%v, status %s; the revocation was lost", fpr, d.Revoked, d.Status)
	}
}

// TestImportListKeyMerges: a secret key older than the copy the keyring
// holds becomes the list's key merged with that copy, so that a later
// expiry the keyring knew is kept, in the keyring and in the list's key.
func TestImportListKeyMerges(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	if _, err := s.CreateList(ctx, teamList, "", "Team", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr := genKey(t, g, teamUserID, "")
	secret := g.ExportSecret(fpr)
	g.MustRun(nil, "--quick-set-expire", fpr, "2y")
	if r := importOne(t, s, "team.asc", g.Export(fpr), admin.ImportOptions{}); r.Outcome != admin.Imported {
		t.Fatalf("public key: %+v, want new", r)
	}
	// gpg replaced the self-signature it set the expiry in; the older
	// one the secret copy carries is added to the keyring's copy.
	r := importOne(t, s, "team-secret.asc", secret, admin.ImportOptions{List: teamList})
	if r.Outcome != admin.Updated || !hasNote(r, "now the OpenPGP key of "+teamList) {
		t.Errorf("older secret key with --list: %+v, want updated, now the list's key", r)
	}
	in2y := time.Now().Add(2 * 365 * 24 * time.Hour)
	if d := findOne(t, s, fpr, fpr); !near(d.Expires, in2y) {
		t.Errorf("keyring: key expires %v, want about %v", d.Expires, in2y)
	}
	l, err := s.List(ctx, teamList)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.KeyInfo(l); err != nil || info.Fingerprint != fpr || !near(info.Expires, in2y) {
		t.Errorf("list key %s expires %v (%v), want %s about %v", info.Fingerprint, info.Expires, err, fpr, in2y)
	}
	armored, err := s.ExportKey(ctx, fpr, true)
	if err != nil {
		t.Fatal(err)
	}
	fresh := gpgtest.New(t)
	fresh.MustRun(armored, "--import")
	if secs := colons(t, fresh, "sec", "--list-secret-keys", fpr); len(secs) != 1 || !near(unixField(t, secs[0][6]), in2y) {
		t.Errorf("gpg reads the exported secret key as %v, want one expiring about %v", secs, in2y)
	}
}

// unixField parses a --with-colons date given in seconds since the epoch.
func unixField(t *testing.T, f string) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		t.Fatalf("date field %q: %v", f, err)
	}
	return time.Unix(n, 0)
}

// TestExportMemberKey: a member's key exports armored and gpg reads the
// same key.
func TestExportMemberKey(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	if _, err := s.CreateList(ctx, teamList, "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	g := gpgtest.New(t)
	fpr := genKey(t, g, "Bob <bob@example.org>", "")
	if _, _, err := s.AddMember(ctx, teamList, "bob@example.org", g.Export(fpr), false); err != nil {
		t.Fatal(err)
	}
	if d := findOne(t, s, fpr, fpr); !slices.Equal(d.Users, []string{"bob@example.org on " + teamList}) {
		t.Errorf("key users %q, want bob on the list", d.Users)
	}
	armored, err := s.ExportKey(ctx, fpr, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh := gpgtest.New(t)
	if r := fresh.MustRun(armored, "--import"); !r.HasStatus("IMPORT_OK") {
		t.Fatalf("gpg --import did not report IMPORT_OK:\n%s", r.Status)
	}
	if got := colons(t, fresh, "fpr", "--list-keys", "bob@example.org"); len(got) == 0 || got[0][9] != fpr {
		t.Errorf("gpg lists %v for bob, want %s", got, fpr)
	}
}

// TestImportPKCS12: an OpenSSL-made PKCS#12 file becomes a list's S/MIME
// identity with --list and its password; without --list only its
// certificates are kept.
func TestImportPKCS12(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue(teamList, openssltest.P256, openssltest.LeafOptions{})
	o.WriteCert("team.pem", leaf.Cert)
	o.WriteKey("team.key", leaf.Key)
	o.WriteCert("ca.pem", ca.Cert)
	fpr := smime.Fingerprint(leaf.Cert)
	for _, v := range []struct {
		name string
		args []string
		say  string // in the reason when the form is refused
	}{
		{"OpenSSL 3 default", nil, ""},
		{"legacy with 3DES certificates", []string{"-legacy", "-certpbe", "PBE-SHA1-3DES"}, ""},
		{"legacy (RC2-40 certificates)", []string{"-legacy"}, "-certpbe AES-256-CBC"},
	} {
		t.Run(v.name, func(t *testing.T) {
			ctx := context.Background()
			args := append([]string{"pkcs12", "-export", "-inkey", "team.key", "-in", "team.pem", "-certfile", "ca.pem",
				"-passout", "pass:secret", "-out", "team.p12"}, v.args...)
			if r := o.Run(nil, args...); r.Err != nil {
				if slices.Contains(v.args, "-legacy") {
					t.Skipf("this openssl cannot write -legacy files: %s", r.Stderr)
				}
				t.Fatalf("openssl: %v\n%s", r.Err, r.Stderr)
			}
			p12 := o.Read("team.p12")
			s, _ := keyService(t)
			if _, err := s.CreateList(ctx, teamList, "", "", pgp.Ed25519); err != nil {
				t.Fatal(err)
			}
			password := func(p string) func(string) ([]byte, error) {
				return func(what string) ([]byte, error) {
					if what != "team.p12" {
						t.Errorf("password asked for %q, want the file name", what)
					}
					return []byte(p), nil
				}
			}
			if v.say != "" {
				r := importOne(t, s, "team.p12", p12, admin.ImportOptions{List: teamList, Passphrase: password("secret")})
				if r.Outcome != admin.Refused || !strings.Contains(r.Reason, v.say) {
					t.Errorf("result %+v, want refused saying %q", r, v.say)
				}
				return
			}
			r := importOne(t, s, "team.p12", p12, admin.ImportOptions{List: teamList, Passphrase: password("wrong")})
			if r.Outcome != admin.Refused || r.Reason == "" {
				t.Errorf("wrong password: %+v, want refused", r)
			}
			if l, _ := s.List(ctx, teamList); len(l.SMIMECert) != 0 {
				t.Error("a refused PKCS#12 file gave the list a certificate")
			}

			rs, err := s.ImportKeys(ctx, "team.p12", p12, admin.ImportOptions{List: teamList, Passphrase: password("secret")})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Fingerprint != fpr || rs[0].Outcome != admin.Imported || !hasNote(rs[0], "now the S/MIME identity of "+teamList) {
				t.Fatalf("results %+v; want the new certificate %s, now the list's, then its CA", rs, fpr)
			}
			if rs[1].Fingerprint != smime.Fingerprint(ca.Cert) || !hasNote(rs[1], "not trusted") {
				t.Errorf("chain result %+v, want the CA, not trusted", rs[1])
			}
			if l, _ := s.List(ctx, teamList); !bytes.Equal(l.SMIMECert, leaf.Cert.Raw) {
				t.Error("the list's S/MIME certificate is not the imported one")
			}
			if pemData, err := s.ExportKey(ctx, fpr, true); err != nil || !bytes.Contains(pemData, []byte("PRIVATE KEY")) {
				t.Errorf("ExportKey(secret) = %q, %v; want the identity with its private key", pemData, err)
			}

			other, _ := keyService(t)
			if _, err := other.CreateList(ctx, teamList, "", "", pgp.Ed25519); err != nil {
				t.Fatal(err)
			}
			rs, err = other.ImportKeys(ctx, "team.p12", p12, admin.ImportOptions{Passphrase: password("secret")})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Fingerprint != fpr || rs[0].Outcome != admin.Imported || !hasNote(rs[0], "private key not kept") {
				t.Errorf("without --list: %+v; want the new certificate, private key not kept", rs)
			}
			if l, _ := other.List(ctx, teamList); len(l.SMIMECert) != 0 {
				t.Error("without --list the list got an S/MIME identity")
			}
		})
	}
}

// TestImportCertificates: a PEM bundle imports every certificate, a CA
// among them kept but marked as not trusted; DER works too.
func TestImportCertificates(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	ca := openssltest.NewCA(t, openssltest.P256)
	carol := ca.Issue("carol@example.org", openssltest.P256, openssltest.LeafOptions{})
	dave := ca.Issue("dave@example.org", openssltest.P256, openssltest.LeafOptions{})
	erin := ca.Issue("erin@example.org", openssltest.P256, openssltest.LeafOptions{})

	rs, err := s.ImportKeys(ctx, "bundle.pem", smime.CertsPEM(ca.Cert, carol.Cert, dave.Cert), admin.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(rs), rs)
	}
	for i, c := range []*openssltest.Leaf{{Cert: ca.Cert}, carol, dave} {
		r := rs[i]
		if r.Fingerprint != smime.Fingerprint(c.Cert) || r.Outcome != admin.Imported || r.Engine != "smime" {
			t.Errorf("result %d: %+v, want new %s", i, r, c.Cert.Subject)
		}
		if hasNote(r, "not trusted") != c.Cert.IsCA {
			t.Errorf("result %d: notes %q; only the CA is marked as not trusted", i, r.Notes)
		}
	}
	d := findOne(t, s, "carol@example.org", smime.Fingerprint(carol.Cert))
	if d.Engine != store.EngineSMIME || d.Status != keyring.Usable {
		t.Errorf("carol's certificate: engine %s, status %s", d.Engine, d.Status)
	}
	pemData, err := s.ExportKey(ctx, smime.Fingerprint(carol.Cert), false)
	if err != nil || !bytes.Equal(pemData, smime.CertsPEM(carol.Cert)) {
		t.Errorf("ExportKey(carol) = %q, %v; want her certificate in PEM", pemData, err)
	}

	r := importOne(t, s, "erin.der", erin.Cert.Raw, admin.ImportOptions{})
	if r.Outcome != admin.Imported || r.Fingerprint != smime.Fingerprint(erin.Cert) || !slices.Equal(r.Addresses, []string{"erin@example.org"}) {
		t.Errorf("DER import: %+v", r)
	}
	findOne(t, s, "erin@example.org", smime.Fingerprint(erin.Cert))
}

// TestImportFloodedKey: third-party certifications gpg made on a key are
// dropped on import, and the stored key carries only its own signatures.
func TestImportFloodedKey(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	g := gpgtest.New(t)
	victim := genKey(t, g, "Victim <victim@example.org>", "")
	for i := range 3 {
		signer := genKey(t, g, "Signer "+strconv.Itoa(i)+" <signer"+strconv.Itoa(i)+"@example.org>", "")
		g.MustRun(nil, "-u", signer, "--quick-sign-key", victim)
	}
	victimID := victim[len(victim)-16:]
	if n := len(thirdParty(colons(t, g, "sig", "--check-sigs", victim), victimID)); n != 3 {
		t.Fatalf("gpg shows %d third-party certifications on the victim, want 3", n)
	}
	r := importOne(t, s, "victim.pgp", g.MustRun(nil, "--export", victim).Stdout, admin.ImportOptions{})
	if r.Outcome != admin.Imported || !hasNote(r, "dropped 3 third-party certifications") {
		t.Errorf("result %+v; want new, noting 3 dropped certifications", r)
	}
	armored, err := s.ExportKey(ctx, victim, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh := gpgtest.New(t)
	fresh.MustRun(armored, "--import")
	sigs := colons(t, fresh, "sig", "--check-sigs", victim)
	if len(sigs) == 0 || len(thirdParty(sigs, victimID)) > 0 {
		t.Errorf("stored key carries signatures %v; want only the victim's own", sigs)
	}
	for _, sig := range sigs {
		if sig[1] != "!" {
			t.Errorf("self-signature %v does not check", sig)
		}
	}
}

// thirdParty returns the signature records not issued by keyID.
func thirdParty(sigs [][]string, keyID string) [][]string {
	var out [][]string
	for _, s := range sigs {
		if len(s) < 5 || s[4] != keyID {
			out = append(out, s)
		}
	}
	return out
}

// TestReindexKeys: keys stored without an index (moved from an older
// schema) are indexed; a key that cannot be read is reported once and
// not retried.
func TestReindexKeys(t *testing.T) {
	ctx := context.Background()
	s, db := keyService(t)
	bob, err := pgp.GenerateKey("Bob", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const garbage = "0000000000000000000000000000000000000000"
	if _, err := db.PutKeys(ctx, []store.Key{
		{Fingerprint: bob.Fingerprint(), Engine: store.EngineOpenPGP, Data: bob.PublicBytes()},
		{Fingerprint: garbage, Engine: store.EngineOpenPGP, Data: []byte("not a key")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindKey(ctx, "bob@example.org"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("an unindexed key was found by address: %v", err)
	}
	n, errs, err := s.ReindexKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), garbage) {
		t.Errorf("ReindexKeys = %d, %v; want 1 indexed and the unreadable key reported", n, errs)
	}
	findOne(t, s, "bob@example.org", bob.Fingerprint())
	findOne(t, s, bob.KeyID(), bob.Fingerprint())
	if n, errs, err := s.ReindexKeys(ctx); n != 0 || len(errs) != 0 || err != nil {
		t.Errorf("second ReindexKeys = %d, %v, %v; want nothing left to do", n, errs, err)
	}
}
