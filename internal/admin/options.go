package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Option describes one list option that `list set` accepts. It is the
// one description of the option: `list set --help`, the admin UI's
// settings form and the API's settings all read it.
type Option struct {
	Name string
	Help string
	// Type is the kind of value the option takes (optiontypes.go);
	// Choices are the values of a TypeChoice, Min and Max the bounds of
	// a TypeNumber (Max 0: no upper bound).
	Type     OptionType
	Choices  []string
	Min, Max int64
	// Group is the name of the group the option is shown in (one of
	// OptionGroups) and Order its place there; both come from the
	// layout in optiontypes.go.
	Group string
	Order int
	// AdminOnly options change where a gateway's mail goes or who may
	// send through it: only an admin may set them, not a list's owner.
	AdminOnly bool
	get       func(*store.List) string
	set       func(*store.List, string) error
}

// Value returns the option's current value on l.
func (o Option) Value(l *store.List) string { return o.get(l) }

// boolOption is an on/off list setting.
func boolOption(name, help string, field func(*store.ListSettings) *bool) Option {
	return Option{Name: name, Help: help, Type: TypeBool,
		get: func(l *store.List) string { return strconv.FormatBool(*field(&l.Settings)) },
		set: func(l *store.List, v string) (err error) {
			*field(&l.Settings), err = strconv.ParseBool(v)
			return err
		}}
}

// onOption is an on/off list setting stored negated, so that the zero
// value of the settings means on.
func onOption(name, help string, off func(*store.ListSettings) *bool) Option {
	return Option{Name: name, Help: help, Type: TypeBool,
		get: func(l *store.List) string { return strconv.FormatBool(!*off(&l.Settings)) },
		set: func(l *store.List, v string) error {
			on, err := strconv.ParseBool(v)
			*off(&l.Settings) = !on
			return err
		}}
}

// smimeOption is an S/MIME encryption default of the list: one of
// allowed, or auto (stored as "").
func smimeOption(name, help string, allowed []string, field func(*store.ListSettings) *string) Option {
	return Option{Name: name, Help: help, Type: TypeChoice, Choices: append([]string{"auto"}, allowed...),
		get: func(l *store.List) string { return orDefault(*field(&l.Settings), "auto") },
		set: func(l *store.List, v string) (err error) {
			*field(&l.Settings), err = smimeSetting(v, allowed)
			return err
		}}
}

