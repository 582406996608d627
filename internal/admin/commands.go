package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// keyword is one command members and admins send to LIST-request.
type keyword struct {
	help string
	// run carries it out for sender (an admin or not) and returns the
	// text of its answer; an error is shown to the sender as the answer.
	run func(c *commandRun, args []string) (string, error)
}

// keywords are the commands of Schleuder's request mail that Sealpost
// answers.
var keywords = map[string]keyword{
	"LIST-NAME":          {"names the list the request is for (required)", nil},
	"SUBSCRIBE":          {"EMAIL [FINGERPRINT] [true]: add a member with a key from the keyring (true: as admin)", (*commandRun).subscribe},
	"UNSUBSCRIBE":        {"[EMAIL]: remove a member (yourself when no EMAIL)", (*commandRun).unsubscribe},
	"LIST-SUBSCRIPTIONS": {"[TEXT]: the members (those matching TEXT)", (*commandRun).subscriptions},
	"SET-FINGERPRINT":    {"[EMAIL] FINGERPRINT: a member's key, from the keyring; for yourself it needs your confirmation", (*commandRun).setFingerprint},
	"ADD-KEY":            {"import the keys attached or pasted below into the keyring", (*commandRun).addKey},
	"DELETE-KEY":         {"FINGERPRINT: remove a key nobody uses from the keyring", (*commandRun).deleteKey},
	"LIST-KEYS":          {"[TEXT]: the members' keys (those matching TEXT)", (*commandRun).listKeys},
	"GET-KEY":            {"FINGERPRINT|EMAIL: the key, attached", (*commandRun).getKey},
	"SIGN-THIS":          {"the text after the keywords, signed by the list's key", (*commandRun).signThis},
	"HOLD-LIST":          {"the held messages (admins)", (*commandRun).holdList},
	"HOLD-SHOW":          {"ID: a held message, decrypted: signer, why it is held, headers, text, attachment names (admins)", (*commandRun).holdShow},
	"HOLD-RELEASE":       {"ID...: distribute held messages, waiving the rule each broke (admins)", (*commandRun).holdRelease},
	"HOLD-REJECT":        {"ID... [-- REASON]: drop held messages and tell their senders, with the reason when given (admins)", (*commandRun).holdReject},
	"HOLD-DISCARD":       {"ID...: drop held messages silently (admins)", (*commandRun).holdDiscard},
}

// moderation keywords are for admins, whatever the list says.
var moderation = []string{"HOLD-LIST", "HOLD-SHOW", "HOLD-RELEASE", "HOLD-REJECT", "HOLD-DISCARD"}

// DefaultAdminKeywords are the keywords only list admins may send, when
// a list names none.
var DefaultAdminKeywords = []string{"SUBSCRIBE", "DELETE-KEY"}

// commandRun is one request being carried out.
type commandRun struct {
	s      *Service
	ctx    context.Context
	list   *store.List
	sender string
	admin  bool
	req    pipeline.Request
	reply  pipeline.Reply
}

// RunCommands carries out the keywords of a member's request by mail
// (pipeline.Commands). The request must name the list (X-LIST-NAME); a
// request with an unknown keyword, or one the sender may not use, does
// nothing at all. The reply says what each keyword did.
func (s *Service) RunCommands(ctx context.Context, list *store.List, sender string, req pipeline.Request) (pipeline.Reply, error) {
	ms, err := s.st.Members(ctx, list.ID)
	if err != nil {
		return pipeline.Reply{}, err
	}
	// The request's own rules (check) decide what the sender may do; the
	// actor names them in the audit log.
	c := &commandRun{s: s.As(Actor{Email: sender, Role: store.RoleAdmin, Via: ViaMail}), ctx: ctx, list: list, sender: sender, req: req}
	for _, m := range ms {
		if m.Email == sender {
			c.admin = m.Admin
		}
	}
	if problems := c.check(); len(problems) > 0 {
		return pipeline.Reply{Text: "Nothing was done, because:\n\n  " + strings.Join(problems, "\n  ") +
			"\n\n" + keywordHelp(list.Address)}, nil
	}
	var b strings.Builder
	for _, kw := range req.Keywords {
		if kw.Name == "LIST-NAME" {
			continue
		}
		fmt.Fprintf(&b, "> X-%s: %s\n", kw.Name, strings.Join(kw.Args, " "))
		answer, err := keywords[kw.Name].run(c, kw.Args)
		if err != nil {
			answer = "Not done: " + strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), ErrNotFound.Error()+": ")
		}
		b.WriteString(indent(answer) + "\n")
	}
	c.reply.Text = b.String()
	return c.reply, nil
}

