// Package store defines the records Sealpost keeps — lists, members, the
// inbound spool, the per-recipient outbound queue, holds and replay marks —
// and the errors their repositories return. Implementations live below it
// (store/sqlstore); consumers declare the small interfaces they need.
//
// Every record that holds message bytes holds ciphertext or a notice that
// Sealpost wrote itself, never decrypted content (DESIGN §4.6).
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Errors returned by repositories.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrInUse is returned when deleting a key a member still uses.
	ErrInUse = errors.New("store: key in use")
	// ErrReplay is returned by Commit when the outcome's replay mark was
	// already recorded: the same signature was accepted before (DESIGN §4.4).
	ErrReplay = errors.New("store: signature already seen")
	// ErrBusy is returned when dropping a delivery that a delivery
	// attempt holds right now.
	ErrBusy = errors.New("store: delivery in progress")
	// ErrClaimed is returned by Admit while another attempt is
	// processing the same message (the same bytes to the same list).
	ErrClaimed = errors.New("store: message being processed by another attempt")
)

// Modes of a list row (DESIGN §1).
const (
	ModeList    = "list"    // a mailing list: fan-out to members
	ModeGateway = "gateway" // one address in front of a helpdesk
)

// List is one mailing list, or one gateway, and its own key.
type List struct {
	ID             int64
	Mode           string // ModeList or ModeGateway; "" is ModeList
	Address        string // post address, normalised addr-spec
	Name           string // display name, may be empty
	Owner          string // owner's addr-spec: receives notices
	KeyFingerprint string
	PublicKey      []byte // binary transferable public key
	SealedKey      []byte // secret key sealed under the master key
	// SMIMECert is the list's S/MIME certificate (DER), SMIMESealed its
	// identity (key and chain) sealed under the master key; both empty
	// when the list has no S/MIME identity.
	SMIMECert   []byte
	SMIMESealed []byte
	// SMIMEKEMCert is the list's ML-KEM certificate (RFC 9935, DER)
	// beside its S/MIME identity, SMIMEKEMSealed its private key (PKCS#8)
	// sealed under the master key; both empty when the list has none.
	SMIMEKEMCert   []byte
	SMIMEKEMSealed []byte
	// Retired are the OpenPGP keys this list's key replaced, newest first;
	// they decrypt until their grace period ends.
	Retired  []RetiredKey
	Settings ListSettings
	// Gateway holds a gateway's own options; zero for a list.
	Gateway   GatewaySettings
	CreatedAt time.Time
	// RosterVersion changes, in the store, whenever the list's members,
	// their keys on file or those keys' data change; no two states of
	// any list's roster share one (migration 022). Read with the list, it
	// says whether members loaded before are still the list's members.
	RosterVersion int64
}

// IsGateway reports whether l is a gateway rather than a mailing list.
func (l *List) IsGateway() bool { return l.Mode == ModeGateway }