// ListOptions returns the settable list options, sorted by name.
func ListOptions() []Option {
	opts := []Option{
		{Name: "name", Help: "display name of the list, used in From: \"Sender via NAME\"", Type: TypeText,
			get: func(l *store.List) string { return l.Name },
			set: func(l *store.List, v string) error { l.Name = v; return nil }},
		{Name: "owner", Help: "address that receives the list's notices; an account with this address manages the list",
			AdminOnly: true, Type: TypeAddress,
			get: func(l *store.List) string { return l.Owner },
			set: func(l *store.List, v string) error {
				_, a, err := mail.ParseAddress(v)
				l.Owner = a
				return err
			}},
		{Name: "subscribe", Help: "whether people may join by themselves, on the public subscription page or by mail " +
			"(X-SUBSCRIBE to LIST-request): closed (default: only owners add members), confirm (once they answer the " +
			"challenge sent to their address, encrypted to the key they offer) or moderate (then also once an owner approves)",
			Type: TypeChoice, Choices: []string{store.SubscribeClosed, store.SubscribeConfirm, store.SubscribeModerate},
			get: func(l *store.List) string { return orDefault(l.Settings.Subscribe, store.SubscribeClosed) },
			set: func(l *store.List, v string) error {
				switch v {
				case store.SubscribeClosed, store.SubscribeConfirm, store.SubscribeModerate:
					l.Settings.Subscribe = v
					if v == store.SubscribeClosed {
						l.Settings.Subscribe = ""
					}
					return nil
				}
				return fmt.Errorf("not closed, confirm or moderate")
			}},
		{Name: "outgoing_format", Help: "format of copies for members who choose none: pgpmime (default), inline (RT's Inline: " +
			"text parts inline-encrypted, attachments NAME.pgp) or smime; members without a key for it get the other format",
			Type: TypeChoice, Choices: []string{store.FormatPGPMIME, store.FormatInline, store.FormatSMIME},
			get: func(l *store.List) string { return orDefault(l.Settings.OutgoingFormat, store.FormatPGPMIME) },
			set: func(l *store.List, v string) error {
				if !validFormat(v) {
					return fmt.Errorf("not pgpmime, inline or smime")
				}
				l.Settings.OutgoingFormat = v
				return nil
			}},
		smimeOption("smime_cipher", "content encryption of S/MIME copies for members whose client announced nothing and "+
			"who have no smime_cipher of their own: "+strings.Join(smime.CipherNames(), ", ")+" or auto (default: aes256-cbc, "+
			"which every client reads; the copies are signed inside, so readers can check them)",
			smime.CipherNames(), func(s *store.ListSettings) *string { return &s.SMIMECipher }),
		smimeOption("smime_keytransport", "RSA key transport of S/MIME copies for members whose client announced none and "+
			"who have no smime_keytransport of their own: "+strings.Join(smime.KeyTransportNames(), ", ")+" or auto (default: "+
			"the server's [smime] key_transport, else rsa-pkcs1v15, which every client reads)",
			smime.KeyTransportNames(), func(s *store.ListSettings) *string { return &s.SMIMEKeyTransport }),
		boolOption("smime_opaque", "true to sign S/MIME copies opaquely (application/pkcs7-mime) instead of multipart/signed (default false)",
			func(s *store.ListSettings) *bool { return &s.SMIMEOpaque }),
		boolOption("require_binding", "true to refuse posts whose signed content names no recipient (no protected To/Cc, "+
			"no X-LIST-NAME line, no intended recipient), as NeoMutt, most S/MIME clients and gpg on the command line "+
			"send them; by default they are accepted, marked as not bound to the list, and refused by every other list "+
			"as replays (default false)",
			func(s *store.ListSettings) *bool { return &s.RequireBinding }),
		onOption("welcome", "false to add members without the welcome message (signed by the list, encrypted to the new member, "+
			"with the list's key attached and how to post); one add can skip it too (default true)",
			func(s *store.ListSettings) *bool { return &s.NoWelcome }),
		onOption("autocrypt", "false to leave out the Autocrypt header with the list key on copies (default true)",
			func(s *store.ListSettings) *bool { return &s.NoAutocrypt }),
		onOption("openpgp_header", "false to leave out the OpenPGP: id=...; preference=signencrypt header (default true)",
			func(s *store.ListSettings) *bool { return &s.NoOpenPGPHeader }),
		boolOption("autocrypt_import", "true to keep the OpenPGP key a member's accepted post announces in an Autocrypt header "+
			"(only when the header is signed or names the key that signed; default false)",
			func(s *store.ListSettings) *bool { return &s.AutocryptImport }),
		boolOption("legacy_display", "true to add a part showing Subject, From and To inside each copy, for mail clients "+
			"that do not read protected headers (RFC 9788 legacy display; default false)",
			func(s *store.ListSettings) *bool { return &s.LegacyDisplay }),
		boolOption("allow_seipd_v2", "true to use SEIPD v2 (AEAD) for members whose keys support it; GnuPG 2.2 cannot read it (default false)",
			func(s *store.ListSettings) *bool { return &s.AllowSEIPDv2 }),
	}
	opts = append(opts, policyOptions()...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	return placed(opts)
}

// policyOptions are the options of the list's posting policy: an action
// per rule breach (on_OUTCOME), Schleuder's receive_* switches over
// them, and the rules of who may post and who gets a copy.
func policyOptions() []Option {
	var opts []Option
	for _, r := range policy.OutcomeRules() {
		names := make([]string, len(r.Allowed))
		for i, a := range r.Allowed {
			names[i] = string(a)
		}
		opts = append(opts, Option{Name: "on_" + string(r.Outcome), Type: TypeChoice, Choices: names,
			Help: fmt.Sprintf("what to do with a post %s: %s (default %s)", r.Help, strings.Join(names, ", "), r.Default),
			get:  func(l *store.List) string { return string(actionOf(l, r)) },
			set: func(l *store.List, v string) error {
				a, err := policy.ParseAction(r.Outcome, v)
				if err == nil {
					setAction(l, r, a)
				}
				return err
			}})
	}
	opts = append(opts,
		acceptSwitch("receive_encrypted_only", "false to distribute posts that are not encrypted to the list, "+
			"encrypted to each member as usual; who signed them still counts (sets on_unencrypted=accept; default true)",
			policy.OutcomeUnencrypted),
		acceptSwitch("receive_signed_only", "false to distribute encrypted posts that are not signed, marked as unsigned "+
			"(sets on_unsigned=accept; default true)", policy.OutcomeUnsigned),
		acceptSwitch("receive_authenticated_only", "false to distribute posts signed by keys of non-members, marked as such "+
			"(sets on_unknown_signer=accept; default true)", policy.OutcomeUnknownSigner),
		boolOption("receive_admin_only", "true to distribute posts from list admins only: an announcement list (default false)",
			func(s *store.ListSettings) *bool { return &s.AdminOnly }),
		onOption("signer_must_match_from", "false to accept a member's signed post whose From names someone else; "+
			"the signer counts as its sender (default true)",
			func(s *store.ListSettings) *bool { return &s.AllowFromMismatch }),
		onOption("send_encrypted_only", "false to send members without a usable key the post in clear, signed by the "+
			"list, instead of a notice that they missed it (default true)",
			func(s *store.ListSettings) *bool { return &s.SendPlaintext }),
		onOption("deliver_selfsent", "false to send the sender no copy of their own post (default true)",
			func(s *store.ListSettings) *bool { return &s.NoSelfCopy }),
		Option{Name: "language", Help: "language of the list's notices: " + strings.Join(notices.Languages, ", ") + " (default en)",
			Type: TypeChoice, Choices: slices.Clone(notices.Languages),
			get: func(l *store.List) string { return listLang(l.Settings.Language) },
			set: func(l *store.List, v string) error {
				if !slices.Contains(notices.Languages, v) {
					return fmt.Errorf("not one of %s", strings.Join(notices.Languages, ", "))
				}
				l.Settings.Language = v
				return nil
			}},
		Option{Name: "subject_prefix", Help: "text put before the Subject of copies, e.g. \"[team]\" (default none)", Type: TypeText,
			get: func(l *store.List) string { return l.Settings.SubjectPrefix },
			set: func(l *store.List, v string) error { l.Settings.SubjectPrefix = v; return nil }},
		onOption("keep_msgid", "false to give copies a Message-ID of the list's instead of the post's (default true)",
			func(s *store.ListSettings) *bool { return &s.NewMessageID }),
		onOption("munge_from", "false to put the sender's own address in From instead of \"Sender via LIST\" <LIST>; "+
			"copies may then fail DMARC checks (default true)",
			func(s *store.ListSettings) *bool { return &s.RealFrom }),
		boolOption("set_reply_to_sender", "true to point Reply-To at the sender instead of the list (default false)",
			func(s *store.ListSettings) *bool { return &s.ReplyToSender }),
		boolOption("anonymous", "true to hide who posted: From, Message-ID and Date are the list's and nothing names the "+
			"signer; posts must still be signed by a member (default false)",
			func(s *store.ListSettings) *bool { return &s.Anonymous }),
		boolOption("headers_to_meta", "true to put the post's From, To, Cc, Date, signature and encryption in a block at "+
			"the top of each copy (default false)",
			func(s *store.ListSettings) *bool { return &s.HeadersToMeta }),
		Option{Name: "footer", Help: "text added as the last part of each copy; \\n starts a new line (default none)", Type: TypeText,
			get: func(l *store.List) string { return strings.ReplaceAll(l.Settings.Footer, "\n", `\n`) },
			set: func(l *store.List, v string) error { l.Settings.Footer = strings.ReplaceAll(v, `\n`, "\n"); return nil }},
		Option{Name: "keywords_admin_only", Help: "request keywords only list admins may send, comma-separated " +
			"(default " + strings.ToLower(strings.Join(DefaultAdminKeywords, ",")) + "; \"none\" for none)", Type: TypeList,
			get: func(l *store.List) string {
				ks := l.Settings.AdminKeywords
				if ks == nil {
					ks = DefaultAdminKeywords
				}
				if len(ks) == 0 {
					return "none"
				}
				return strings.ToLower(strings.Join(ks, ","))
			},
			set: func(l *store.List, v string) error {
				ks := []string{}
				for _, k := range strings.Split(v, ",") {
					k = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(k), "x-"), "X-"))
					switch _, known := keywords[k]; {
					case k == "" || k == "NONE":
					case !known || k == "LIST-NAME":
						return fmt.Errorf("%q is not a request keyword", k)
					default:
						ks = append(ks, k)
					}
				}
				l.Settings.AdminKeywords = ks
				return nil
			}},
		intOption("bounce_threshold", fmt.Sprintf("bounces within bounce_days after which copies to a member stop "+
			"and the owner is told (default %d)", store.DefaultBounceThreshold), store.DefaultBounceThreshold, 1000,
			func(s *store.ListSettings) *int { return &s.BounceThreshold }),
		intOption("bounce_days", fmt.Sprintf("days over which bounces are counted (default %d)", store.DefaultBounceDays),
			store.DefaultBounceDays, 365, func(s *store.ListSettings) *int { return &s.BounceDays }),
		intOption("hold_days", fmt.Sprintf("days a held message waits for a moderator before it is dropped "+
			"and the owner told (default %d)", store.DefaultHoldDays), store.DefaultHoldDays, 365,
			func(s *store.ListSettings) *int { return &s.HoldDays }),
		Option{Name: "max_message_size", Help: "largest post in bytes; 0 follows the server's [smtp] max_message_bytes " +
			"(what happens to larger ones: on_too_big)", Type: TypeNumber, Min: 0,
			get: func(l *store.List) string { return strconv.FormatInt(l.Settings.MaxMessageSize, 10) },
			set: func(l *store.List, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil && n < 0 {
					err = fmt.Errorf("negative")
				}
				l.Settings.MaxMessageSize = n
				return err
			}},
	)
	return opts
}

