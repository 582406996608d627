package app_test

import (
	"context"
	"crypto/x509"
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
	// kem are the members' ML-KEM-768 certificates (benchMLKEM768):
	// member000, the sender, also holds members[0], a P-256 one to sign.
	kem []*x509.Certificate
}

// benchMLKEM768 makes members whose certificates are ML-KEM-768 (RFC
// 9935), issued by the same classical CA.
const benchMLKEM768 openssltest.KeyType = "mlkem768"

func certSet(b *testing.B, kt openssltest.KeyType, n int) *benchCertSet {
	v, _ := benchCertsOnce.LoadOrStore(kt, &benchCertSet{})
	s := v.(*benchCertSet)
	s.once.Do(func() {
		s.ca = openssltest.NewCA(b, openssltest.RSA2048)
		s.list = s.ca.Issue(team, openssltest.RSA2048, openssltest.LeafOptions{})
		if kt == benchMLKEM768 {
			s.members = []*openssltest.Leaf{s.ca.Issue("member000@example.org", openssltest.P256, openssltest.LeafOptions{})}
			for i := range n {
				s.kem = append(s.kem, newKEMMember(b, s.ca, fmt.Sprintf("member%03d@example.org", i)).cert)
			}
			return
		}
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
// encryptions and delivery into the Maildir outbox. mlkem768: the 100
// members hold ML-KEM-768 certificates (each copy a KEMRecipientInfo;
// the sender also a P-256 certificate to sign with).
func BenchmarkFanoutSMIME(b *testing.B) {
	for _, kt := range []openssltest.KeyType{openssltest.RSA2048, openssltest.P256, benchMLKEM768} {
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
	for i, c := range certs.kem {
		addr := fmt.Sprintf("member%03d@example.org", i)
		if i == 0 {
			if _, err := a.Admin.AddMemberKey(ctx, team, addr, c.Raw); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, _, err := a.Admin.AddMemberWith(ctx, team, addr, c.Raw, quiet(false)); err != nil {
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
