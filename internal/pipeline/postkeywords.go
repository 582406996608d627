package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// postKeywords are the keywords a member may put at the top of a post
// (Schleuder's): resend it to people outside the list (the remailer use),
// or attach the list's key to the copies.
var postKeywords = map[string]bool{"LIST-NAME": true, "RESEND": true, "RESEND-ENCRYPTED-ONLY": true,
	"RESEND-UNENCRYPTED": true, "RESEND-CC": true, "ATTACH-LISTKEY": true}

// postPlan is what a post's keywords ask for.
type postPlan struct {
	resend        []resendTarget
	cc            []resendTarget // one message to all of them (X-RESEND-CC)
	attachListKey bool
}

// resendTarget is one outside address a post is resent to.
type resendTarget struct {
	addr string
	to   *recipient // nil: in clear, signed by the list
	skip string     // why it is not resent, or ""
}

// planKeywords reads the keywords at the top of an authenticated member's
// post. problems are reasons to distribute nothing (an unknown keyword,
// no X-LIST-NAME, a keyword the sender may not use); a post without
// keywords has neither plan nor problems.
func (p *Pipeline) planKeywords(ctx context.Context, list *store.List, r *roster, content *mime.Part, dec policy.Decision) (*postPlan, []string, error) {
	if !dec.Authenticated() {
		return nil, nil, nil // keywords count only from a member's signed post
	}
	kws, _ := mail.ParseKeywords(requestText(content))
	if len(kws) == 0 {
		return nil, nil, nil
	}
	adminOnly := list.Settings.AdminKeywords
	var problems []string
	named := false
	plan := &postPlan{}
	for _, kw := range kws {
		switch {
		case !postKeywords[kw.Name]:
			problems = append(problems, fmt.Sprintf("X-%s is not a keyword Sealpost knows in posts.", kw.Name))
			continue
		case kw.Name == "LIST-NAME":
			named = len(kw.Args) == 1 && strings.EqualFold(kw.Args[0], list.Address)
			continue
		case slices.Contains(adminOnly, kw.Name) && !dec.Sender.Admin:
			problems = append(problems, fmt.Sprintf("X-%s is for the list's admins only.", kw.Name))
			continue
		case kw.Name == "ATTACH-LISTKEY":
			plan.attachListKey = true
			continue
		}
		for _, a := range kw.Args {
			addr, err := mail.Normalize(strings.Trim(a, "<>,"))
			if err != nil {
				problems = append(problems, fmt.Sprintf("X-%s: %q is not an email address.", kw.Name, a))
				continue
			}
			t := resendTarget{addr: addr}
			if kw.Name != "RESEND-UNENCRYPTED" {
				if t.to, err = p.noticeKey(ctx, list, r, addr); err != nil {
					return nil, nil, err
				}
			}
			if t.to == nil && kw.Name == "RESEND-ENCRYPTED-ONLY" {
				t.skip = "no usable key"
			}
			if kw.Name == "RESEND-CC" {
				plan.cc = append(plan.cc, t)
				continue
			}
			plan.resend = append(plan.resend, t)
		}
	}
	if !named {
		problems = append(problems, "The post has keywords but does not name the list: its first line must be X-LIST-NAME: "+list.Address)
	}
	return plan, problems, nil
}

// applyPlan sets what the members' copies show of the plan.
func (p *Pipeline) applyPlan(list *store.List, h *headers, plan *postPlan) error {
	if plan == nil {
		return nil
	}
	var resent []string
	if len(plan.cc) > 0 {
		how := "unencrypted"
		if ccEncrypted(plan.cc) {
			how = "encrypted"
		}
		var addrs []string
		for _, t := range plan.cc {
			addrs = append(addrs, t.addr)
		}
		resent = append(resent, strings.Join(addrs, " + ")+" (one message, "+how+")")
	}
	for _, t := range plan.resend {
		switch {
		case t.skip != "":
			resent = append(resent, t.addr+" (not resent: "+t.skip+")")
		case t.to == nil:
			resent = append(resent, t.addr+" (unencrypted)")
		default:
			resent = append(resent, t.addr+" (encrypted)")
		}
	}
	h.resent = strings.Join(resent, ", ")
	if plan.attachListKey {
		k, err := p.listKey(list)
		if err != nil {
			return err
		}
		h.attach = append(h.attach, Attachment{Name: "list-key.asc", ContentType: "application/pgp-keys", Data: k.Armored()})
	}
	return nil
}