// check validates the whole request before anything is done.
func (c *commandRun) check() []string {
	var problems []string
	named := false
	adminOnly := c.list.Settings.AdminKeywords
	if adminOnly == nil {
		adminOnly = DefaultAdminKeywords
	}
	for _, kw := range c.req.Keywords {
		switch _, known := keywords[kw.Name]; {
		case !known:
			problems = append(problems, fmt.Sprintf("X-%s is not a keyword Sealpost knows.", kw.Name))
		case kw.Name == "LIST-NAME":
			named = len(kw.Args) == 1 && strings.EqualFold(kw.Args[0], c.list.Address)
		case (slices.Contains(adminOnly, kw.Name) || slices.Contains(moderation, kw.Name)) && !c.admin:
			problems = append(problems, fmt.Sprintf("X-%s is for the list's admins only.", kw.Name))
		}
	}
	if !named {
		problems = append(problems, "The request does not name the list: its first line must be X-LIST-NAME: "+c.list.Address)
	}
	return problems
}

func keywordHelp(list string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Requests go to %s, encrypted to the list's key and signed with\nyour key, starting with X-LIST-NAME: %s and then one keyword a line:\n\n",
		mail.RoleAddress(list, mail.RoleRequest), list)
	names := make([]string, 0, len(keywords))
	for n := range keywords {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  X-%-19s %s\n", n+":", keywords[n].help)
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// target is the member address a keyword acts on: args[0] when it is an
// address, else the sender. Acting on someone else needs an admin.
func (c *commandRun) target(args []string) (string, []string, error) {
	if len(args) > 0 && strings.Contains(args[0], "@") {
		addr, err := mail.Normalize(args[0])
		if err != nil {
			return "", nil, fmt.Errorf("%q is not an email address", args[0])
		}
		if addr != c.sender && !c.admin {
			return "", nil, errors.New("only the list's admins may do this for someone else")
		}
		return addr, args[1:], nil
	}
	return c.sender, args, nil
}

func (c *commandRun) subscribe(args []string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("X-SUBSCRIBE needs the address to subscribe")
	}
	addr, err := mail.Normalize(args[0])
	if err != nil {
		return "", fmt.Errorf("%q is not an email address", args[0])
	}
	var k *store.Key
	if len(args) > 1 && args[1] != "true" {
		if k, err = c.keyringKey(args[1]); err != nil {
			return "", err
		}
	} else {
		keys, err := c.s.st.FindKeys(c.ctx, store.IndexEmail, addr)
		if err != nil {
			return "", err
		}
		if len(keys) != 1 {
			return "", fmt.Errorf("the keyring has %d keys for %s; name the fingerprint", len(keys), addr)
		}
		k = &keys[0]
	}
	isAdmin := args[len(args)-1] == "true"
	m, info, err := c.addMember(addr, k.Data, isAdmin)
	if err != nil {
		return "", err
	}
	return c.withWarnings(fmt.Sprintf("Subscribed %s with key %s (admin: %v).", m.Email, crypto.FormatFingerprint(info.Fingerprint), isAdmin), m.Email, info)
}

// addMember adds addr as AddMember does, but the welcome message goes
// into the reply's deliveries: the pipeline commits it with the reply,
// so that one request is one transaction.
func (c *commandRun) addMember(addr string, keyData []byte, isAdmin bool) (*store.Member, crypto.KeyInfo, error) {
	l, m, info, err := c.s.addMember(c.ctx, c.list.Address, addr, keyData, isAdmin)
	if err != nil {
		return nil, info, err
	}
	ds, note := c.s.welcome(c.ctx, l, m, MemberOptions{Admin: isAdmin})
	c.reply.Deliveries = append(c.reply.Deliveries, ds...)
	return m, info, c.s.audit(c.ctx, "member.add", l.Address, m.Email, memberDetail(info, isAdmin)+"; "+note)
}

// withWarnings adds to answer what keeps the list from using the key
// info just given to the member addr (MemberKeyWarnings). The key was
// given: a failure to tell is not a failure of the keyword.
func (c *commandRun) withWarnings(answer, addr string, info crypto.KeyInfo) (string, error) {
	ws, _ := c.s.MemberKeyWarnings(c.ctx, c.list.Address, addr, info)
	for _, w := range ws {
		answer += "\nWarning: " + w
	}
	return answer, nil
}

