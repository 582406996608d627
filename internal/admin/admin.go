// Package admin holds the use cases an operator runs on lists and members
// — create a list with its own key, pin a member's key, set options,
// remove — shared by the command line and, later, the API and web UI.
// Authorisation checks belong here; the command line runs as the local
// operator, who may do everything.
package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// Store is what the use cases need from the repository.
type Store interface {
	CreateList(ctx context.Context, l *store.List) error
	ListByAddress(ctx context.Context, addr string) (*store.List, error)
	Lists(ctx context.Context) ([]store.List, error)
	UpdateList(ctx context.Context, l *store.List) error
	DeleteList(ctx context.Context, addr string) error
	AddMember(ctx context.Context, m *store.Member) error
	PutMemberKey(ctx context.Context, listID int64, email string, k *store.MemberKey) error
	SetMemberCipher(ctx context.Context, listID int64, email, cipher string) error
	SetMemberKeyTransport(ctx context.Context, listID int64, email, keyTransport string) error
	SetMemberFormat(ctx context.Context, listID int64, email, format string) error
	SetMemberAdmin(ctx context.Context, listID int64, email string, admin bool) error
	AddTrustAnchor(ctx context.Context, listID int64, fingerprint string, der []byte) error
	RemoveTrustAnchor(ctx context.Context, listID int64, fingerprint string) error
	TrustAnchors(ctx context.Context, listID int64) ([][]byte, error)
	RemoveMember(ctx context.Context, listID int64, email string) error
	Members(ctx context.Context, listID int64) ([]store.Member, error)
	MembersPage(ctx context.Context, listID int64, offset, limit int) ([]store.Member, int, error)
	ReplaceListKey(ctx context.Context, l *store.List, retired store.RetiredKey, announce []store.Delivery) error
	ReplaceSMIMEIdentity(ctx context.Context, l *store.List, newFingerprint string, retired *store.RetiredKey) error
	ReplaceListKEM(ctx context.Context, l *store.List, newFingerprint string, retired *store.RetiredKey) error
	SetListRole(ctx context.Context, listID int64, email, role string, at time.Time) error
	RemoveListRole(ctx context.Context, listID int64, email string) error
	ListRoles(ctx context.Context, listID int64) ([]store.ListRole, error)
	RolesOf(ctx context.Context, email string) (map[int64]string, error)
	ListByID(ctx context.Context, id int64) (*store.List, error)
	ListCounts(ctx context.Context) (map[int64]store.ListCounts, error)
	AddAudit(ctx context.Context, e *store.AuditEntry) error

	MembersByEmail(ctx context.Context, listID int64, emails []string) ([]store.Member, error)
	SubscriptionByToken(ctx context.Context, tokenHash []byte, now time.Time) (*store.Subscription, error)
	Subscriptions(ctx context.Context, listID int64, now time.Time) ([]store.Subscription, error)
	DeleteSubscription(ctx context.Context, listID int64, email, action string) error

	CreateAccount(ctx context.Context, a *store.Account) error
	Account(ctx context.Context, email string) (*store.Account, error)
	AccountByID(ctx context.Context, id int64) (*store.Account, error)
	Accounts(ctx context.Context) ([]store.Account, error)
	UpdateAccount(ctx context.Context, a *store.Account) error
	RecordLogin(ctx context.Context, id int64, at time.Time) error
	SetTOTP(ctx context.Context, id int64, sealed []byte, codeHashes []string) error
	UseTOTPStep(ctx context.Context, id, step int64) (bool, error)
	UseRecoveryCode(ctx context.Context, id int64, hash string, at time.Time) (bool, error)
	RecoveryCodesLeft(ctx context.Context, id int64) (int, error)
	DeleteAccount(ctx context.Context, email string) error
	DeleteAccountSessions(ctx context.Context, accountID int64) error
	AddPasswordReset(ctx context.Context, r store.PasswordReset) error
	PasswordReset(ctx context.Context, tokenHash string, now time.Time) (*store.Account, error)
	UsePasswordReset(ctx context.Context, tokenHash string, now time.Time, passwordHash string) (*store.Account, error)
	CreateToken(ctx context.Context, t *store.Token) error
	TokenByHash(ctx context.Context, hash string, now time.Time) (*store.Token, error)
	Tokens(ctx context.Context, accountID int64) ([]store.Token, error)
	DeleteToken(ctx context.Context, accountID, id int64) error

	Queue(ctx context.Context, q store.DeliveryQuery) ([]store.Delivery, error)
	QueueCounts(ctx context.Context, listIDs []int64) (map[store.DeliveryState]int, error)
	Delivery(ctx context.Context, id int64) (*store.Delivery, error)
	RetryDelivery(ctx context.Context, id int64, now time.Time) error
	DueNow(ctx context.Context, now time.Time) (int64, error)
	DropDelivery(ctx context.Context, id int64, now time.Time) error
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error)

	PutKeys(ctx context.Context, keys []store.Key) ([]store.PutResult, error)
	Key(ctx context.Context, fpr string) (*store.Key, error)
	FindKeys(ctx context.Context, kind, value string) ([]store.Key, error)
	KeyUsers(ctx context.Context, fpr string) ([]store.KeyUser, error)
	KeysToIndex(ctx context.Context, version, limit int) ([]store.Key, error)
	KeyWarnings(ctx context.Context, listID int64) (map[store.KeyWarning]time.Time, error)
	Commit(ctx context.Context, o store.Outcome) error
	Holds(ctx context.Context, listID int64) ([]store.Hold, error)
	HoldsPage(ctx context.Context, listID int64, offset, limit int) ([]store.Hold, int, error)
	Hold(ctx context.Context, listID, id int64) (*store.Hold, error)
	DropHold(ctx context.Context, listID, id int64, notices []store.Delivery) error
	EnableMember(ctx context.Context, listID int64, email string) error
	DeleteKey(ctx context.Context, fpr string) error
	KeyringStore
	Threads(ctx context.Context, listID int64, limit int) ([]store.Thread, error)
	Archived(ctx context.Context, listID int64, thread string) ([]store.Archived, error)

	// Nodes returns the nodes seen since alive, each with the copies it
	// holds at now; Jobs when each once-per-cluster job last ran.
	Nodes(ctx context.Context, now, alive time.Time) ([]store.Node, error)
	Jobs(ctx context.Context) ([]store.JobRun, error)
}

