package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// Destination is where a gateway hands its inbound mail: a helpdesk's
// SMTP or LMTP listener, or a Maildir it reads.
type Destination struct {
	Scheme  string // "smtp", "lmtp" or "maildir"
	Network string // "tcp" or "unix" (smtp and lmtp)
	Addr    string // host:port, a socket path, or the Maildir directory
}

// ParseDestination reads a gateway's deliver_to: smtp://HOST[:PORT]
// (default port 25), lmtp://HOST[:PORT] (default 24), lmtp:/PATH (a Unix
// socket), maildir:/PATH or an absolute path (a Maildir).
func ParseDestination(s string) (Destination, error) {
	if strings.HasPrefix(s, "/") {
		return Destination{Scheme: "maildir", Addr: filepath.Clean(s)}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return Destination{}, fmt.Errorf("%q is not smtp://HOST:PORT, lmtp://HOST:PORT, lmtp:/SOCKET or a Maildir path", s)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "maildir" && strings.HasPrefix(u.Opaque+u.Path, "/"):
		return Destination{Scheme: "maildir", Addr: filepath.Clean(u.Opaque + u.Path)}, nil
	case scheme == "lmtp" && u.Host == "" && strings.HasPrefix(u.Opaque+u.Path, "/"):
		return Destination{Scheme: "lmtp", Network: "unix", Addr: u.Opaque + u.Path}, nil
	case (scheme == "smtp" || scheme == "lmtp") && u.Host != "" && (u.Path == "" || u.Path == "/"):
		port := map[string]string{"smtp": "25", "lmtp": "24"}[scheme]
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return Destination{}, fmt.Errorf("%q: bad port", s)
			}
			port = p
		}
		return Destination{Scheme: scheme, Network: "tcp", Addr: net.JoinHostPort(u.Hostname(), port)}, nil
	}
	return Destination{}, fmt.Errorf("%q is not smtp://HOST:PORT, lmtp://HOST:PORT, lmtp:/SOCKET or a Maildir path", s)
}

// CreateGateway creates a gateway at address, with a fresh key, in front
// of the helpdesk that deliverTo names.
func (s *Service) CreateGateway(ctx context.Context, address, owner, name string, algo pgp.Algorithm, deliverTo string) (*store.List, error) {
	if err := s.requireAdmin("create a gateway"); err != nil {
		return nil, err
	}
	if _, err := ParseDestination(deliverTo); err != nil {
		return nil, fmt.Errorf("%w: --deliver-to: %v", ErrInvalid, err)
	}
	return s.create(ctx, &store.List{Mode: store.ModeGateway, Gateway: store.GatewaySettings{DeliverTo: deliverTo}},
		address, owner, name, algo)
}

// Gateway returns the gateway at address.
func (s *Service) Gateway(ctx context.Context, address string) (*store.List, error) {
	l, err := s.List(ctx, address)
	if err != nil {
		return nil, err
	}
	if !l.IsGateway() {
		return nil, fmt.Errorf("%w: %s is a list, not a gateway", ErrInvalid, l.Address)
	}
	return l, nil
}

// listOptionsForGateways are the list options that mean something for a
// gateway too.
var listOptionsForGateways = []string{"name", "owner", "language", "welcome", "autocrypt", "openpgp_header", "autocrypt_import",
	"allow_seipd_v2", "max_message_size", "smime_opaque", "smime_cipher", "smime_keytransport", "hold_days"}