// GatewaySettings are the options of a gateway in front of a helpdesk.
// The zero value is the default, except that DeliverTo must be set.
type GatewaySettings struct {
	// DeliverTo is where inbound mail goes once decrypted and verified:
	// smtp://HOST:PORT, lmtp://HOST:PORT, lmtp:/PATH/TO/SOCKET or a
	// Maildir directory (maildir:/PATH or /PATH).
	DeliverTo string `json:"deliver_to"`
	// RequireEncryption and RequireSignature refuse inbound mail that is
	// not encrypted to the gateway, or not signed with a good signature.
	// By default ordinary mail passes, marked as such.
	RequireEncryption bool `json:"require_encryption,omitempty"`
	RequireSignature  bool `json:"require_signature,omitempty"`
	// AttachOriginal adds the message as received (the ciphertext) to
	// what the helpdesk gets (RT's "store encrypted as received").
	AttachOriginal bool `json:"attach_original,omitempty"`
	// UnsignedReplies sends the helpdesk's replies without the gateway's
	// signature (sign_replies=false).
	UnsignedReplies bool `json:"unsigned_replies,omitempty"`
	// EncryptReplies is when replies are encrypted: "" (when possible:
	// whenever the recipient has a usable key, and always in a
	// conversation that arrived encrypted) or "always".
	EncryptReplies string `json:"encrypt_replies,omitempty"`
	// Archive keeps every message of every conversation, sealed under
	// the master key, for authorised staff.
	Archive bool `json:"archive,omitempty"`
	// NoVerdictBanner leaves out the line that says the verdict at the
	// start of the text the helpdesk shows (verdict_banner=off).
	NoVerdictBanner bool `json:"no_verdict_banner,omitempty"`
	// SubmitClients are the networks (CIDR) the helpdesk may submit
	// replies from without SMTP AUTH.
	SubmitClients []string `json:"submit_clients,omitempty"`
	// SubmitSecret is the SHA-256 (hex) of the password the helpdesk
	// authenticates with (user name: the gateway's address); "" when
	// none is set. The password is random, so a plain hash suffices.
	SubmitSecret string `json:"submit_secret,omitempty"`

	// ReplySubject is the outer Subject of an encrypted reply:
	// ReplySubjectHidden ("...", RFC 9788), ReplySubjectTag (only the
	// helpdesk's ticket tag, then "...") or ReplySubjectClear (the
	// reply's Subject). Replies in clear always show their Subject.
	ReplySubject string `json:"reply_subject,omitempty"`
	// TicketTag is the regular expression (RE2) that finds the
	// helpdesk's ticket tag in a Subject; "" is the default, which knows
	// Request Tracker, Znuny/OTRS, Zammad and osTicket.
	TicketTag string `json:"ticket_tag,omitempty"`

	// Staff are the helpdesk's own people: addresses ("bob@example.net")
	// and whole domains ("*@example.org", not its subdomains), lower
	// case. A staff address is never a stranger to an encrypted
	// conversation, gets no notice asking for a key, and never becomes
	// one of a conversation's answerable addresses through a reply.
	Staff []string `json:"staff,omitempty"`
	// StaffWithoutKey is what a staff address without a usable key gets
	// of a reply that must be encrypted: "" (refuse: nothing, and the
	// helpdesk a report) or "clear" (a copy in clear, signed as
	// sign_replies says).
	StaffWithoutKey string `json:"staff_without_key,omitempty"`
}

// Values of GatewaySettings.ReplySubject.
const (
	ReplySubjectHidden = ""
	ReplySubjectTag    = "tag"
	ReplySubjectClear  = "clear"
)

// Values of GatewaySettings.StaffWithoutKey.
const (
	StaffRefuse = ""
	StaffClear  = "clear"
)

// Values of GatewaySettings.EncryptReplies.
const (
	EncryptWhenPossible = ""
	EncryptAlways       = "always"
)

// RetiredKey is a list key that a newer one replaced: an OpenPGP key, an
// S/MIME identity (Engine EngineSMIME: PublicKey is its certificate's
// DER), or an ML-KEM certificate (Engine RetiredMLKEM: PublicKey is its
// DER, SealedKey its sealed private key).
type RetiredKey struct {
	Engine       string // EngineOpenPGP ("" too), EngineSMIME or RetiredMLKEM
	Fingerprint  string
	PublicKey    []byte
	SealedKey    []byte // sealed under the master key with the list's label
	RetiredAt    time.Time
	DecryptUntil time.Time
}