// Errors a person can act on. The command line turns them into exit
// codes: ErrInvalid and ErrNotFound are bad data (65), ErrExists too.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Options configure a Service. The zero value is usable.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
	// Flow is the message flow (the pipeline): announcements, notices,
	// challenges, releasing held posts.
	Flow Flow
	// TrustAnchors are the global S/MIME trust anchors (each list may
	// add its own).
	TrustAnchors []*x509.Certificate
	// CRLs are the revocation lists the administrator loaded; a
	// certificate one of them revokes is shown and judged revoked.
	CRLs []*x509.RevocationList
	// CRLIssuers are certificates, besides the trust anchors, that may
	// have signed CRLs (loaded beside them); they are trusted for nothing
	// else.
	CRLIssuers []*x509.Certificate
	// Database says where the records are, for people, without any
	// password (a redacted URL or the SQLite file): Status shows it.
	Database string
	// Require2FA is whose sign-in needs a second factor: "" nobody's
	// (each account may set it up), Require2FAAdmins or Require2FAAll.
	Require2FA string
	// ResetURL is the admin UI's address as people reach it
	// ("https://sealpost.example.org"): password reset links start with
	// it. Without it, RequestPasswordReset sends nothing.
	ResetURL string
	// ResetSender is the From field of a password reset mail that no list
	// sends ("Sealpost <postmaster@example.org>"; see AccountMail).
	ResetSender string
	// Logger records what fails beside a change that was made (a
	// welcome message that could not be queued); nil: slog.Default().
	Logger *slog.Logger
}

// Service runs the use cases.
type Service struct {
	st     Store
	sealer *keyring.Sealer
	now    func() time.Time
	rand   io.Reader
	flow   Flow
	actor  Actor
	// anchors, crls and crlIssuers are Options.TrustAnchors, CRLs and
	// CRLIssuers.
	anchors    []*x509.Certificate
	crls       []*x509.RevocationList
	crlIssuers []*x509.Certificate
	database   string // Options.Database
	require2FA string // Options.Require2FA
	// resetURL and resetSender are Options.ResetURL and ResetSender.
	resetURL, resetSender string
	log                   *slog.Logger
}

// New returns a Service over st; sealer seals the lists' secret keys.
func New(st Store, sealer *keyring.Sealer, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Service{log: opt.Logger, st: st, sealer: sealer, now: opt.Now, rand: opt.Rand, flow: opt.Flow, actor: Operator,
		anchors: opt.TrustAnchors, crls: opt.CRLs, crlIssuers: opt.CRLIssuers, database: opt.Database, require2FA: opt.Require2FA,
		resetURL: opt.ResetURL, resetSender: opt.ResetSender}
}

// CreateList creates a list at address with a freshly generated key.
func (s *Service) CreateList(ctx context.Context, address, owner, name string, algo pgp.Algorithm) (*store.List, error) {
	return s.create(ctx, &store.List{Mode: store.ModeList}, address, owner, name, algo)
}

