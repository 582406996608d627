package api

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// routes is the API: every endpoint, in the order openapi.json lists them.
func routes() []route {
	return []route{
		{method: "GET", path: "/me", handle: me},

		{method: "GET", path: "/lists", handle: lists},
		{method: "POST", path: "/lists", handle: createList, created: true},
		{method: "GET", path: "/lists/{list}", handle: getList},
		{method: "PATCH", path: "/lists/{list}", handle: setOptions},
		{method: "DELETE", path: "/lists/{list}", handle: deleteList},
		{method: "GET", path: "/lists/{list}/key", handle: listKey},
		{method: "GET", path: "/lists/{list}/key/fingerprint", handle: listKeyFingerprint},
		{method: "GET", path: "/lists/{list}/certificate", handle: listCertificate},
		{method: "POST", path: "/lists/{list}/key/rotate", handle: rotateListKey},
		{method: "POST", path: "/lists/{list}/certificate", handle: replaceCertificate},

		{method: "GET", path: "/lists/{list}/members", handle: members},
		{method: "POST", path: "/lists/{list}/members", handle: addMember, created: true},
		{method: "GET", path: "/lists/{list}/members/{email}", handle: getMember},
		{method: "PATCH", path: "/lists/{list}/members/{email}", handle: setMember},
		{method: "DELETE", path: "/lists/{list}/members/{email}", handle: removeMember},
		{method: "POST", path: "/lists/{list}/members/{email}/keys", handle: addMemberKey, created: true},

		// Further owners and moderators of a list.
		{method: "GET", path: "/lists/{list}/roles", handle: listRoles},
		{method: "POST", path: "/lists/{list}/roles", handle: addListRole, created: true},
		{method: "DELETE", path: "/lists/{list}/roles/{email}", handle: removeListRole},
		{method: "GET", path: "/lists/{list}/subscriptions", handle: listSubscriptions},
		{method: "POST", path: "/lists/{list}/subscriptions/{email}/approve", handle: approveSubscription},
		{method: "POST", path: "/lists/{list}/subscriptions/{email}/reject", handle: rejectSubscription},

		// Typed settings: the options table with types, groups and help.
		{method: "GET", path: "/lists/{list}/options", handle: listOptions},
		{method: "PATCH", path: "/lists/{list}/options", handle: patchOptions},

		{method: "GET", path: "/lists/{list}/holds", handle: holds},
		{method: "POST", path: "/lists/{list}/holds", handle: decideHolds},
		{method: "GET", path: "/lists/{list}/holds/{id}", handle: getHold},
		{method: "POST", path: "/lists/{list}/holds/{id}/release", handle: holdAction("release")},
		{method: "POST", path: "/lists/{list}/holds/{id}/reject", handle: holdAction("reject")},
		{method: "POST", path: "/lists/{list}/holds/{id}/discard", handle: holdAction("discard")},
		{method: "GET", path: "/lists/{list}/holds/{id}/content", handle: holdContent},

		{method: "GET", path: "/lists/{list}/templates", handle: templates},
		{method: "GET", path: "/lists/{list}/templates/{lang}/{name}", handle: getTemplate},
		{method: "PUT", path: "/lists/{list}/templates/{lang}/{name}", handle: setTemplate},
		{method: "DELETE", path: "/lists/{list}/templates/{lang}/{name}", handle: resetTemplate},

		{method: "GET", path: "/lists/{list}/conversations", handle: conversations},
		{method: "GET", path: "/lists/{list}/conversations/{thread}", handle: conversation},

		{method: "GET", path: "/keys", handle: findKeys},
		{method: "POST", path: "/keys", handle: importKeys},
		{method: "GET", path: "/keys/{fingerprint}", handle: getKey},
		{method: "GET", path: "/keys/{fingerprint}/download", handle: downloadKey},
		{method: "GET", path: "/keys/{fingerprint}/fingerprint", handle: keyFingerprintFile},
		{method: "DELETE", path: "/keys/{fingerprint}", handle: deleteKey},
		{method: "GET", path: "/keyring", handle: keyring},
		{method: "GET", path: "/trust-anchors", handle: trustAnchors},
		{method: "POST", path: "/trust-anchors", handle: addTrustAnchors, created: true},
		{method: "DELETE", path: "/trust-anchors/{fingerprint}", handle: removeTrustAnchor},
		{method: "GET", path: "/crls", handle: crls},
		{method: "POST", path: "/crls", handle: addCRLs, created: true},

		{method: "GET", path: "/queue", handle: queue},
		{method: "POST", path: "/queue/{id}/retry", handle: retryDelivery},
		{method: "DELETE", path: "/queue/{id}", handle: dropDelivery},

		{method: "GET", path: "/audit", handle: auditLog},

		{method: "GET", path: "/status", handle: status},

		{method: "GET", path: "/users", handle: users},
		{method: "POST", path: "/users", handle: addUser, created: true},
		{method: "PATCH", path: "/users/{email}", handle: setUser},
		{method: "DELETE", path: "/users/{email}", handle: removeUser},
		{method: "GET", path: "/users/{email}/tokens", handle: tokens},
		{method: "POST", path: "/users/{email}/tokens", handle: createToken, created: true},
		{method: "DELETE", path: "/users/{email}/tokens/{id}", handle: revokeToken},
	}
}

