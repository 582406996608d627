package web

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
)

// setMember changes the settings of a member that its row's form gives
// (admin.MemberSettings: delivery, admin, format, S/MIME cipher and key
// transport), through the use case `member set` runs. The row's forms
// give one each; a value that is already the member's is left alone.
func setMember(q *request) (*done, error) {
	ctx, email := q.r.Context(), q.r.PathValue("email")
	m, err := q.svc.Member(ctx, q.list(), email)
	if err != nil {
		return nil, err
	}
	// Every value is checked against the table before any is saved.
	set := map[string]string{}
	for _, ms := range admin.MemberSettings() {
		v, ok := formValue(q.r.PostForm, ms.Name)
		switch {
		case !ok || v == admin.MemberSettingValue(m.Member, ms.Name):
		case !slices.Contains(ms.Choices, v):
			return nil, fmt.Errorf("%w: %s %q is not one of %s", admin.ErrInvalid, ms.Name, v, strings.Join(ms.Choices, ", "))
		default:
			set[ms.Name] = v
		}
	}
	var changed []string
	for _, ms := range admin.MemberSettings() {
		v, ok := set[ms.Name]
		if !ok {
			continue
		}
		if err := q.svc.SetMember(ctx, q.list(), m.Email, ms.Name, v); err != nil {
			return nil, err
		}
		changed = append(changed, memberChange(ms.Name, v))
	}
	if len(changed) == 0 {
		return &done{listPath(q.list()) + "#members", "Nothing changed for " + m.Email + "."}, nil
	}
	return &done{listPath(q.list()) + "#members", fmt.Sprintf("%s: %s.", m.Email, strings.Join(changed, ", "))}, nil
}

// memberChange says in words what setting name to v did.
func memberChange(name, v string) string {
	switch name {
	case "delivery":
		return "delivery " + v
	case "admin":
		if v == "on" {
			return "now a list admin"
		}
		return "no longer a list admin"
	case "format":
		return "copies as " + v
	}
	return strings.ReplaceAll(name, "_", " ") + " " + v
}

// keyInput is the key of a form that takes one as a file ("key") or
// pasted as text ("key_text").
func (q *request) keyInput() ([]byte, error) {
	key, err := q.uploaded("key")
	if err != nil {
		return nil, err
	}
	pasted := strings.TrimSpace(q.r.PostFormValue("key_text"))
	switch {
	case len(key) > 0 && pasted != "":
		return nil, fmt.Errorf("%w: choose a key file or paste a key, not both", admin.ErrInvalid)
	case len(key) == 0 && pasted == "":
		return nil, fmt.Errorf("%w: choose a key file or paste the key (armored OpenPGP key or PEM certificate)", admin.ErrInvalid)
	case pasted != "":
		key = []byte(pasted + "\n")
	}
	return key, nil
}

// addMemberKey gives a member a further key or certificate, uploaded as
// a file or pasted as text, as `member key` does; with "challenge" the
// member must prove they hold the OpenPGP key first.
func addMemberKey(q *request) (*done, error) {
	key, err := q.keyInput()
	if err != nil {
		return nil, err
	}
	ctx, list, email := q.r.Context(), q.list(), q.r.PathValue("email")
	if q.r.PostFormValue("challenge") != "" {
		info, err := q.svc.ChallengeMemberKey(ctx, list, email, key)
		if err != nil {
			return nil, err
		}
		q.notify()
		return &done{listPath(list) + "#members", fmt.Sprintf("Sent %s a challenge for the key %s; it becomes theirs when they answer it.",
			strings.ToLower(email), crypto.FormatFingerprint(info.Fingerprint))}, nil
	}
	info, err := q.svc.AddMemberKey(ctx, list, email, key)
	if err != nil {
		return nil, err
	}
	return &done{listPath(list) + "#members", fmt.Sprintf("Added the %s key %s to %s.", engineName(string(info.Engine)),
		crypto.FormatFingerprint(info.Fingerprint), strings.ToLower(email))}, nil
}