// create makes the list or gateway l at address with a fresh key.
func (s *Service) create(ctx context.Context, l *store.List, address, owner, name string, algo pgp.Algorithm) (*store.List, error) {
	what := kindOf(l)
	if err := s.requireAdmin("create a " + what); err != nil {
		return nil, err
	}
	addr, err := mail.Normalize(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %s address %q is not an email address", ErrInvalid, what, address)
	}
	if local, _ := mail.Split(addr); hasRoleSuffix(local) && !l.IsGateway() {
		return nil, fmt.Errorf("%w: %s ends in -request, -owner, -bounce or -sendkey, which Sealpost uses for the list's own addresses", ErrInvalid, addr)
	}
	if owner != "" {
		if _, owner, err = mail.ParseAddress(owner); err != nil {
			return nil, fmt.Errorf("%w: owner %q is not an email address", ErrInvalid, owner)
		}
	}
	if other, err := s.st.ListByAddress(ctx, addr); err == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrExists, kindOf(other), addr)
	}
	key, err := pgp.GenerateKey(name, addr, algo, pgp.Options{Now: s.now, Rand: s.rand})
	if err != nil {
		return nil, err
	}
	secret, err := key.SecretBytes()
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal(secret, keyring.ListKeyLabel(addr, key.Fingerprint()))
	if err != nil {
		return nil, err
	}
	l.Address, l.Name, l.Owner, l.KeyFingerprint = addr, name, owner, key.Fingerprint()
	l.PublicKey, l.SealedKey, l.CreatedAt = key.PublicBytes(), sealed, s.now()
	if err := s.st.CreateList(ctx, l); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("%w: %s %s", ErrExists, what, addr)
		}
		return nil, err
	}
	if err := s.keepListKeys(ctx, l); err != nil {
		return nil, err
	}
	return l, s.audit(ctx, what+".create", l.Address, "", "owner "+orDefault(owner, "none")+", key "+l.KeyFingerprint)
}

// kindOf names what l is, for messages.
func kindOf(l *store.List) string {
	if l.IsGateway() {
		return "gateway"
	}
	return "list"
}

func hasRoleSuffix(local string) bool {
	for _, r := range mail.RoleSuffixes {
		if strings.HasSuffix(local, "-"+string(r)) {
			return true
		}
	}
	return false
}

// List returns the list at address, if the actor may manage it. Every use
// case on one list starts here, so this is where the actor's access to
// lists is checked.
func (s *Service) List(ctx context.Context, address string) (*store.List, error) {
	l, role, err := s.ListAccess(ctx, address)
	if err == nil && role != store.ListOwner {
		return nil, forbiddenList(l.Address)
	}
	return l, err
}

// ListAccess returns the list at address and the actor's role on it
// (store.ListOwner or store.ListModerator): ErrForbidden when they have
// none, whether or not the list exists. The interfaces ask it first of
// every request on a list; each use case then asks the role it needs
// (List: an owner's, holdList: a moderator's).
func (s *Service) ListAccess(ctx context.Context, address string) (*store.List, string, error) {
	addr, err := mail.Normalize(address)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is not an email address", ErrInvalid, address)
	}
	l, err := s.st.ListByAddress(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound) && s.mayManage(addr, ""):
		return nil, "", fmt.Errorf("%w: no list %s", ErrNotFound, addr)
	case errors.Is(err, store.ErrNotFound):
		return nil, "", forbiddenList(addr)
	case err != nil:
		return nil, "", err
	}
	role, err := s.roleOn(ctx, l)
	if err != nil {
		return nil, "", err
	}
	if role == "" {
		return nil, "", forbiddenList(addr)
	}
	return l, role, nil
}

// CheckList settles access to the list at address before an interface
// reads a request on it: an owner's role, or with moderation (the held
// messages' pages and routes) a moderator's. Someone without it learns
// nothing else, not even what was wrong with the request.
func (s *Service) CheckList(ctx context.Context, address string, moderation bool) error {
	l, role, err := s.ListAccess(ctx, address)
	if err == nil && role != store.ListOwner && !moderation {
		return forbiddenList(l.Address)
	}
	return err
}

// Lists returns every list the actor may manage.
func (s *Service) Lists(ctx context.Context) ([]store.List, error) {
	ls, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	return s.visible(ctx, ls, store.ListOwner)
}

// Moderated returns the lists the actor moderates (or manages).
func (s *Service) Moderated(ctx context.Context) ([]store.List, error) {
	ls, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	return s.visible(ctx, ls, store.ListModerator)
}

// DeleteList deletes a list, its key and its members. Only an admin may.
func (s *Service) DeleteList(ctx context.Context, address string) error {
	if err := s.requireAdmin("delete a list"); err != nil {
		return err
	}
	l, err := s.List(ctx, address)
	if err != nil {
		return err
	}
	if err := s.st.DeleteList(ctx, l.Address); err != nil {
		return err
	}
	return s.audit(ctx, kindOf(l)+".delete", l.Address, "", "")
}

