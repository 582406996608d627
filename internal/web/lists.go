package web

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// badgeHTML is a status badge: kind picks its colour, text is shown.
func badgeHTML(kind, text string) template.HTML {
	k := html.EscapeString(kind)
	return template.HTML(`<span class="badge badge-` + k + `" data-badge="` + k + `">` + html.EscapeString(text) + `</span>`)
}

// listRow is a list in the tables of lists.
type listRow struct {
	Address, Name, Owner string
	Gateway              bool
	Members, Held        int
	KeyBadge, KeyText    string
}

// listRows describes the lists the account may manage.
func listRows(ctx context.Context, svc *admin.Service) ([]listRow, error) {
	ls, err := svc.Lists(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := svc.ListCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]listRow, 0, len(ls))
	for i := range ls {
		l := &ls[i]
		c := counts[l.Address]
		row := listRow{Address: l.Address, Name: l.Name, Owner: l.Owner, Gateway: l.IsGateway(), Members: c.Members, Held: c.Held,
			KeyBadge: "missing", KeyText: "unreadable"}
		if info, err := svc.KeyInfo(l); err == nil {
			row.KeyBadge, row.KeyText = listKeyBadge(info, svc.Now())
		}
		out = append(out, row)
	}
	return out, nil
}

// listKeyBadge is the badge of a list's own key, and its words.
func listKeyBadge(info crypto.KeyInfo, now time.Time) (kind, text string) {
	kind = admin.ListKeyBadge(info, now)
	if kind == admin.BadgeUnusable {
		return kind, "cannot sign"
	}
	return kind, kind
}

// findingRow is a key that needs attention.
type findingRow struct {
	admin.KeyFinding
	Badge, Text string
}

func findingRows(fs []admin.KeyFinding) []findingRow {
	out := make([]findingRow, 0, len(fs))
	for _, f := range fs {
		r := findingRow{KeyFinding: f}
		switch f.Status {
		case keyring.Usable:
			r.Badge, r.Text = admin.BadgeExpiring, "expires "+f.Expires.UTC().Format(time.DateOnly)
		case keyring.KeyExpired:
			r.Badge, r.Text = admin.BadgeExpired, "expired"
		case keyring.KeyRevoked:
			r.Badge, r.Text = admin.BadgeRevoked, "revoked"
		default:
			r.Badge, r.Text = admin.BadgeUnusable, strings.ToLower(f.Status.String())
		}
		out = append(out, r)
	}
	return out
}

type dashboardData struct {
	Lists []listRow
	// Moderating are the lists the account moderates without managing
	// them: their held messages are all it may see of them.
	Moderating                       []moderatedRow
	Pending, Failed, Held, Attention int
	Findings                         []findingRow
	Cluster                          *clusterCard // the admin's Nodes card; nil for anyone else
}

// clusterCard is the dashboard's Nodes card: the nodes sharing the
// database, the database, and the job runs.
type clusterCard struct {
	Database string
	Nodes    []nodeRow
	Jobs     []store.JobRun
}

// moderatedRow is a list the account moderates, with its held messages.
type moderatedRow struct {
	Address, Name string
	Held          int
}

// moderating returns the lists the actor moderates but does not manage.
func moderating(ctx context.Context, svc *admin.Service, managed []listRow) ([]moderatedRow, error) {
	ls, err := svc.Moderated(ctx)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, r := range managed {
		own[r.Address] = true
	}
	var out []moderatedRow
	for _, l := range ls {
		if own[l.Address] {
			continue
		}
		hs, err := svc.Holds(ctx, l.Address)
		if err != nil {
			return nil, err
		}
		out = append(out, moderatedRow{Address: l.Address, Name: l.Name, Held: len(hs)})
	}
	return out, nil
}

// nodeRow is a live node, with how long ago it last said so.
type nodeRow struct {
	store.Node
	SeenAgo string
}