// ListSettings are a list's policy options. The zero value is the secure
// default.
type ListSettings struct {
	// Subscribe says whether people may join by themselves:
	// SubscribeClosed (the default, also for ""), SubscribeConfirm (once
	// they answer the challenge sent to their address, encrypted to the
	// key they offer) or SubscribeModerate (then also once an owner
	// approves).
	Subscribe string `json:"subscribe,omitempty"`
	// AllowSEIPDv2 lets outbound copies use SEIPD v2 (AEAD) for members
	// whose keys advertise it. Off by default: GnuPG 2.2 cannot read it.
	AllowSEIPDv2 bool `json:"allow_seipd_v2,omitempty"`
	// OutgoingFormat is the format of copies for members who do not
	// choose one: FormatPGPMIME (the default, also for ""), FormatInline
	// or FormatSMIME. A member without a key for it gets the other format.
	OutgoingFormat string `json:"outgoing_format,omitempty"`
	// SMIMEOpaque signs S/MIME copies opaquely (application/pkcs7-mime
	// signed-data) instead of as multipart/signed.
	SMIMEOpaque bool `json:"smime_opaque,omitempty"`
	// SMIMECipher and SMIMEKeyTransport encrypt the S/MIME copies of
	// members whose client announced nothing and who have no setting of
	// their own ("aes256-gcm", "rsa-oaep-sha256", ...); empty means
	// AES-256-CBC and, unless the server's [smime] key_transport says
	// otherwise, RSA PKCS#1 v1.5, which every client reads.
	SMIMECipher       string `json:"smime_cipher,omitempty"`
	SMIMEKeyTransport string `json:"smime_keytransport,omitempty"`
	// RequireBinding refuses posts whose signed content names no
	// recipient (no protected To/Cc, no X-LIST-NAME line, no intended
	// recipient), as clients without protected headers send them; by
	// default they are accepted and marked (DESIGN §4.4).
	RequireBinding bool `json:"require_binding,omitempty"`
	// NoAutocrypt and NoOpenPGPHeader switch off the Autocrypt header
	// (Autocrypt Level 1) and the OpenPGP header that copies carry by
	// default to announce the list's key.
	NoAutocrypt     bool `json:"no_autocrypt,omitempty"`
	NoOpenPGPHeader bool `json:"no_openpgp_header,omitempty"`
	// AutocryptImport keeps the OpenPGP key a member's accepted post
	// announces in an Autocrypt header, when that header is inside the
	// signed content or announces the very key that signed.
	AutocryptImport bool `json:"autocrypt_import,omitempty"`
	// NoWelcome stops the welcome message (notices template "welcome")
	// that every new member gets by default (welcome=false).
	NoWelcome bool `json:"no_welcome,omitempty"`
	// LegacyDisplay adds a part showing the protected headers to clients
	// that do not read them (RFC 9788 §4.5).
	LegacyDisplay bool `json:"legacy_display,omitempty"`
	// Actions maps a rule breach (policy.Outcome: "unsigned",
	// "unknown_signer", ...) to what the list does with such a post
	// (policy.Action); absent ones take their default, reject.
	Actions map[string]string `json:"actions,omitempty"`
	// AdminOnly takes posts from list admins only (announcement lists).
	AdminOnly bool `json:"receive_admin_only,omitempty"`
	// AllowFromMismatch accepts posts signed by a member whose From names
	// someone else (signer_must_match_from=false).
	AllowFromMismatch bool `json:"allow_from_mismatch,omitempty"`
	// NoSelfCopy leaves the sender out of their post's recipients
	// (deliver_selfsent=false).
	NoSelfCopy bool `json:"no_self_copy,omitempty"`
	// MaxMessageSize bounds a post to this list in bytes; 0 follows the
	// server's [smtp] max_message_bytes.
	MaxMessageSize int64 `json:"max_message_size,omitempty"`
	// Language is the language of the list's notices ("en", "de"); ""
	// means English.
	Language string `json:"language,omitempty"`
	// Templates are the list's own notice texts, keyed "LANG/NAME",
	// replacing the shipped ones (package notices).
	Templates map[string]string `json:"templates,omitempty"`
	// AdminKeywords are the request keywords (upper case, without X-)
	// only list admins may send; nil means admin.DefaultAdminKeywords.
	AdminKeywords []string `json:"admin_keywords,omitempty"`
	// SendPlaintext gives members without a usable key a copy in clear,
	// signed by the list, instead of a notice (send_encrypted_only=false).
	SendPlaintext bool `json:"send_plaintext,omitempty"`
	// SubjectPrefix is put before the Subject of copies ("[team]"),
	// unless the Subject already carries it.
	SubjectPrefix string `json:"subject_prefix,omitempty"`
	// NewMessageID gives copies a Message-ID of the list's instead of the
	// post's (keep_msgid=false).
	NewMessageID bool `json:"new_message_id,omitempty"`
	// RealFrom puts the sender's own address in From instead of "Sender
	// via list" <list> (munge_from=false; breaks DMARC alignment).
	RealFrom bool `json:"real_from,omitempty"`
	// ReplyToSender points Reply-To at the sender instead of the list.
	ReplyToSender bool `json:"reply_to_sender,omitempty"`
	// Anonymous hides who posted: From is the list, the Message-ID and
	// Date are the list's, and nothing names the signer. A member's
	// signature is still required.
	Anonymous bool `json:"anonymous,omitempty"`
	// HeadersToMeta puts a block with the post's From, To, Cc, Date,
	// signature and encryption at the top of each copy (Schleuder).
	HeadersToMeta bool `json:"headers_to_meta,omitempty"`
	// Footer is text added as a last part of each copy.
	Footer string `json:"footer,omitempty"`
	// BounceThreshold members are disabled after this many bounces
	// within BounceDays days; 0 means the defaults.
	BounceThreshold int `json:"bounce_threshold,omitempty"`
	BounceDays      int `json:"bounce_days,omitempty"`
	// HoldDays is how long a held message waits for a moderator before
	// it is dropped (the owner is told); 0 means DefaultHoldDays.
	HoldDays int `json:"hold_days,omitempty"`
}