// ListKey returns the list's armored public key: the whole key, which
// is what members should use.
func (s *Service) ListKey(ctx context.Context, address string) ([]byte, error) {
	return s.listKey(ctx, address, false)
}

// ListClassicKey returns the list's armored public key without its
// post-quantum (RFC 9980 ML-KEM) subkey, for OpenPGP software that
// refuses a key holding one (pgp.Key.ClassicArmored). For a list key
// without one it is ListKey.
func (s *Service) ListClassicKey(ctx context.Context, address string) ([]byte, error) {
	return s.listKey(ctx, address, true)
}

func (s *Service) listKey(ctx context.Context, address string, classic bool) ([]byte, error) {
	l, err := s.List(ctx, address)
	if err != nil {
		return nil, err
	}
	k, err := pgp.ParseKey(l.PublicKey)
	if err != nil {
		return nil, err
	}
	if classic {
		return k.ClassicArmored(), nil
	}
	return k.Armored(), nil
}

// KeyInfo describes the list's key as it stands now.
func (s *Service) KeyInfo(l *store.List) (crypto.KeyInfo, error) {
	k, err := pgp.ParseKey(l.PublicKey)
	if err != nil {
		return crypto.KeyInfo{}, err
	}
	return k.Info(s.now()), nil
}

// AddMember pins keyData for email on the list: an OpenPGP public key
// (armored or binary) or an X.509 certificate (PEM or DER). A key or
// certificate that does not name email, is expired or revoked, or cannot
// be used for encryption is refused, saying which. The new member gets
// the welcome message unless the list turned it off (AddMemberWith).
func (s *Service) AddMember(ctx context.Context, list, email string, keyData []byte, isAdmin bool) (*store.Member, crypto.KeyInfo, error) {
	return s.AddMemberWith(ctx, list, email, keyData, MemberOptions{Admin: isAdmin})
}

// MemberOptions are how AddMemberWith adds a member. The zero value adds
// a member who is no list admin and who gets the welcome message when
// the list sends one.
type MemberOptions struct {
	Admin bool // a list admin
	// NoWelcome skips the welcome message for this one member (a bulk
	// import), whatever the list's welcome option says.
	NoWelcome bool
}

// AddMemberWith is AddMember with options. The welcome message (Welcome)
// is queued after the member is stored; when it cannot be, the member
// stays, and the log and the audit entry say why.
func (s *Service) AddMemberWith(ctx context.Context, list, email string, keyData []byte, opt MemberOptions) (*store.Member, crypto.KeyInfo, error) {
	l, m, info, err := s.addMember(ctx, list, email, keyData, opt.Admin)
	if err != nil {
		return nil, info, err
	}
	ds, note := s.welcome(ctx, l, m, opt)
	if len(ds) > 0 {
		if err := s.st.Commit(ctx, store.Outcome{ListID: l.ID, Deliveries: ds}); err != nil {
			note = s.welcomeFailed(l, m.Email, err)
		}
	}
	return m, info, s.audit(ctx, "member.add", l.Address, m.Email, memberDetail(info, opt.Admin)+"; "+note)
}

// addMember checks and stores a new member of list, without the welcome
// message and without an audit entry.
func (s *Service) addMember(ctx context.Context, list, email string, keyData []byte, isAdmin bool) (*store.List, *store.Member, crypto.KeyInfo, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, nil, crypto.KeyInfo{}, err
	}
	_, addr, err := mail.ParseAddress(email)
	if err != nil {
		return nil, nil, crypto.KeyInfo{}, fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	key, info, err := s.memberKey(keyData)
	if err != nil {
		return nil, nil, info, err
	}
	if err := s.judgeCRLs(ctx, l, key.Data, &info); err != nil {
		return nil, nil, info, err
	}
	if err := keyring.CheckMemberKey(info, addr, s.now()); err != nil {
		return nil, nil, info, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m := &store.Member{ListID: l.ID, Email: addr, Admin: isAdmin, CreatedAt: s.now(), Keys: []store.MemberKey{key}}
	if err := s.st.AddMember(ctx, m); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, nil, info, fmt.Errorf("%w: %s is already a member of %s", ErrExists, addr, l.Address)
		}
		return nil, nil, info, err
	}
	return l, m, info, nil
}

// memberDetail describes a member's key for the audit log.
func memberDetail(info crypto.KeyInfo, isAdmin bool) string {
	d := string(info.Engine) + " " + info.Fingerprint
	if isAdmin {
		d += ", list admin"
	}
	return d
}

