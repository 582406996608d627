package app_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// BenchmarkGateway measures a gateway's two directions up to the durable
// commit (when SMTP answers 250): inbound, a 4 KiB message signed by a
// customer on file and encrypted to the gateway, decrypted, verified,
// sealed for the helpdesk and archived; reply, the helpdesk's 4 KiB
// reply signed by the gateway and encrypted to that customer.
func BenchmarkGateway(b *testing.B) {
	ctx := context.Background()
	a, dir := openBenchApp(b)
	gw, err := a.Admin.CreateGateway(ctx, support, "", "", pgp.Ed25519, filepath.Join(dir, "helpdesk"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Admin.SetOptions(ctx, support, []string{"archive=true"}); err != nil {
		b.Fatal(err)
	}
	gwKey, _ := pgp.ParseKey(gw.PublicKey)
	const customer = "customer@example.net"
	k, err := pgp.GenerateKey("", customer, pgp.Ed25519, pgp.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := a.Admin.AddMemberWith(ctx, support, customer, k.PublicBytes(), quiet(false)); err != nil {
		b.Fatal(err)
	}
	// Each message is new: the same bytes again would be answered as a
	// retry, without the work (TestRetryAfterLostAnswer).
	n := 0
	b.Run("inbound", func(b *testing.B) {
		for range b.N {
			n++
			i := n
			b.StopTimer()
			inner := fmt.Sprintf("Content-Type: text/plain; charset=utf-8\r\nFrom: %s\r\nTo: %s\r\nSubject: ticket %d\r\n"+
				"Message-ID: <bench-%d@example.net>\r\n\r\n%s", customer, support, i, i, benchBody)
			signed, err := pgp.Sign(k, []byte(inner), pgp.Options{})
			if err != nil {
				b.Fatal(err)
			}
			armored, err := signed.EncryptTo(gwKey, false)
			if err != nil {
				b.Fatal(err)
			}
			boundary, _ := mime.NewBoundary(rand.Reader)
			ct, body := pgp.EncryptedBody(armored, boundary)
			raw := append([]byte("From: "+customer+"\r\nTo: "+support+"\r\nMIME-Version: 1.0\r\nContent-Type: "+ct+"\r\n\r\n"), body...)
			b.StartTimer()
			if err := a.Pipeline.Process(ctx, pipeline.Message{Ref: fmt.Sprint("in", i), EnvelopeFrom: customer, Rcpt: support, Raw: raw}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reply", func(b *testing.B) {
		for range b.N {
			n++
			i := n
			raw := reply(fmt.Sprintf("<reply-%d@helpdesk>", i), "", customer, benchBody)
			err := a.Pipeline.Submit(ctx, pipeline.Submission{Ref: fmt.Sprint("out", i), EnvelopeFrom: support,
				Rcpts: []string{customer}, Raw: raw, Authorized: func(*store.List) bool { return true }})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