// Defaults of list settings whose zero value means "the default".
const (
	DefaultHoldDays        = 14 // held messages wait this many days
	DefaultBounceThreshold = 5  // bounces within DefaultBounceDays disable a member
	DefaultBounceDays      = 10
)

// Member is a subscriber of a list with their keys.
type Member struct {
	ListID int64
	Email  string // normalised addr-spec
	Admin  bool
	// Format is the member's format for copies (FormatPGPMIME,
	// FormatInline or FormatSMIME); empty follows the list's.
	Format    string
	Keys      []MemberKey
	CreatedAt time.Time
	// DisabledAt is when delivery to the member stopped (too many
	// bounces); zero while they get copies. They may still post.
	DisabledAt     time.Time
	DisabledReason string
	// SMIMECipher and SMIMEKeyTransport are how the member's S/MIME
	// copies are encrypted when the list owner says so ("aes256-cbc",
	// "rsa-pkcs1v15", ...: smime.ParseCipher, smime.ParseKeyTransport);
	// empty follows what their client announced, then the list.
	SMIMECipher       string
	SMIMEKeyTransport string
}

// Copy formats a list or member may choose.
const (
	FormatPGPMIME = "pgpmime"
	FormatInline  = "inline" // inline PGP, RT's "Inline" format
	FormatSMIME   = "smime"
)

// Engines of member keys.
const (
	EngineOpenPGP = "openpgp"
	EngineSMIME   = "smime"
)

// RetiredMLKEM is the Engine of a retired list ML-KEM certificate
// (List.SMIMEKEMCert): it decrypts posts sent to it during its grace
// period, beside the list's S/MIME identity. Only retired keys have it.
const RetiredMLKEM = "smime-kem"

// Key sources.
const (
	SourcePinned    = "pinned"    // given by an administrator
	SourceHarvested = "harvested" // taken from a validly signed post (Sympa's harvesting)
	SourceAutocrypt = "autocrypt" // from the Autocrypt header of a member's accepted post
	SourceConfirmed = "confirmed" // sent by the member by mail and proven by a challenge
)

// Key is one OpenPGP transferable public key or X.509 certificate in
// the keyring, which every list and member shares: members reference
// keys by fingerprint.
type Key struct {
	Fingerprint string // OpenPGP fingerprint, or SHA-256 of the certificate (upper-case hex)
	Engine      string // EngineOpenPGP or EngineSMIME
	Data        []byte // transferable public key, or the DER certificate
	// Index lists the values the key is found by besides its fingerprint.
	// A write replaces the key's index when Index is non-nil.
	Index        []IndexEntry
	IndexVersion int       // the indexer version that made Index; 0 when never indexed
	KeyCreated   time.Time // when the key or certificate was made
	Expires      time.Time // zero: does not expire
	Revoked      bool
	Weak         bool // under keyring.WeakBits: flagged, not refused
	// Notes say what Sealpost left unused of the key as it was given and
	// why (a GnuPG 2.5 "Kyber" subkey): Data no longer shows it.
	Notes     []string
	AddedAt   time.Time
	UpdatedAt time.Time
}

// Addresses returns the email addresses the key is indexed under.
func (k *Key) Addresses() []string {
	var out []string
	for _, e := range k.Index {
		if e.Kind == IndexEmail {
			out = append(out, e.Value)
		}
	}
	return out
}

