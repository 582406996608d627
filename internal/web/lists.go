package web

import (
	"context"
	"crypto/x509"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"slices"
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
	Lists                            []listRow
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
	d := dashboardData{Lists: rows, Pending: counts[store.Pending], Failed: counts[store.Failed], Findings: findingRows(fs),
		Attention: len(fs), Cluster: c}
	for _, r := range rows {
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
	return q.render("list-new", "New list", "lists", newListData{Algorithms: []string{string(pgp.Ed25519), string(pgp.RSA3072), string(pgp.RSA4096)}})
}

func createList(q *request) (*done, error) {
	f := q.r.PostForm
	algo, err := pgp.ParseAlgorithm(f.Get("key_algo"))
	if err != nil {
		return nil, fmt.Errorf("%w: key algorithm: %v", admin.ErrInvalid, err)
	}
	ctx, addr, owner, name := q.r.Context(), strings.TrimSpace(f.Get("address")), strings.TrimSpace(f.Get("owner")), strings.TrimSpace(f.Get("name"))
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
	return &done{listPath(l.Address), fmt.Sprintf("Created the %s %s with a new key. Add its members next.", what, l.Address)}, nil
}

// listData is a list's page.
type listData struct {
	L                       *store.List
	Key                     crypto.KeyInfo
	KeyBadge                string
	KeyText                 string
	Cert                    *crypto.KeyInfo
	Members                 []memberRow
	Held                    int
	Options                 []optionGroup
	Formats                 []string
	MemberForm, OptionsForm bool // which form is shown again
}

// memberRow is a member in the list's table.
type memberRow struct {
	Email          string
	Admin          bool
	Format         string
	Badge          string
	Keys           []memberKeyRow
	Disabled       bool
	DisabledReason string
}

type memberKeyRow struct {
	Engine, Fingerprint, Source, Badge string
	Expires                            time.Time
}

// optionGroup is a heading of the options form and its options.
type optionGroup struct {
	Name    string
	Options []optionRow
}

// optionGroups are the headings of the options form, in order.
var optionGroups = []string{"General", "Accepting mail", "Outgoing mail", "Limits"}

// groupOf says under which heading an option is shown.
func groupOf(name string) string {
	switch {
	case slices.Contains([]string{"name", "owner", "language", "deliver_to", "submit_clients", "archive"}, name):
		return "General"
	case strings.HasPrefix(name, "on_"), strings.HasPrefix(name, "receive_"), strings.HasPrefix(name, "require_"),
		slices.Contains([]string{"signer_must_match_from", "require_binding", "keywords_admin_only", "autocrypt_import"}, name):
		return "Accepting mail"
	case strings.HasPrefix(name, "bounce_"), name == "hold_days", name == "max_message_size":
		return "Limits"
	}
	return "Outgoing mail"
}

// generalFirst are the options that lead the General group, in order.
var generalFirst = []string{"name", "owner", "deliver_to"}

func generalOrder(name string) int {
	if i := slices.Index(generalFirst, name); i >= 0 {
		return i
	}
	return len(generalFirst)
}

// optionRow is one option in the list's options form.
type optionRow struct {
	Name, Help, Value   string
	AdminOnly, ReadOnly bool
}

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
	d := listData{L: l, Held: counts[l.Address].Held, Members: memberRows(ms, q.svc.Now()), Formats: []string{"auto", store.FormatPGPMIME, store.FormatInline, store.FormatSMIME},
		KeyBadge: "missing", KeyText: "unreadable"}
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
	d.Options = q.listOptions(l, d.OptionsForm)
	return q.render("list", l.Address, "lists", d)
}

// listOptions groups l's options for the form, with the values of a
// refused form when refused.
func (q *request) listOptions(l *store.List, refused bool) []optionGroup {
	byGroup := map[string][]optionRow{}
	for _, o := range admin.OptionsFor(l) {
		row := optionRow{Name: o.Name, Help: o.Help, Value: o.Value(l), AdminOnly: o.AdminOnly, ReadOnly: o.AdminOnly && !q.isAdmin()}
		if refused && q.form.Has(o.Name) {
			row.Value = q.form.Get(o.Name)
		}
		byGroup[groupOf(o.Name)] = append(byGroup[groupOf(o.Name)], row)
	}
	// General starts with what names the list; the rest go by name.
	slices.SortStableFunc(byGroup["General"], func(a, b optionRow) int {
		return generalOrder(a.Name) - generalOrder(b.Name)
	})
	var out []optionGroup
	for _, g := range optionGroups {
		if len(byGroup[g]) > 0 {
			out = append(out, optionGroup{Name: g, Options: byGroup[g]})
		}
	}
	return out
}

func memberRows(ms []admin.MemberView, now time.Time) []memberRow {
	out := make([]memberRow, 0, len(ms))
	for _, m := range ms {
		r := memberRow{Email: m.Email, Admin: m.Admin, Format: m.Format, Badge: m.Badge(now), Disabled: !m.DisabledAt.IsZero(),
			DisabledReason: m.DisabledReason}
		if r.Format == "" {
			r.Format = "auto"
		}
		for i, mk := range m.Member.Keys {
			info := m.Keys[i]
			r.Keys = append(r.Keys, memberKeyRow{Engine: mk.Engine, Fingerprint: mk.Fingerprint, Source: mk.Source,
				Badge: admin.KeyBadge(info, m.Email, now), Expires: info.Expires})
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
	m, info, err := q.svc.AddMember(q.r.Context(), q.list(), email, key, isAdmin)
	if err != nil {
		return nil, err
	}
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

func setMemberFormat(q *request) (*done, error) {
	email, format := q.r.PathValue("email"), q.r.PostFormValue("format")
	if err := q.svc.SetMemberFormat(q.r.Context(), q.list(), email, format); err != nil {
		return nil, err
	}
	return &done{listPath(q.list()), fmt.Sprintf("%s now gets copies as %s.", strings.ToLower(email), format)}, nil
}

func setOptions(q *request) (*done, error) {
	ctx := q.r.Context()
	l, err := q.svc.List(ctx, q.list())
	if err != nil {
		return nil, err
	}
	var assignments, names []string
	for _, o := range admin.OptionsFor(l) {
		v, ok := q.r.PostForm[o.Name]
		if !ok || strings.TrimSpace(v[0]) == o.Value(l) {
			continue
		}
		assignments = append(assignments, o.Name+"="+strings.TrimSpace(v[0]))
		names = append(names, o.Name)
	}
	if len(assignments) == 0 {
		return &done{listPath(l.Address), "Nothing changed."}, nil
	}
	if _, err := q.svc.SetOptions(ctx, l.Address, assignments); err != nil {
		return nil, err
	}
	return &done{listPath(l.Address), "Saved " + strings.Join(names, ", ") + "."}, nil
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
	data, err := q.svc.ListKey(q.r.Context(), l.Address)
	if err != nil {
		return err
	}
	return q.download("application/pgp-keys", l.Address+".asc", data)
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
