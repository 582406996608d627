// Package policy makes a list's decisions as pure functions: given what
// the envelope, the unwrapped message and the list's members say, should
// a post be distributed, and to whom. It does no I/O and reads no clock;
// everything it needs is in Input.
//
// The default policy is DESIGN §4.2: distribute only what is encrypted to
// the list with integrity protection and signed, inside the encryption, by
// the currently valid pinned key of a member whose address is the From
// addr-spec, and whose signed content names this list (DESIGN §4.4).
// Recipients without a usable key get a notice instead of the post
// (DESIGN §4.5).
package policy

import (
	"strings"

	"github.com/sealpost/sealpost/internal/crypto"
)

// Reason names why a post was not distributed. The zero value means it was.
type Reason int

// Reasons for rejecting a post.
const (
	OK              Reason = iota
	NotEncrypted           // not encrypted to the list, or not PGP/MIME at the top level
	Undecryptable          // encrypted, but not to the list's key, or malformed
	NoIntegrity            // no or broken MDC/AEAD
	TooLarge               // over a size limit
	Unsigned               // no signature inside the encryption
	BadSignature           // a signature that does not verify
	UnknownSigner          // signed by a key that belongs to no member
	KeyInvalid             // the signing key is expired or revoked
	FromMismatch           // signed by a member, but From names someone else
	NotForThisList         // the signed content does not name this list
	Replay                 // this signature was accepted before
	Unparseable            // not a MIME message we can read
	Untrusted              // an S/MIME certificate not trusted for the From address
	TooManyLayers          // encrypted inside the encryption
	PartlyEncrypted        // encrypted and unencrypted content mixed (EFAIL)
	BadConfirmation        // signed with a key a member asked for, without its challenge's code
	NotAdmin               // the list takes posts from its admins only
	OverLimit              // over a limit on its structure (MIME nesting, parts, header size)
	Unbound                // the signed content names no recipient, and the list requires it to
)

// Reasons for refusing how a message was made rather than who sent it:
// none of them is a sign of tampering, and no list action lets such a
// message through.
const (
	WeakSignature      Reason = Unbound + 1 + iota // signed with SHA-1 or MD5
	WeakCipher                                     // encrypted with 3DES, DES, RC2 or RC4
	Unsupported                                    // an algorithm or form Sealpost does not implement
	MalformedSignature                             // a signature that breaks its format (attributes missing or twice)
	// Inflated: the decrypted content grew past the size limit as it was
	// decompressed, before its integrity could be checked (DESIGN §4.8).
	// Unlike TooLarge, the sender gets the uniform refusal (DESIGN §4.3):
	// whether tampered ciphertext inflates is a fact about its plaintext.
	Inflated
)

var descriptions = map[Reason]string{
	OK:            "accepted",
	NotEncrypted:  "The message was not encrypted to the list's key (PGP/MIME, inline PGP or S/MIME). The list only distributes encrypted posts.",
	Undecryptable: "The message could not be decrypted with the list's key (encrypted to another key, or damaged).",
	NoIntegrity:   "The message lacked integrity protection (MDC/AEAD) or failed its integrity check, so its content cannot be trusted.",
	TooLarge:      "The message exceeded the list's size limits.",
	Unsigned:      "The message was not signed inside the encryption. The list only distributes posts signed by a member's key.",
	BadSignature:  "The message's signature did not verify: the content or the signature was altered.",
	UnknownSigner: "The message was signed by a key that belongs to no member of the list.",
	KeyInvalid:    "The message was signed with a member key that is expired or revoked.",
	FromMismatch:  "The message was signed by a member's key, but its From address names someone else.",
	NotForThisList: "The signed content names other recipients but not this list (in its protected To/Cc, an X-LIST-NAME line " +
		"or the signature's intended recipients), so it was written for another list or conversation and may have been " +
		"replayed here.",
	Unbound: "The signed content names no recipient, and the list requires posts to name it (require_binding=true). " +
		"The member's mail program most likely writes no protected To/Cc headers (NeoMutt, most S/MIME clients and gpg " +
		"on the command line do not): set require_binding=false to accept such posts (they are marked as not bound to " +
		"the list), or ask the member to start the post with the line \"X-LIST-NAME: \" and the list's address.",
	Replay:        "This exact signed message was already distributed once; the copy was refused as a replay.",
	Unparseable:   "The message could not be parsed as MIME.",
	TooManyLayers: "The message was encrypted more than once; the list accepts posts with one layer of encryption.",
	PartlyEncrypted: "The message mixed encrypted and unencrypted parts (or text beside the ciphertext); " +
		"such messages are never decrypted into a post.",
	NotAdmin: "The list distributes posts from its admins only.",
	OverLimit: "The message exceeded a limit on its structure (MIME nesting depth, number of parts or header size); " +
		"such messages are not read at all.",
	BadConfirmation: "The message was signed with a key a member asked for, but did not carry the confirmation code " +
		"Sealpost sent to that key, so the key was not made theirs.",
	Untrusted: "The message was signed with an S/MIME certificate that is not trusted for the sender's address " +
		"(no chain to the list's trust anchors, not issued for From, revoked, or no current CRL).",
	WeakSignature: "The message was signed with SHA-1, which is no longer accepted (nor is MD5): such a signature can be " +
		"forged, so it does not show who wrote the message (nothing suggests the message was altered). The sender's " +
		"mail program must sign with SHA-256 or stronger; GnuPG with an old DSA key signs with SHA-1 unless gpg.conf " +
		"says \"personal-digest-preferences SHA256\". (Signatures by a key whose algorithm Sealpost cannot use are " +
		"refused for the same reason.)",
	WeakCipher: "The message was encrypted with 3DES (or DES, RC2 or RC4), which is no longer accepted. " +
		"The sender's mail program must encrypt with AES.",
	Unsupported: "The message was encrypted or signed with an algorithm, or in a form, that Sealpost does not support " +
		"(for example Camellia or ChaCha20 encryption, Ed448 signatures, or several signatures on one message), " +
		"so it could not be read or checked.",
	MalformedSignature: "The message's signature is malformed (for example a signed attribute given twice, " +
		"or the message digest or content type missing among them), so it cannot be checked. " +
		"This is a fault of the sender's mail program rather than a sign of tampering.",
	Inflated: "The message, once decrypted, decompressed to more than the list's size limit (max_message_size), " +
		"so it was not read further; its integrity could not be checked, so the sender got the same refusal as for " +
		"a message that cannot be decrypted.",
}