func (c *commandRun) unsubscribe(args []string) (string, error) {
	addr, _, err := c.target(args)
	if err != nil {
		return "", err
	}
	if err := c.s.RemoveMember(c.ctx, c.list.Address, addr); err != nil {
		return "", err
	}
	return "Unsubscribed " + addr + ".", nil
}

func (c *commandRun) subscriptions(args []string) (string, error) {
	views, err := c.s.Members(c.ctx, c.list.Address)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, v := range views {
		if !matches(v.Email, args) {
			continue
		}
		fpr := "no key"
		if len(v.Member.Keys) > 0 {
			fpr = v.Member.Keys[len(v.Member.Keys)-1].Fingerprint
		}
		line := v.Email + "  " + fpr
		if v.Admin {
			line += "  (admin)"
		}
		if !v.DisabledAt.IsZero() {
			line += "  (delivery off)"
		}
		b.WriteString(line + "\n")
	}
	if b.Len() == 0 {
		return "No members match.", nil
	}
	return b.String(), nil
}

func (c *commandRun) setFingerprint(args []string) (string, error) {
	addr, rest, err := c.target(args)
	if err != nil {
		return "", err
	}
	if len(rest) != 1 {
		return "", errors.New("X-SET-FINGERPRINT needs one fingerprint")
	}
	k, err := c.keyringKey(rest[0])
	if err != nil {
		return "", err
	}
	if addr == c.sender && k.Engine == store.EngineOpenPGP {
		// A member's own new key needs proof that they hold it.
		if _, err := c.s.ChallengeMemberKey(c.ctx, c.list.Address, addr, k.Data); err != nil {
			return "", err
		}
		return "A challenge was sent, encrypted to key " + crypto.FormatFingerprint(k.Fingerprint) +
			"; it becomes your key when you answer it, signed with that key.", nil
	}
	info, err := c.s.AddMemberKey(c.ctx, c.list.Address, addr, k.Data)
	if err != nil {
		return "", err
	}
	return c.withWarnings(fmt.Sprintf("%s now has key %s.", addr, crypto.FormatFingerprint(k.Fingerprint)), addr, info)
}

func (c *commandRun) addKey([]string) (string, error) {
	if len(c.req.Keys) == 0 {
		return "", errors.New("no key attached or pasted")
	}
	var b strings.Builder
	for _, data := range c.req.Keys {
		rs, err := c.s.ImportKeys(c.ctx, "key.asc", data, ImportOptions{})
		if err != nil {
			return "", err
		}
		for _, r := range rs {
			fmt.Fprintf(&b, "%s: %s %s\n", r.Outcome, r.Fingerprint, strings.Join(append(r.Addresses, r.Reason), " "))
		}
	}
	return b.String(), nil
}

func (c *commandRun) deleteKey(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New("X-DELETE-KEY needs one fingerprint")
	}
	fpr := strings.ToUpper(strings.TrimPrefix(args[0], "0x"))
	if err := c.s.DeleteKey(c.ctx, fpr); err != nil {
		return "", err
	}
	return "Deleted key " + crypto.FormatFingerprint(fpr) + ".", nil
}

func (c *commandRun) listKeys(args []string) (string, error) {
	views, err := c.s.Members(c.ctx, c.list.Address)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, v := range views {
		for i, mk := range v.Member.Keys {
			info := v.Keys[i]
			if !matches(v.Email+" "+mk.Fingerprint, args) {
				continue
			}
			fmt.Fprintf(&b, "%s  %s  %s  %s\n", crypto.FormatFingerprint(mk.Fingerprint), v.Email, info.Algorithm,
				keyring.StatusOf(keyring.CheckMemberKey(info, v.Email, c.s.now())))
		}
	}
	if b.Len() == 0 {
		return "No keys match.", nil
	}
	return b.String(), nil
}

func (c *commandRun) getKey(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New("X-GET-KEY needs a fingerprint or an address")
	}
	ds, err := c.s.FindKey(c.ctx, args[0])
	if err != nil {
		return "", err
	}
	var names []string
	for _, d := range ds {
		data, err := c.s.ExportKey(c.ctx, d.Fingerprint, false)
		if err != nil {
			return "", err
		}
		name, ct := d.Fingerprint+".asc", "application/pgp-keys"
		if d.Engine == store.EngineSMIME {
			name, ct = d.Fingerprint+".pem", "application/x-pem-file"
		}
		c.reply.Attachments = append(c.reply.Attachments, pipeline.Attachment{Name: name, ContentType: ct, Data: data})
		names = append(names, name)
	}
	return "Attached: " + strings.Join(names, ", "), nil
}