// GatewayOptions returns the settable gateway options, sorted by name.
func GatewayOptions() []Option {
	gwBool := func(name, help string, field func(*store.GatewaySettings) *bool, negated bool) Option {
		return Option{Name: name, Help: help, Type: TypeBool,
			get: func(l *store.List) string { return strconv.FormatBool(*field(&l.Gateway) != negated) },
			set: func(l *store.List, v string) error {
				b, err := strconv.ParseBool(v)
				*field(&l.Gateway) = b != negated
				return err
			}}
	}
	opts := []Option{
		{Name: "deliver_to", Help: "where decrypted mail goes: smtp://HOST:PORT, lmtp://HOST:PORT, lmtp:/SOCKET or a Maildir path",
			AdminOnly: true, Type: TypeText,
			get: func(l *store.List) string { return l.Gateway.DeliverTo },
			set: func(l *store.List, v string) error {
				if _, err := ParseDestination(v); err != nil {
					return err
				}
				l.Gateway.DeliverTo = v
				return nil
			}},
		gwBool("require_encryption", "true to refuse mail that is not encrypted to the gateway (default false: ordinary mail passes, marked)",
			func(g *store.GatewaySettings) *bool { return &g.RequireEncryption }, false),
		gwBool("require_signature", "true to refuse mail without a good signature by a key on file or that it brings (default false)",
			func(g *store.GatewaySettings) *bool { return &g.RequireSignature }, false),
		gwBool("attach_original", "true to attach the message as received (encrypted) to what the helpdesk gets (default false)",
			func(g *store.GatewaySettings) *bool { return &g.AttachOriginal }, false),
		gwBool("sign_replies", "false to send replies that go out in clear unsigned (default true; encrypted replies are always signed)",
			func(g *store.GatewaySettings) *bool { return &g.UnsignedReplies }, true),
		gwBool("archive", "true to keep every message of every conversation, sealed, for `gateway archive` (default false)",
			func(g *store.GatewaySettings) *bool { return &g.Archive }, false),
		gwChoice("encrypt_replies", "when-possible (default: to every recipient with a usable key, and a conversation that "+
			"arrived encrypted only encrypted) or always (no reply ever in clear)",
			func(g *store.GatewaySettings) *string { return &g.EncryptReplies }, "when-possible", store.EncryptAlways),
		{Name: "verdict_banner", Help: "on (default): the text the helpdesk shows starts with one line saying what the " +
			"X-Sealpost-* fields say (encrypted, signed by whom, or a warning); off: the message as it came",
			Type: TypeChoice, Choices: []string{"on", "off"},
			get: func(l *store.List) string {
				if l.Gateway.NoVerdictBanner {
					return "off"
				}
				return "on"
			},
			set: func(l *store.List, v string) error {
				switch strings.ToLower(v) {
				case "on", "true":
					l.Gateway.NoVerdictBanner = false
				case "off", "false":
					l.Gateway.NoVerdictBanner = true
				default:
					return errors.New("not on or off")
				}
				return nil
			}},
		{Name: "submit_clients", Help: "comma-separated networks (CIDR, e.g. 192.0.2.10/32) from which the helpdesk may submit " +
			"replies without SMTP AUTH; empty: AUTH only",
			AdminOnly: true, Type: TypeList,
			get: func(l *store.List) string { return strings.Join(l.Gateway.SubmitClients, ",") },
			set: func(l *store.List, v string) error {
				var nets []string
				for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
					pfx, err := netip.ParsePrefix(f)
					if err != nil {
						return fmt.Errorf("%q is not a network in CIDR form", f)
					}
					nets = append(nets, pfx.Masked().String())
				}
				l.Gateway.SubmitClients = nets
				return nil
			}},
	}
	opts = append(opts, threadOptions()...)
	opts = append(opts, staffOptions()...)
	shared := map[string]bool{}
	for _, n := range listOptionsForGateways {
		shared[n] = true
	}
	for _, o := range ListOptions() {
		if shared[o.Name] {
			opts = append(opts, o)
		}
	}
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	return placed(opts)
}

// gwChoice is a gateway option that takes one of choices; the first is
// the default, stored as "", the others are stored as they are.
func gwChoice(name, help string, field func(*store.GatewaySettings) *string, choices ...string) Option {
	return Option{Name: name, Help: help, Type: TypeChoice, Choices: choices,
		get: func(l *store.List) string { return orDefault(*field(&l.Gateway), choices[0]) },
		set: func(l *store.List, v string) error {
			i := slices.Index(choices, v)
			switch {
			case i < 0:
				return errors.New("not " + strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1])
			case i == 0:
				v = ""
			}
			*field(&l.Gateway) = v
			return nil
		}}
}