// gatewayDescriptions are the reasons as a gateway gives them where the
// list's words would be wrong: a gateway has correspondents, not members,
// and hands messages to a helpdesk instead of distributing posts. A
// reason whose list text reads right for a gateway too has none.
var gatewayDescriptions = map[Reason]string{
	NotEncrypted: "The message was not encrypted to the gateway's key or certificate (PGP/MIME, inline PGP or S/MIME), " +
		"and the gateway accepts only encrypted mail (require_encryption=true).",
	Undecryptable: "The message could not be decrypted with the gateway's key or certificate (encrypted to another key, or damaged).",
	TooLarge:      "The message exceeded the gateway's size limits.",
	Unsigned: "The message had no good signature (it was unsigned, its signature did not verify, or it was signed by a key " +
		"that is unknown, invalid, not the sender's, or another than the one on file for the sender), and the gateway " +
		"accepts only signed mail (require_signature=true).",
	UnknownSigner: "The message was signed by a key that is neither on file for the sender nor attached to the message.",
	KeyInvalid:    "The message was signed with a key that is expired or revoked.",
	FromMismatch:  "The message was signed by a known key, but its From address names someone else.",
	NotForThisList: "The signed content names other recipients but not this address (in its protected To/Cc or the " +
		"signature's intended recipients), so it was written for another conversation and may have been replayed here.",
	Unbound: "The signed content names no recipient, and this address requires the signed content to name it.",
	Replay: "This exact signed or encrypted message was already handed to the helpdesk once; the copy was refused " +
		"as a replay.",
	TooManyLayers: "The message was encrypted more than once; the gateway accepts messages with one layer of encryption.",
	PartlyEncrypted: "The message mixed encrypted and unencrypted parts (or text beside the ciphertext); " +
		"such messages are never decrypted for the helpdesk.",
	NotAdmin: "This address takes messages from its administrators only.",
	BadConfirmation: "The message was signed with a key someone asked to use here, but did not carry the confirmation " +
		"code Sealpost sent to that key, so the key was not accepted.",
	Inflated: "The message, once decrypted, decompressed to more than the gateway's size limit (max_message_size), " +
		"so it was not read further; its integrity could not be checked, so the sender got the same refusal as for " +
		"a message that cannot be decrypted.",
	Untrusted: "The message was signed with an S/MIME certificate that is not trusted for the sender's address " +
		"(no chain to the gateway's trust anchors, not issued for From, revoked, or no current CRL).",
}

// Reasons returns every reason a message can be refused for (all but
// OK), in order.
func Reasons() []Reason {
	var out []Reason
	for r := OK + 1; r.String() != "unknown"; r++ {
		out = append(out, r)
	}
	return out
}