// Routes returns the API's endpoints as "METHOD /api/v1/path" patterns,
// for documentation and tests.
func Routes() []string {
	var out []string
	for _, rt := range routes() {
		out = append(out, rt.pattern())
	}
	return out
}

func me(c *call) (any, error) {
	a := c.id.Actor
	return map[string]any{"email": a.Email, "role": a.Role, "list": a.List, "via": a.Via}, nil
}

func lists(c *call) (any, error) {
	ls, err := c.svc.Lists(c.r.Context())
	if err != nil {
		return nil, err
	}
	if ls, err = paged(c, ls); err != nil {
		return nil, err
	}
	out := make([]listJSON, 0, len(ls))
	for i := range ls {
		out = append(out, listView(c.svc, &ls[i]))
	}
	return out, nil
}

func createList(c *call) (any, error) {
	var req struct {
		Address   string `json:"address"`
		Mode      string `json:"mode"`
		Owner     string `json:"owner"`
		Name      string `json:"name"`
		KeyAlgo   string `json:"key_algo"`
		DeliverTo string `json:"deliver_to"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	algo, err := pgp.ParseAlgorithm(cmp.Or(req.KeyAlgo, "ed25519"))
	if err != nil {
		return nil, invalid("key_algo: %v", err)
	}
	var l *store.List
	switch req.Mode {
	case "", store.ModeList:
		if req.DeliverTo != "" {
			return nil, invalid("deliver_to is for a gateway (mode \"gateway\")")
		}
		l, err = c.svc.CreateList(c.r.Context(), req.Address, req.Owner, req.Name, algo)
	case store.ModeGateway:
		l, err = c.svc.CreateGateway(c.r.Context(), req.Address, req.Owner, req.Name, algo, req.DeliverTo)
	default:
		return nil, invalid("mode %q is not list or gateway", req.Mode)
	}
	if err != nil {
		return nil, err
	}
	return listView(c.svc, l), nil
}

func getList(c *call) (any, error) {
	l, err := c.svc.List(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	return listView(c.svc, l), nil
}

func setOptions(c *call) (any, error) {
	var req struct {
		Options map[string]string `json:"options"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(req.Options) == 0 {
		return nil, invalid(`give the options to set: {"options": {"NAME": "VALUE"}}`)
	}
	var assignments []string
	for k, v := range req.Options {
		assignments = append(assignments, k+"="+v)
	}
	slices.Sort(assignments)
	l, err := c.svc.SetOptions(c.r.Context(), c.path("list"), assignments)
	if err != nil {
		return nil, err
	}
	return listView(c.svc, l), nil
}

func deleteList(c *call) (any, error) {
	return nil, c.svc.DeleteList(c.r.Context(), c.path("list"))
}

func listKey(c *call) (any, error) {
	classic, err := c.queryBool("classic")
	if err != nil {
		return nil, err
	}
	data, name := []byte(nil), c.path("list")+".asc"
	if classic {
		data, err = c.svc.ListClassicKey(c.r.Context(), c.path("list"))
		name = c.path("list") + ".classic.asc"
	} else {
		data, err = c.svc.ListKey(c.r.Context(), c.path("list"))
	}
	if err != nil {
		return nil, err
	}
	return &download{"application/pgp-keys", name, data}, nil
}

func listKeyFingerprint(c *call) (any, error) {
	l, err := c.svc.List(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	return fingerprintFile(l.Address, l.KeyFingerprint), nil
}

// fingerprintFile is a key's fingerprint as a text file to compare by
// eye, as Znuny offers it.
func fingerprintFile(name, fpr string) *download {
	return &download{"text/plain; charset=utf-8", name + ".fingerprint.txt", []byte(crypto.FormatFingerprint(fpr) + "\n")}
}

func listCertificate(c *call) (any, error) {
	data, err := c.svc.ListCert(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	return &download{"application/x-pem-file", c.path("list") + ".pem", data}, nil
}

// graceDays is a request's grace_days (admin.DefaultGrace when absent).
func graceDays(days *int) (time.Duration, error) {
	if days == nil {
		return admin.DefaultGrace, nil
	}
	if *days < 0 || *days > 365 {
		return 0, invalid("grace_days=%d: give a number of days from 0 to 365", *days)
	}
	return time.Duration(*days) * 24 * time.Hour, nil
}

func rotateListKey(c *call) (any, error) {
	var req struct {
		Algorithm string `json:"algorithm"`
		GraceDays *int   `json:"grace_days"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	algo, err := pgp.ParseAlgorithm(cmp.Or(req.Algorithm, string(pgp.Ed25519)))
	if err != nil {
		return nil, invalid("algorithm: %v", err)
	}
	grace, err := graceDays(req.GraceDays)
	if err != nil {
		return nil, err
	}
	r, err := c.svc.RotateListKey(c.r.Context(), c.path("list"), algo, grace)
	if err != nil {
		return nil, err
	}
	if c.opt.Notify != nil {
		c.opt.Notify()
	}
	unreachable := r.Unreachable
	if unreachable == nil {
		unreachable = []string{}
	}
	return map[string]any{"old_fingerprint": r.Old.Fingerprint, "new_fingerprint": r.New.Fingerprint,
		"decrypt_until": r.DecryptUntil.UTC(), "announced": r.Announced, "unreachable": unreachable}, nil
}

func replaceCertificate(c *call) (any, error) {
	var req struct {
		Generate  bool   `json:"generate"`
		PKCS12    []byte `json:"pkcs12"` // base64 in JSON
		Password  string `json:"password"`
		GraceDays *int   `json:"grace_days"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	grace, err := graceDays(req.GraceDays)
	if err != nil {
		return nil, err
	}
	l, err := c.svc.List(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	var id *smime.Identity
	switch {
	case req.Generate == (len(req.PKCS12) > 0):
		return nil, invalid("give either generate: true or the pkcs12 file (base64)")
	case req.Generate:
		id, err = smime.GenerateIdentity(l.Name, l.Address, time.Now(), nil)
	default:
		if id, err = smime.ParsePKCS12(req.PKCS12, req.Password); err != nil {
			return nil, invalid("the PKCS#12 file: %v (is the password right?)", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if l, err = c.svc.ReplaceSMIMEIdentity(c.r.Context(), l.Address, id, grace); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(l.SMIMECert)
	if err != nil {
		return nil, err
	}
	return map[string]any{"fingerprint": smime.Fingerprint(cert), "expires": cert.NotAfter.UTC()}, nil
}

func members(c *call) (any, error) {
	offset, limit, err := c.pageAsked()
	if err != nil {
		return nil, err
	}
	ms, total, err := c.svc.MembersPage(c.r.Context(), c.path("list"), offset, limit)
	if err != nil {
		return nil, err
	}
	c.pageHeaders(offset, limit, total)
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberView(m, c.svc.Now()))
	}
	return out, nil
}

// member returns one member of the request's list.
func (c *call) member() (admin.MemberView, error) {
	return c.svc.Member(c.r.Context(), c.path("list"), c.path("email"))
}

func addMember(c *call) (any, error) {
	data, _, form, err := c.keyUpload()
	if err != nil {
		return nil, err
	}
	email := form["email"]
	if email == "" {
		return nil, invalid("the form needs the member's address (field \"email\")")
	}
	isAdmin, _ := strconv.ParseBool(form["admin"])
	opt := admin.MemberOptions{Admin: isAdmin}
	if w, ok := form["welcome"]; ok {
		send, err := strconv.ParseBool(w)
		if err != nil {
			return nil, invalid("the field \"welcome\" must be true or false")
		}
		opt.NoWelcome = !send
	}
	added, _, err := c.svc.AddMemberWith(c.r.Context(), c.path("list"), email, data, opt)
	if err != nil {
		return nil, err
	}
	if c.opt.Notify != nil {
		c.opt.Notify() // the welcome
	}
	c.r.SetPathValue("email", added.Email)
	m, err := c.member()
	if err != nil {
		return nil, err
	}
	return memberView(m, c.svc.Now()), nil
}

func getMember(c *call) (any, error) {
	m, err := c.member()
	if err != nil {
		return nil, err
	}
	return memberView(m, c.svc.Now()), nil
}

func setMember(c *call) (any, error) {
	var req struct {
		Format            *string `json:"format"`
		SMIMECipher       *string `json:"smime_cipher"`
		SMIMEKeyTransport *string `json:"smime_keytransport"`
		Delivery          *string `json:"delivery"`
		Admin             *bool   `json:"admin"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	given := map[string]*string{"format": req.Format, "smime_cipher": req.SMIMECipher,
		"smime_keytransport": req.SMIMEKeyTransport, "delivery": req.Delivery}
	if req.Admin != nil {
		given["admin"] = new(map[bool]string{true: "on", false: "off"}[*req.Admin])
	}
	// Every value is checked against the member settings' choices before
	// any is saved.
	var names []string
	for _, ms := range admin.MemberSettings() {
		v := given[ms.Name]
		if v == nil {
			continue
		}
		if !slices.Contains(ms.Choices, *v) {
			return nil, invalid("%s %q is not one of %s", ms.Name, *v, strings.Join(ms.Choices, ", "))
		}
		names = append(names, ms.Name)
	}
	if len(names) == 0 {
		return nil, invalid("give delivery, admin, format, smime_cipher or smime_keytransport")
	}
	for _, name := range names {
		if err := c.svc.SetMember(c.r.Context(), c.path("list"), c.path("email"), name, *given[name]); err != nil {
			return nil, err
		}
	}
	return getMember(c)
}

// listRoleJSON is a list's further owner or moderator.
type listRoleJSON struct {
	Email   string    `json:"email"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

func listRoles(c *call) (any, error) {
	rs, err := c.svc.ListRoles(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	out := make([]listRoleJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, listRoleJSON{r.Email, r.Role, r.AddedAt.UTC()})
	}
	return out, nil
}

func addListRole(c *call) (any, error) {
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.svc.AddListRole(c.r.Context(), c.path("list"), req.Email, req.Role); err != nil {
		return nil, err
	}
	rs, err := c.svc.ListRoles(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if strings.EqualFold(r.Email, strings.TrimSpace(req.Email)) {
			return listRoleJSON{r.Email, r.Role, r.AddedAt.UTC()}, nil
		}
	}
	return nil, fmt.Errorf("api: the role of %s was not recorded", req.Email)
}

func listSubscriptions(c *call) (any, error) {
	return c.svc.Subscriptions(c.r.Context(), c.path("list"))
}

func approveSubscription(c *call) (any, error) {
	_, err := c.svc.ApproveSubscription(c.r.Context(), c.path("list"), c.path("email"))
	if err == nil && c.opt.Notify != nil {
		c.opt.Notify()
	}
	return nil, err
}

func rejectSubscription(c *call) (any, error) {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.r.ContentLength != 0 {
		if err := c.decode(&req); err != nil {
			return nil, err
		}
	}
	err := c.svc.RejectSubscription(c.r.Context(), c.path("list"), c.path("email"), req.Reason)
	if err == nil && c.opt.Notify != nil {
		c.opt.Notify()
	}
	return nil, err
}

func removeListRole(c *call) (any, error) {
	return nil, c.svc.RemoveListRole(c.r.Context(), c.path("list"), c.path("email"))
}

func removeMember(c *call) (any, error) {
	return nil, c.svc.RemoveMember(c.r.Context(), c.path("list"), c.path("email"))
}

func addMemberKey(c *call) (any, error) {
	data, _, form, err := c.keyUpload()
	if err != nil {
		return nil, err
	}
	challenge, _ := strconv.ParseBool(cmp.Or(c.r.URL.Query().Get("challenge"), form["challenge"]))
	var info crypto.KeyInfo
	if challenge {
		info, err = c.svc.ChallengeMemberKey(c.r.Context(), c.path("list"), c.path("email"), data)
		if err == nil && c.opt.Notify != nil {
			c.opt.Notify()
		}
	} else {
		info, err = c.svc.AddMemberKey(c.r.Context(), c.path("list"), c.path("email"), data)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"key": keyView(info), "pending": challenge}, nil
}

func holds(c *call) (any, error) {
	offset, limit, err := c.pageAsked()
	if err != nil {
		return nil, err
	}
	hs, total, err := c.svc.HoldsPage(c.r.Context(), c.path("list"), offset, limit)
	if err != nil {
		return nil, err
	}
	c.pageHeaders(offset, limit, total)
	out := make([]holdJSON, 0, len(hs))
	for i := range hs {
		out = append(out, holdView(&hs[i]))
	}
	return out, nil
}

func getHold(c *call) (any, error) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	_, h, err := c.svc.Hold(c.r.Context(), c.path("list"), id)
	if err != nil {
		return nil, err
	}
	return holdView(h), nil
}

func holdAction(action string) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		id, err := c.pathID("id")
		if err != nil {
			return nil, err
		}
		ctx, list := c.r.Context(), c.path("list")
		switch action {
		case "release":
			err = c.svc.ReleaseHold(ctx, list, id)
		case "reject":
			err = rejectOne(c, list, id)
		default:
			err = c.svc.DiscardHold(ctx, list, id)
		}
		if err != nil {
			return nil, err
		}
		if c.opt.Notify != nil {
			c.opt.Notify()
		}
		return nil, nil
	}
}

func templates(c *call) (any, error) {
	ts, err := c.svc.Templates(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	out := make([]templateJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, templateJSON{Name: t.Name, Lang: t.Lang, Custom: t.Custom, Fields: admin.TemplateFields(t.Name)})
	}
	return out, nil
}

func getTemplate(c *call) (any, error) {
	text, err := c.svc.Template(c.r.Context(), c.path("list"), c.path("lang"), c.path("name"))
	if err != nil {
		return nil, err
	}
	return templateJSON{Name: c.path("name"), Lang: c.path("lang"), Fields: admin.TemplateFields(c.path("name")), Text: text}, nil
}

func setTemplate(c *call) (any, error) {
	var req struct {
		Text string `json:"text"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.svc.SetTemplate(c.r.Context(), c.path("list"), c.path("lang"), c.path("name"), req.Text); err != nil {
		return nil, err
	}
	return getTemplate(c)
}

func resetTemplate(c *call) (any, error) {
	return nil, c.svc.ResetTemplate(c.r.Context(), c.path("list"), c.path("lang"), c.path("name"))
}

func conversations(c *call) (any, error) {
	limit, err := c.queryInt("limit", 50)
	if err != nil {
		return nil, err
	}
	ts, err := c.svc.Conversations(c.r.Context(), c.path("list"), min(max(limit, 1), 1000))
	if err != nil {
		return nil, err
	}
	out := make([]threadJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, threadJSON{ID: t.ID, Encrypted: t.Encrypted, Messages: t.Messages, Tag: t.Tag, CreatedAt: stamp(t.CreatedAt), UpdatedAt: stamp(t.UpdatedAt)})
	}
	return out, nil
}

func conversation(c *call) (any, error) {
	ms, err := c.svc.Conversation(c.r.Context(), c.path("list"), c.path("thread"))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := admin.WriteMbox(&b, ms); err != nil {
		return nil, err
	}
	return &download{"application/mbox", "conversation.mbox", b.Bytes()}, nil
}

func findKeys(c *call) (any, error) {
	q := c.r.URL.Query().Get("q")
	if q == "" {
		return nil, invalid("give q: a fingerprint, key ID or email address")
	}
	ds, err := c.svc.FindKey(c.r.Context(), q)
	if err != nil {
		return nil, err
	}
	out := make([]keyDetailsJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, keyDetailsView(d))
	}
	return out, nil
}

func importKeys(c *call) (any, error) {
	opt := admin.ImportOptions{List: c.r.URL.Query().Get("list")}
	if err := c.svc.CheckAdmin("import keys into the keyring"); err != nil {
		return nil, err
	}
	data, name, form, err := c.keyUpload()
	if err != nil {
		return nil, err
	}
	if pw, ok := form["password"]; ok {
		opt.Passphrase = func(string) ([]byte, error) { return []byte(pw), nil }
	}
	rs, err := c.svc.ImportKeys(c.r.Context(), name, data, opt)
	if err != nil {
		return nil, err
	}
	out := make([]importJSON, 0, len(rs))
	for _, r := range rs {
		addrs := r.Addresses
		if addrs == nil {
			addrs = []string{}
		}
		out = append(out, importJSON{Engine: string(r.Engine), Fingerprint: r.Fingerprint, Addresses: addrs,
			Outcome: string(r.Outcome), Reason: r.Reason, Notes: r.Notes})
	}
	return out, nil
}

// oneKey finds the key the path's fingerprint names.
func (c *call) oneKey() (admin.KeyDetails, error) {
	ds, err := c.svc.FindKey(c.r.Context(), c.path("fingerprint"))
	if err != nil {
		return admin.KeyDetails{}, err
	}
	if len(ds) != 1 {
		return admin.KeyDetails{}, invalid("%s matches %d keys; give the full fingerprint", c.path("fingerprint"), len(ds))
	}
	return ds[0], nil
}

func getKey(c *call) (any, error) {
	d, err := c.oneKey()
	if err != nil {
		return nil, err
	}
	return keyDetailsView(d), nil
}

func downloadKey(c *call) (any, error) {
	d, err := c.oneKey()
	if err != nil {
		return nil, err
	}
	data, err := c.svc.ExportKey(c.r.Context(), d.Fingerprint, false)
	if err != nil {
		return nil, err
	}
	if d.Engine == store.EngineSMIME {
		return &download{"application/x-pem-file", d.Fingerprint + ".pem", data}, nil
	}
	return &download{"application/pgp-keys", d.Fingerprint + ".asc", data}, nil
}

func keyFingerprintFile(c *call) (any, error) {
	d, err := c.oneKey()
	if err != nil {
		return nil, err
	}
	return fingerprintFile(d.Fingerprint, d.Fingerprint), nil
}

func deleteKey(c *call) (any, error) {
	return nil, c.svc.DeleteKey(c.r.Context(), c.path("fingerprint"))
}

func queue(c *call) (any, error) {
	var states []store.DeliveryState
	for _, s := range c.r.URL.Query()["state"] {
		switch st := store.DeliveryState(s); st {
		case store.Pending, store.Failed, store.Sent:
			states = append(states, st)
		default:
			return nil, invalid("state %q is not pending, failed or sent", s)
		}
	}
	if states == nil {
		states = []store.DeliveryState{store.Pending, store.Failed}
	}
	limit, err := c.queryInt("limit", 500)
	if err != nil {
		return nil, err
	}
	items, err := c.svc.Queue(c.r.Context(), c.r.URL.Query().Get("list"), states, limit)
	if err != nil {
		return nil, err
	}
	out := make([]deliveryJSON, 0, len(items))
	for _, d := range items {
		out = append(out, deliveryView(d))
	}
	return out, nil
}

func retryDelivery(c *call) (any, error) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	if err := c.svc.RetryDelivery(c.r.Context(), id); err != nil {
		return nil, err
	}
	if c.opt.Notify != nil {
		c.opt.Notify()
	}
	return nil, nil
}

func dropDelivery(c *call) (any, error) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	return nil, c.svc.DropDelivery(c.r.Context(), id)
}

func auditLog(c *call) (any, error) {
	before, err := c.queryInt("before", 0)
	if err != nil {
		return nil, err
	}
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return nil, err
	}
	es, err := c.svc.Audit(c.r.Context(), c.r.URL.Query().Get("list"), int64(before), limit)
	if err != nil {
		return nil, err
	}
	out := make([]auditJSON, 0, len(es))
	for _, e := range es {
		out = append(out, auditView(e))
	}
	return out, nil
}

func status(c *call) (any, error) {
	st, err := c.svc.Status(c.r.Context())
	if err != nil {
		return nil, err
	}
	return statusView(st), nil
}

func users(c *call) (any, error) {
	as, err := c.svc.Users(c.r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]userJSON, 0, len(as))
	for i := range as {
		out = append(out, userView(&as[i]))
	}
	return out, nil
}

func addUser(c *call) (any, error) {
	var req struct {
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	a, err := c.svc.AddUser(c.r.Context(), req.Email, req.Role, req.Password)
	if err != nil {
		return nil, err
	}
	return userView(a), nil
}

func setUser(c *call) (any, error) {
	var req struct {
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return nil, c.svc.SetUser(c.r.Context(), c.path("email"), req.Role, req.Password)
}

func removeUser(c *call) (any, error) {
	return nil, c.svc.RemoveUser(c.r.Context(), c.path("email"))
}

func tokens(c *call) (any, error) {
	ts, err := c.svc.Tokens(c.r.Context(), c.path("email"))
	if err != nil {
		return nil, err
	}
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	return out, nil
}

func createToken(c *call) (any, error) {
	var req struct {
		Name string `json:"name"`
		List string `json:"list"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	secret, t, err := c.svc.CreateToken(c.r.Context(), c.path("email"), req.Name, req.List)
	if err != nil {
		return nil, err
	}
	v := tokenView(*t)
	v.Token = secret
	return v, nil
}

func revokeToken(c *call) (any, error) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	return nil, c.svc.RevokeToken(c.r.Context(), c.path("email"), id)
}
