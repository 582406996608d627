// Package pipeline owns the life of one inbound message: spool it durably,
// unwrap it (decrypt, verify), apply the list's policy, plan one item per
// recipient, wrap each copy (sign once, encrypt per member) and commit the
// deliveries, the replay mark and the removal from the spool in one
// transaction. Rejections notify the list owner without any decrypted
// content (DESIGN §4.3).
//
// Process returns nil only after the outcome is durable; a *Rejection for
// a policy refusal (SMTP 5xx, exit 65); any other error is transient (4xx,
// exit 75) and leaves the spooled message for the client's retry.
package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/obs"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Store is what the pipeline needs from the repository. Commit applies an
// outcome atomically and returns store.ErrReplay, changing nothing, when
// its replay mark exists (DESIGN §4.4).
type Store interface {
	ListByAddress(ctx context.Context, addr string) (*store.List, error)
	ListByID(ctx context.Context, id int64) (*store.List, error)
	Members(ctx context.Context, listID int64) ([]store.Member, error)
	Spool(ctx context.Context, in *store.Inbound) error
	TrustAnchors(ctx context.Context, listID int64) ([][]byte, error)
	Commit(ctx context.Context, o store.Outcome) error
	PendingKeys(ctx context.Context, listID int64, now time.Time) ([]store.PendingKey, error)
	Bounces(ctx context.Context, listID int64, email string, since time.Time) (int, error)
	FindKeys(ctx context.Context, kind, value string) ([]store.Key, error)
	KeyUsers(ctx context.Context, fpr string) ([]store.KeyUser, error)
	// For gateways: the keys on file for some addresses, and the
	// conversation a message belongs to.
	MembersByEmail(ctx context.Context, listID int64, emails []string) ([]store.Member, error)
	FindThread(ctx context.Context, listID int64, messageIDs []string) (*store.Thread, error)
}

// Options configure a Pipeline. The zero value is usable.
type Options struct {
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader; must be safe for concurrent use
	Logger *slog.Logger     // default slog.Default()
	Limits mime.Limits      // inbound message limits
	// MaxAttempts is how many times processing of the same message may be
	// begun before it is held instead (DESIGN §5); default 3.
	MaxAttempts int
	// TrustAnchors are the certification authorities whose S/MIME
	// certificates are trusted for their addresses on every list; each
	// list may add its own. With none, only pinned and harvested
	// certificates count.
	TrustAnchors []*x509.Certificate
	// CRLs are the revocation lists loaded by the administrator.
	CRLs []*x509.RevocationList
	// RequireCRL refuses certificates whose issuer has no current CRL.
	RequireCRL bool
	// Commands runs the keywords of members' requests to LIST-request
	// (the admin use cases do); nil holds such requests for the owner.
	Commands Commands
	// FetchCRL, when set, fetches a CRL from a distribution point named
	// in a certificate (RFC 5280 §4.2.1.13). It must bound its own time
	// and size and may cache.
	FetchCRL func(ctx context.Context, url string) (*x509.RevocationList, error)
	// SMIMEKeyTransport is the RSA key transport of S/MIME copies;
	// the zero value is RSA-OAEP with SHA-256.
	SMIMEKeyTransport smime.KeyTransport
	// Metrics counts the messages processed; nil counts nothing.
	Metrics *obs.Metrics
	// SendKey limits the answers to LIST-sendkey, which anyone may ask
	// for under any sender address; the zero value is the default limits.
	SendKey SendKeyLimits
}

// Pipeline processes inbound messages for the lists in a store.
type Pipeline struct {
	store  Store
	sealer *keyring.Sealer
	opt    Options
	keys   *keyCache
}

// New returns a Pipeline over st; sealer opens the lists' secret keys.
func New(st Store, sealer *keyring.Sealer, opt Options) *Pipeline {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 3
	}
	return &Pipeline{store: st, sealer: sealer, opt: opt, keys: newKeyCache()}
}

// Message is one inbound message addressed to one list address.
type Message struct {
	Ref          string // reference ID for logs and replies
	EnvelopeFrom string
	Rcpt         string // a list address in any role (post, -owner, ...)
	Raw          []byte
}

// Rejection is a permanent refusal by policy. Its Text is safe to show to
// the sender; the Reason is for logs and the owner's notice.
type Rejection struct {
	Reason   policy.Reason
	Code     int    // SMTP reply code, 5xx
	Enhanced [3]int // RFC 3463 status
	Text     string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s (%s)", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Text, r.Reason)
}

// reject returns the uniform rejection for reason. DESIGN §4.3: the reply
// is the same whether the message could not be decrypted, failed its
// integrity check, had a bad signature or came from a non-member.
func reject(reason policy.Reason) *Rejection {
	switch reason {
	case policy.TooLarge:
		// RFC 3463 §3.4: 5.3.4 message too big for system.
		return &Rejection{Reason: reason, Code: 552, Enhanced: [3]int{5, 3, 4}, Text: "Message too large for this list"}
	}
	// RFC 3463 §3.8: 5.7.1 delivery not authorized, message refused.
	return &Rejection{Reason: reason, Code: 550, Enhanced: [3]int{5, 7, 1},
		Text: "Message not accepted by the list's policy; the list owner has been notified"}
}