// IndexEntry is one value a key is looked up by.
type IndexEntry struct {
	Kind  string // one of the Index* kinds
	Value string
}

// Kinds of index entries.
const (
	IndexKeyID        = "keyid"         // OpenPGP long key ID (16 upper hex) of the primary key or a subkey
	IndexSubkey       = "subkey"        // OpenPGP subkey fingerprint
	IndexEmail        = "email"         // normalised addr-spec of a user ID or certificate address
	IndexIssuerSerial = "issuer-serial" // X.509: SHA-256 of the issuer name (hex) ":" serial (hex)
	IndexSKI          = "ski"           // X.509 subject key identifier (hex)
)

// PutResult says what writing a key changed.
type PutResult int

// Results of PutKeys.
const (
	KeyNew       PutResult = iota + 1 // the keyring did not have it
	KeyUpdated                        // it had it with other data
	KeyUnchanged                      // it had it exactly so
)

// KeyUser is a list whose own key a key is (Email empty) or a member of
// List who holds it.
type KeyUser struct {
	List  string
	Email string
	// RetiredUntil is set for a list key that a newer one replaced: it
	// decrypts until then.
	RetiredUntil time.Time
}

// MemberKey is one OpenPGP key or X.509 certificate of a member: a key of
// the keyring and how the member came by it.
type MemberKey struct {
	Key
	Source string // SourcePinned, SourceHarvested or SourceAutocrypt
	// Capabilities are the S/MIME content encryptions and RSA key
	// transports the member's client announced, in its order (e.g.
	// "aes256-gcm,aes256-cbc,rsa-oaep-sha256"; smime.CapabilityNames);
	// empty when unknown.
	Capabilities string
	CreatedAt    time.Time // when the member got the key
}

// Key returns the member's newest key of the given engine, or nil.
func (m *Member) Key(engine string) *MemberKey {
	var best *MemberKey
	for i := range m.Keys {
		k := &m.Keys[i]
		if k.Engine == engine && (best == nil || k.CreatedAt.After(best.CreatedAt)) {
			best = k
		}
	}
	return best
}

// Inbound is a received message in the spool while it is processed.
type Inbound struct {
	ID           string // reference ID, also used in logs and 4xx replies
	ListID       int64
	Digest       string // hex SHA-256 of Raw; the same message received again shares it
	EnvelopeFrom string
	// Raw is the message as it arrived. The spool never keeps it: it
	// keeps Sealed, Raw sealed under the master key (DESIGN §4.6), since
	// a message may arrive unencrypted.
	Raw    []byte
	Sealed []byte
	// Attempts counts the attempts at processing this message that
	// began and did not finish (a crash), including the current one.
	// An attempt that ends, even with a transient error, is not counted.
	Attempts   int
	ReceivedAt time.Time
}

// Decision is how a received message was answered. It is kept for the
// message's retries: the same bytes to the same address again get the
// same answer, and nothing is sent twice (DESIGN §4.4, §5).
type Decision struct {
	ListID int64
	Digest string // hex SHA-256 of the message as received
	// Refused is the policy reason (policy.Reason's name) of a refusal;
	// "" when the message was taken (distributed, held, dropped, handed
	// to a helpdesk).
	Refused   string
	DecidedAt time.Time
}

// DeliveryState is where an outbound copy stands.
type DeliveryState string

// Delivery states.
const (
	Pending DeliveryState = "pending"
	Sent    DeliveryState = "sent"
	Failed  DeliveryState = "failed" // gave up: permanent error or retries exhausted
)

// Delivery kinds.
const (
	KindPost     = "post"     // a member's copy of a list post
	KindNotice   = "notice"   // a notice Sealpost wrote (owner notices, DSNs)
	KindHelpdesk = "helpdesk" // inbound mail of a gateway, for its helpdesk
	KindReply    = "reply"    // a helpdesk's reply, sent on by its gateway
	KindSendKey  = "sendkey"  // the list's key, answering mail to LIST-sendkey (counted for its limits)
)