// cluster returns the Nodes card, for an admin; nil for anyone else.
func cluster(ctx context.Context, svc *admin.Service, now time.Time) (*clusterCard, error) {
	if !svc.Actor().IsAdmin() {
		return nil, nil
	}
	st, err := svc.Status(ctx)
	if err != nil {
		return nil, err
	}
	c := &clusterCard{Database: st.Database, Jobs: st.Jobs}
	for _, n := range st.Nodes {
		c.Nodes = append(c.Nodes, nodeRow{Node: n, SeenAgo: max(now.Sub(n.SeenAt), 0).Round(time.Second).String() + " ago"})
	}
	return c, nil
}

func dashboard(q *request) error {
	ctx := q.r.Context()
	rows, err := listRows(ctx, q.svc)
	if err != nil {
		return err
	}
	counts, err := q.svc.QueueCounts(ctx)
	if err != nil {
		return err
	}
	fs, err := q.svc.CheckKeys(ctx, "", 30)
	if err != nil {
		return err
	}
	c, err := cluster(ctx, q.svc, time.Now())
	if err != nil {
		return err
	}
	mod, err := moderating(ctx, q.svc, rows)
	if err != nil {
		return err
	}
	d := dashboardData{Lists: rows, Moderating: mod, Pending: counts[store.Pending], Failed: counts[store.Failed], Findings: findingRows(fs),
		Attention: len(fs), Cluster: c}
	for _, r := range rows {
		d.Held += r.Held
	}
	for _, r := range mod {
		d.Held += r.Held
	}
	return q.render("dashboard", "Dashboard", "dashboard", d)
}

func listsPage(q *request) error {
	rows, err := listRows(q.r.Context(), q.svc)
	if err != nil {
		return err
	}
	return q.render("lists", "Lists", "lists", rows)
}

// newListData is the form for a new list or gateway.
type newListData struct {
	Algorithms []string
}

func newListPage(q *request) error {
	if err := q.svc.CheckAdmin("create lists"); err != nil {
		return err
	}
	return q.render("list-new", "New list", "lists", newListData{Algorithms: []string{string(pgp.Ed25519), string(pgp.RSA3072), string(pgp.RSA4096), string(pgp.PQ)}})
}

func createList(q *request) (*done, error) {
	f := q.r.PostForm
	algo, err := pgp.ParseAlgorithm(f.Get("key_algo"))
	if err != nil {
		return nil, fmt.Errorf("%w: key algorithm: %v", admin.ErrInvalid, err)
	}
	ctx, addr, owner, name := q.r.Context(), strings.TrimSpace(f.Get("address")), strings.TrimSpace(f.Get("owner")), strings.TrimSpace(f.Get("name"))
	// What the new list gets besides a new OpenPGP key is read and
	// checked first: a wrong file or password creates nothing.
	extra, err := q.newListKeys(addr)
	if err != nil {
		return nil, err
	}
	var l *store.List
	switch f.Get("mode") {
	case "", store.ModeList:
		l, err = q.svc.CreateList(ctx, addr, owner, name, algo)
	case store.ModeGateway:
		deliverTo := strings.TrimSpace(f.Get("deliver_to"))
		if deliverTo == "" {
			return nil, fmt.Errorf("%w: a gateway needs to know where to deliver the mail it decrypts (the helpdesk's address)", admin.ErrInvalid)
		}
		l, err = q.svc.CreateGateway(ctx, addr, owner, name, algo, deliverTo)
	default:
		return nil, fmt.Errorf("%w: mode %q is not list or gateway", admin.ErrInvalid, f.Get("mode"))
	}
	if err != nil {
		return nil, err
	}
	what := "list"
	if l.IsGateway() {
		what = "gateway"
	}
	said, err := extra.apply(q, l.Address)
	if err != nil {
		// Nothing half-made stays behind.
		if derr := q.svc.DeleteList(ctx, l.Address); derr != nil {
			return nil, fmt.Errorf("%w; the %s was created without it, and removing it failed: %v", err, what, derr)
		}
		return nil, fmt.Errorf("%w; the %s was not created", err, what)
	}
	return &done{listPath(l.Address), fmt.Sprintf("Created the %s %s with %s. Add its members next.", what, l.Address, said)}, nil
}

// newListKeys are the keys a new list gets besides (or instead of) the
// OpenPGP key made for it: an existing OpenPGP secret key, and an S/MIME
// identity (made, or from a PKCS#12 file).
type newListKeys struct {
	pgpKey, pgpPass []byte
	smime           string // "", "generate" or "upload"
	identity        *smime.Identity
}

