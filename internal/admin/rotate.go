package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/pipeline"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// DefaultGrace is how long a replaced list key keeps decrypting posts.
const DefaultGrace = 30 * 24 * time.Hour

// installListKey makes k, a secret key, the OpenPGP key of l. The key it
// replaces keeps decrypting for DefaultGrace. It returns a note for the
// import report.
func (s *Service) installListKey(ctx context.Context, l *store.List, k *pgp.Key) (string, error) {
	if k.Fingerprint() == l.KeyFingerprint {
		return "already the key of " + l.Address, nil
	}
	if err := s.replaceListKey(ctx, l, k, DefaultGrace, nil); err != nil {
		return "", err
	}
	return fmt.Sprintf("now the OpenPGP key of %s; the previous key decrypts until %s", l.Address,
		s.now().Add(DefaultGrace).Format(time.DateOnly)), nil
}

// replaceListKey checks that k can serve as l's key, seals it and makes
// it the list's key; the old key is retired with grace.
func (s *Service) replaceListKey(ctx context.Context, l *store.List, k *pgp.Key, grace time.Duration, announce []store.Delivery) error {
	info := k.Info(s.now())
	if err := keyring.CheckMemberKey(info, l.Address, s.now()); err != nil {
		return fmt.Errorf("%w: cannot be the key of %s: %v", ErrInvalid, l.Address, err)
	}
	if !info.CanSign && info.SignRefused != "" {
		return fmt.Errorf("%w: key %s uses %s, which Sealpost cannot use for signing, so it cannot be the key of %s",
			ErrInvalid, info.Fingerprint, info.SignRefused, l.Address)
	}
	if !info.CanSign {
		return fmt.Errorf("%w: key %s cannot sign, so it cannot be the key of %s", ErrInvalid, info.Fingerprint, l.Address)
	}
	secret, err := k.SecretBytes()
	if err != nil {
		return err
	}
	sealed, err := s.sealer.Seal(secret, keyring.ListKeyLabel(l.Address, info.Fingerprint))
	if err != nil {
		return err
	}
	now := s.now()
	old := store.RetiredKey{Fingerprint: l.KeyFingerprint, PublicKey: l.PublicKey, SealedKey: l.SealedKey,
		RetiredAt: now, DecryptUntil: now.Add(grace)}
	l.KeyFingerprint, l.PublicKey, l.SealedKey = info.Fingerprint, k.PublicBytes(), sealed
	if err := s.st.ReplaceListKey(ctx, l, old, announce); err != nil {
		return err
	}
	rec, _ := keyring.OpenPGPRecord(k, now)
	_, err = s.st.PutKeys(ctx, []store.Key{rec})
	return err
}

// Flow is what the use cases need from the message flow (the pipeline):
// announcements signed and encrypted to members, notices, challenges,
// welcome messages, and held posts released.
type Flow interface {
	Release(ctx context.Context, list *store.List, h *store.Hold, ref string) error
	// ReadHeld opens a held post in memory for one reading; it changes
	// nothing.
	ReadHeld(ctx context.Context, list *store.List, h *store.Hold) (*pipeline.HeldPost, error)
	Announce(ctx context.Context, list *store.List, a pipeline.Announcement) ([]store.Delivery, []string, error)
	Notice(ctx context.Context, list *store.List, to, subject, text, ref string) (store.Delivery, error)
	ChallengeKey(ctx context.Context, list *store.List, email string, key *pgp.Key, ref string) (store.Outcome, error)
	ChallengeSubscription(ctx context.Context, list *store.List, sub *store.Subscription, key *store.MemberKey, ref string) (store.Outcome, error)
	SubscriptionNotices(ctx context.Context, list *store.List, sub *store.Subscription, ref string) ([]store.Delivery, error)
	SubscriptionDeclined(ctx context.Context, list *store.List, sub *store.Subscription, key *store.MemberKey, reason, ref string) ([]store.Delivery, error)
	// AccountMail writes a message to the holder of an account (a
	// password reset link), to be committed by the caller.
	AccountMail(ctx context.Context, m pipeline.AccountMail) (store.Delivery, pipeline.AccountMailSent, error)
	// Welcome writes the welcome message to a new member (pipeline.Welcome);
	// the caller commits the deliveries.
	Welcome(ctx context.Context, list *store.List, email string, key store.MemberKey, ref string) ([]store.Delivery, error)
	// CopyKeys is the key each of the members ms gets copies encrypted
	// to now, by address (pipeline.CopyKeys).
	CopyKeys(ctx context.Context, list *store.List, ms []store.Member) (map[string]pipeline.CopyKey, error)
}

// Rotation reports a list key rotation.
type Rotation struct {
	Old, New     crypto.KeyInfo
	DecryptUntil time.Time
	Announced    int      // members the announcement is queued for
	Unreachable  []string // members without a usable key, who were not told
}

// RotateListKey gives the list a new OpenPGP key. Every member is sent
// the new key, in a message signed by both the old and the new key so
// that their client can tie one to the other; the old key keeps
// decrypting posts for grace. The announcements are queued in the same
// transaction that switches the key.
func (s *Service) RotateListKey(ctx context.Context, list string, algo pgp.Algorithm, grace time.Duration) (*Rotation, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if s.flow == nil {
		return nil, errors.New("admin: no flow configured")
	}
	oldInfo, err := s.KeyInfo(l)
	if err != nil {
		return nil, err
	}
	k, err := pgp.GenerateKey(l.Name, l.Address, algo, pgp.Options{Now: s.now, Rand: s.rand})
	if err != nil {
		return nil, err
	}
	newInfo := k.Info(s.now())
	until := s.now().Add(grace)
	ref, err := newRef(s.rand)
	if err != nil {
		return nil, err
	}
	subject, text, err := renderNotice(l, "key-rotated", map[string]any{"New": crypto.FormatFingerprint(newInfo.Fingerprint),
		"Old": crypto.FormatFingerprint(oldInfo.Fingerprint), "Until": until.UTC().Format(time.DateOnly)})
	if err != nil {
		return nil, err
	}
	a := pipeline.Announcement{
		Subject:      subject,
		Text:         text,
		Attachments:  []pipeline.Attachment{{Name: "list-key.asc", ContentType: "application/pgp-keys", Data: k.Armored()}},
		ExtraSigners: []*pgp.Key{k},
		Ref:          ref,
	}
	deliveries, unreachable, err := s.flow.Announce(ctx, l, a)
	if err != nil {
		return nil, err
	}
	if err := s.replaceListKey(ctx, l, k, grace, deliveries); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "list.rotate-key", l.Address, newInfo.Fingerprint, "replaces "+oldInfo.Fingerprint); err != nil {
		return nil, err
	}
	return &Rotation{Old: oldInfo, New: newInfo, DecryptUntil: until, Announced: len(deliveries), Unreachable: unreachable}, nil
}

// newRef makes a reference ID for deliveries Sealpost starts itself.
func newRef(rnd io.Reader) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return "admin-" + hex.EncodeToString(b), nil
}

// renderNotice renders the list's notice template name with data (List
// and Gateway, which tells a template to use a gateway's words, are
// added).
func renderNotice(l *store.List, name string, data map[string]any) (string, string, error) {
	data["List"], data["Gateway"] = l.Address, l.IsGateway()
	return notices.Set{Lang: l.Settings.Language, Overrides: l.Settings.Templates}.Render(name, data)
}
