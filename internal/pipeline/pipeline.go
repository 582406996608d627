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
	// ListRoles are the list's further owners and its moderators.
	ListRoles(ctx context.Context, listID int64) ([]store.ListRole, error)
	ListByID(ctx context.Context, id int64) (*store.List, error)
	Members(ctx context.Context, listID int64) ([]store.Member, error)
	// Admit spools in and claims it for this attempt, or returns the
	// decision taken on the same message before; store.ErrClaimed while
	// another attempt processes it. EndAttempt ends an attempt that
	// stopped on a transient fault.
	Admit(ctx context.Context, in *store.Inbound, now time.Time, lease time.Duration) (*store.Decision, error)
	EndAttempt(ctx context.Context, spoolID string) error
	// Decided returns the decision taken on a message that is not
	// spooled (a submission), or nil.
	Decided(ctx context.Context, listID int64, digest string) (*store.Decision, error)
	// TrustAnchors are the list's own and the installation's.
	TrustAnchors(ctx context.Context, listID int64) ([][]byte, error)
	// CRLs are the revocation lists an admin added, one per issuer.
	CRLs(ctx context.Context) ([]store.CRL, error)
	Commit(ctx context.Context, o store.Outcome) error
	// PostBody returns a post's stored body (store.ErrNotFound when it
	// is no longer kept).
	PostBody(ctx context.Context, id int64) (*store.PostBody, error)
	PendingKeys(ctx context.Context, listID int64, now time.Time) ([]store.PendingKey, error)
	Subscriptions(ctx context.Context, listID int64, now time.Time) ([]store.Subscription, error)
	Bounces(ctx context.Context, listID int64, email string, since time.Time) (int, error)
	// CopySent reports whether a copy from envelope sender from to rcpt,
	// created since, was delivered.
	CopySent(ctx context.Context, listID int64, from, rcpt string, since time.Time) (bool, error)
	FindKeys(ctx context.Context, kind, value string) ([]store.Key, error)
	KeyUsers(ctx context.Context, fpr string) ([]store.KeyUser, error)
	// For gateways: the keys on file for some addresses, and the
	// conversation a message belongs to.
	MembersByEmail(ctx context.Context, listID int64, emails []string) ([]store.Member, error)
	FindThread(ctx context.Context, listID int64, messageIDs []string) (*store.Thread, error)
	// CountDeliveries counts the deliveries of kind queued since a time:
	// in all, those of one list, and those to rcpt on any list.
	CountDeliveries(ctx context.Context, kind string, listID int64, rcpt string, since time.Time) (total, onList, toRcpt int, err error)
}

// Options configure a Pipeline. The zero value is usable.
type Options struct {
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader; must be safe for concurrent use
	Logger *slog.Logger     // default slog.Default()
	Limits mime.Limits      // inbound message limits
	// MaxCrashes is how many attempts at processing one message may
	// crash (begin and never finish: the process died) before the message
	// is held at its next arrival instead of processed again (DESIGN §5);
	// default 3. An attempt that ends, even on a transient fault, does not
	// count; nor does a delivery of a message another attempt is
	// processing right now.
	MaxCrashes int
	// ClaimLease bounds how long one attempt may take before another
	// delivery of the same message may process it (default 30 minutes;
	// a crashed serve releases its claims when it starts again).
	// ClaimWait is how long a delivery of a message another attempt is
	// processing waits for that attempt's decision before it gets a
	// transient failure (default one minute).
	ClaimLease, ClaimWait time.Duration
	// TrustAnchors are the certification authorities whose S/MIME
	// certificates are trusted for their addresses on every list; each
	// list may add its own. With none, only pinned and harvested
	// certificates count.
	TrustAnchors []*x509.Certificate
	// CRLs are the revocation lists loaded by the administrator. They
	// revoke chained and pinned certificates alike (see revocations).
	CRLs []*x509.RevocationList
	// CRLIssuers are certificates, besides the trust anchors, that may
	// have signed CRLs (loaded beside them). They only verify CRLs; they
	// are not trust anchors.
	CRLIssuers []*x509.Certificate
	// RequireCRL refuses certificates whose issuer has no current CRL.
	RequireCRL bool
	// Commands runs the keywords of members' requests to LIST-request
	// (the admin use cases do); nil holds such requests for the owner.
	Commands Commands
	// FetchCRL, when set, fetches a CRL from a distribution point named
	// in a certificate (RFC 5280 §4.2.1.13). It must bound its own time
	// and size and may cache.
	FetchCRL func(ctx context.Context, url string) (*x509.RevocationList, error)
	// SMIMEKeyTransport is the server's default RSA key transport of
	// S/MIME copies by name ("rsa-pkcs1v15", "rsa-oaep-sha256"), below
	// what a member's client announced and the member's and the list's
	// settings (smime.Choose); "" leaves it to smime.DefaultKeyTransport.
	SMIMEKeyTransport string
	// Metrics counts the messages processed; nil counts nothing.
	Metrics *obs.Metrics
	// SendKey limits the answers to LIST-sendkey, which anyone may ask
	// for under any sender address; the zero value is the default limits.
	SendKey SendKeyLimits
	// PublicURL is the address of Sealpost's web pages as people reach
	// them ("https://lists.example.org"): challenges to subscribe carry
	// a link there. Without it they carry only the code.
	PublicURL string
}