// newListKeys reads and checks the new list's keys from the form.
func (q *request) newListKeys(addr string) (*newListKeys, error) {
	f := q.r.PostForm
	k := &newListKeys{smime: f.Get("smime"), pgpPass: []byte(f.Get("list_key_passphrase"))}
	var err error
	if k.pgpKey, err = q.uploaded("list_key"); err != nil {
		return nil, err
	}
	switch k.smime {
	case "", "generate":
	case "upload":
		p12, err := q.uploaded("smime_p12")
		if err != nil {
			return nil, err
		}
		if len(p12) == 0 {
			return nil, fmt.Errorf("%w: choose the PKCS#12 file (.p12 or .pfx) with the list's certificate and key", admin.ErrInvalid)
		}
		if k.identity, err = smime.ParsePKCS12(p12, f.Get("smime_password")); err != nil {
			return nil, fmt.Errorf("%w: the PKCS#12 file: %v (is the password right?)", admin.ErrInvalid, err)
		}
		if err := q.svc.CheckListIdentity(addr, k.identity); err != nil {
			return nil, fmt.Errorf("the PKCS#12 file: %w", err)
		}
	default:
		return nil, fmt.Errorf("%w: S/MIME %q is none, generate or upload", admin.ErrInvalid, k.smime)
	}
	return k, nil
}

// apply gives the list at addr its keys, and says what it has.
func (k *newListKeys) apply(q *request, addr string) (string, error) {
	ctx := q.r.Context()
	said := "a new OpenPGP key"
	if len(k.pgpKey) > 0 {
		rs, err := q.svc.ImportKeys(ctx, "the list key file", k.pgpKey, admin.ImportOptions{List: addr,
			Passphrase: func(string) ([]byte, error) { return k.pgpPass, nil }})
		if err != nil {
			return "", err
		}
		if len(rs) == 0 || rs[0].Outcome == admin.Refused {
			reason := "it holds no OpenPGP secret key"
			if len(rs) > 0 {
				reason = rs[0].Reason
			}
			return "", fmt.Errorf("%w: the list key file: %s", admin.ErrInvalid, reason)
		}
		if l, err := q.svc.List(ctx, addr); err != nil {
			return "", err
		} else if l.KeyFingerprint != rs[0].Fingerprint {
			return "", fmt.Errorf("%w: the list key file holds no OpenPGP secret key for %s (a public key alone cannot decrypt)", admin.ErrInvalid, addr)
		}
		said = "its OpenPGP key " + rs[0].Fingerprint
	}
	var err error
	switch k.smime {
	case "generate":
		_, err = q.svc.GenerateSMIMEIdentity(ctx, addr)
		said += " and a self-signed S/MIME certificate"
	case "upload":
		_, err = q.svc.SetSMIMEIdentity(ctx, addr, k.identity)
		said += " and its S/MIME certificate"
	}
	return said, err
}

// listData is a list's page.
type listData struct {
	L        *store.List
	Key      crypto.KeyInfo
	KeyBadge string
	KeyText  string
	Cert     *crypto.KeyInfo
	// KEMCert is the list's ML-KEM certificate, when it has one.
	KEMCert *crypto.KeyInfo
	Members []memberRow
	// Protection counts the members whose copies are post-quantum.
	Protection admin.CopyProtection
	Held       int
	Options    []optionGroup
	// Roles are the owners and moderators the list names besides its
	// owner address.
	Roles []store.ListRole
	// Subscriptions are the open requests to join or leave; Subscribe
	// is the list's subscribe option.
	Subscriptions           []admin.SubscriptionView
	Subscribe               string
	MemberForm, OptionsForm bool // which form is shown again
}

// memberRow is a member in the list's table.
type memberRow struct {
	Email          string
	Admin          bool
	Badge          string
	Keys           []memberKeyRow
	Disabled       bool
	DisabledReason string
	// Format and SMIME are the member's choice settings
	// (admin.MemberSettings), shown as selects.
	Format memberChoice
	SMIME  []memberChoice
}

