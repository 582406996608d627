package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/benchdir"
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
	dir := benchdir.New(b)
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
		if _, _, err := a.Admin.AddMemberWith(ctx, team, fmt.Sprintf("member%03d@example.org", i), m.Cert.Raw, quiet(false)); err != nil {
			b.Fatal(err)
		}
	}
	sender := &smime.Identity{Cert: certs.members[0].Cert, Key: certs.members[0].Key}
	b.ResetTimer()
	runFanout(b, a, dir, members, true, func(i int) []byte {
		// Each post differs: RSA PKCS#1 v1.5 signatures are deterministic,
		// and the same signature twice is a replay.
		return signedPost(b, sender, "member000@example.org", certs.list.Cert, fmt.Sprintf("Post %d\r\n%s", i, benchBody))
	})
}
