package pipeline_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pgtest"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// canary is a string in every test post's body: it must never appear in
// anything but a decrypted copy.
const canary = "CANARY-b0dy-5e3cr3t"

type fixture struct {
	t      *testing.T
	db     *sqlstore.DB
	dbFile string // db's file or URL, for a second connection (another process)
	sealer *keyring.Sealer
	p      *pipeline.Pipeline
	now    time.Time // the pipeline's clock when set; the real time otherwise
	lists  map[string]*testList
	keys   map[string]*pgp.Key // member secret keys by address
}

type testList struct {
	rec *store.List
	key *pgp.Key // secret
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	file := pgtest.Database(t, filepath.Join(t.TempDir(), "sealpost.db"))
	db, err := sqlstore.Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{1}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, dbFile: file, sealer: sealer, lists: map[string]*testList{}, keys: map[string]*pgp.Key{}}
	// The clock is the real one unless a test sets f.now: keys made during
	// the test must not lie in the pipeline's future.
	clock := func() time.Time {
		if f.now.IsZero() {
			return time.Now()
		}
		return f.now
	}
	f.p = pipeline.New(db, sealer, pipeline.Options{Now: clock, Logger: slog.New(slog.DiscardHandler)})
	return f
}

// list creates a list with the given members (keys generated, cached per address).
func (f *fixture) list(addr string, members ...string) *testList {
	f.t.Helper()
	k, err := pgp.GenerateKey("", addr, pgp.Ed25519, pgp.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.listWithKey(addr, k, members...)
}

// listWithKey creates a list whose key is k (with its secret part).
func (f *fixture) listWithKey(addr string, k *pgp.Key, members ...string) *testList {
	f.t.Helper()
	secret, _ := k.SecretBytes()
	sealed, err := f.sealer.Seal(secret, keyring.ListKeyLabel(addr, k.Fingerprint()))
	if err != nil {
		f.t.Fatal(err)
	}
	rec := &store.List{Address: addr, Owner: "owner@example.org", KeyFingerprint: k.Fingerprint(), PublicKey: k.PublicBytes(), SealedKey: sealed}
	if err := f.db.CreateList(context.Background(), rec); err != nil {
		f.t.Fatal(err)
	}
	l := &testList{rec: rec, key: k}
	f.lists[addr] = l
	for _, m := range members {
		f.addMember(l, m, f.member(m).PublicBytes())
	}
	return l
}

func (f *fixture) member(addr string) *pgp.Key {
	f.t.Helper()
	if k := f.keys[addr]; k != nil {
		return k
	}
	// The key's user ID names its holder ("Alice <alice@example.org>"):
	// copies show that name.
	local, _, _ := strings.Cut(addr, "@")
	k, err := pgp.GenerateKey(strings.ToUpper(local[:1])+local[1:], addr, pgp.Ed25519, pgp.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.keys[addr] = k
	return k
}

func (f *fixture) addMember(l *testList, addr string, pub []byte) {
	f.t.Helper()
	k, err := pgp.ParseKey(pub)
	if err != nil {
		f.t.Fatal(err)
	}
	m := &store.Member{ListID: l.rec.ID, Email: addr,
		Keys: []store.MemberKey{{Key: store.Key{Engine: store.EngineOpenPGP, Fingerprint: k.Fingerprint(), Data: pub}}}}
	if err := f.db.AddMember(context.Background(), m); err != nil {
		f.t.Fatal(err)
	}
}

// postSpec describes a test post; the zero value plus Signer, From and To
// is a valid post.
type postSpec struct {
	signer     *pgp.Key // nil: unsigned
	from       string   // From, inner and outer
	outerFrom  string   // overrides the outer From
	innerTo    string   // protected To; default the list address
	encryptTo  *pgp.Key // default the list's key
	extraInner string   // extra inner header lines
	extraOuter string   // extra outer header lines
	plaintext  bool     // send the entity unencrypted
	bodyStart  string   // text before the body's greeting (keywords)
}

func (f *fixture) post(l *testList, s postSpec) []byte {
	f.t.Helper()
	to := s.innerTo
	if to == "" {
		to = l.rec.Address
	}
	inner := "Content-Type: text/plain; charset=utf-8\r\nFrom: " + s.from + "\r\nTo: " + to + "\r\n" +
		"Subject: the real subject\r\nMessage-ID: <post-1@example.org>\r\n" + s.extraInner + "\r\n" +
		s.bodyStart + "Hello list. " + canary + "\r\n"
	outerFrom := s.from
	if s.outerFrom != "" {
		outerFrom = s.outerFrom
	}
	head := "From: " + outerFrom + "\r\nTo: " + l.rec.Address + "\r\nSubject: ...\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <outer-1@example.org>\r\nMIME-Version: 1.0\r\n" + s.extraOuter
	if s.plaintext {
		return []byte(head + inner)
	}
	target := s.encryptTo
	if target == nil {
		target = l.key
	}
	var armored []byte
	if s.signer != nil {
		signed, err := pgp.Sign(s.signer, []byte(inner), pgp.Options{})
		if err != nil {
			f.t.Fatal(err)
		}
		if armored, err = signed.EncryptTo(target, false); err != nil {
			f.t.Fatal(err)
		}
	} else {
		armored = encryptUnsigned(f.t, target, []byte(inner))
	}
	b, err := mime.NewBoundary(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	ct, body := pgp.EncryptedBody(armored, b)
	return append([]byte(head+"Content-Type: "+ct+"\r\n\r\n"), body...)
}

func (f *fixture) process(l *testList, raw []byte, ref string) error {
	return f.p.Process(context.Background(), pipeline.Message{Ref: ref, EnvelopeFrom: "sender@example.org", Rcpt: l.rec.Address, Raw: raw})
}

// verp is the envelope sender of member's copies of the team list: the
// VERP address with the member's token, made with the fixture's master key.
func (f *fixture) verp(member string) string {
	return mail.VERP(team, member, mail.VERPToken(f.sealer.BounceTag(team, member)))
}

func (f *fixture) deliveries(ref string) []store.Delivery {
	f.t.Helper()
	ds, err := f.db.DeliveriesByRef(context.Background(), ref)
	if err != nil {
		f.t.Fatal(err)
	}
	// A member's copy of a post is rendered as the queue delivers it.
	for i := range ds {
		if ds[i].BodyID != 0 {
			var b bytes.Buffer
			if err := f.p.WriteDelivery(context.Background(), &ds[i], &b); err != nil {
				f.t.Fatalf("rendering %s's copy: %v", ds[i].To, err)
			}
			ds[i].Data = b.Bytes()
		}
	}
	return ds
}

// open decrypts a member's copy with the member's key and checks the
// list's signature.
func (f *fixture) open(l *testList, d store.Delivery) (*mime.Part, *mime.Part) {
	f.t.Helper()
	msg, err := mime.Parse(d.Data, mime.Limits{})
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := pgp.Unwrap(msg, f.keys[d.To], []*pgp.Key{l.key}, pgp.Options{})
	if err != nil {
		f.t.Fatalf("%s cannot decrypt their copy: %v", d.To, err)
	}
	if u.Signer == nil || u.Signer.Fingerprint != l.key.Fingerprint() {
		f.t.Fatalf("%s's copy is not signed by the list key: %v %s", d.To, u.Status, u.Reason)
	}
	inner, err := mime.Parse(u.Content, mime.Limits{})
	if err != nil {
		f.t.Fatal(err)
	}
	return msg, inner
}

func hasCanary(b []byte) bool { return strings.Contains(string(b), canary) }

// encryptUnsigned encrypts data to the key without signing, as a client
// that forgot to sign would.
func encryptUnsigned(t *testing.T, to *pgp.Key, data []byte) []byte {
	t.Helper()
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(to.Armored()))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	aw, err := armor.Encode(&b, "PGP MESSAGE", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := openpgp.Encrypt(aw, list, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	aw.Close()
	return b.Bytes()
}

func corpusKey(t *testing.T, name string) []byte {
	t.Helper()
	return corpusFile(t, "keys", name)
}

// corpusFile reads a file of the Thunderbird OpenPGP corpus (../shared/corpus).
func corpusFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "corpus", "thunderbird-openpgp", dir, name))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

func digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func decodeB64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}

func encodeB64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

// TestPostgres runs this package's tests again with their fixtures' store
// on PostgreSQL (internal/pgtest).
func TestPostgres(t *testing.T) { pgtest.Suite(t) }