// memberChoice is a setting of a member that takes one of Choices,
// with what its form needs: where it posts, the session's CSRF token,
// and whose setting it is.
type memberChoice struct {
	Name, Label, Value string
	Choices            []string
	Action, CSRF, Of   string
}

// memberChoiceLabels name the member's choice settings in their row.
var memberChoiceLabels = map[string]string{"format": "Format of the copies", "smime_cipher": "S/MIME cipher",
	"smime_keytransport": "S/MIME key transport"}

type memberKeyRow struct {
	Engine, Fingerprint, Source, Badge string
	Expires                            time.Time
	// PostQuantum: the key has an ML-KEM encryption key; Copies: the
	// member's copies are encrypted to this key.
	PostQuantum, Copies bool
}

// optionGroup is a heading of the options form and its options.
type optionGroup struct {
	Name    string
	Options []optionRow
}

// optionRow is one option in the list's options form, shown with the
// control of its type (admin.OptionType).
type optionRow struct {
	Name, Help, Value   string
	Type                admin.OptionType
	Choices             []string
	Min, Max            string // bounds of a number; "" for none
	AdminOnly, ReadOnly bool
	Error               string // why a refused form refused it
}

// Checked reports whether a bool option is on.
func (r optionRow) Checked() bool { on, _ := strconv.ParseBool(r.Value); return on }

func listPage(q *request) error {
	ctx := q.r.Context()
	l, err := q.svc.List(ctx, q.list())
	if err != nil {
		return err
	}
	ms, err := q.svc.Members(ctx, l.Address)
	if err != nil {
		return err
	}
	counts, err := q.svc.ListCounts(ctx)
	if err != nil {
		return err
	}
	d := listData{L: l, Held: counts[l.Address].Held, Members: q.memberRows(l.Address, ms), KeyBadge: "missing", KeyText: "unreadable",
		Protection: admin.ProtectionOf(ms)}
	// A refused form is shown again with what was typed into it.
	if q.r.Method == http.MethodPost {
		d.MemberForm = strings.HasSuffix(q.r.URL.Path, "/members")
		d.OptionsForm = strings.HasSuffix(q.r.URL.Path, "/options")
	}
	if info, err := q.svc.KeyInfo(l); err == nil {
		d.Key = info
		d.KeyBadge, d.KeyText = listKeyBadge(info, q.svc.Now())
	}
	if c, err := x509.ParseCertificate(l.SMIMECert); err == nil {
		info := smime.CertInfo(c)
		d.Cert = &info
	}
	if c, err := x509.ParseCertificate(l.SMIMEKEMCert); err == nil {
		info := smime.CertInfo(c)
		d.KEMCert = &info
	}
	d.Options = q.listOptions(l, d.OptionsForm)
	if d.Roles, err = q.svc.ListRoles(ctx, l.Address); err != nil {
		return err
	}
	if !l.IsGateway() {
		if d.Subscriptions, err = q.svc.Subscriptions(ctx, l.Address); err != nil {
			return err
		}
		d.Subscribe = cmp.Or(l.Settings.Subscribe, store.SubscribeClosed)
	}
	return q.render("list", l.Address, "lists", d)
}

// listOptions groups l's options for the form, in the order of the
// options table, with the values of a refused form when refused.
func (q *request) listOptions(l *store.List, refused bool) []optionGroup {
	var out []optionGroup
	for _, sec := range admin.Grouped(admin.OptionsFor(l)) {
		g := optionGroup{Name: sec.Title}
		for _, o := range sec.Items {
			row := optionRow{Name: o.Name, Help: o.Help, Value: o.Value(l), Type: o.Type, Choices: o.Choices,
				AdminOnly: o.AdminOnly, ReadOnly: o.AdminOnly && !q.isAdmin(), Error: q.fieldErrors[o.Name]}
			if o.Type == admin.TypeNumber {
				row.Min = strconv.FormatInt(o.Min, 10)
				if o.Max > 0 {
					row.Max = strconv.FormatInt(o.Max, 10)
				}
			}
			if vs := q.form[o.Name]; refused && len(vs) > 0 {
				row.Value = vs[len(vs)-1]
			}
			if o.Type == admin.TypeChoice && !slices.Contains(row.Choices, row.Value) {
				row.Choices = append(slices.Clone(row.Choices), row.Value) // shown as it is, refused if saved
			}
			g.Options = append(g.Options, row)
		}
		out = append(out, g)
	}
	return out
}