// AddMemberKey gives an existing member a further key or certificate, for
// example a separate S/MIME signing certificate beside the encryption
// one. It must name the member's address and be valid now; it may be
// signing-only.
func (s *Service) AddMemberKey(ctx context.Context, list, email string, keyData []byte) (crypto.KeyInfo, error) {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return crypto.KeyInfo{}, err
	}
	key, info, err := s.memberKey(keyData)
	if err != nil {
		return info, err
	}
	if err := s.judgeCRLs(ctx, l, key.Data, &info); err != nil {
		return info, err
	}
	check := info
	check.CanEncrypt = info.CanEncrypt || info.CanSign // a signing-only key is fine here
	if err := keyring.CheckMemberKey(check, addr, s.now()); err != nil {
		return info, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := s.st.PutMemberKey(ctx, l.ID, addr, &key); err != nil {
		return info, err
	}
	return info, s.audit(ctx, "member.key.add", l.Address, addr, memberDetail(info, false))
}

// ChallengeMemberKey gives a member a new OpenPGP key only once they
// prove they hold it: the key is kept as pending and the member is sent a
// challenge encrypted to it, which they answer by mail signed with it
// (for a key that reached the owner by a channel they cannot vouch for).
func (s *Service) ChallengeMemberKey(ctx context.Context, list, email string, keyData []byte) (crypto.KeyInfo, error) {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return crypto.KeyInfo{}, err
	}
	if s.flow == nil {
		return crypto.KeyInfo{}, errors.New("admin: no flow configured")
	}
	k, info, err := s.challengeKey(addr, keyData)
	if err != nil {
		return info, err
	}
	return info, s.challenge(ctx, l, addr, k, "member.key.challenge")
}