// Pipeline processes inbound messages for the lists in a store.
type Pipeline struct {
	store  Store
	sealer *keyring.Sealer
	opt    Options
	keys   *keyCache
	// added are the CRLs an admin added, as last read (revocation.go).
	added  addedCRLs
	bodies *bodyCache // opened post bodies, for their copies (render.go)
	// members are the lists' members between posts (roster.go).
	members memberCache
	// largeRenders bounds the copies of large posts rendered at once.
	largeRenders chan struct{}
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
	if opt.MaxCrashes <= 0 {
		opt.MaxCrashes = 3
	}
	if opt.ClaimLease <= 0 {
		opt.ClaimLease = 30 * time.Minute
	}
	if opt.ClaimWait <= 0 {
		opt.ClaimWait = time.Minute
	}
	return &Pipeline{store: st, sealer: sealer, opt: opt, keys: newKeyCache(maxCachedKeys, maxCachedKeyBytes), bodies: &bodyCache{},
		largeRenders: make(chan struct{}, 2)}
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

// rejection is the refusal for reason as the sender sees it. DESIGN
// §4.3: the reply is the same whether the message could not be decrypted,
// failed its integrity check, had a bad signature or came from a
// non-member; only the size, which the sender knows, is told apart.
func (p *Pipeline) rejection(list *store.List, reason policy.Reason) *Rejection {
	switch {
	case reason == policy.TooLarge:
		// RFC 3463 §3.4: 5.3.4 message too big for system.
		return &Rejection{Reason: reason, Code: 552, Enhanced: [3]int{5, 3, 4}, Text: "Message too large for this address"}
	case list.IsGateway() && reason == policy.NotEncrypted:
		// Only require_encryption refuses this at a gateway; whether a
		// message is encrypted shows from outside, so saying so reveals
		// nothing.
		return &Rejection{Reason: reason, Code: 550, Enhanced: [3]int{5, 7, 1},
			Text: "This address accepts only encrypted mail; encrypt to its OpenPGP key or S/MIME certificate"}
	case list.IsGateway():
		return &Rejection{Reason: reason, Code: 550, Enhanced: [3]int{5, 7, 1},
			Text: "Message not accepted: it could not be decrypted or verified by this address; its administrator has been notified"}
	}
	// RFC 3463 §3.8: 5.7.1 delivery not authorized, message refused.
	return &Rejection{Reason: reason, Code: 550, Enhanced: [3]int{5, 7, 1},
		Text: "Message not accepted by the list's policy; the list owner has been notified"}
}

// ErrUnknownList is returned when the recipient is not an address of a
// list in the store.
var ErrUnknownList = errors.New("pipeline: no such list")

// Resolve returns the list and role that rcpt, a normalised addr-spec,
// stands for. Every well-formed bounce address of a list resolves — the
// bare one, the old form without a token, any token — whether or not it
// names a member with the right token: a bounce that proves nothing is
// taken and dropped later, so the SMTP answer to RCPT reveals nothing
// about members or tokens.
func (p *Pipeline) Resolve(ctx context.Context, rcpt string) (*store.List, mail.Role, error) {
	l, t, err := p.resolve(ctx, rcpt)
	return l, t.Role, err
}

// resolve returns the list rcpt belongs to and the reading of rcpt that
// names it.
func (p *Pipeline) resolve(ctx context.Context, rcpt string) (*store.List, mail.Target, error) {
	for _, t := range mail.ListRoles(rcpt) {
		l, err := p.store.ListByAddress(ctx, t.List)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, mail.Target{}, err
		}
		if l.IsGateway() && t.Role != mail.RolePost {
			continue // a gateway has no -request, -owner, ... addresses
		}
		return l, t, nil
	}
	return nil, mail.Target{}, ErrUnknownList
}