// String returns a short machine-friendly name.
func (r Reason) String() string {
	names := [...]string{"ok", "not-encrypted", "undecryptable", "no-integrity", "too-large", "unsigned",
		"bad-signature", "unknown-signer", "key-invalid", "from-mismatch", "not-for-this-list", "replay", "unparseable", "untrusted", "too-many-layers", "partly-encrypted", "bad-confirmation", "not-admin", "over-limit", "unbound",
		"weak-signature", "weak-cipher", "unsupported", "malformed-signature", "inflated"}
	if int(r) >= 0 && int(r) < len(names) {
		return names[r]
	}
	return "unknown"
}

// ParseReason returns the Reason whose String is s; an unknown name is
// Undecryptable, whose refusal is the uniform one.
func ParseReason(s string) Reason {
	for r := OK; r.String() != "unknown"; r++ {
		if r.String() == s {
			return r
		}
	}
	return Undecryptable
}

// Describe explains the reason to a list owner in one sentence or two.
func (r Reason) Describe() string { return descriptions[r] }

// TextFor explains the reason as the list (gateway false) or the gateway
// (true) that refused the message gives it: to its owner, in notices and
// hold reasons.
func (r Reason) TextFor(gateway bool) string {
	if t, ok := gatewayDescriptions[r]; ok && gateway {
		return t
	}
	return descriptions[r]
}

// Member is what policy needs to know of one member.
type Member struct {
	Email        string   // normalised addr-spec
	Admin        bool     // a list admin
	Disabled     bool     // delivery stopped (bounces): gets no copy, may still post
	Fingerprints []string // the member's keys and certificates
	Usable       bool     // one of them can be encrypted to now, in a format the list sends
}

// Has reports whether fingerprint is one of the member's keys.
func (m Member) Has(fingerprint string) bool {
	for _, f := range m.Fingerprints {
		if strings.EqualFold(f, fingerprint) {
			return true
		}
	}
	return false
}

// Input is everything a decision depends on.
type Input struct {
	List            string // the list's post address
	ListFingerprint string // the list key's fingerprint
	Protection      crypto.Protection
	Status          crypto.Status
	Signer          *crypto.Signer
	// Certified is set when the signer's S/MIME certificate chains to a
	// trust anchor of the list and is issued for From (RFC 8550 §3): a
	// member may then post with a certificate that is not pinned yet
	// (Sympa's model), which the list then harvests.
	Certified bool
	// From is the addr-spec the post claims to be from: the protected
	// (inner) From when the signed content carries one, else the outer.
	// An outer From that differs from a protected one is ignored (RFC 9788
	// §4.1: the protected header is the one that counts).
	From string
	// MultipleFrom is set when the header From is taken from, or the
	// outer header, has more than one From field (RFC 5322 §3.6 allows
	// one): who sent it is then ambiguous.
	MultipleFrom bool
	// SignedRecipients are the To and Cc addr-specs inside the signed
	// content (protected headers); nil when it carries none.
	SignedRecipients []string
	// IntendedRecipients are the fingerprints the signature names (RFC
	// 9580 §5.2.3.36).
	IntendedRecipients []string
	// ListNames are the list addresses the signed content names in an
	// X-LIST-NAME line (Schleuder's keyword); ListName is this list's
	// post address, which such a line names (List may be its -request
	// address).
	ListNames []string
	ListName  string
	Members   []Member
	// RequireBinding refuses signed content that names no recipient at
	// all (require_binding=true). By default such content (NeoMutt, most
	// S/MIME clients and gpg on the command line write no protected
	// recipients) is accepted and marked; content that names other
	// recipients but not this list is always refused (DESIGN §4.4).
	RequireBinding bool
	// Rules are the list's options and actions.
	Rules Rules
}

// Decision is the outcome for one post.
type Decision struct {
	// Reason is OK when the post is authenticated and fit; otherwise why
	// not. Action says what happens: a post whose rule breach the list
	// accepts is distributed with its Reason kept.
	Reason Reason
	Action Action
	// Unbound is set when the signed content names no recipient at all:
	// it is bound to no list, so its replay mark holds on every list.
	Unbound bool
	Sender  *Member  // the member who signed, when authenticated
	Send    []Member // members who get an encrypted copy
	NoKey   []Member // members who get a notice instead (no usable key)
	Plain   []Member // members without a usable key who get a signed copy in clear (Rules.SendPlaintext)
}

// Accepted reports whether the post is distributed.
func (d Decision) Accepted() bool { return d.Action == Accept }

// Authenticated reports whether the post is distributed as signed by
// Sender: accepted with no rule broken.
func (d Decision) Authenticated() bool { return d.Reason == OK && d.Action == Accept }