// ErrUnknownList is returned when the recipient is not an address of a
// list in the store.
var ErrUnknownList = errors.New("pipeline: no such list")

// Resolve returns the list and role that rcpt, a normalised addr-spec,
// stands for.
func (p *Pipeline) Resolve(ctx context.Context, rcpt string) (*store.List, mail.Role, error) {
	for _, t := range mail.ListRoles(rcpt) {
		l, err := p.store.ListByAddress(ctx, t.List)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if l.IsGateway() && t.Role != mail.RolePost {
			continue // a gateway has no -request, -owner, ... addresses
		}
		return l, t.Role, nil
	}
	return nil, "", ErrUnknownList
}

// Process handles one message to one list address.
func (p *Pipeline) Process(ctx context.Context, m Message) (err error) {
	log := p.opt.Logger.With("msgid", m.Ref)
	list, role, err := p.Resolve(ctx, m.Rcpt)
	if err != nil {
		return err
	}
	defer p.count(list, time.Now(), &err)
	digest := sha256.Sum256(m.Raw)
	in := &store.Inbound{ID: m.Ref, ListID: list.ID, Digest: hex.EncodeToString(digest[:]),
		EnvelopeFrom: m.EnvelopeFrom, Raw: m.Raw, ReceivedAt: p.opt.Now()}
	// DESIGN §5: durable before anything else happens.
	if err := p.store.Spool(ctx, in); err != nil {
		return err
	}
	log = log.With("list", list.Address, "role", string(role), "spool", in.ID)
	if in.Attempts > p.opt.MaxAttempts {
		log.Warn("message held after repeated failed processing", "attempts", in.Attempts)
		return p.hold(ctx, list, in, "processing failed repeatedly")
	}
	if list.IsGateway() {
		// A helpdesk gets automated mail too (bounces of its replies,
		// vacation notices): it decides what to do with them.
		return p.gatewayIn(ctx, log, list, in)
	}
	if role == mail.RoleBounce {
		return p.bounce(ctx, log, list, in, verpMember(m.Rcpt))
	}
	if outer, err := mime.ParseHeader(in.Raw, p.opt.Limits); err == nil {
		if why := automated(list, outer, in.EnvelopeFrom); why != "" && (role != mail.RoleOwner || strings.HasPrefix(why, "loop")) {
			// Never distributed, never answered: a vacation reply or a
			// bounce to the post address would otherwise go to everyone.
			log.Info("message dropped", "why", why)
			return p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID})
		}
	}
	switch role {
	case mail.RolePost:
		return p.post(ctx, log, list, in, 0)
	case mail.RoleOwner:
		return p.forwardToOwner(ctx, log, list, in)
	case mail.RoleSendKey:
		return p.sendKey(ctx, log, list, in)
	default:
		return p.request(ctx, log, list, in)
	}
}

// count counts one processed message for the metrics: accepted
// (distributed, held or answered), rejected (policy) or deferred (a
// transient fault; the sender retries).
func (p *Pipeline) count(list *store.List, start time.Time, err *error) {
	mode := store.ModeList
	if list.IsGateway() {
		mode = store.ModeGateway
	}
	var rej *Rejection
	switch {
	case *err == nil:
		p.opt.Metrics.Message(mode, "accepted")
	case errors.As(*err, &rej):
		p.opt.Metrics.Message(mode, "rejected")
	default:
		p.opt.Metrics.Message(mode, "deferred")
	}
	p.opt.Metrics.Processing(mode, time.Since(start))
}

// verpMember is the member a VERP bounce address names, or "".
func verpMember(rcpt string) string {
	for _, t := range mail.ListRoles(rcpt) {
		if t.Member != "" {
			return t.Member
		}
	}
	return ""
}

// hold keeps the message as received (ciphertext) for the owner and
// commits that, telling the owner.
func (p *Pipeline) hold(ctx context.Context, list *store.List, in *store.Inbound, reason string) error {
	notice, err := p.ownerNotice(ctx, list, in, "owner-held", reason)
	if err != nil {
		return err
	}
	return p.commit(ctx, store.Outcome{
		SpoolID:    in.ID,
		ListID:     list.ID,
		Hold:       &store.Hold{ListID: list.ID, Ref: in.ID, EnvelopeFrom: in.EnvelopeFrom, Reason: reason, Raw: in.Raw},
		Deliveries: notice,
	})
}

// forwardToOwner relays mail for LIST-owner to the owner unchanged.
func (p *Pipeline) forwardToOwner(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound) error {
	if list.Owner == "" {
		return p.hold(ctx, list, in, "message to the -owner address, but the list has no owner")
	}
	log.Info("forwarding to owner")
	return p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Deliveries: []store.Delivery{{
		Ref: in.ID, ListID: list.ID, Kind: store.KindNotice,
		From: mail.RoleAddress(list.Address, mail.RoleBounce), To: list.Owner, Data: in.Raw,
	}}})
}

// commit stamps the outcome's deliveries with the pipeline's clock and
// applies it.
func (p *Pipeline) commit(ctx context.Context, o store.Outcome) error {
	now := p.opt.Now()
	for i := range o.Deliveries {
		o.Deliveries[i].CreatedAt = now
	}
	return p.store.Commit(ctx, o)
}