// Result is what became of a message Process took (returned nil for).
type Result struct {
	// Held is set when the message was not distributed but held for the
	// list's moderator (hold list/release).
	Held bool
}

// resultKey is the context key under which ProcessResult collects the
// Result of one message.
type resultKey struct{}

// ProcessResult is Process, telling also what became of a message it
// took: distributed (or answered, or dropped), or held. A message taken
// before and sent again is answered as taken, without telling whether it
// was held then.
func (p *Pipeline) ProcessResult(ctx context.Context, m Message) (Result, error) {
	var r Result
	err := p.Process(context.WithValue(ctx, resultKey{}, &r), m)
	if err != nil {
		return Result{}, err
	}
	return r, nil
}

// noteHeld records in the Result that ctx collects, if any, that the
// message was held.
func noteHeld(ctx context.Context) {
	if r, ok := ctx.Value(resultKey{}).(*Result); ok {
		r.Held = true
	}
}

// Process handles one message to one list address.
func (p *Pipeline) Process(ctx context.Context, m Message) (err error) {
	log := p.opt.Logger.With("msgid", m.Ref)
	list, target, err := p.resolve(ctx, m.Rcpt)
	if err != nil {
		return err
	}
	role := target.Role
	defer p.count(list, time.Now(), &err)
	// The same message is the same bytes in the same envelope: what an
	// MTA sends again when it did not see the answer.
	in, err := p.inbound(list, m.Ref, m.EnvelopeFrom, m.Raw, m.digest())
	if err != nil {
		return err
	}
	log = log.With("list", list.Address, "role", string(role))
	// DESIGN §5: durable before anything else happens.
	decided, err := p.admit(ctx, in)
	if err != nil {
		return err
	}
	in.Sealed = nil // in the spool now; a large message is not held twice
	if decided != nil {
		return p.answerAgain(log, list, decided)
	}
	defer p.endAttempt(in, &err)
	log = log.With("spool", in.ID)
	if crashed := in.Attempts - 1; crashed > p.opt.MaxCrashes {
		log.Warn("message held: its processing crashed repeatedly", "crashed", crashed)
		return p.hold(ctx, list, in, "processing failed repeatedly")
	}
	if list.IsGateway() {
		// A helpdesk gets automated mail too (bounces of its replies,
		// vacation notices): it decides what to do with them.
		return p.gatewayIn(ctx, log, list, in)
	}
	if role == mail.RoleBounce {
		return p.bounce(ctx, log, list, in, m.Rcpt, target)
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

// inbound is a received message as the spool keeps it: sealed under the
// master key (DESIGN §4.6), named by digest, that of the bytes that make
// two deliveries the same message.
func (p *Pipeline) inbound(list *store.List, ref, envelopeFrom string, raw []byte, digest string) (*store.Inbound, error) {
	sealed, err := p.sealer.Seal(raw, keyring.SpoolLabel(list.ID, digest))
	if err != nil {
		return nil, fmt.Errorf("pipeline: sealing a received message: %w", err)
	}
	return &store.Inbound{ID: ref, ListID: list.ID, Digest: digest, EnvelopeFrom: envelopeFrom, Raw: raw, Sealed: sealed,
		ReceivedAt: p.opt.Now()}, nil
}

// Digest is the hex SHA-256 that makes two deliveries of m the same
// message (the spool's and the decisions' key).
func Digest(m Message) string { return m.digest() }

func (m Message) digest() string {
	return envelopeDigest("sealpost message", m.EnvelopeFrom, []string{m.Rcpt}, m.Raw)
}

// envelopeDigest is the hex SHA-256 of what makes two deliveries the
// same message: the kind of entry, the envelope and the bytes.
func envelopeDigest(kind, from string, rcpts []string, raw []byte) string {
	return digestOf(kind+"\x00"+from+"\x00"+strings.Join(rcpts, ",")+"\x00", raw)
}

// digestOf is the hex SHA-256 of prefix followed by raw, without copying
// raw (a message can be tens of megabytes).
func digestOf(prefix string, raw []byte) string {
	h := sha256.New()
	h.Write([]byte(prefix))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// errStillProcessing is the transient answer to a delivery of a message
// that another attempt is still processing after Options.ClaimWait.
var errStillProcessing = fmt.Errorf("pipeline: the same message is still being processed by another attempt: %w", store.ErrClaimed)

// admit spools in and claims it for this attempt; or returns the decision
// taken on the same message before, waiting for it while another attempt
// is processing the message, so that concurrent deliveries of one
// message are decided once (DESIGN §5).
func (p *Pipeline) admit(ctx context.Context, in *store.Inbound) (*store.Decision, error) {
	timeout := time.NewTimer(p.opt.ClaimWait)
	defer timeout.Stop()
	pause := 10 * time.Millisecond
	for {
		d, err := p.store.Admit(ctx, in, p.opt.Now(), p.opt.ClaimLease)
		if !errors.Is(err, store.ErrClaimed) {
			return d, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-timeout.C:
			t.Stop()
			return nil, errStillProcessing
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// answerAgain answers a message decided before (the sender's retry after
// the answer was lost, or a concurrent delivery of it) as it was
// answered, and does nothing else: nothing is sent twice, the owner is
// not told twice (DESIGN §4.4).
func (p *Pipeline) answerAgain(log *slog.Logger, list *store.List, d *store.Decision) error {
	if d.Refused == "" {
		log.Info("the same message was taken before; answered again, nothing done", "decided", d.DecidedAt)
		return nil
	}
	log.Info("the same message was refused before; refused again", "reason", d.Refused, "decided", d.DecidedAt)
	return p.rejection(list, policy.ParseReason(d.Refused))
}

// endAttempt ends the attempt on in when it stopped on a transient fault
// (*err neither nil nor a refusal): the message stays spooled for the
// sender's retry, and the attempt does not count as a crash.
func (p *Pipeline) endAttempt(in *store.Inbound, err *error) {
	var rej *Rejection
	if *err == nil || errors.As(*err, &rej) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e := p.store.EndAttempt(ctx, in.ID); e != nil {
		p.opt.Logger.Warn("ending a failed attempt", "msgid", in.ID, "err", e)
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

// hold keeps the message as received, sealed under the master key (it may
// have arrived unencrypted; DESIGN §4.6), for the owner, and commits
// that, telling the owner.
func (p *Pipeline) hold(ctx context.Context, list *store.List, in *store.Inbound, reason string) error {
	notice, err := p.ownerNotice(ctx, list, in, "owner-held", reason)
	if err != nil {
		return err
	}
	sealed, err := p.sealer.Seal(in.Raw, keyring.HoldLabel(list.ID, in.ID))
	if err != nil {
		return fmt.Errorf("pipeline: sealing a held message: %w", err)
	}
	err = p.commit(ctx, store.Outcome{
		SpoolID: in.ID,
		ListID:  list.ID,
		Hold: &store.Hold{ListID: list.ID, Ref: in.ID, EnvelopeFrom: in.EnvelopeFrom, Reason: reason,
			Raw: sealed, Sealed: true, Size: len(in.Raw)},
		Deliveries: notice,
	})
	if err == nil {
		noteHeld(ctx)
	}
	return err
}

// forwardToOwner relays mail for LIST-owner to the owners unchanged.
func (p *Pipeline) forwardToOwner(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound) error {
	owners, err := p.owners(ctx, list, false)
	if err != nil {
		return err
	}
	if len(owners) == 0 {
		return p.hold(ctx, list, in, "message to the -owner address, but the list has no owner")
	}
	log.Info("forwarding to owner", "owners", len(owners))
	var ds []store.Delivery
	for _, to := range owners {
		ds = append(ds, store.Delivery{Ref: in.ID, ListID: list.ID, Kind: store.KindNotice,
			From: mail.RoleAddress(list.Address, mail.RoleBounce), To: to, Data: in.Raw})
	}
	return p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Deliveries: ds})
}

// owners are the addresses the list's owner notices go to: its owner
// address and its further owners, and with moderators its moderators too
// (for what they decide: held messages).
func (p *Pipeline) owners(ctx context.Context, list *store.List, moderators bool) ([]string, error) {
	var out []string
	if list.Owner != "" {
		out = append(out, list.Owner)
	}
	roles, err := p.store.ListRoles(ctx, list.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		if r.Role == store.ListOwner || (moderators && r.Role == store.ListModerator) {
			out = append(out, r.Email)
		}
	}
	return out, nil
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