func (q *request) memberRows(list string, ms []admin.MemberView) []memberRow {
	now := q.svc.Now()
	out := make([]memberRow, 0, len(ms))
	for _, m := range ms {
		r := memberRow{Email: m.Email, Admin: m.Admin, Badge: m.Badge(now), Disabled: !m.DisabledAt.IsZero(),
			DisabledReason: m.DisabledReason}
		for _, ms := range admin.MemberSettings() {
			c := memberChoice{Name: ms.Name, Label: memberChoiceLabels[ms.Name], Value: admin.MemberSettingValue(m.Member, ms.Name),
				Choices: ms.Choices, Action: listPath(list, "members", url.PathEscape(m.Email), "set"), CSRF: q.id.CSRF(), Of: m.Email}
			switch {
			case ms.Name == "format":
				r.Format = c
			case strings.HasPrefix(ms.Name, "smime_"):
				r.SMIME = append(r.SMIME, c)
			}
		}
		for i, mk := range m.Member.Keys {
			info := m.Keys[i]
			r.Keys = append(r.Keys, memberKeyRow{Engine: mk.Engine, Fingerprint: mk.Fingerprint, Source: mk.Source,
				Badge: admin.KeyBadge(info, m.Email, now), Expires: info.Expires,
				PostQuantum: info.PostQuantum, Copies: mk.Fingerprint == m.CopyKey})
		}
		out = append(out, r)
	}
	return out
}

// uploaded reads the file of the form's field name, or nil when none
// was chosen.
func (q *request) uploaded(name string) ([]byte, error) {
	if q.r.MultipartForm == nil || len(q.r.MultipartForm.File[name]) == 0 {
		return nil, nil
	}
	f, err := q.r.MultipartForm.File[name][0].Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxUpload))
}

func addMember(q *request) (*done, error) {
	email := strings.TrimSpace(q.r.PostFormValue("email"))
	if email == "" {
		return nil, fmt.Errorf("%w: give the member's email address", admin.ErrInvalid)
	}
	key, err := q.uploaded("key")
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: choose the member's key file: their OpenPGP public key or S/MIME certificate", admin.ErrInvalid)
	}
	isAdmin := slices.Contains([]string{"on", "true", "1", "yes"}, q.r.PostFormValue("admin"))
	// The "Send welcome" checkbox comes before a hidden "off": the
	// first value is "off" only when the box is unchecked. A form
	// without the field sends it, as the list says.
	noWelcome := q.r.PostFormValue("welcome") == "off"
	m, info, err := q.svc.AddMemberWith(q.r.Context(), q.list(), email, key, admin.MemberOptions{Admin: isAdmin, NoWelcome: noWelcome})
	if err != nil {
		return nil, err
	}
	q.notify() // the welcome
	msg := fmt.Sprintf("Added %s with the %s key %s.", m.Email, engineName(string(info.Engine)), crypto.FormatFingerprint(info.Fingerprint))
	return &done{listPath(q.list()), msg}, nil
}

// engineName names an engine for people.
func engineName(engine string) string {
	if engine == store.EngineSMIME {
		return "S/MIME"
	}
	return "OpenPGP"
}

func removeMember(q *request) (*done, error) {
	email := q.r.PathValue("email")
	if err := q.svc.RemoveMember(q.r.Context(), q.list(), email); err != nil {
		return nil, err
	}
	return &done{listPath(q.list()), fmt.Sprintf("Removed %s from %s.", strings.ToLower(email), q.list())}, nil
}