// intOption is a positive number up to most whose zero value in the
// settings means def.
func intOption(name, help string, def, most int, field func(*store.ListSettings) *int) Option {
	return Option{Name: name, Help: help, Type: TypeNumber, Min: 1, Max: int64(most),
		get: func(l *store.List) string {
			if v := *field(&l.Settings); v != 0 {
				return strconv.Itoa(v)
			}
			return strconv.Itoa(def)
		},
		set: func(l *store.List, v string) error {
			n, err := strconv.Atoi(v)
			if err == nil && n < 1 {
				err = fmt.Errorf("at least 1")
			}
			*field(&l.Settings) = n
			return err
		}}
}

func ruleFor(o policy.Outcome) policy.OutcomeRule {
	for _, r := range policy.OutcomeRules() {
		if r.Outcome == o {
			return r
		}
	}
	panic("admin: no outcome " + string(o))
}

func actionOf(l *store.List, r policy.OutcomeRule) policy.Action {
	if a, err := policy.ParseAction(r.Outcome, l.Settings.Actions[string(r.Outcome)]); err == nil {
		return a
	}
	return r.Default
}

func setAction(l *store.List, r policy.OutcomeRule, a policy.Action) {
	if a == r.Default {
		delete(l.Settings.Actions, string(r.Outcome))
		return
	}
	if l.Settings.Actions == nil {
		l.Settings.Actions = map[string]string{}
	}
	l.Settings.Actions[string(r.Outcome)] = string(a)
}