// challengeKey parses and checks a key offered for addr with a challenge:
// an OpenPGP key (a certificate is vouched for by its issuer instead)
// that names addr and can be used now.
func (s *Service) challengeKey(addr string, keyData []byte) (*pgp.Key, crypto.KeyInfo, error) {
	if keyring.IsCertificate(keyData) {
		return nil, crypto.KeyInfo{}, fmt.Errorf("%w: a key proven by challenge must be an OpenPGP key; an S/MIME certificate is vouched for by its issuer", ErrInvalid)
	}
	k, err := pgp.ParseKey(keyData)
	if err != nil {
		return nil, crypto.KeyInfo{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	info := k.Info(s.now())
	if err := keyring.CheckMemberKey(info, addr, s.now()); err != nil {
		return nil, info, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return k, info, nil
}

// challenge sends addr, a member of l, a challenge encrypted to k, which
// they answer by mail signed with it; k becomes theirs then.
func (s *Service) challenge(ctx context.Context, l *store.List, addr string, k *pgp.Key, action string) error {
	if s.flow == nil {
		return errors.New("admin: no flow configured")
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return err
	}
	out, err := s.flow.ChallengeKey(ctx, l, addr, k, ref)
	if err != nil {
		return err
	}
	if err := s.st.Commit(ctx, out); err != nil {
		return err
	}
	return s.audit(ctx, action, l.Address, addr, "challenge sent for "+k.Fingerprint())
}

// OfferOwnKey is member self-service: someone who says they are email, a
// member of list, offers key as their new key. Nothing changes yet: a
// challenge encrypted to the key goes to email, and the key becomes the
// member's only when the answer, signed with it, comes back from that
// address. So whoever offers it must hold the key and read that mailbox.
//
// It needs no account, so it tells nothing about who is a member: for an
// address that is not a member of list, or a list that does not exist,
// it does nothing and returns nil, as for a member. Only a key that is
// unusable for email is refused (ErrInvalid).
func (s *Service) OfferOwnKey(ctx context.Context, list, email string, keyData []byte) error {
	_, addr, err := mail.ParseAddress(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	k, _, err := s.challengeKey(addr, keyData)
	if err != nil {
		return err
	}
	laddr, err := mail.Normalize(list)
	if err != nil {
		return fmt.Errorf("%w: %q is not a list address", ErrInvalid, list)
	}
	l, err := s.st.ListByAddress(ctx, laddr)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	ms, err := s.st.MembersByEmail(ctx, l.ID, []string{addr})
	if err != nil || len(ms) == 0 {
		return err
	}
	self := s.As(Actor{Email: addr, Role: store.RoleOwner, List: l.Address, Via: s.actor.Via})
	return self.challenge(ctx, l, addr, k, "member.key.self-service")
}

// memberKey parses a member's OpenPGP key or X.509 certificate.
func (s *Service) memberKey(data []byte) (store.MemberKey, crypto.KeyInfo, error) {
	rec, info, err := keyring.Describe(data, s.now())
	if err != nil {
		return store.MemberKey{}, info, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return store.MemberKey{Key: rec, Source: store.SourcePinned, CreatedAt: s.now()}, info, nil
}

// SetSMIMEIdentity gives the list an S/MIME identity (from a PKCS#12 file,
// or GenerateIdentity): members' S/MIME clients encrypt to its
// certificate, and the list signs with its key. The certificate must name
// the list's address and allow signing and encryption. An identity it
// replaces keeps decrypting posts for DefaultGrace (ReplaceSMIMEIdentity).
func (s *Service) SetSMIMEIdentity(ctx context.Context, list string, id *smime.Identity) (*store.List, error) {
	return s.ReplaceSMIMEIdentity(ctx, list, id, DefaultGrace)
}

// ReplaceSMIMEIdentity is SetSMIMEIdentity with the grace period of the
// identity it replaces: members whose clients still encrypt to the old
// certificate are read until grace has passed, as after an OpenPGP key
// rotation (0: not at all).
func (s *Service) ReplaceSMIMEIdentity(ctx context.Context, list string, id *smime.Identity, grace time.Duration) (*store.List, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if err := s.checkIdentity(l.Address, id); err != nil {
		return nil, err
	}
	if grace < 0 {
		return nil, fmt.Errorf("%w: the grace period must not be negative", ErrInvalid)
	}
	info := smime.CertInfo(id.Cert)
	secret, err := id.MarshalSecret()
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal(secret, keyring.ListKeyLabel(l.Address, info.Fingerprint))
	if err != nil {
		return nil, err
	}
	detail := "certificate " + info.Fingerprint
	retired, said := s.retireCert(store.EngineSMIME, "certificate", l.SMIMECert, l.SMIMESealed, info.Fingerprint, grace)
	detail += said
	l.SMIMECert, l.SMIMESealed = id.Cert.Raw, sealed
	if err := s.st.ReplaceSMIMEIdentity(ctx, l, info.Fingerprint, retired); err != nil {
		return nil, err
	}
	if err := s.keepListKeys(ctx, l); err != nil {
		return nil, err
	}
	return l, s.audit(ctx, "list.smime", l.Address, "", detail)
}

// retireCert is the retired record of a list certificate (its DER old
// and sealed key) that the one with newFpr replaces, decrypting for
// grace, and what the audit says of it; nil and "" when there was none,
// it comes back, or grace is zero.
func (s *Service) retireCert(engine, what string, old, sealed []byte, newFpr string, grace time.Duration) (*store.RetiredKey, string) {
	c, err := x509.ParseCertificate(old)
	if err != nil || len(sealed) == 0 || grace <= 0 || smime.Fingerprint(c) == newFpr {
		return nil, ""
	}
	now := s.now()
	r := &store.RetiredKey{Engine: engine, Fingerprint: smime.Fingerprint(c), PublicKey: old, SealedKey: sealed,
		RetiredAt: now, DecryptUntil: now.Add(grace)}
	return r, fmt.Sprintf("; %s %s decrypts until %s", what, r.Fingerprint, r.DecryptUntil.UTC().Format(time.DateOnly))
}

// GenerateSMIMEIdentity gives the list a new self-signed S/MIME identity,
// for trying S/MIME out: members must trust its certificate explicitly.
func (s *Service) GenerateSMIMEIdentity(ctx context.Context, list string) (*store.List, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	id, err := smime.GenerateIdentity(l.Name, l.Address, s.now(), s.rand)
	if err != nil {
		return nil, err
	}
	return s.SetSMIMEIdentity(ctx, list, id)
}

// ListCert returns the list's S/MIME certificate in PEM, followed by its
// ML-KEM certificate when it has one.
func (s *Service) ListCert(ctx context.Context, list string) ([]byte, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	if len(l.SMIMECert) == 0 {
		return nil, fmt.Errorf("%w: list %s has no S/MIME certificate (give it one with: %s)", ErrNotFound, l.Address, IdentityCommand(l.Address))
	}
	cert, err := x509.ParseCertificate(l.SMIMECert)
	if err != nil {
		return nil, err
	}
	certs := []*x509.Certificate{cert}
	if len(l.SMIMEKEMCert) > 0 {
		// The list's ML-KEM certificate (SetListKEM) follows: clients
		// that know ML-KEM (RFC 9936) encrypt to it, the others ignore it.
		kem, err := x509.ParseCertificate(l.SMIMEKEMCert)
		if err != nil {
			return nil, err
		}
		certs = append(certs, kem)
	}
	return smime.CertsPEM(certs...), nil
}

// OpenSMIMEIdentity unseals the list's S/MIME identity.
func (s *Service) OpenSMIMEIdentity(l *store.List) (*smime.Identity, error) {
	return s.sealer.OpenListIdentity(l)
}

// RemoveMember removes email from the list.
func (s *Service) RemoveMember(ctx context.Context, list, email string) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	if err := s.st.RemoveMember(ctx, l.ID, addr); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s is not a member of %s", ErrNotFound, addr, l.Address)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "member.remove", l.Address, addr, "")
}

// MemberView is a member with their keys as they stand now.
type MemberView struct {
	store.Member
	// Keys describes each of Member.Keys, in the same order.
	Keys []crypto.KeyInfo
	// CopyKey is the fingerprint of the key the member's copies are
	// encrypted to now, "" when they get none; PostQuantum says that
	// key is an ML-KEM one (pipeline.CopyKeys).
	CopyKey     string
	PostQuantum bool
}

// Members returns the list's members with key status.
func (s *Service) Members(ctx context.Context, list string) ([]MemberView, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	ms, err := s.st.Members(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	return s.memberViewsOf(ctx, l, ms)
}

// MembersPage is Members from offset, at most limit of them, and how
// many members the list has in all: only the page is read.
func (s *Service) MembersPage(ctx context.Context, list string, offset, limit int) ([]MemberView, int, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, 0, err
	}
	ms, total, err := s.st.MembersPage(ctx, l.ID, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	vs, err := s.memberViewsOf(ctx, l, ms)
	return vs, total, err
}

// Member returns one member of the list with key status.
func (s *Service) Member(ctx context.Context, list, email string) (MemberView, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return MemberView{}, err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return MemberView{}, fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	ms, err := s.st.MembersByEmail(ctx, l.ID, []string{addr})
	if err != nil {
		return MemberView{}, err
	}
	if len(ms) == 0 {
		return MemberView{}, fmt.Errorf("%w: %s is not a member of %s", ErrNotFound, addr, l.Address)
	}
	vs, err := s.memberViewsOf(ctx, l, ms)
	if err != nil {
		return MemberView{}, err
	}
	return vs[0], nil
}

// memberViewsOf describes the keys of the members ms of l as they stand
// now, revocation by the loaded CRLs included.
func (s *Service) memberViewsOf(ctx context.Context, l *store.List, ms []store.Member) ([]MemberView, error) {
	anchors, err := s.anchorsOf(ctx, l)
	if err != nil {
		return nil, err
	}
	rev, err := s.revocations(ctx, anchors, nil)
	if err != nil {
		return nil, err
	}
	vs := s.memberViews(ms, rev)
	return vs, s.markCopyKeys(ctx, l, ms, vs)
}

// markCopyKeys sets the CopyKey and PostQuantum of each view vs of the
// members ms.
func (s *Service) markCopyKeys(ctx context.Context, l *store.List, ms []store.Member, vs []MemberView) error {
	if s.flow == nil {
		return nil
	}
	keys, err := s.flow.CopyKeys(ctx, l, ms)
	if err != nil {
		return err
	}
	for i := range vs {
		k := keys[vs[i].Email]
		vs[i].CopyKey, vs[i].PostQuantum = k.Fingerprint, k.PostQuantum
	}
	return nil
}

// memberViews describes each member's keys as they stand now; a
// certificate that rev revokes is described as revoked.
func (s *Service) memberViews(ms []store.Member, rev *smime.Revocations) []MemberView {
	out := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		v := MemberView{Member: m}
		for _, mk := range m.Keys {
			var info crypto.KeyInfo
			if _, i, err := s.memberKey(mk.Data); err == nil {
				info = i
				markRevoked(rev, mk.Data, &info)
			}
			v.Keys = append(v.Keys, info)
		}
		out = append(out, v)
	}
	return out
}

// OpenListKey unseals the list's secret key, proving the master key opens it.
func (s *Service) OpenListKey(l *store.List) (*pgp.Key, error) { return s.sealer.OpenListKey(l) }

// AddTrustAnchors adds the certification authorities in data (PEM, one or
// more, or DER) to the list's S/MIME trust anchors (Sympa's cafile): their
// certificates are then trusted for the addresses they name. Only CA
// certificates are accepted.
func (s *Service) AddTrustAnchors(ctx context.Context, list string, data []byte) ([]*x509.Certificate, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	certs, err := caCertificates(data)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if err := s.st.AddTrustAnchor(ctx, l.ID, smime.Fingerprint(c), c.Raw); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, "trust.add", l.Address, smime.Fingerprint(c), c.Subject.String()); err != nil {
			return nil, err
		}
	}
	return certs, nil
}

// RemoveTrustAnchor removes a list's trust anchor by its fingerprint.
func (s *Service) RemoveTrustAnchor(ctx context.Context, list, fingerprint string) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	err = s.st.RemoveTrustAnchor(ctx, l.ID, strings.ToUpper(fingerprint))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s has no trust anchor %s", ErrNotFound, l.Address, fingerprint)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "trust.remove", l.Address, strings.ToUpper(fingerprint), "")
}

// TrustAnchors returns the list's own trust anchors (not those every
// list trusts, GlobalTrustAnchors).
func (s *Service) TrustAnchors(ctx context.Context, list string) ([]*x509.Certificate, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	ders, err := s.st.TrustAnchors(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	inst, err := s.st.InstallationTrustAnchors(ctx)
	if err != nil {
		return nil, err
	}
	ders = slices.DeleteFunc(ders, func(der []byte) bool {
		return slices.ContainsFunc(inst, func(a store.TrustAnchor) bool { return bytes.Equal(a.Cert, der) })
	})
	out := make([]*x509.Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// memberOf resolves list and email to an existing member's list and
// normalised address.
func (s *Service) memberOf(ctx context.Context, list, email string) (*store.List, string, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, "", err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	ms, err := s.st.Members(ctx, l.ID)
	if err != nil {
		return nil, "", err
	}
	if !slices.ContainsFunc(ms, func(m store.Member) bool { return m.Email == addr }) {
		return nil, "", fmt.Errorf("%w: %s is not a member of %s", ErrNotFound, addr, l.Address)
	}
	return l, addr, nil
}

// SetMemberCipher sets the content encryption of a member's S/MIME
// copies, above what their client announced: "aes256-cbc", "aes128-cbc",
// "aes256-gcm", "aes128-gcm", or "auto" to go by the announcement, then
// the list's smime_cipher (smime.Choose).
func (s *Service) SetMemberCipher(ctx context.Context, list, email, cipher string) error {
	return s.setMemberSMIME(ctx, list, email, "smime_cipher", cipher, smime.CipherNames(), s.st.SetMemberCipher)
}

// SetMemberKeyTransport sets the RSA key transport of a member's S/MIME
// copies, above what their client announced: "rsa-pkcs1v15",
// "rsa-oaep-sha256", "rsa-oaep-sha1", or "auto" to go by the
// announcement, then the list's smime_keytransport and the server's
// [smime] key_transport (smime.Choose).
func (s *Service) SetMemberKeyTransport(ctx context.Context, list, email, keyTransport string) error {
	return s.setMemberSMIME(ctx, list, email, "smime_keytransport", keyTransport, smime.KeyTransportNames(), s.st.SetMemberKeyTransport)
}

// setMemberSMIME checks value, one of allowed or "auto", and stores it
// with set as the member's setting name.
func (s *Service) setMemberSMIME(ctx context.Context, list, email, name, value string, allowed []string,
	set func(ctx context.Context, listID int64, email, value string) error) error {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return err
	}
	stored, err := smimeSetting(value, allowed)
	if err != nil {
		return fmt.Errorf("%w: %s %q is %v", ErrInvalid, name, value, err)
	}
	if err := set(ctx, l.ID, addr, stored); err != nil {
		return err
	}
	return s.audit(ctx, "member.set", l.Address, addr, name+"="+orDefault(stored, "auto"))
}

// smimeSetting checks the value of an S/MIME encryption setting, one of
// allowed (smime.CipherNames, smime.KeyTransportNames) or "auto", and
// returns what is stored: "" for auto.
func smimeSetting(value string, allowed []string) (string, error) {
	if value == "auto" || value == "" {
		return "", nil
	}
	if !slices.Contains(allowed, value) {
		return "", fmt.Errorf("not %s or auto", strings.Join(allowed, ", "))
	}
	return value, nil
}

// SetMemberFormat sets the format of a member's copies: "pgpmime",
// "inline", "smime", or "auto" for the list's. When the chosen format
// has no usable key, the member gets the other one.
func (s *Service) SetMemberFormat(ctx context.Context, list, email, format string) error {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return err
	}
	switch {
	case format == "auto":
		format = ""
	case !validFormat(format):
		return fmt.Errorf("%w: format %q is not pgpmime, inline, smime or auto", ErrInvalid, format)
	}
	if err := s.st.SetMemberFormat(ctx, l.ID, addr, format); err != nil {
		return err
	}
	return s.audit(ctx, "member.set", l.Address, addr, "format="+orDefault(format, "auto"))
}

// SetMemberDelivery turns copies to a member "on" (forgetting their
// bounces) or "off" (they may still post).
func (s *Service) SetMemberDelivery(ctx context.Context, list, email, value string) error {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return err
	}
	switch value {
	case "on":
		err = s.st.EnableMember(ctx, l.ID, addr)
	case "off":
		err = s.st.Commit(ctx, store.Outcome{ListID: l.ID, Disable: &store.Disable{ListID: l.ID, Email: addr,
			Reason: "turned off by an administrator", At: s.now()}})
	default:
		return fmt.Errorf("%w: delivery %q is not on or off", ErrInvalid, value)
	}
	if err != nil {
		return err
	}
	return s.audit(ctx, "member.set", l.Address, addr, "delivery="+value)
}