// adminOnly marks o as one only an administrator may set.
func adminOnly(o Option) Option {
	o.AdminOnly = true
	return o
}

// threadOptions are the gateway options that keep customers' answers in
// their helpdesk ticket: what an encrypted reply shows outside, and how
// the helpdesk's ticket tag is found in a Subject.
func threadOptions() []Option {
	return []Option{
		gwChoice("reply_subject", "outer Subject of an encrypted reply, readable in transit: hidden (default: \"...\"), "+
			"tag (only the helpdesk's ticket tag, e.g. \"[example.org #7] ...\", so that customers whose mail program does not "+
			"show protected headers answer into their ticket) or clear (the reply's Subject)",
			func(g *store.GatewaySettings) *string { return &g.ReplySubject }, "hidden", store.ReplySubjectTag, store.ReplySubjectClear),
		{Name: "ticket_tag", Help: "regular expression (RE2) that finds the helpdesk's ticket tag in a Subject; empty for the " +
			"default, which finds Request Tracker's [example.org #7], Znuny's and Zammad's [Ticket#2026120710000012] and " +
			"osTicket's [#123]: " + pipeline.DefaultTicketTag + `; e.g. \[Support #[0-9]+\] for RT with rtname "Support"`,
			Type: TypeText,
			get:  func(l *store.List) string { return orDefault(l.Gateway.TicketTag, pipeline.DefaultTicketTag) },
			set: func(l *store.List, v string) error {
				if v == pipeline.DefaultTicketTag {
					v = ""
				}
				if _, err := pipeline.TicketTagPattern(v); err != nil {
					return err
				}
				l.Gateway.TicketTag = v
				return nil
			}},
	}
}

// staffOptions are the gateway options for the helpdesk's own people.
// Only an administrator sets them: they decide who may receive the
// content of encrypted conversations.
func staffOptions() []Option {
	return []Option{
		{Name: "staff", Help: "comma-separated addresses (bob@example.net) and whole domains (*@example.org, not its " +
			"subdomains) of the helpdesk's own people: never refused as strangers to an encrypted conversation, " +
			"never asked for a key; replies reach them encrypted to their key on file, else as staff_without_key says (default: none)",
			AdminOnly: true, Type: TypeList,
			get: func(l *store.List) string { return strings.Join(l.Gateway.Staff, ",") },
			set: func(l *store.List, v string) error {
				staff, err := ParseStaff(v)
				l.Gateway.Staff = staff
				return err
			}},
		adminOnly(gwChoice("staff_without_key", "what a staff address without a usable key gets of a reply that must be encrypted: "+
			"refuse (default: no copy, and a report in the ticket; the conversation never leaves encrypted) or clear "+
			"(a copy in clear, signed unless sign_replies=false: only where staff mail never leaves a network you trust)",
			func(g *store.GatewaySettings) *string { return &g.StaffWithoutKey }, "refuse", store.StaffClear)),
	}
}