// resendCopies are the copies for the outside addresses of the plan:
// encrypted to their key when one is known (and asked for), else in
// clear signed by the list.
func (p *Pipeline) resendCopies(list *store.List, inner []byte, h headers, plan *postPlan, ref string) ([]store.Delivery, error) {
	var out []store.Delivery
	bounce := mail.RoleAddress(list.Address, mail.RoleBounce)
	for _, t := range plan.resend {
		var data []byte
		var err error
		switch {
		case t.skip != "":
			continue
		case t.to == nil:
			var ct string
			var body []byte
			if ct, body, err = p.signedBody(list, inner); err == nil {
				hh := h
				hh.outerSubject = h.subject
				data, err = p.outerMessage(list, hh, t.addr, bounce, ct, body)
			}
		default:
			r := &roster{to: map[string]recipient{t.addr: *t.to}}
			var s signed
			if s, err = p.signOnce(list, r, inner, []policy.Member{{Email: t.addr}}); err == nil {
				to := *t.to
				to.inline = false
				data, err = p.copyFor(list, s, to, h, t.addr, bounce)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, store.Delivery{Ref: ref, ListID: list.ID, Kind: store.KindPost, From: bounce, To: t.addr, Data: data})
	}
	if len(plan.cc) > 0 {
		cc, err := p.ccCopy(list, inner, h, plan.cc)
		if err != nil {
			return nil, err
		}
		for _, t := range plan.cc {
			out = append(out, store.Delivery{Ref: ref, ListID: list.ID, Kind: store.KindPost, From: bounce, To: t.addr, Data: cc})
		}
	}
	return out, nil
}

// ccEncrypted reports whether every address of an X-RESEND-CC has an
// OpenPGP key, so that the one message can be encrypted to all.
func ccEncrypted(ts []resendTarget) bool {
	for _, t := range ts {
		if t.to == nil || t.to.pgp == nil {
			return false
		}
	}
	return true
}

// ccCopy is the one message an X-RESEND-CC sends to all its addresses,
// each named in To or Cc: encrypted to all of them when all have an
// OpenPGP key, else in clear, signed by the list.
func (p *Pipeline) ccCopy(list *store.List, inner []byte, h headers, ts []resendTarget) ([]byte, error) {
	var cc []string
	for _, t := range ts[1:] {
		cc = append(cc, "<"+t.addr+">")
	}
	h.outerCc = strings.Join(cc, ", ")
	if !ccEncrypted(ts) {
		ct, body, err := p.signedBody(list, inner)
		if err != nil {
			return nil, err
		}
		h.outerSubject = h.subject
		return p.outerMessage(list, h, ts[0].addr, "", ct, body)
	}
	listKey, err := p.listKey(list)
	if err != nil {
		return nil, err
	}
	signed, err := pgp.Sign(listKey, inner, p.pgpOptions())
	if err != nil {
		return nil, err
	}
	var keys []*pgp.Key
	for _, t := range ts {
		keys = append(keys, t.to.pgp)
	}
	armored, err := signed.EncryptToAll(keys)
	if err != nil {
		return nil, err
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return nil, err
	}
	ct, body := pgp.EncryptedBody(armored, boundary)
	return p.outerMessage(list, h, ts[0].addr, "", ct, body)
}

// keywordTrouble answers a post whose keywords cannot be carried out:
// nothing is distributed, the signature's replay mark is kept, and the
// sender is told why, encrypted.
func (p *Pipeline) keywordTrouble(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, r *roster, dec policy.Decision, marks [][]byte, problems []string) error {
	sender := dec.Sender.Email
	subject, text, err := p.render(list, "post-keywords-refused", map[string]any{"Problems": problems})
	if err != nil {
		return err
	}
	ds, _, err := p.Announce(ctx, list, Announcement{direct: &directRecipient{email: sender, to: r.to[sender]}, Ref: in.ID,
		Subject: subject, Text: text})
	if err != nil {
		return err
	}
	err = p.commit(ctx, store.Outcome{SpoolID: in.ID, ListID: list.ID, Replay: marks, Unbound: dec.Unbound, Deliveries: ds})
	if errors.Is(err, store.ErrReplay) {
		return p.refuse(ctx, list, in, policy.Replay)
	}
	return err
}