func setOptions(q *request) (*done, error) {
	ctx := q.r.Context()
	l, err := q.svc.List(ctx, q.list())
	if err != nil {
		return nil, err
	}
	var assignments, names []string
	for _, o := range admin.OptionsFor(l) {
		v, ok := formValue(q.r.PostForm, o.Name)
		if !ok || v == o.Value(l) {
			continue
		}
		assignments = append(assignments, o.Name+"="+v)
		names = append(names, o.Name)
	}
	if len(assignments) == 0 {
		return &done{listPath(l.Address), "Nothing changed."}, nil
	}
	if _, err := q.svc.SetOptions(ctx, l.Address, assignments); err != nil {
		var oe admin.OptionErrors
		if errors.As(err, &oe) {
			q.fieldErrors = oe.ByName()
		}
		return nil, err
	}
	return &done{listPath(l.Address), "Saved " + strings.Join(names, ", ") + "."}, nil
}

// formValue is the value of a form field, trimmed: the last one given,
// so that a checkbox after a hidden field of the same name (value
// false) says true when checked and false when not.
func formValue(form url.Values, name string) (string, bool) {
	vs := form[name]
	if len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(vs[len(vs)-1]), true
}

func deleteList(q *request) (*done, error) {
	if err := q.svc.DeleteList(q.r.Context(), q.list()); err != nil {
		return nil, err
	}
	return &done{"/lists", fmt.Sprintf("Deleted %s, its key and its members.", q.list())}, nil
}

func listKeyFile(q *request) error {
	l, err := q.svc.List(q.r.Context(), q.list())
	if err != nil {
		return err
	}
	// ?classic=1: without the post-quantum subkey (admin.Service.ListClassicKey).
	data, name := []byte(nil), l.Address+".asc"
	if q.r.URL.Query().Get("classic") != "" {
		data, err = q.svc.ListClassicKey(q.r.Context(), l.Address)
		name = l.Address + ".classic.asc"
	} else {
		data, err = q.svc.ListKey(q.r.Context(), l.Address)
	}
	if err != nil {
		return err
	}
	return q.download("application/pgp-keys", name, data)
}

func listFingerprintFile(q *request) error {
	l, err := q.svc.List(q.r.Context(), q.list())
	if err != nil {
		return err
	}
	return q.download("text/plain; charset=utf-8", l.Address+".fingerprint.txt", []byte(crypto.FormatFingerprint(l.KeyFingerprint)+"\n"))
}

func listCertFile(q *request) error {
	l, err := q.svc.List(q.r.Context(), q.list())
	if err != nil {
		return err
	}
	data, err := q.svc.ListCert(q.r.Context(), l.Address)
	if err != nil {
		return err
	}
	return q.download("application/x-pem-file", l.Address+".pem", data)
}

// addListRole names an owner or a moderator of the list.
func addListRole(q *request) (*done, error) {
	f := q.r.PostForm
	email, role := strings.TrimSpace(f.Get("email")), f.Get("role")
	if err := q.svc.AddListRole(q.r.Context(), q.list(), email, role); err != nil {
		return nil, err
	}
	return &done{listPath(q.list()) + "#people", email + " is now a " + role + " of the list."}, nil
}

// removeListRole takes an owner's or a moderator's role away.
// decideSubscription approves or declines (with a reason) a request to
// join that waits for an owner.
func decideSubscription(q *request) (*done, error) {
	ctx, list, email := q.r.Context(), q.list(), q.r.PathValue("email")
	to := listPath(list) + "#subscriptions"
	if q.r.PathValue("decision") == "approve" {
		if _, err := q.svc.ApproveSubscription(ctx, list, email); err != nil {
			return nil, err
		}
		q.notify()
		return &done{to, email + " is now a member; a welcome message is on its way."}, nil
	}
	if q.r.PathValue("decision") != "reject" {
		return nil, fmt.Errorf("%w: approve or reject", admin.ErrInvalid)
	}
	if err := q.svc.RejectSubscription(ctx, list, email, q.r.PostFormValue("reason")); err != nil {
		return nil, err
	}
	q.notify()
	return &done{to, "Declined " + email + "'s request; they are told."}, nil
}

func removeListRole(q *request) (*done, error) {
	email := q.r.PathValue("email")
	if err := q.svc.RemoveListRole(q.r.Context(), q.list(), email); err != nil {
		return nil, err
	}
	return &done{listPath(q.list()) + "#people", email + " no longer has a role on the list."}, nil
}