// ParseStaff reads a gateway's staff option: comma-separated addr-specs
// and domain patterns "*@DOMAIN", which cover every address at DOMAIN
// and none at its subdomains. Any other wildcard ("*@*", "*@*.example.org",
// "bob*@example.org") is refused: staff are named, not guessed. It
// returns them lower-cased, without repeats.
func ParseStaff(v string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		local, domain, _ := strings.Cut(f, "@")
		probe := f
		if local == "*" {
			probe = "staff@" + domain // the domain of a pattern must be one an address can have
		}
		n, err := mail.Normalize(probe)
		if err != nil || strings.ContainsAny(domain, "*@") || strings.Contains(local, "*") && local != "*" {
			return nil, fmt.Errorf("%q is not an address or *@DOMAIN", f)
		}
		if local == "*" {
			_, d := mail.Split(n)
			n = "*@" + d
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// OptionsFor returns the options of l's mode.
func OptionsFor(l *store.List) []Option {
	if l.IsGateway() {
		return GatewayOptions()
	}
	return ListOptions()
}

// NewSubmitPassword gives a gateway a new random password for SMTP AUTH
// on the submission listener (user name: the gateway's address) and
// returns it; only its hash is kept, and the old one stops working.
func (s *Service) NewSubmitPassword(ctx context.Context, gateway string) (string, error) {
	if err := s.requireAdmin("set a gateway's submission password"); err != nil {
		return "", err
	}
	gw, err := s.Gateway(ctx, gateway)
	if err != nil {
		return "", err
	}
	b := make([]byte, 24)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(b)
	gw.Gateway.SubmitSecret = secretHash(password)
	if err := s.st.UpdateList(ctx, gw); err != nil {
		return "", err
	}
	return password, s.audit(ctx, "gateway.password", gw.Address, "", "new submission password")
}

func secretHash(password string) string {
	h := sha256.Sum256([]byte(password))
	return hex.EncodeToString(h[:])
}

// ErrBadCredentials is returned by CheckSubmitPassword for a user name
// or password that is wrong.
var ErrBadCredentials = errors.New("bad credentials")

// CheckSubmitPassword returns the gateway whose submission password
// user (its address) and password are.
func (s *Service) CheckSubmitPassword(ctx context.Context, user, password string) (*store.List, error) {
	addr, err := mail.Normalize(user)
	if err != nil {
		return nil, ErrBadCredentials
	}
	gw, err := s.st.ListByAddress(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	want := gw.Gateway.SubmitSecret
	got := secretHash(password)
	if !gw.IsGateway() || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, ErrBadCredentials
	}
	return gw, nil
}

// SubmitClientAllowed reports whether a client at addr may submit for gw
// without SMTP AUTH.
func SubmitClientAllowed(gw *store.List, addr netip.Addr) bool {
	for _, n := range gw.Gateway.SubmitClients {
		if pfx, err := netip.ParsePrefix(n); err == nil && pfx.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// ArchivedMessage is one message of a gateway's archive, opened.
type ArchivedMessage struct {
	store.Archived
	Data []byte
}

// Conversations returns a gateway's most recent conversations.
func (s *Service) Conversations(ctx context.Context, gateway string, limit int) ([]store.Thread, error) {
	gw, err := s.Gateway(ctx, gateway)
	if err != nil {
		return nil, err
	}
	return s.st.Threads(ctx, gw.ID, limit)
}

// Conversation returns the archived messages of one conversation of a
// gateway, opened with the master key, in the order they came.
func (s *Service) Conversation(ctx context.Context, gateway, thread string) ([]ArchivedMessage, error) {
	gw, err := s.Gateway(ctx, gateway)
	if err != nil {
		return nil, err
	}
	as, err := s.st.Archived(ctx, gw.ID, thread)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("%w: no archived conversation %s on %s", ErrNotFound, thread, gw.Address)
	}
	out := make([]ArchivedMessage, 0, len(as))
	for _, a := range as {
		data, err := s.sealer.Open(a.Sealed, keyring.ArchiveLabel(gw.Address, a.Ref, a.Direction))
		if err != nil {
			return nil, fmt.Errorf("archived message %d: %w", a.ID, err)
		}
		out = append(out, ArchivedMessage{Archived: a, Data: data})
	}
	// Reading decrypted correspondence is recorded like a change.
	return out, s.audit(ctx, "archive.read", gw.Address, thread, "")
}

// WriteMbox writes archived messages in mboxrd form: each with a From_
// line, ">From " escaping, and an empty line after it.
func WriteMbox(w io.Writer, ms []ArchivedMessage) error {
	var b bytes.Buffer
	for _, m := range ms {
		who := "sealpost"
		if m.Direction == "out" {
			who = "helpdesk"
		}
		fmt.Fprintf(&b, "From %s %s\n", who, m.CreatedAt.UTC().Format(time.ANSIC))
		for line := range bytes.Lines(bytes.ReplaceAll(m.Data, []byte("\r\n"), []byte("\n"))) {
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				b.WriteByte('>')
			}
			b.Write(line)
		}
		if !bytes.HasSuffix(m.Data, []byte("\n")) {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}