func (c *commandRun) signThis([]string) (string, error) {
	text := strings.TrimSpace(c.req.Text)
	if text == "" {
		return "", errors.New("nothing to sign: put the text after the keywords")
	}
	k, err := c.s.sealer.OpenListKey(c.list)
	if err != nil {
		return "", err
	}
	signed, err := pgp.ClearSign(k, []byte(text+"\n"), pgp.Options{Now: c.s.now, Rand: c.s.rand, NoSaltNotation: true})
	if err != nil {
		return "", err
	}
	c.reply.Attachments = append(c.reply.Attachments, pipeline.Attachment{Name: "signed.asc", ContentType: "text/plain", Data: signed})
	return "Attached: signed.asc, the text signed by the list's key.", nil
}

// keyringKey returns the keyring's key with fingerprint fpr.
func (c *commandRun) keyringKey(fpr string) (*store.Key, error) {
	k, err := c.s.st.Key(c.ctx, strings.ToUpper(strings.TrimPrefix(fpr, "0x")))
	if err != nil {
		return nil, fmt.Errorf("the keyring has no key %s; send it with X-ADD-KEY first", fpr)
	}
	return k, nil
}

func (c *commandRun) holdList([]string) (string, error) {
	hs, err := c.s.Holds(c.ctx, c.list.Address)
	if err != nil {
		return "", err
	}
	if len(hs) == 0 {
		return "No held messages.", nil
	}
	var b strings.Builder
	for _, h := range hs {
		hdr := HoldHeaders(&h)
		fmt.Fprintf(&b, "#%d  %s  from %s  %q\n      %s\n", h.ID, h.CreatedAt.UTC().Format(time.DateTime), h.EnvelopeFrom, hdr["Subject"], h.Reason)
	}
	return b.String(), nil
}

// holdShow answers with a held message as ReadHold opens it, as text in
// the reply: the reply is encrypted to the admin as every answer is, and
// text is what every mail client shows, with nothing of the held post
// (HTML, remote images) rendered by it. The reading is audited.
func (c *commandRun) holdShow(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New("name one held message by its ID (X-HOLD-LIST shows them)")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
	if err != nil {
		return "", fmt.Errorf("%s is not a held message ID", args[0])
	}
	p, err := c.s.ReadHold(c.ctx, c.list.Address, id)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := WriteHeldPost(&b, p); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (c *commandRun) holdRelease(args []string) (string, error) {
	return c.eachHold(args, "Released", func(id int64) error { return c.s.ReleaseHold(c.ctx, c.list.Address, id) })
}

// holdReject rejects the held messages named, telling each sender the
// reason that follows a lone "--", if any, as the UI, the API and
// `hold reject --reason` do:
//
//	X-HOLD-REJECT: 12 14 -- Please sign your posts with your own key.
func (c *commandRun) holdReject(args []string) (string, error) {
	ids, reason := args, ""
	if i := slices.Index(args, "--"); i >= 0 {
		ids, reason = args[:i], strings.Join(args[i+1:], " ")
		if reason == "" {
			return "", errors.New("give the reason after -- (or leave the -- out to give none)")
		}
	}
	if _, err := rejectReason(reason); err != nil {
		return "", err // checked once, not for each message
	}
	return c.eachHold(ids, "Rejected", func(id int64) error { return c.s.RejectHold(c.ctx, c.list.Address, id, reason) })
}

func (c *commandRun) holdDiscard(args []string) (string, error) {
	return c.eachHold(args, "Discarded", func(id int64) error { return c.s.DiscardHold(c.ctx, c.list.Address, id) })
}

// eachHold applies do to each held message ID in args.
func (c *commandRun) eachHold(args []string, done string, do func(int64) error) (string, error) {
	if len(args) == 0 {
		return "", errors.New("name the held messages by their IDs (X-HOLD-LIST shows them)")
	}
	var b strings.Builder
	for _, a := range args {
		id, err := strconv.ParseInt(strings.TrimPrefix(a, "#"), 10, 64)
		if err != nil {
			fmt.Fprintf(&b, "%s: not a held message ID\n", a)
			continue
		}
		if err := do(id); err != nil {
			fmt.Fprintf(&b, "#%d: %v\n", id, err)
			continue
		}
		fmt.Fprintf(&b, "#%d: %s\n", id, strings.ToLower(done))
	}
	return b.String(), nil
}

func matches(s string, filter []string) bool {
	for _, f := range filter {
		if !strings.Contains(strings.ToLower(s), strings.ToLower(f)) {
			return false
		}
	}
	return true
}