// Decide applies the list's policy.
func Decide(in Input) Decision {
	r := checkPost(in)
	var sender *Member
	if r == OK {
		sender, r = findSender(in)
	}
	b := binding(in)
	if r == OK && b != boundHere {
		switch {
		case b == boundElsewhere:
			r = NotForThisList
		case in.RequireBinding:
			r = Unbound
		}
	}
	if r == OK && in.Rules.AdminOnly && !sender.Admin {
		r = NotAdmin
	}
	if r != OK {
		a := in.Rules.ActionFor(r)
		if a == Accept && in.Rules.AdminOnly {
			a = Reject // an announcement list distributes nothing unauthenticated
		}
		if a != Accept {
			return Decision{Reason: r, Action: a}
		}
		sender = nil // accepted, but nobody is authenticated
	}
	d := Decision{Reason: r, Action: Accept, Sender: sender, Unbound: b == boundNowhere}
	for _, m := range in.Members {
		if m.Disabled || in.Rules.NoSelfCopy && sender != nil && m.Email == sender.Email {
			continue
		}
		if m.Usable {
			d.Send = append(d.Send, m)
		} else if in.Rules.SendPlaintext {
			d.Plain = append(d.Plain, m)
		} else {
			// DESIGN §4.5: fail closed, never plaintext.
			d.NoKey = append(d.NoKey, m)
		}
	}
	return d
}

// checkPost checks protection and signature status.
func checkPost(in Input) Reason {
	switch {
	case !in.Protection.Encrypted && in.Rules.ActionFor(NotEncrypted) != Accept:
		return NotEncrypted
	case in.Protection.Encrypted && in.Protection.Integrity == "":
		return NoIntegrity
	}
	// A list that takes unencrypted posts still checks who signed them.
	switch in.Status {
	case crypto.StatusGood:
		return OK
	case crypto.StatusUnsigned:
		return Unsigned
	case crypto.StatusUnknownSigner:
		return UnknownSigner
	case crypto.StatusKeyInvalid:
		return KeyInvalid
	case crypto.StatusUntrusted:
		return Untrusted
	case crypto.StatusWeak:
		// Refused, but never as tampering: on_bad_signature does not apply.
		return WeakSignature
	}
	return BadSignature
}

// FindSender returns the member who made in's good signature as their
// From address, the check Decide makes (DESIGN §4.2), or why there is
// none: FromMismatch for a member's key signing for another address,
// UnknownSigner for a key that is no member's.
func FindSender(in Input) (*Member, Reason) { return findSender(in) }

// findSender matches the signer to a member whose pinned key made the
// signature and whose address is the From addr-spec (DESIGN §4.2).
func findSender(in Input) (*Member, Reason) {
	if in.Signer == nil {
		return nil, BadSignature
	}
	if in.MultipleFrom {
		return nil, FromMismatch
	}
	signerIsMember := false
	for i, m := range in.Members {
		if in.Certified && strings.EqualFold(m.Email, in.From) {
			return &in.Members[i], OK
		}
		if !m.Has(in.Signer.Fingerprint) {
			continue
		}
		signerIsMember = true
		if strings.EqualFold(m.Email, in.From) && in.Signer.HasAddress(in.From) {
			return &in.Members[i], OK
		}
	}
	if signerIsMember && in.Rules.AllowFromMismatch && in.Signer != nil {
		for i, m := range in.Members {
			if m.Has(in.Signer.Fingerprint) {
				return &in.Members[i], OK
			}
		}
	}
	if signerIsMember {
		return nil, FromMismatch
	}
	return nil, UnknownSigner
}

// bound is what the signed content says about where it was sent.
type bound int

const (
	boundNowhere   bound = iota // it names no recipient at all
	boundHere                   // it names this list
	boundElsewhere              // it names recipients, and not this list
)

// binding reads where the signed content was sent (DESIGN §4.4): to this
// list when it names it as a protected To/Cc recipient, in an
// X-LIST-NAME line, or as an intended recipient of the signature (the
// list's key); elsewhere when it names recipients and not this list, so
// that a post signed for one list or conversation is not accepted by
// another.
func binding(in Input) bound {
	for _, a := range in.SignedRecipients {
		if strings.EqualFold(a, in.List) {
			return boundHere
		}
	}
	for _, a := range in.ListNames {
		if strings.EqualFold(a, in.ListName) {
			return boundHere
		}
	}
	for _, f := range in.IntendedRecipients {
		if strings.EqualFold(f, in.ListFingerprint) {
			return boundHere
		}
	}
	if len(in.SignedRecipients)+len(in.ListNames)+len(in.IntendedRecipients) > 0 {
		return boundElsewhere
	}
	return boundNowhere
}