// Delivery is one message to one envelope recipient in the outbound queue.
type Delivery struct {
	ID     int64
	Ref    string // the inbound message's reference ID
	ListID int64
	Kind   string
	From   string // envelope sender
	To     string // envelope recipient
	Data   []byte // the complete message: encrypted, or a notice with no decrypted content
	// Size is the length of Data; a queue listing leaves Data out and
	// sets only Size.
	Size int
	// Purged is when Data was removed from a sent or failed delivery
	// after its retention ([queue] keep_days, failed_keep_days): the
	// delivery is a small record since (Data empty, Size 0) and cannot
	// be sent again. Zero while the message is kept.
	Purged time.Time
	// Route is where the delivery goes when not through the default
	// transport: a gateway's DeliverTo.
	Route string
	// Sealed says Data is sealed under the master key (keyring.Sealer,
	// keyring.DeliveryLabel) because the message is plaintext.
	Sealed bool
	// BodyID names the PostBody the message is rendered from when it is
	// delivered (Data is then empty and Size the body's); Recipient is
	// how its recipient receives it (which key, which format), as the
	// pipeline wrote it. A delivery of an Outcome with a Body and a
	// Recipient gets that body's id when it is committed. 0 for a
	// delivery whose message is Data.
	BodyID      int64
	Recipient   string
	State       DeliveryState
	Attempts    int
	NextAttempt time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Attempt is the result of one delivery attempt.
type Attempt struct {
	ID    int64
	State DeliveryState // Sent, Failed, or Pending to retry at Next
	Next  time.Time
	Error string // the last error, "" on success
	At    time.Time
}

// Hold keeps a message that could not be processed, as received, for the
// owner to inspect.
type Hold struct {
	ID           int64
	ListID       int64
	Ref          string
	EnvelopeFrom string
	Reason       string
	// Raw is the message as received. A repository keeps it sealed
	// under the master key (keyring.HoldLabel) when Sealed is set; rows
	// from before sealing have Sealed false.
	Raw       []byte
	Sealed    bool
	Size      int // length of the message as received
	CreatedAt time.Time
}

// Outcome is everything processing one inbound message changes. A
// repository applies it in one transaction: remove the spooled message,
// record the replay mark, enqueue the deliveries, keep the hold.
type Outcome struct {
	// SpoolID is the spooled message this outcome settles: it is removed
	// and its Decision recorded for its retries.
	SpoolID string
	// Refused is the policy reason (policy.Reason's name) the message was
	// refused for; "" when it was taken.
	Refused string
	// Decided records the decision on a message that was not spooled (a
	// helpdesk's submission), for its retries.
	Decided *Decision
	Replay  [][]byte // signature digests to record for ListID; any seen before makes it a replay
	// Unbound records the marks for every list, not ListID's alone: the
	// content was bound to no list (DESIGN §4.4), so it is a replay on
	// any list once one took it.
	Unbound    bool
	ListID     int64
	Deliveries []Delivery
	Hold       *Hold
	Harvest    []Harvested
	// Pending records a key a member asked for, replacing any earlier
	// request of theirs; Confirmed removes the request a member answered
	// (its key arrives through Harvest).
	Pending   *PendingKey
	Confirmed *PendingKey
	// Subscription records a request to join or leave the list, with its
	// challenge among Deliveries, replacing any earlier one of the same
	// address and action.
	Subscription *Subscription
	// Warned records expiry warnings sent with Deliveries.
	Warned []KeyWarning
	// Released is the hold this outcome releases (removed with it), or 0.
	Released int64
	// Bounce records a bounce of a member's copy; Disable stops delivery
	// to a member.
	Bounce  *Bounce
	Disable *Disable
	// Audit records automatic changes the outcome makes (a member's
	// delivery stopped by bounces) in the audit log, with them.
	Audit []AuditEntry
	// Thread records message-ids of a gateway's conversation; Archive
	// keeps messages in its archive.
	Thread  *ThreadMark
	Archive []Archived
	// Body is the post the outcome's deliveries with a Recipient are
	// rendered from; stored once, whatever the number of members.
	Body *PostBody
}

// PostBody is a list post signed once in each format it is sent in, with
// what rendering each member's copy needs, sealed under the master key
// (it is plaintext: DESIGN §4.6). A repository deletes it once none of
// its deliveries is pending any more (DESIGN §5).
type PostBody struct {
	ID        int64
	Ref       string
	ListID    int64
	Sealed    []byte
	CreatedAt time.Time
}

// ThreadMark puts message-ids into a gateway's conversation, creating it
// when new; Encrypted marks the conversation as one that arrived
// encrypted (it never becomes unmarked).
type ThreadMark struct {
	Thread     string
	MessageIDs []string
	Encrypted  bool
	// Answerable are addresses the conversation may now be answered to
	// (added to those it had). Guard makes the conversation answered
	// only to its answerable addresses once it is encrypted (it never
	// becomes unguarded).
	Answerable []string
	Guard      bool
	// Tag is the conversation's ticket tag from now on; "" leaves the
	// one it has.
	Tag string
	At  time.Time
}

// Thread is one conversation of a gateway.
type Thread struct {
	ID        string // the conversation's first message-id
	Encrypted bool
	// Answerable are the addresses the conversation may be answered to
	// once it is encrypted and Guarded (set by FindThread only).
	// Conversations from before these were kept are not guarded until
	// their next inbound message.
	Answerable []string
	Guarded    bool
	// Tag is the helpdesk's ticket tag of the conversation, as its
	// latest reply that had one wrote it (before any, as the customer's
	// signed mail carried it); "" when none is known.
	Tag       string
	Messages  int // messages in the archive
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Archived is one message of a gateway's archive, sealed under the
// master key (keyring.ArchiveLabel).
type Archived struct {
	ID        int64
	ListID    int64
	Thread    string
	Direction string // "in" (to the helpdesk) or "out" (a reply)
	MessageID string
	Ref       string
	Sealed    []byte
	CreatedAt time.Time
}

// Bounce is one bounced copy.
type Bounce struct {
	ListID int64
	Email  string
	Status string // the DSN status, e.g. "5.1.1"; "" when the bounce was no DSN
	At     time.Time
}

// Disable stops delivery to a member.
type Disable struct {
	ListID int64
	Email  string
	Reason string
	At     time.Time
}

// KeyWarning records that the holder of a key was told it expires soon.
type KeyWarning struct {
	ListID      int64
	Email       string // the member, or "" for the list's own key
	Fingerprint string
	At          time.Time
}

// PendingKey is a key a member asked for by mail, waiting for the proof
// that they hold its secret part.
type PendingKey struct {
	ListID    int64
	Email     string
	Key       Key    // written into the keyring with the request
	TokenHash []byte // SHA-256 of the challenge code
	CreatedAt time.Time
	ExpiresAt time.Time
}

// The values of ListSettings.Subscribe.
const (
	SubscribeClosed   = "closed"
	SubscribeConfirm  = "confirm"
	SubscribeModerate = "moderate"
)

// Subscription actions and states.
const (
	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"
	// StateChallenged waits for the person's answer to the challenge;
	// StateApproval, answered, waits for an owner (subscribe = moderate).
	StateChallenged = "challenged"
	StateApproval   = "approval"
)

// Subscription is a person's request to join a list (with the key they
// offer) or to leave it, waiting for their answer to the challenge sent
// to the address (proof that they hold the key and read the mailbox)
// and, where the list says so, for an owner's approval.
type Subscription struct {
	ListID int64
	Email  string
	Action string // ActionSubscribe or ActionUnsubscribe
	State  string // StateChallenged or StateApproval
	// Key is the offered key or certificate (subscribe); it reaches the
	// keyring only once the person is a member.
	Key         []byte
	Engine      string
	Fingerprint string
	TokenHash   []byte // SHA-256 of the challenge code
	Via         string // where it was asked: "web" or "mail"
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AnsweredAt  time.Time
}

// Harvested is a member key learnt from a validly signed post. With
// Contact, the address becomes a member first if it is not one (a
// gateway's correspondent); otherwise only members' keys are kept.
type Harvested struct {
	ListID  int64
	Email   string
	Key     MemberKey
	Contact bool
}

// Roles of an account of the admin UI and API.
const (
	RoleAdmin = "admin" // everything, on every list
	RoleOwner = "owner" // the lists whose owner address is the account's
)

// ListRole gives the account of Email a role on one list: ListOwner
// (manages everything of the list, like its owner address) or
// ListModerator (decides on its held messages only).
type ListRole struct {
	ListID  int64
	Email   string
	Role    string
	AddedAt time.Time
}

// Roles on one list (ListRole.Role).
const (
	ListOwner     = "owner"
	ListModerator = "moderator"
)

// Account is a person who may sign in to the admin UI or hold API tokens.
type Account struct {
	ID           int64
	Email        string // normalised addr-spec
	Role         string // RoleAdmin or RoleOwner
	PasswordHash string // argon2id, PHC string format
	// TOTPSecret is the account's two-factor secret (RFC 6238), sealed
	// with the master key; empty when it has none.
	TOTPSecret []byte
	// TOTPStep is the last time step a code was accepted for: a code
	// counts once.
	TOTPStep  int64
	CreatedAt time.Time
	UpdatedAt time.Time
	LastLogin time.Time
}

// Token is an API token of an account. Only the SHA-256 of its secret is
// kept.
type Token struct {
	ID        int64
	AccountID int64
	Name      string
	Hash      string // hex SHA-256 of the secret
	ListID    int64  // the one list it may act on; 0 for all of the account's
	CreatedAt time.Time
	LastUsed  time.Time
}

// PasswordReset is a link, sent by mail, that sets an account's password
// once. Only the SHA-256 of the link's secret is kept.
type PasswordReset struct {
	TokenHash string // hex SHA-256 of the link's secret
	AccountID int64
	// Stamp is PasswordStamp of the account's password hash when the
	// link was made: the link is void once the password changed.
	Stamp     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasswordStamp is the hex SHA-256 of a password hash (the PHC string),
// which a PasswordReset keeps to tell whether the password changed since.
func PasswordStamp(passwordHash string) string {
	sum := sha256.Sum256([]byte(passwordHash))
	return hex.EncodeToString(sum[:])
}

// Session is a signed-in browser. Only the SHA-256 of the cookie's secret
// is kept.
type Session struct {
	Hash      string // hex SHA-256 of the cookie's secret
	AccountID int64
	CSRF      string // the token every form and unsafe request must carry
	// Stage is "" for a signed-in session; SessionCode or SessionEnrol
	// for one that is halfway, good for nothing but its next step.
	Stage     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Stages of a session that is not signed in yet.
const (
	// SessionCode: the password was right; a two-factor code is due.
	SessionCode = "code"
	// SessionEnrol: two-factor sign-in is required and not set up yet.
	SessionEnrol = "enrol"
)

// AuditEntry records one change: who made it, through what, when, to what.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // an account's email, or "operator" for the command line
	Via    string // "cli", "api", "web", "mail"
	Action string // e.g. "member.add"
	List   string // the list's address, or "" when the change is not a list's
	Target string // what was changed: a member, a key, a hold, a delivery
	Detail string
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	// Lists restricts the entries to those of these lists; nil means all,
	// including entries of no list.
	Lists  []string
	Before int64 // entries with a smaller ID; 0 for the newest
	Limit  int
}

// DeliveryQuery selects deliveries of the outbound queue, oldest first.
type DeliveryQuery struct {
	ListIDs []int64 // nil means every list
	States  []DeliveryState
	Limit   int
}

// ListCounts are a list's numbers at a glance.
type ListCounts struct {
	Members int
	Held    int
}

// JobRun is when a job that runs once per period across all nodes last
// ran, and on which node.
type JobRun struct {
	Name    string
	LastRun time.Time
	Node    string
}

// Node is a running `sealpost serve` that shares the database.
type Node struct {
	ID        string // unique per run: host, pid and a random part
	Hostname  string
	PID       int64
	Version   string
	SMTP      string // its SMTP listener's address
	StartedAt time.Time
	SeenAt    time.Time // its last heartbeat
	// Holds is how many copies the node holds now: pending deliveries
	// it claimed whose lease has not ended (filled by the store's Nodes;
	// a heartbeat ignores it).
	Holds int
}

// Node liveness: every `sealpost serve` records a heartbeat every
// HeartbeatInterval; a node silent for NodeTimeout is no longer live
// (not listed, and its claims are released).
const (
	HeartbeatInterval = 10 * time.Second
	NodeTimeout       = 3 * HeartbeatInterval
)
