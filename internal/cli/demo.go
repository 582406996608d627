package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/smtpclient"
)

const (
	demoList  = "demo@lists.example.org"
	demoOwner = "owner@example.org"
)

var demoMembers = []struct{ name, addr string }{
	{"Alice", "alice@example.org"},
	{"Bob", "bob@example.org"},
	{"Carol", "carol@example.org"},
}

func (e *env) demoCmd() *cobra.Command {
	var keep bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Walk through an encrypted list end to end, with nothing to set up",
		Long: `Create a throwaway data directory with one list and three members (keys
generated on the spot), start the real SMTP listener on a loopback port,
send one signed and encrypted post from Alice, and then open every
member's copy from the outbox with that member's own key, checking the
list's signature. Nothing outside the temporary directory is touched.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "sealpost-demo-")
			if err != nil {
				return err
			}
			if keep {
				fmt.Fprintf(e.stdout, "Data directory (kept): %s\n", dir)
			} else {
				defer os.RemoveAll(dir)
			}
			return e.demo(cmd.Context(), dir)
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the data directory to look at afterwards")
	return c
}

func (e *env) demo(ctx context.Context, dir string) error {
	out := e.stdout
	cfg, err := app.LoadConfig(dir)
	if err != nil {
		return err
	}
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.Database.URL = "" // the demo's records are its own, in its directory
	a, err := app.Open(ctx, cfg, e.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer a.Close()

	fmt.Fprintf(out, "1. Creating list %s with its own OpenPGP key\n", demoList)
	l, err := a.Admin.CreateList(ctx, demoList, demoOwner, "Demo", pgp.Ed25519)
	if err != nil {
		return err
	}
	listPub, err := pgp.ParseKey(l.PublicKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   list key %s\n", l.KeyFingerprint)

	fmt.Fprintln(out, "2. Generating keys for three members and pinning them (each is sent a welcome with the list key)")
	keys := map[string]*pgp.Key{}
	for _, m := range demoMembers {
		k, err := pgp.GenerateKey(m.name, m.addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			return err
		}
		if _, _, err := a.Admin.AddMember(ctx, demoList, m.addr, k.PublicBytes(), false); err != nil {
			return err
		}
		keys[m.addr] = k
		fmt.Fprintf(out, "   %-18s key %s\n", m.addr, k.Fingerprint())
	}

	sctx, stop := context.WithCancel(ctx)
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(sctx, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-served:
		stop()
		return err
	}
	defer func() { stop(); <-served }()
	fmt.Fprintf(out, "3. SMTP listener running on %s\n", addr)

	post, err := demoPost(keys["alice@example.org"], listPub)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "4. Alice sends a post, signed with her key and encrypted to the list key")
	res, err := smtpclient.New(smtpclient.Options{Addr: addr.String(), HeloName: "localhost", Timeout: 30 * time.Second}).
		Send(ctx, "alice@example.org", []string{demoList}, post)
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	if err != nil {
		return fmt.Errorf("sending the post: %w", err)
	}
	fmt.Fprintln(out, "   the list accepted it (250)")

	// Each member's welcome and their copy of the post.
	files, err := waitOutbox(ctx, filepath.Join(dir, app.OutboxDir, "new"), 2*len(demoMembers))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "5. Opening each member's welcome and copy from the outbox with that member's own key\n")
	copies := 0
	for _, f := range files {
		line, post, err := checkCopy(f, keys, listPub)
		if err != nil {
			return err
		}
		if post {
			copies++
		}
		fmt.Fprintf(out, "   %s\n", line)
	}
	if copies != len(demoMembers) {
		return fmt.Errorf("%d members got a copy of the post, want %d", copies, len(demoMembers))
	}
	fmt.Fprintf(out, "Done: %d members each got their own welcome and copy, signed by the list key and encrypted to their key.\n", copies)
	return nil
}

// demoPost builds Alice's post: protected headers inside, signed by Alice
// and encrypted to the list (RFC 3156 §6.2).
func demoPost(alice, list *pgp.Key) ([]byte, error) {
	inner := "Content-Type: text/plain; charset=utf-8\r\n" +
		"From: Alice <alice@example.org>\r\nTo: " + demoList + "\r\nSubject: Hello from the demo\r\n\r\n" +
		"Hi all, this post was signed by Alice and encrypted to the list.\r\n"
	signed, err := pgp.Sign(alice, []byte(inner), pgp.Options{})
	if err != nil {
		return nil, err
	}
	armored, err := signed.EncryptTo(list, false)
	if err != nil {
		return nil, err
	}
	boundary, err := mime.NewBoundary(rand.Reader)
	if err != nil {
		return nil, err
	}
	ct, body := pgp.EncryptedBody(armored, boundary)
	head := "From: Alice <alice@example.org>\r\nTo: " + demoList + "\r\nSubject: ...\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n"
	return append([]byte(head), body...), nil
}

func waitOutbox(ctx context.Context, dir string, want int) ([]string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) >= want {
			return files, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d copies reached the outbox", len(files), want)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkCopy decrypts one outbox file with its recipient's key and checks
// the list's signature; post says whether it is a copy of the post
// rather than the member's welcome.
func checkCopy(file string, keys map[string]*pgp.Key, list *pgp.Key) (line string, post bool, err error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", false, err
	}
	msg, err := mime.Parse(raw, mime.Limits{})
	if err != nil {
		return "", false, err
	}
	to := strings.Trim(strings.TrimSpace(msg.Header.Get("Delivered-To")), "<>")
	key := keys[to]
	if key == nil {
		return "", false, fmt.Errorf("copy for unexpected recipient %q", to)
	}
	u, err := pgp.Unwrap(msg, key, []*pgp.Key{list}, pgp.Options{})
	if err != nil {
		return "", false, fmt.Errorf("%s cannot open their copy: %w", to, err)
	}
	if u.Status != spcrypto.StatusGood || u.Signer == nil || u.Signer.Fingerprint != list.Fingerprint() {
		return "", false, errors.New(to + ": signature is not a good signature by the list key")
	}
	inner, err := mime.Parse(u.Content, mime.Limits{})
	if err != nil {
		return "", false, err
	}
	switch {
	case bytes.Contains(u.Content, []byte("signed by Alice")):
		post = true
	case strings.HasPrefix(inner.Header.Get("Subject"), "["+demoList+"] Welcome") &&
		bytes.Contains(u.Content, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")):
	default:
		return "", false, errors.New(to + ": decrypted message is neither the post nor the welcome with the list key")
	}
	return fmt.Sprintf("%-18s decrypted with own key, good signature by list key, outer Subject %q, inner Subject %q",
		to, msg.Header.Get("Subject"), inner.Header.Get("Subject")), post, nil
}