// acceptSwitch is a receive_* option: true unless the outcome's action
// is accept. Setting it false accepts; setting it true again restores
// the default action.
func acceptSwitch(name, help string, o policy.Outcome) Option {
	r := ruleFor(o)
	return Option{Name: name, Help: help, Type: TypeBool,
		get: func(l *store.List) string { return strconv.FormatBool(actionOf(l, r) != policy.Accept) },
		set: func(l *store.List, v string) error {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			switch {
			case !on:
				setAction(l, r, policy.Accept)
			case actionOf(l, r) == policy.Accept:
				setAction(l, r, r.Default)
			}
			return nil
		}}
}

// SetOptions applies NAME=VALUE assignments to a list. Every problem is
// reported at once; nothing is saved unless all assignments are valid.
func (s *Service) SetOptions(ctx context.Context, list string, assignments []string) (*store.List, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	byName := map[string]Option{}
	for _, o := range OptionsFor(l) {
		byName[o.Name] = o
	}
	var problems OptionErrors
	refuse := func(name, format string, args ...any) {
		problems = append(problems, OptionError{Name: name, Message: fmt.Sprintf(format, args...)})
	}
	for _, a := range assignments {
		name, value, ok := strings.Cut(a, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		o, known := byName[name]
		switch {
		case !ok:
			refuse("", "%q is not OPTION=VALUE", a)
		case retired[name] != "":
			refuse("", "%s", retired[name])
		case !known:
			refuse("", "unknown option %q", name)
		case o.AdminOnly && !s.actor.IsAdmin():
			refuse(o.Name, "%s: only an admin may change it", o.Name)
		default:
			err := o.checkType(value)
			if err == nil {
				err = o.set(l, value)
			}
			switch {
			case err == nil:
			case errors.Is(err, strconv.ErrSyntax):
				refuse(o.Name, "%s: invalid value %q", o.Name, value)
			default:
				refuse(o.Name, "%s: invalid value %q: %v", o.Name, value, err)
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if err := s.st.UpdateList(ctx, l); err != nil {
		return nil, err
	}
	return l, s.audit(ctx, kindOf(l)+".set", l.Address, "", strings.Join(assignments, " "))
}

// retired are options that no longer exist, with what to do instead.
var retired = map[string]string{
	"allow_unbound": "allow_unbound is retired: posts whose signed content names no recipient are now accepted by " +
		"default (marked as not bound to the list; their signature is then refused by every other list); " +
		"set require_binding=true to refuse them",
}

func validFormat(f string) bool {
	return f == store.FormatPGPMIME || f == store.FormatInline || f == store.FormatSMIME
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
