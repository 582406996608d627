package admin

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost/internal/policy"
)

// OptionType is the kind of value an option takes: it says how the
// admin UI shows the option and what the API reports.
type OptionType string

// The option types.
const (
	TypeBool    OptionType = "bool"    // true or false: a checkbox
	TypeChoice  OptionType = "choice"  // one of Option.Choices: a select
	TypeNumber  OptionType = "number"  // a whole number within Option.Min and Option.Max
	TypeText    OptionType = "text"    // free text
	TypeAddress OptionType = "address" // one email address
	TypeList    OptionType = "list"    // comma-separated values (addresses, networks, keywords)
)

// OptionGroup is a group of options, shown under one heading.
type OptionGroup struct {
	Name  string // stable, in the API: "receiving"
	Title string // the heading: "Receiving"
	// Options are the names of the group's options, in the order shown.
	// A name that a list's mode lacks (a gateway's option on a list) is
	// skipped.
	Options []string
}

// OptionGroups returns the groups of the options, in the order shown,
// each with its options in order: the layout of `list set --help`, the
// settings form and the API's settings.
func OptionGroups() []OptionGroup {
	var moderation []string
	for _, r := range policy.OutcomeRules() {
		moderation = append(moderation, "on_"+string(r.Outcome))
	}
	moderation = append(moderation, "hold_days")
	return []OptionGroup{
		{"general", "General", []string{"name", "owner", "subscribe", "welcome", "deliver_to", "language", "archive"}},
		{"receiving", "Receiving", []string{"receive_encrypted_only", "receive_signed_only", "receive_authenticated_only",
			"receive_admin_only", "signer_must_match_from", "require_binding", "require_encryption", "require_signature",
			"keywords_admin_only", "max_message_size", "verdict_banner", "attach_original"}},
		{"sending", "Sending", []string{"outgoing_format", "send_encrypted_only", "deliver_selfsent", "smime_cipher",
			"smime_keytransport", "smime_opaque", "allow_seipd_v2", "sign_replies", "encrypt_replies", "submit_clients",
			"staff", "staff_without_key"}},
		{"copies", "Copies", []string{"subject_prefix", "footer", "munge_from", "keep_msgid", "set_reply_to_sender",
			"anonymous", "headers_to_meta", "legacy_display", "reply_subject", "ticket_tag"}},
		{"moderation", "Moderation", moderation},
		{"bounces", "Bounces", []string{"bounce_threshold", "bounce_days"}},
		{"keys", "Keys", []string{"autocrypt", "openpgp_header", "autocrypt_import"}},
	}
}

// placed gives each of opts its Group and Order from OptionGroups. An
// option the layout does not name keeps an empty Group, which a test
// refuses.
func placed(opts []Option) []Option {
	type spot struct {
		group string
		order int
	}
	place := map[string]spot{}
	for _, g := range OptionGroups() {
		for i, name := range g.Options {
			place[name] = spot{g.Name, i}
		}
	}
	for i := range opts {
		if p, ok := place[opts[i].Name]; ok {
			opts[i].Group, opts[i].Order = p.group, p.order
		}
	}
	return opts
}

// OptionSection is a group with the options of one list in it.
type OptionSection struct {
	OptionGroup
	Items []Option
}

// Grouped sorts opts into their groups, in the order shown; empty
// groups are left out.
func Grouped(opts []Option) []OptionSection {
	var out []OptionSection
	for _, g := range OptionGroups() {
		sec := OptionSection{OptionGroup: g}
		for _, o := range opts {
			if o.Group == g.Name {
				sec.Items = append(sec.Items, o)
			}
		}
		if len(sec.Items) > 0 {
			slices.SortStableFunc(sec.Items, func(a, b Option) int { return a.Order - b.Order })
			out = append(out, sec)
		}
	}
	return out
}

// checkType refuses a value that does not fit the option's type before
// the option reads it: a number outside its bounds.
func (o Option) checkType(v string) error {
	if o.Type != TypeNumber {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return errors.New("not a whole number")
	case n < o.Min:
		return fmt.Errorf("less than %d", o.Min)
	case o.Max > 0 && n > o.Max:
		return fmt.Errorf("more than %d", o.Max)
	}
	return nil
}

// OptionError is why one assignment of SetOptions was refused. Name is
// the option's name, or "" when the assignment names none that exists.
type OptionError struct {
	Name    string
	Message string
}

// OptionErrors are every refused assignment of one SetOptions call. It
// is an ErrInvalid; its text lists them all.
type OptionErrors []OptionError

func (e OptionErrors) Error() string {
	msgs := make([]string, len(e))
	for i, p := range e {
		msgs[i] = p.Message
	}
	return ErrInvalid.Error() + ": " + strings.Join(msgs, "; ")
}

// Unwrap makes OptionErrors an ErrInvalid.
func (e OptionErrors) Unwrap() error { return ErrInvalid }

// ByName returns the message of each refused option by its name.
func (e OptionErrors) ByName() map[string]string {
	out := map[string]string{}
	for _, p := range e {
		if p.Name != "" {
			out[p.Name] = p.Message
		}
	}
	return out
}
