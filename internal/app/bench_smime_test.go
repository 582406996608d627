package app_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// benchCerts are made once per key type: 100 RSA-2048 keys take seconds.
var (
	benchCertsOnce sync.Map // openssltest.KeyType → *benchCertSet
)

type benchCertSet struct {
	once    sync.Once
	ca      *openssltest.CA
	list    *openssltest.Leaf
	members []*openssltest.Leaf
}

func certSet(b *testing.B, kt openssltest.KeyType, n int) *benchCertSet {
	v, _ := benchCertsOnce.LoadOrStore(kt, &benchCertSet{})
	s := v.(*benchCertSet)
	s.once.Do(func() {
		s.ca = openssltest.NewCA(b, openssltest.RSA2048)
		s.list = s.ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
		for i := range n {
			s.members = append(s.members, s.ca.Issue(fmt.Sprintf("member%03d@example.org", i), kt, openssltest.LeafOptions{}))
		}
	})
	return s
}

// BenchmarkFanoutSMIME is BenchmarkFanout for S/MIME: one post (4 KiB
// body) from a member to 100 members holding RSA-2048 or P-256
// certificates, through decrypt, verify, chain check, policy, one
// signature by the list (RSA-2048), 100 AES-256-GCM AuthEnvelopedData
// encryptions and delivery into the Maildir outbox.
func BenchmarkFanoutSMIME(b *testing.B) {
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256} {
		b.Run(fmt.Sprintf("members=100/%s", kt), func(b *testing.B) { benchFanoutSMIME(b, kt, 100) })
	}
}

func benchFanoutSMIME(b *testing.B, kt openssltest.KeyType, members int) {
	ctx := context.Background()
	certs := certSet(b, kt, members)
	dir := b.TempDir()
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Admin.CreateList(ctx, team, "owner@example.org", "", pgp.Ed25519); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Admin.SetSMIMEIdentity(ctx, team, &smime.Identity{Cert: certs.list.Cert, Key: certs.list.Key}); err != nil {
		b.Fatal(err)
	}
	for i, m := range certs.members {
		if _, _, err := a.Admin.AddMember(ctx, team, fmt.Sprintf("member%03d@example.org", i), m.Cert.Raw, false); err != nil {
			b.Fatal(err)
		}
	}
	sender := &smime.Identity{Cert: certs.members[0].Cert, Key: certs.members[0].Key}
	body := strings.Repeat("All work and no play makes Jack a dull boy. 0123456789abcdef\r\n", 4096/64)
	outbox := filepath.Join(dir, app.OutboxDir, "new")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		raw := smimeBenchPost(b, sender, certs.list.Cert, i, body)
		b.StartTimer()
		if _, err := a.Process(ctx, team, "member000@example.org", raw); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if i == 0 {
			if files, _ := filepath.Glob(filepath.Join(outbox, "*")); len(files) != members {
				b.Fatalf("outbox has %d copies, want %d", len(files), members)
			}
		}
		os.RemoveAll(outbox)
		os.Mkdir(outbox, 0o700)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*members), "µs/recipient")
}

func smimeBenchPost(b testing.TB, sender *smime.Identity, list *x509.Certificate, i int, body string) []byte {
	inner := fmt.Sprintf("Content-Type: text/plain; charset=utf-8\r\nFrom: member000@example.org\r\nTo: %s\r\nSubject: post %d\r\n\r\n%s", team, i, body)
	signed, err := smime.SignEntity([]byte(inner), sender, smime.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ct, enc, err := smime.EncryptEntity(signed, list, smime.EncryptOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return append([]byte("From: member000@example.org\r\nTo: "+team+"\r\nSubject: ...\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+
		"\r\nContent-Transfer-Encoding: base64\r\n\r\n"), enc...)
}
