package policy

import (
	"fmt"
	"strings"
)

// Action is what a list does with a post that broke one of its rules.
type Action string

// Actions, as mailman-pgp offers them per outcome.
const (
	Accept  Action = "accept"  // distribute it all the same
	Hold    Action = "hold"    // keep it (ciphertext) for the owner to release or reject
	Reject  Action = "reject"  // refuse it (5xx) and tell the owner
	Discard Action = "discard" // drop it silently (250), telling only the log
)

// Outcome names a rule breach whose action a list chooses.
type Outcome string

// Outcomes with a configurable action.
const (
	OutcomeUnsigned      Outcome = "unsigned"           // encrypted, but not signed inside
	OutcomeUnknownSigner Outcome = "unknown_signer"     // signed by a key no member holds (or an untrusted certificate)
	OutcomeBadSignature  Outcome = "bad_signature"      // a signature that does not verify
	OutcomeKeyInvalid    Outcome = "expired_or_revoked" // signed by a member key that is expired or revoked
	OutcomeUnencrypted   Outcome = "unencrypted"        // not encrypted to the list
	OutcomeDuplicate     Outcome = "duplicate"          // a signature seen before (replay)
	OutcomeTooBig        Outcome = "too_big"            // over the list's size limit
)

// OutcomeRule says which actions an outcome may have and which it has by
// default. Accept is offered only where a post can be distributed without
// breaking DESIGN §4: never for an altered post, a replay or one too big
// to read.
type OutcomeRule struct {
	Outcome Outcome
	Reason  Reason // the Reason the outcome stands for
	Default Action
	Allowed []Action
	Help    string
}

var outcomeRules = []OutcomeRule{
	{OutcomeUnsigned, Unsigned, Reject, []Action{Accept, Hold, Reject, Discard},
		"that is encrypted to the list but not signed (accept: distributed marked unsigned; receive_signed_only=false)"},
	{OutcomeUnknownSigner, UnknownSigner, Reject, []Action{Accept, Hold, Reject, Discard},
		"signed by a key of no member (accept: posts from anyone, marked as such; receive_authenticated_only=false)"},
	{OutcomeBadSignature, BadSignature, Reject, []Action{Hold, Reject, Discard},
		"whose signature does not verify (content or signature altered)"},
	{OutcomeKeyInvalid, KeyInvalid, Reject, []Action{Accept, Hold, Reject, Discard},
		"signed with a member key that is expired or revoked"},
	{OutcomeUnencrypted, NotEncrypted, Reject, []Action{Accept, Hold, Reject, Discard},
		"that is not encrypted to the list's key (accept: the signature is still checked, receive_encrypted_only=false)"},
	{OutcomeDuplicate, Replay, Reject, []Action{Hold, Reject, Discard},
		"whose signature was accepted before (a replay)"},
	{OutcomeTooBig, TooLarge, Reject, []Action{Hold, Reject, Discard},
		"larger than max_message_size"},
}

// OutcomeRules returns every outcome with a configurable action.
func OutcomeRules() []OutcomeRule { return append([]OutcomeRule(nil), outcomeRules...) }

// ParseAction checks that a is an action outcome o may have.
func ParseAction(o Outcome, a string) (Action, error) {
	for _, r := range outcomeRules {
		if r.Outcome != o {
			continue
		}
		for _, allowed := range r.Allowed {
			if string(allowed) == a {
				return allowed, nil
			}
		}
		names := make([]string, len(r.Allowed))
		for i, allowed := range r.Allowed {
			names[i] = string(allowed)
		}
		return "", fmt.Errorf("%q is not one of %s", a, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("unknown outcome %q", o)
}

// Rules are a list's policy settings. The zero value is the secure
// default: every breach rejected, From must match the signer, anyone may
// post, the sender gets their own copy.
type Rules struct {
	// Actions overrides the default action of outcomes.
	Actions map[Outcome]Action
	// AdminOnly lets only list admins post (announcement lists).
	AdminOnly bool
	// AllowFromMismatch accepts a post signed by a member's key whose
	// From names someone else; the signing member is its sender
	// (signer_must_match_from=false).
	AllowFromMismatch bool
	// NoSelfCopy leaves the sender out of a post's recipients
	// (deliver_selfsent=false).
	NoSelfCopy bool
	// SendPlaintext gives members without a usable key a signed copy in
	// clear instead of a notice (send_encrypted_only=false; DESIGN §4.5
	// allows it only when the owner says so).
	SendPlaintext bool
}

// ActionFor returns the list's action for a post refused for reason r.
// Reasons without a configurable outcome are always rejected.
func (rs Rules) ActionFor(r Reason) Action {
	for _, rule := range outcomeRules {
		if rule.Reason != r && !(r == Untrusted && rule.Reason == UnknownSigner) {
			continue
		}
		if a, ok := rs.Actions[rule.Outcome]; ok {
			return a
		}
		return rule.Default
	}
	return Reject
}

// Releasing returns the rules for a held post the owner releases: every
// breach that may be accepted is; the others still are not.
func (rs Rules) Releasing() Rules {
	out := rs
	out.Actions = map[Outcome]Action{}
	for _, r := range outcomeRules {
		for _, a := range r.Allowed {
			if a == Accept {
				out.Actions[r.Outcome] = Accept
			}
		}
	}
	return out
}
